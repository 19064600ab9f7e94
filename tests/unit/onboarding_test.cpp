// QR-code onboarding: the DP1 payload and its Luhn mod 128 check, the manual
// code and its Luhn mod 32 check character, base64url fingerprints, and the
// label rendered as PNG, SVG and text (scanned back with zbarimg when it is
// installed).
#include <doctest/doctest.h>
#include <qrencode.h>  // white-box: the module count the PNG must have
#include <sys/wait.h>

#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "pki/error.hpp"
#include "pki/onboarding.hpp"
#include "test_util.hpp"

using namespace pki;
namespace fs = std::filesystem;

namespace {

// SHA-256 of the empty string; its base64url is well known.
const std::string kAnchorHex = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const std::string kAnchorB64 = "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU";

OnboardingPayload sample() {
  OnboardingPayload p;
  p.device_id = "SN-0042.a:b_c";
  p.setup_code = "7K3M9QXD2F4T";
  p.anchor_sha256 = kAnchorHex;
  p.endpoint = "https://enroll.example.com/v1/onboard?site=berlin";
  return p;
}

// The message of the Error(invalid_input) that `f` throws; fails the test if
// it throws nothing or something else.
template <typename F>
std::string rejection(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    CHECK_MESSAGE(e.code() == ErrorCode::invalid_input, e.what());
    return e.what();
  }
  FAIL("accepted");
  return {};
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

void require_payload_rejected(const std::string& text, const std::string& expected) {
  INFO("payload: " << text);
  const std::string msg = rejection([&] { parse_payload(text); });
  INFO("message: " << msg);
  CHECK(contains(msg, expected));
}

void require_encode_rejected(const OnboardingPayload& p, const std::string& expected) {
  const std::string msg = rejection([&] { encode_payload(p); });
  INFO("message: " << msg);
  CHECK(contains(msg, expected));
}

// A payload with the given fields and a correct check, to reach the field checks.
std::string with_check(const std::string& body_before_check) {
  return body_before_check + payload_check(body_before_check);
}

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void write_file(const fs::path& p, const std::string& content) {
  std::ofstream out(p, std::ios::binary);
  out << content;
}

std::uint32_t be32(const std::string& s, std::size_t at) {
  std::uint32_t v = 0;
  for (std::size_t i = 0; i < 4; ++i)
    v = (v << 8) | static_cast<unsigned char>(s.at(at + i));
  return v;
}

int modules_of(const std::string& payload) {
  std::unique_ptr<QRcode, void (*)(QRcode*)> q(
      QRcode_encodeString(payload.c_str(), 0, QR_ECLEVEL_M, QR_MODE_8, 1), QRcode_free);
  REQUIRE(q != nullptr);
  return q->width;
}

// Exit status of a shell command.
int run(const std::string& cmd) {
  const int status = std::system(cmd.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

bool on_path(const std::string& tool) {
  return run("command -v " + tool + " >/dev/null 2>&1") == 0;
}

bool zbar_required() {
  const char* v = std::getenv("DEVPKI_REQUIRE_ZBAR");
  return v != nullptr && std::string(v) == "1";
}

std::size_t utf8_length(const std::string& s) {
  std::size_t n = 0;
  for (const char c : s)
    if ((static_cast<unsigned char>(c) & 0xC0) != 0x80) ++n;
  return n;
}

std::vector<std::string> lines_of(const std::string& s) {
  std::vector<std::string> lines;
  std::istringstream in(s);
  for (std::string line; std::getline(in, line);)
    lines.push_back(line);
  return lines;
}

}  // namespace

// ---- check characters ------------------------------------------------------------------------

TEST_CASE("Luhn mod 128 and mod 32: hand-computed values") {
  // "A" = 65, doubled: 130 -> 130/128 + 130%128 = 3; check = 128 - 3 = 125 = 0x7d.
  CHECK(payload_check("A") == "7d");
  // "AB": B = 66 doubled -> 1 + 4 = 5, A = 65 -> sum 70; check = 58 = 0x3a.
  CHECK(payload_check("AB") == "3a");
  CHECK(payload_check("") == "00");
  // Crockford "1": 1*2 = 2; check 30 = 'Y'. "Z" = 31: 62 -> 1 + 30 = 31; check 1.
  CHECK(crockford_check("1") == 'Y');
  CHECK(crockford_check("Z") == '1');
  CHECK(crockford_check("") == '0');
  rejection([] { crockford_check("7K3U"); });  // U is not Crockford
  rejection([] { crockford_check("7k3m"); });  // upper case only
  rejection([] { payload_check("caf\xC3\xA9"); });
}

TEST_CASE("Luhn mod N: the transpositions it cannot see") {
  // Adjacent transposition of a and b is missed when fold(2a) - a == fold(2b)
  // - b (mod N): only for the code points 0 and N-1. In mod 128 those are NUL
  // and DEL, neither allowed in a payload; in Crockford mod 32 they are 0 and Z.
  CHECK(payload_check(std::string("x\x00\x7F", 3)) == payload_check(std::string("x\x7F\x00", 3)));
  CHECK(crockford_check("A0Z") == crockford_check("AZ0"));
  // Characters two apart have the same factor: swapping them (abc -> cba) is never seen.
  CHECK(payload_check("abc") == payload_check("cba"));
  CHECK(crockford_check("7K3") == crockford_check("3K7"));
  // Every other adjacent transposition is caught, e.g.:
  CHECK(payload_check("ab") != payload_check("ba"));
  CHECK(crockford_check("09") != crockford_check("90"));
}

// ---- base64url fingerprints ------------------------------------------------------------------

TEST_CASE("fingerprints as base64url without padding, and back") {
  CHECK(fingerprint_to_base64url(kAnchorHex) == kAnchorB64);
  CHECK(fingerprint_from_base64url(kAnchorB64) == kAnchorHex);
  // Upper-case hex in, lower-case hex out.
  std::string upper = kAnchorHex;
  for (auto& c : upper)
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  CHECK(fingerprint_to_base64url(upper) == kAnchorB64);
  // Every byte value survives, including the ones that use '-' and '_'.
  const std::string ff(64, 'f');
  CHECK(fingerprint_to_base64url(ff).find('_') != std::string::npos);
  CHECK(fingerprint_from_base64url(fingerprint_to_base64url(ff)) == ff);
  const std::string mixed = "fbef00ff7f80fe01" + kAnchorHex.substr(16);
  CHECK(fingerprint_from_base64url(fingerprint_to_base64url(mixed)) == mixed);

  CHECK(contains(rejection([] { fingerprint_to_base64url("abcd"); }), "64 hex digits"));
  CHECK(contains(rejection([&] { fingerprint_to_base64url(kAnchorHex.substr(0, 63) + "g"); }),
                 "not hex"));
  CHECK(contains(rejection([] { fingerprint_from_base64url(kAnchorB64.substr(1)); }), "43"));
  CHECK(contains(rejection([] { fingerprint_from_base64url(kAnchorB64 + "="); }), "43"));
  CHECK(contains(rejection([] { fingerprint_from_base64url(kAnchorB64.substr(0, 42) + "+"); }),
                 "base64url"));
  // 43 characters carry 258 bits: the last 2 must be zero ("U" = 20 is, "V" = 21 is not).
  CHECK(contains(rejection([] { fingerprint_from_base64url(kAnchorB64.substr(0, 42) + "V"); }),
                 "canonical"));
}

// ---- payload -----------------------------------------------------------------------------------

TEST_CASE("payload: encode and parse round trip") {
  const OnboardingPayload p = sample();
  const std::string text = encode_payload(p);
  const std::string body = "DP1|SN-0042.a:b_c|7K3M9QXD2F4T|" + kAnchorB64 +
                           "|https://enroll.example.com/v1/onboard?site=berlin|";
  CHECK(text == body + payload_check(body));
  CHECK(looks_like_payload(text));

  const OnboardingPayload back = parse_payload(text);
  CHECK(back.version == 1);
  CHECK(back.device_id == p.device_id);
  CHECK(back.setup_code == p.setup_code);
  CHECK(back.anchor_sha256 == kAnchorHex);
  CHECK(back.endpoint == p.endpoint);

  // http:// is accepted (tests), and a bare host.
  OnboardingPayload h = p;
  h.endpoint = "http://localhost:8080";
  CHECK(parse_payload(encode_payload(h)).endpoint == "http://localhost:8080");
  // An upper-case anchor is written as base64url and read back as lower-case hex.
  OnboardingPayload u = p;
  for (auto& c : u.anchor_sha256)
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  CHECK(parse_payload(encode_payload(u)).anchor_sha256 == kAnchorHex);
}

TEST_CASE("looks_like_payload") {
  CHECK(looks_like_payload("DP1|x"));
  CHECK(looks_like_payload("DP9"));
  CHECK_FALSE(looks_like_payload("DP"));
  CHECK_FALSE(looks_like_payload("DPX|"));
  CHECK_FALSE(looks_like_payload("dp1|"));
  CHECK_FALSE(looks_like_payload("https://example.com"));
  CHECK_FALSE(looks_like_payload(""));
}

TEST_CASE("encode_payload names the field that cannot go into a payload") {
  auto with = [](auto change) {
    OnboardingPayload p = sample();
    change(p);
    return p;
  };
  require_encode_rejected(with([](auto& p) { p.version = 2; }), "this devpki writes DP1");
  require_encode_rejected(with([](auto& p) { p.device_id = ""; }), "payload device id");
  require_encode_rejected(with([](auto& p) { p.device_id = "a|b"; }), "payload device id");
  require_encode_rejected(with([](auto& p) { p.device_id = "-x"; }), "payload device id");
  require_encode_rejected(with([](auto& p) { p.device_id = std::string(65, 'a'); }),
                          "payload device id");
  require_encode_rejected(with([](auto& p) { p.setup_code = "7K3M9QXD2F4"; }),
                          "payload setup code");
  require_encode_rejected(with([](auto& p) { p.setup_code = "7K3M9QXD2F4TT"; }),
                          "payload setup code");
  require_encode_rejected(with([](auto& p) { p.setup_code = "7k3m9qxd2f4t"; }),
                          "not an upper-case Crockford");
  require_encode_rejected(with([](auto& p) { p.setup_code = "7K3M9QXD2F4U"; }),
                          "not an upper-case Crockford");
  require_encode_rejected(with([](auto& p) { p.anchor_sha256 = kAnchorHex.substr(1); }),
                          "payload anchor fingerprint");
  require_encode_rejected(with([](auto& p) { p.anchor_sha256 = ""; }),
                          "payload anchor fingerprint");
  require_encode_rejected(with([](auto& p) { p.endpoint = "ftp://example.com"; }),
                          "must start with https://");
  require_encode_rejected(with([](auto& p) { p.endpoint = "example.com"; }),
                          "must start with https://");
  require_encode_rejected(with([](auto& p) { p.endpoint = "https://"; }), "no host");
  require_encode_rejected(with([](auto& p) { p.endpoint = "https:///path"; }), "no host");
  require_encode_rejected(with([](auto& p) { p.endpoint = "https://a b"; }), "not allowed");
  require_encode_rejected(with([](auto& p) { p.endpoint = "https://a|b"; }), "not allowed");
  require_encode_rejected(with([](auto& p) { p.endpoint = "https://h\xC3\xA9"; }), "not allowed");
  require_encode_rejected(
      with([](auto& p) { p.endpoint = "https://example.com/" + std::string(181, 'a'); }),
      "longer than 200");
  // 200 is fine.
  OnboardingPayload ok = sample();
  ok.endpoint = "https://example.com/" + std::string(180, 'a');
  CHECK(ok.endpoint.size() == 200);
  CHECK(parse_payload(encode_payload(ok)).endpoint == ok.endpoint);
}

TEST_CASE("parse_payload: structure, check and every field rejected with a specific message") {
  const std::string good = encode_payload(sample());
  const std::string check = good.substr(good.size() - 2);
  const std::string body = good.substr(0, good.size() - 2);

  SUBCASE("structure") {
    require_payload_rejected("", "not a devpki payload");
    require_payload_rejected("https://example.com", "not a devpki payload");
    require_payload_rejected("XP1|a|b|c|d|00", "not a devpki payload");
    require_payload_rejected("DPX|a|b|c|d|00", "not a devpki payload");
    require_payload_rejected("DP|a|b|c|d|00", "not a devpki payload");
    CHECK(rejection([&] { parse_payload("DP2" + good.substr(3)); }) ==
          "DP2 is not supported: this devpki reads DP1");
    require_payload_rejected("DP10|a", "DP10 is not supported: this devpki reads DP1");
    require_payload_rejected("DP1|SN|7K3M9QXD2F4T|" + kAnchorB64 + "|https://e.example",
                             "expected 6 '|'-separated fields");
    require_payload_rejected("DP1|SN|7K3M9QXD2F4T|" + kAnchorB64 + "|https://e.example", "got 5");
    require_payload_rejected(body + "|" + check, "got 7");
    require_payload_rejected(good + "\n", "not printable ASCII");
    require_payload_rejected(good + "\xC3\xA9", "not printable ASCII");
  }
  SUBCASE("check") {
    require_payload_rejected(body + "3F", "check field '3F': expected 2 lower-case hex digits");
    require_payload_rejected(body + "3", "check field");
    require_payload_rejected(body + "", "check field");
    require_payload_rejected(body + check + "0", "check field");
    const std::string wrong = check == "00" ? "01" : "00";
    CHECK(rejection([&] { parse_payload(body + wrong); }) ==
          "payload: check characters " + wrong + " do not match (expected " + check +
              "): the payload was changed or mistyped");
  }
  SUBCASE("fields, with a correct check") {
    const std::string rest = "|7K3M9QXD2F4T|" + kAnchorB64 + "|https://e.example|";
    require_payload_rejected(with_check("DP1|" + rest), "payload device id");
    require_payload_rejected(with_check("DP1|-SN" + rest), "payload device id");
    require_payload_rejected(with_check("DP1|S N" + rest), "payload device id");
    const std::string tail = "|" + kAnchorB64 + "|https://e.example|";
    require_payload_rejected(with_check("DP1|SN|7K3M9QXD2F4" + tail), "payload setup code");
    require_payload_rejected(with_check("DP1|SN|7K3M9QXD2F4t" + tail), "payload setup code");
    require_payload_rejected(with_check("DP1|SN|7K3M9QXD2F4O" + tail), "payload setup code");
    const std::string pre = "DP1|SN|7K3M9QXD2F4T|";
    require_payload_rejected(with_check(pre + kAnchorHex + "|https://e.example|"),
                             "payload anchor fingerprint");
    require_payload_rejected(with_check(pre + kAnchorB64 + "=|https://e.example|"),
                             "payload anchor fingerprint");
    require_payload_rejected(with_check(pre + kAnchorB64.substr(0, 42) + "+|https://e.example|"),
                             "not base64url");
    require_payload_rejected(with_check(pre + kAnchorB64.substr(0, 42) + "V|https://e.example|"),
                             "canonical");
    const std::string anchor = pre + kAnchorB64 + "|";
    require_payload_rejected(with_check(anchor + "|"), "payload endpoint");
    require_payload_rejected(with_check(anchor + "ftp://e.example|"), "must start with https://");
    require_payload_rejected(with_check(anchor + "https://|"), "no host");
    require_payload_rejected(with_check(anchor + "https://e.example/a b|"), "not allowed");
    require_payload_rejected(
        with_check(anchor + "https://e.example/" + std::string(190, 'a') + "|"), "longer than 200");
  }
}

TEST_CASE("payload: every single-character substitution is rejected") {
  // Luhn mod 128 catches every substitution by itself (doubling-and-folding
  // permutes 0..127); the order of the checks decides which message names it:
  // the tag and the '|' separators fail the structure checks first, the check
  // field its own syntax or the check, every other character the check.
  const std::string good = encode_payload(sample());
  const std::size_t check_at = good.size() - 2;
  std::size_t by_check = 0;
  std::size_t total = 0;
  for (std::size_t i = 0; i < good.size(); ++i) {
    for (int c = 0x20; c <= 0x7E; ++c) {
      if (static_cast<char>(c) == good[i]) continue;
      std::string bad = good;
      bad[i] = static_cast<char>(c);
      ++total;
      std::string msg;
      try {
        parse_payload(bad);
        FAIL("accepted " << bad);
      } catch (const Error& e) {
        CHECK(e.code() == ErrorCode::invalid_input);
        msg = e.what();
      }
      INFO("position " << i << ", " << bad << ": " << msg);
      if (i <= 3) {  // the tag "DP1" and the '|' that ends it
        CHECK((contains(msg, "not a devpki payload") || contains(msg, "is not supported")));
      } else if (good[i] == '|' || c == '|') {
        CHECK(contains(msg, "expected 6 '|'-separated fields"));
      } else if (i >= check_at) {
        CHECK((contains(msg, "check field") || contains(msg, "do not match")));
        if (contains(msg, "do not match")) ++by_check;
      } else {
        CHECK(contains(msg, "do not match"));
        ++by_check;
      }
    }
  }
  MESSAGE(total << " substitutions rejected, " << by_check << " of them by the check characters");
  CHECK(total == good.size() * 94);
}

TEST_CASE("payload: adjacent transpositions") {
  // Luhn mod 128 misses an adjacent transposition only for the code points 0
  // and 127 (NUL and DEL, see "the transpositions it cannot see"), which no
  // payload contains: every transposition of two different adjacent
  // characters of a payload is rejected, by the check or, where a '|' or the
  // tag moves, by the structure. (Transpositions two apart are NOT caught by
  // the check: only field syntax may notice them.)
  const std::string good = encode_payload(sample());
  std::size_t swaps = 0;
  std::size_t caught = 0;
  std::size_t caught_by_check = 0;
  for (std::size_t i = 0; i + 1 < good.size(); ++i) {
    if (good[i] == good[i + 1]) continue;
    std::string bad = good;
    std::swap(bad[i], bad[i + 1]);
    ++swaps;
    try {
      parse_payload(bad);
    } catch (const Error& e) {
      ++caught;
      if (contains(e.what(), "do not match")) ++caught_by_check;
    }
  }
  MESSAGE(caught << " of " << swaps << " adjacent transpositions caught, " << caught_by_check
                 << " by the check characters");
  CHECK(swaps > 100);
  CHECK(caught == swaps);

  // Two apart inside the endpoint: the check is blind, and the endpoint is still well-formed.
  const std::string body = good.substr(0, good.size() - 2);
  const auto at = body.find("berlin");
  REQUIRE(at != std::string::npos);
  std::string jumped = body;
  std::swap(jumped[at], jumped[at + 2]);  // "berlin" -> "rebl.."
  CHECK(payload_check(jumped) == payload_check(body));
  CHECK(parse_payload(jumped + good.substr(good.size() - 2)).endpoint != sample().endpoint);
}

// ---- manual code -------------------------------------------------------------------------------

TEST_CASE("manual code: format and round trip") {
  const std::string code = "7K3M9QXD2F4T";
  const std::string manual = manual_code(code);
  CHECK(manual.size() == 16);
  CHECK(manual.substr(0, 15) == "7K3M-9QXD-2F4T-");
  CHECK(manual.back() == crockford_check(code));
  CHECK(parse_setup_code(manual) == code);
  CHECK(parse_setup_code(manual.substr(0, 14)) == code);  // 12 characters, no check
  CHECK(parse_setup_code(code) == code);
  CHECK(parse_setup_code("7k3m-9qxd-2f4t") == code);
  std::string lower = manual;
  for (auto& c : lower)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  CHECK(parse_setup_code(lower) == code);
  CHECK(parse_setup_code("7K3M 9QXD 2F4T " + manual.substr(15)) == code);
  CHECK(parse_setup_code(" 7K3M--9QXD2F4T ") == code);

  CHECK(contains(rejection([] { manual_code("7K3M9QXD2F4"); }), "expected 12"));
  CHECK(contains(rejection([] { manual_code("7K3M9QXD2F4U"); }), "Crockford"));
}

TEST_CASE("manual code: I and L read as 1, O as 0") {
  const std::string code = "10A1B0C1D0E1";
  const std::string manual = manual_code(code);
  std::string typed = manual;
  typed[0] = 'I';
  typed[1] = 'o';
  typed[3] = 'l';
  typed[6] = 'O';
  typed[8] = 'L';
  typed[11] = 'o';
  typed[13] = 'i';
  CHECK(parse_setup_code(typed) == code);
  CHECK(parse_setup_code("IOAlBoC1DOEL") == code);
}

TEST_CASE("manual code: wrong length, characters and check are rejected") {
  const std::string code = "7K3M9QXD2F4T";
  const std::string manual = manual_code(code);
  const char check = manual.back();
  const char wrong = check == 'A' ? 'B' : 'A';
  const std::string msg = rejection([&] { parse_setup_code(manual.substr(0, 15) + wrong); });
  CHECK(contains(
      msg, std::string("check character ") + wrong + " does not match (expected " + check + ")"));
  CHECK(contains(rejection([] { parse_setup_code("7K3M-9QXD-2F4"); }), "expected 12 characters"));
  CHECK(contains(rejection([] { parse_setup_code("7K3M-9QXD-2F4T-YY"); }), "got 14"));
  CHECK(contains(rejection([] { parse_setup_code(""); }), "got 0"));
  CHECK(contains(rejection([] { parse_setup_code("7K3M-9QXD-2F4U"); }),
                 "'U' is not a setup code character"));
  CHECK(contains(rejection([] { parse_setup_code("7K3M_9QXD_2F4"); }),
                 "is not a setup code character"));

  // Every single substitution of the 13 characters is caught (Luhn mod 32).
  const std::string plain = code + check;
  for (std::size_t i = 0; i < plain.size(); ++i) {
    for (const char c : std::string("0123456789ABCDEFGHJKMNPQRSTVWXYZ")) {
      if (c == plain[i]) continue;
      std::string typo = plain;
      typo[i] = c;
      INFO(typo);
      CHECK(contains(rejection([&] { parse_setup_code(typo); }), "does not match"));
    }
  }
}

// ---- rendering ---------------------------------------------------------------------------------

TEST_CASE("QR formats") {
  CHECK(parse_qr_format("png") == QrFormat::png);
  CHECK(parse_qr_format("svg") == QrFormat::svg);
  CHECK(parse_qr_format("text") == QrFormat::text);
  const std::string msg = rejection([] { parse_qr_format("jpeg"); });
  CHECK(contains(msg, "png"));
  CHECK(contains(msg, "svg"));
  CHECK(contains(msg, "text"));
  for (const auto f : {QrFormat::png, QrFormat::svg, QrFormat::text})
    CHECK(parse_qr_format(to_string(f)) == f);
  CHECK(file_extension(QrFormat::png) == "png");
  CHECK(file_extension(QrFormat::svg) == "svg");
  CHECK(file_extension(QrFormat::text) == "txt");
}

TEST_CASE("PNG: signature, 1-bit grayscale, 8 pixels per module with a 4-module quiet zone") {
  const std::string payload = encode_payload(sample());
  const std::string png =
      render_label({payload, "SN-0042.a:b_c", manual_code("7K3M9QXD2F4T")}, QrFormat::png);
  REQUIRE(png.size() > 33);
  CHECK(png.substr(0, 8) == std::string("\x89PNG\r\n\x1a\n", 8));
  CHECK(be32(png, 8) == 13);
  CHECK(png.substr(12, 4) == "IHDR");
  const int modules = modules_of(payload);
  CHECK(modules >= 21);
  CHECK(be32(png, 16) == static_cast<std::uint32_t>((modules + 8) * 8));
  CHECK(be32(png, 20) == static_cast<std::uint32_t>((modules + 8) * 8));
  CHECK(png[24] == 1);  // bit depth
  CHECK(png[25] == 0);  // colour type: grayscale
  CHECK(png.substr(png.size() - 8, 4) == "IEND");
}

TEST_CASE("SVG: one path, crisp edges, the caption and manual code escaped") {
  const std::string payload = encode_payload(sample());
  const std::string svg =
      render_label({payload, "dev<1>&\"co\"", manual_code("7K3M9QXD2F4T")}, QrFormat::svg);
  const int side = (modules_of(payload) + 8) * 8;
  CHECK(svg.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg "));
  CHECK(contains(svg, "xmlns=\"http://www.w3.org/2000/svg\""));
  CHECK(contains(svg, "version=\"1.1\""));
  CHECK(contains(svg, "viewBox=\"0 0 " + std::to_string(side) + " "));
  CHECK(contains(svg, "<rect x=\"0\" y=\"0\" width=\"" + std::to_string(side)));
  CHECK(contains(svg, "fill=\"#ffffff\""));
  CHECK(contains(svg, "shape-rendering=\"crispEdges\""));
  std::size_t paths = 0;
  for (auto at = svg.find("<path"); at != std::string::npos; at = svg.find("<path", at + 1))
    ++paths;
  CHECK(paths == 1);
  // The finder pattern's top row: 7 dark modules from the quiet zone's corner.
  CHECK(contains(svg, "d=\"M32 32h56v8h-56z"));
  CHECK(contains(svg, ">dev&lt;1&gt;&amp;&quot;co&quot;</text>"));
  CHECK_FALSE(contains(svg, "dev<1>"));
  CHECK(contains(svg,
                 ">7K3M-9QXD-2F4T-" + std::string(1, crockford_check("7K3M9QXD2F4T")) + "</text>"));
  CHECK(svg.ends_with("</svg>\n"));

  // No caption, no manual code: no <text>, a square picture.
  const std::string bare = render_label({payload, "", ""}, QrFormat::svg);
  CHECK_FALSE(contains(bare, "<text"));
  CHECK(
      contains(bare, "viewBox=\"0 0 " + std::to_string(side) + " " + std::to_string(side) + "\""));
}

TEST_CASE("text: payload, manual code, the code in half blocks with light modules drawn") {
  const std::string payload = encode_payload(sample());
  const std::string manual = manual_code("7K3M9QXD2F4T");
  const std::string text = render_label({payload, "SN-0042.a:b_c", manual}, QrFormat::text);
  const auto lines = lines_of(text);
  const int n = modules_of(payload) + 8;
  const auto rows = static_cast<std::size_t>((n + 1) / 2);
  REQUIRE(lines.size() == 2 + rows + 1);
  CHECK(lines[0] == payload);
  CHECK(lines[1] == "manual code: " + manual);
  CHECK(lines.back() == "SN-0042.a:b_c");
  for (std::size_t r = 0; r < rows; ++r) {
    INFO("row " << r);
    CHECK(utf8_length(lines[2 + r]) == static_cast<std::size_t>(n));
  }
  // The quiet zone is light, so drawn as full blocks: the first two rows are solid.
  std::string full;
  for (int i = 0; i < n; ++i)
    full += "\u2588";
  CHECK(lines[2] == full);
  CHECK(lines[3] == full);
  // Row 4 holds module rows 4 and 5 (the finder patterns' first two rows): the
  // quiet zone, then dark over dark (a space), then a light module under a dark one.
  CHECK(lines[4].starts_with("\u2588\u2588\u2588\u2588 \u2584"));
}

TEST_CASE("a payload that does not fit a QR code") {
  const std::string big(3000, 'a');
  const std::string msg = rejection([&] { render_label({big, "", ""}, QrFormat::png); });
  CHECK(msg == "the payload (3000 bytes) does not fit a QR code");
  rejection([] { render_label({"", "", ""}, QrFormat::svg); });
  rejection([] { render_label({std::string("a\0b", 3), "", ""}, QrFormat::text); });
}

TEST_CASE("PNG and SVG scan back with zbarimg") {
  if (!on_path("zbarimg")) {
    if (zbar_required())
      FAIL("zbarimg is not on PATH and DEVPKI_REQUIRE_ZBAR=1 (Debian: zbar-tools)");
    MESSAGE("zbarimg is not on PATH: skipping the scan (set DEVPKI_REQUIRE_ZBAR=1 to require it)");
    return;
  }
  test::TempDir dir;
  const std::string payload = encode_payload(sample());
  const QrLabel label{payload, "SN-0042 <scan & check>", manual_code("7K3M9QXD2F4T")};
  const fs::path png = dir.path() / "label.png";
  const fs::path svg = dir.path() / "label.svg";
  const fs::path out = dir.path() / "out.txt";
  const fs::path err = dir.path() / "err.txt";
  write_file(png, render_label(label, QrFormat::png));
  write_file(svg, render_label(label, QrFormat::svg));

  // zbarimg prints each symbol's data and a newline; its stderr may carry noise.
  auto scan = [&](const fs::path& file) {
    return run("zbarimg --raw -q '" + file.string() + "' >'" + out.string() + "' 2>'" +
               err.string() + "'");
  };

  SUBCASE("PNG") {
    const int rc = scan(png);
    INFO("zbarimg stderr: " << read_file(err));
    CHECK(rc == 0);
    CHECK(read_file(out) == payload + "\n");
  }
  SUBCASE("SVG") {
    // zbarimg reads images through ImageMagick: the SVG directly when
    // ImageMagick has an SVG renderer (its own, from libmagickcore-6.q16-6-extra,
    // or the rsvg-convert delegate from librsvg2-bin). Exit status 4 means the
    // image was read and holds no code: our SVG is wrong. Any other failure
    // means this ImageMagick cannot read SVG: rasterize with rsvg-convert if
    // there is one.
    const int rc = scan(svg);
    INFO("zbarimg stderr: " << read_file(err));
    REQUIRE(rc != 4);
    if (rc == 0) {
      CHECK(read_file(out) == payload + "\n");
      return;
    }
    const std::string why =
        "zbarimg cannot read SVG here (ImageMagick has no SVG coder): install "
        "libmagickcore-6.q16-6-extra or librsvg2-bin";
    if (!on_path("rsvg-convert")) {
      if (zbar_required()) FAIL(why);
      MESSAGE(why << "; skipping the SVG scan");
      return;
    }
    const fs::path raster = dir.path() / "label-svg.png";
    REQUIRE(run("rsvg-convert -o '" + raster.string() + "' '" + svg.string() + "'") == 0);
    CHECK(scan(raster) == 0);
    CHECK(read_file(out) == payload + "\n");
  }
}
