#include <array>
#include <utility>

#include "pki/error.hpp"
#include "pki/key.hpp"

namespace pki {

namespace {
constexpr std::array<std::pair<KeyAlgorithm, std::string_view>, 6> kNames{{
    {KeyAlgorithm::ec_p256, "ec-p256"},
    {KeyAlgorithm::ec_p384, "ec-p384"},
    {KeyAlgorithm::ed25519, "ed25519"},
    {KeyAlgorithm::rsa_2048, "rsa-2048"},
    {KeyAlgorithm::rsa_3072, "rsa-3072"},
    {KeyAlgorithm::rsa_4096, "rsa-4096"},
}};
}  // namespace

std::string_view to_string(KeyAlgorithm alg) noexcept {
  for (const auto& [a, n] : kNames) {
    if (a == alg) return n;
  }
  return "unknown";
}

KeyAlgorithm parse_key_algorithm(std::string_view name) {
  std::string allowed;
  for (const auto& [a, n] : kNames) {
    if (n == name) return a;
    allowed += allowed.empty() ? "" : ", ";
    allowed += n;
  }
  throw Error(ErrorCode::invalid_input,
              "unknown key algorithm '" + std::string(name) + "' (allowed: " + allowed + ")");
}

const std::vector<KeyAlgorithm>& all_key_algorithms() {
  static const std::vector<KeyAlgorithm> all = [] {
    std::vector<KeyAlgorithm> v;
    for (const auto& [a, n] : kNames)
      v.push_back(a);
    return v;
  }();
  return all;
}

}  // namespace pki
