#include <doctest/doctest.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include <string>
#include <vector>

#include "name/name_der.hpp"
#include "ossl/check.hpp"
#include "pki/error.hpp"
#include "pki/name.hpp"

using namespace pki;

namespace {

using Attrs = std::vector<NameAttribute>;

std::string error_of(std::string_view text) {
  try {
    (void)DistinguishedName::parse(text);
  } catch (const Error& e) {
    CHECK(e.code() == ErrorCode::invalid_input);
    return e.what();
  }
  FAIL("expected parse('" << std::string(text) << "') to throw");
  return {};
}

bool contains(const std::string& s, std::string_view part) {
  return s.find(part) != std::string::npos;
}

std::vector<std::uint8_t> der_of(X509_NAME* name) {
  return ossl::to_der(i2d_X509_NAME, name, "Name");
}

// The ASN.1 string type each entry was encoded with.
std::vector<int> string_types(const DistinguishedName& dn) {
  const auto der = dn.to_der();
  const unsigned char* p = der.data();
  ossl::X509NamePtr name(d2i_X509_NAME(nullptr, &p, static_cast<long>(der.size())));
  REQUIRE(name);
  std::vector<int> out;
  for (int i = 0; i < X509_NAME_entry_count(name.get()); ++i) {
    out.push_back(ASN1_STRING_type(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name.get(), i))));
  }
  return out;
}

}  // namespace

TEST_CASE("parse: both syntaxes give the same name, in issuance order") {
  const Attrs expected{{"C", "DE"}, {"O", "Acme"}, {"OU", "Devices"}, {"CN", "sensor-0001"}};
  for (const char* text :
       {"/C=DE/O=Acme/OU=Devices/CN=sensor-0001", "CN=sensor-0001,OU=Devices,O=Acme,C=DE",
        "CN=sensor-0001, OU=Devices, O=Acme, C=DE",
        "commonName=sensor-0001,ou=Devices,2.5.4.10=Acme,countryName=DE"}) {
    CAPTURE(text);
    const auto dn = DistinguishedName::parse(text);
    CHECK(dn.attributes() == expected);
    CHECK(dn.to_slash_string() == "/C=DE/O=Acme/OU=Devices/CN=sensor-0001");
    CHECK(dn.to_string() == "CN=sensor-0001,OU=Devices,O=Acme,C=DE");
  }
}

TEST_CASE("parse: escapes") {
  struct Case {
    const char* text;
    Attrs expected;
  };
  const std::vector<Case> cases{
      {R"(/O=Acme\/Labs/CN=a\,b)", {{"O", "Acme/Labs"}, {"CN", "a,b"}}},
      {"/CN=C++ team", {{"CN", "C++ team"}}},
      {R"(/CN=back\\slash)", {{"CN", "back\\slash"}}},
      {R"(CN=a\,b\+c\;d\"e\<f\>g\\h,O=Acme)", {{"O", "Acme"}, {"CN", "a,b+c;d\"e<f>g\\h"}}},
      {R"(CN=\#hash\ )", {{"CN", "#hash "}}},
      {R"(CN=\ lead)", {{"CN", " lead"}}},
      {R"(CN=caf\C3\A9)", {{"CN", "caf\xC3\xA9"}}},
      {"CN=x=y", {{"CN", "x=y"}}},
      {"CN=trailing  ", {{"CN", "trailing"}}},
  };
  for (const auto& c : cases) {
    CAPTURE(c.text);
    CHECK(DistinguishedName::parse(c.text).attributes() == c.expected);
  }
}

