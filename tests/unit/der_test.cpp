#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "ossl/der.hpp"
#include "pki/error.hpp"

using namespace pki;
using Bytes = std::vector<std::uint8_t>;

namespace {
std::string error_of(const Bytes& b) {
  try {
    ossl::check_der_structure(b, "input");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST_CASE("DER walker accepts DER") {
  CHECK(error_of({0x30, 0x03, 0x02, 0x01, 0x05}).empty());
  Bytes long_form = {0x30, 0x81, 0x80};
  long_form.push_back(0x04);
  long_form.push_back(0x7e);
  long_form.resize(long_form.size() + 0x7e, 0xab);
  CHECK(error_of(long_form).empty());
}

TEST_CASE("DER walker names what is not DER") {
  struct Case {
    Bytes bytes;
    const char* expect;
  };
  const Case cases[] = {
      {{}, "empty"},
      {{0x30, 0x80, 0x02, 0x01, 0x05, 0x00, 0x00}, "indefinite length"},
      {{0x30, 0x03, 0x02, 0x01, 0x05, 0x00, 0x00}, "trailing bytes"},
      {{0x30, 0x05, 0x02, 0x01}, "truncated"},
      {{0x30, 0x81, 0x03, 0x02, 0x01, 0x05}, "non-minimal length"},
      {{0x30, 0x82, 0x00, 0x03, 0x02, 0x01, 0x05}, "non-minimal length"},
      {{0x24, 0x03, 0x04, 0x01, 0x00}, "constructed string"},
      {{0x1f, 0x01, 0x00}, "high tag"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.expect);
    const std::string err = error_of(c.bytes);
    CHECK(err.find(c.expect) != std::string::npos);
  }
}

TEST_CASE("PEM: exactly one block of the expected label") {
  const std::string one =
      "-----BEGIN CERTIFICATE REQUEST-----\nMAMCAQU=\n-----END CERTIFICATE REQUEST-----\n";
  auto bytes = [](const std::string& s) { return Bytes(s.begin(), s.end()); };
  CHECK(ossl::pem_or_der(bytes(one), {"CERTIFICATE REQUEST"}, "CSR") ==
        Bytes{0x30, 0x03, 0x02, 0x01, 0x05});
  CHECK_THROWS_WITH_AS(ossl::pem_or_der(bytes(one + one), {"CERTIFICATE REQUEST"}, "CSR"),
                       doctest::Contains("more than one PEM block"), Error);
  CHECK_THROWS_WITH_AS(ossl::pem_or_der(bytes(one), {"CERTIFICATE"}, "certificate"),
                       doctest::Contains("unexpected PEM block"), Error);
  CHECK_THROWS_WITH_AS(ossl::pem_or_der(bytes("hello"), {"CERTIFICATE"}, "certificate"),
                       doctest::Contains("neither PEM nor DER"), Error);
  CHECK_THROWS_AS(
      ossl::pem_or_der(bytes("-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n"),
                       {"CERTIFICATE"}, "certificate"),
      Error);
}
