#include <algorithm>

#include "pki/error.hpp"
#include "pki/profile.hpp"

namespace pki {

void require_key_allowed(const ProfileSpec& profile, std::optional<KeyAlgorithm> alg,
                         const std::string& shown_as) {
  const auto& allowed = profile.key_algorithms;
  if (alg && std::find(allowed.begin(), allowed.end(), *alg) != allowed.end()) return;
  std::string list;
  for (auto a : allowed) {
    if (!list.empty()) list += ", ";
    list += to_string(a);
  }
  throw Error(ErrorCode::policy, shown_as + " is not allowed by profile '" + profile.name +
                                     "' (allowed: " + list + ")");
}

}  // namespace pki