TEST_CASE("to_string and to_slash_string escape so that parse reads them back") {
  const std::vector<Attrs> names{
      {{"O", "Acme/Labs, Inc."}, {"CN", "a+b;c\"d<e>f\\g"}},
      {{"CN", " leading and trailing "}},
      {{"CN", "#hash"}},
      {{"C", "US"}, {"CN", "caf\xC3\xA9 \xE2\x9C\x93"}},
      {{"DC", "com"}, {"DC", "example"}, {"UID", "u-1"}},
  };
  for (const auto& attrs : names) {
    const DistinguishedName dn(attrs);
    CAPTURE(dn.to_string());
    CHECK(DistinguishedName::parse(dn.to_string()) == dn);
    CHECK(DistinguishedName::parse(dn.to_slash_string()) == dn);
  }
  CHECK(DistinguishedName(Attrs{{"CN", " x "}}).to_string() == R"(CN=\ x\ )");
  CHECK(DistinguishedName(Attrs{{"CN", "#x#"}}).to_string() == R"(CN=\#x#)");
  CHECK(DistinguishedName(Attrs{{"O", "a,b"}, {"CN", "c+d"}}).to_string() == R"(CN=c\+d,O=a\,b)");
  CHECK(DistinguishedName(Attrs{{"O", "a/b"}}).to_slash_string() == R"(/O=a\/b)");
  // RFC 4514 2.4: NUL is escaped as \00 (and other controls stay on one line).
  CHECK(DistinguishedName(Attrs{{"CN", std::string("a\0b\n", 4)}}).to_string() == R"(CN=a\00b\0A)");
}

TEST_CASE("parse rejects malformed names with invalid_input") {
  struct Case {
    const char* text;
    const char* says;
  };
  const std::vector<Case> cases{
      {"", "empty"},
      {"/", "empty"},
      {"/CN=x/XX=y", "unknown attribute type 'XX'"},
      {"/CN=x/XX=y", "supported: C, ST, L, O, OU, CN"},
      {"/CN", "missing '='"},
      {"/CN=", "CN has an empty value"},
      {"/O=a//CN=b", "empty component"},
      {"/O=a/", "empty component"},
      {"/CN=x\\", "lone"},
      {"CN", "missing '='"},
      {"CN=x,", "ends with ','"},
      {"CN=,O=a", "CN has an empty value"},
      {"CN=a+UID=b", "multi-valued"},
      {"CN=a;b", "must be escaped"},
      {"CN=#04024869", "hex-encoded"},
      {"CN=\\zz", "two hex digits"},
      {"foo,CN=x", "missing '='"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.text);
    CHECK(contains(error_of(c.text), c.says));
  }
}

TEST_CASE("validate: RFC 5280 bounds, character sets and encodings") {
  struct Case {
    std::string name;
    Attrs attrs;
    const char* id;  // nullptr: valid
  };
  const std::string cn64(64, 'a');
  const std::string cn65(65, 'a');
  // 64 characters of two bytes each: the bound counts characters.
  std::string cn64_wide;
  for (int i = 0; i < 64; ++i)
    cn64_wide += "\xC3\xA9";
  const std::vector<Case> cases{
      {"CN of 64", {{"CN", cn64}}, nullptr},
      {"CN of 64 two-byte chars", {{"CN", cn64_wide}}, nullptr},
      {"CN of 65", {{"CN", cn65}}, "name.cn_too_long"},
      {"O of 65", {{"O", cn65}}, "name.o_too_long"},
      {"L of 129", {{"L", std::string(129, 'x')}}, "name.l_too_long"},
      {"L of 128", {{"L", std::string(128, 'x')}}, nullptr},
      {"serialNumber of 65",
       {{"serialNumber", std::string(65, '1')}},
       "name.serialnumber_too_long"},
      {"emailAddress of 256",
       {{"emailAddress", std::string(251, 'a') + "@x.io"}},
       "name.emailaddress_too_long"},
      {"NUL", {{"CN", std::string("a\0b", 3)}}, "name.control_char"},
      {"newline", {{"CN", "a\nb"}}, "name.control_char"},
      {"DEL", {{"O", "a\x7F"}}, "name.control_char"},
      {"truncated UTF-8", {{"CN", "caf\xC3"}}, "name.invalid_utf8"},
      {"lone continuation", {{"CN", "\x80"}}, "name.invalid_utf8"},
      {"overlong '/'", {{"CN", "\xC0\xAF"}}, "name.invalid_utf8"},
      {"overlong 3-byte", {{"CN", "\xE0\x80\xAF"}}, "name.invalid_utf8"},
      {"surrogate", {{"CN", "\xED\xA0\x80"}}, "name.invalid_utf8"},
      {"above U+10FFFF", {{"CN", "\xF4\x90\x80\x80"}}, "name.invalid_utf8"},
      {"4-byte emoji", {{"CN", "\xF0\x9F\x94\x91"}}, nullptr},
      {"country lowercase", {{"C", "de"}}, "name.country"},
      {"country three letters", {{"C", "DEU"}}, "name.country"},
      {"country one letter", {{"C", "D"}}, "name.country"},
      {"serialNumber not printable", {{"serialNumber", "a_b"}}, "name.serialnumber_not_printable"},
      {"serialNumber printable", {{"serialNumber", "AB-12 (x)"}}, nullptr},
      {"emailAddress not ASCII",
       {{"emailAddress", "j\xC3\xB6rg@example.com"}},
       "name.emailaddress_not_ascii"},
      {"empty value", {{"CN", ""}}, "name.empty_value"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.name);
    const Findings f = DistinguishedName(c.attrs).validate();
    if (c.id == nullptr) {
      CHECK(f.empty());
    } else {
      CHECK(f.has_errors());
      CHECK(f.contains(c.id));
      // The message names the attribute.
      CHECK(contains(f.error_summary(), c.attrs.front().type));
    }
  }
}

TEST_CASE("parse throws the validation summary") {
  const std::string msg = error_of("/CN=" + std::string(65, 'a'));
  CHECK(contains(msg, "name.cn_too_long"));
  CHECK(contains(msg, "at most 64"));
  CHECK(contains(error_of("/C=Germany/CN=x"), "name.country"));
  CHECK(contains(error_of(R"(CN=a\0Ab)"), "name.control_char"));
  CHECK(contains(error_of(R"(CN=a\00b)"), "name.control_char"));
  CHECK(contains(error_of(R"(CN=\C3)"), "name.invalid_utf8"));
  // The offending text is shown without its raw control bytes.
  CHECK_FALSE(contains(error_of("/CN=a\nb"), "\n"));
}

TEST_CASE("DER: round trip and string types (RFC 5280 4.1.2.4)") {
  const DistinguishedName dn(Attrs{{"C", "DE"},
                                   {"ST", "Bayern"},
                                   {"L", "M\xC3\xBCnchen"},
                                   {"O", "Acme"},
                                   {"OU", "Devices"},
                                   {"serialNumber", "SN-42"},
                                   {"emailAddress", "ops@example.com"},
                                   {"DC", "example"},
                                   {"UID", "u1"},
                                   {"title", "Sensor"},
                                   {"GN", "Ada"},
                                   {"SN", "Lovelace"},
                                   {"pseudonym", "ada"},
                                   {"organizationIdentifier", "VATDE-123456789"},
                                   {"CN", "sensor-0001"}});
  REQUIRE(dn.validate().empty());
  const auto der = dn.to_der();
  CHECK(DistinguishedName::from_der(der) == dn);

  const std::vector<int> types = string_types(dn);
  REQUIRE(types.size() == 15);
  CHECK(types[0] == V_ASN1_PRINTABLESTRING);  // C
  CHECK(types[1] == V_ASN1_UTF8STRING);       // ST
  CHECK(types[2] == V_ASN1_UTF8STRING);       // L
  CHECK(types[5] == V_ASN1_PRINTABLESTRING);  // serialNumber
  CHECK(types[6] == V_ASN1_IA5STRING);        // emailAddress
  CHECK(types[7] == V_ASN1_IA5STRING);        // DC
  CHECK(types[14] == V_ASN1_UTF8STRING);      // CN

  // OpenSSL reads the same thing.
  const unsigned char* p = der.data();
  ossl::X509NamePtr name(d2i_X509_NAME(nullptr, &p, static_cast<long>(der.size())));
  REQUIRE(name);
  CHECK(X509_NAME_entry_count(name.get()) == 15);
  CHECK(OBJ_obj2nid(X509_NAME_ENTRY_get_object(X509_NAME_get_entry(name.get(), 0))) ==
        NID_countryName);
}

TEST_CASE("to_der refuses an invalid name") {
  try {
    (void)DistinguishedName(Attrs{{"CN", "a\nb"}}).to_der();
    FAIL("expected an error");
  } catch (const Error& e) {
    CHECK(e.code() == ErrorCode::invalid_input);
    CHECK(contains(e.what(), "name.control_char"));
  }
}

TEST_CASE("from_der: strict, converts to UTF-8, rejects multi-valued RDNs") {
  auto der = DistinguishedName::parse("/O=Acme/CN=x").to_der();

  SUBCASE("trailing bytes") {
    der.push_back(0);
    CHECK_THROWS_AS(DistinguishedName::from_der(der), Error);
  }
  SUBCASE("truncated") {
    der.pop_back();
    CHECK_THROWS_AS(DistinguishedName::from_der(der), Error);
  }
  SUBCASE("not a Name") {
    const std::vector<std::uint8_t> junk{0x04, 0x01, 0x00};
    CHECK_THROWS_AS(DistinguishedName::from_der(junk), Error);
  }
  SUBCASE("a BMPString value is converted to UTF-8") {
    ossl::X509NamePtr name(X509_NAME_new());
    // "\u00E9A" as BMPString (UTF-16BE).
    const unsigned char bmp[] = {0x00, 0xE9, 0x00, 0x41};
    REQUIRE(X509_NAME_add_entry_by_NID(name.get(), NID_commonName, V_ASN1_BMPSTRING, bmp,
                                       sizeof bmp, -1, 0) == 1);
    const auto dn = DistinguishedName::from_der(der_of(name.get()));
    CHECK(dn.attributes() == Attrs{{"CN",
                                    "\xC3\xA9"
                                    "A"}});
  }
  SUBCASE("multi-valued RDN") {
    ossl::X509NamePtr name(X509_NAME_new());
    const auto* cn = reinterpret_cast<const unsigned char*>("a");
    const auto* uid = reinterpret_cast<const unsigned char*>("b");
    REQUIRE(X509_NAME_add_entry_by_NID(name.get(), NID_commonName, MBSTRING_UTF8, cn, 1, -1, 0) ==
            1);
    // set -1: added to the previous RDN.
    REQUIRE(X509_NAME_add_entry_by_NID(name.get(), NID_userId, MBSTRING_UTF8, uid, 1, -1, -1) == 1);
    try {
      (void)DistinguishedName::from_der(der_of(name.get()));
      FAIL("expected an error");
    } catch (const Error& e) {
      CHECK(e.code() == ErrorCode::invalid_input);
      CHECK(contains(e.what(), "multi-valued"));
    }
  }
  SUBCASE("an attribute devpki does not issue is kept, and re-encoded") {
    ossl::X509NamePtr name(X509_NAME_new());
    const auto* v = reinterpret_cast<const unsigned char*>("Private Organization");
    REQUIRE(X509_NAME_add_entry_by_NID(name.get(), NID_businessCategory, MBSTRING_UTF8, v, -1, -1,
                                       0) == 1);
    const auto dn = from_x509_name(name.get());
    CHECK(dn.get("businessCategory") == "Private Organization");
    const Findings f = dn.validate();
    CHECK_FALSE(f.has_errors());
    CHECK(f.contains("name.unknown_type"));
    CHECK(DistinguishedName::from_der(dn.to_der()) == dn);
  }
  CHECK(ERR_peek_error() == 0);
}

TEST_CASE("get finds the first value by short or long name") {
  const auto dn = DistinguishedName::parse("/O=Acme/OU=a/OU=b/CN=x");
  CHECK(dn.get("OU") == "a");
  CHECK(dn.get("organizationalUnitName") == "a");
  CHECK(dn.get("CN") == "x");
  CHECK(dn.get("commonName") == "x");
  CHECK_FALSE(dn.get("C").has_value());
  CHECK_FALSE(dn.empty());
  CHECK(DistinguishedName().empty());
}
