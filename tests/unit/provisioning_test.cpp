// The provisioning data file, the assessment and the decision guide:
// table-driven archetypes, one input changed at a time, and malformed data
// files refused with file, line and key.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "pki/error.hpp"
#include "pki/provisioning.hpp"

using namespace pki;
namespace fs = std::filesystem;

namespace {

const fs::path kData = fs::path(DEVPKI_SOURCE_DIR) / "data" / "provisioning.yaml";

const ProvisioningData& data() {
  static const ProvisioningData d = load_provisioning_data(kData);
  return d;
}

Deployment deployment(Audience a, std::uint64_t scale, SecurityLevel s) {
  Deployment d;
  d.audience = a;
  d.scale = scale;
  d.security = s;
  return d;
}

std::size_t rank_of(const Assessment& a, const std::string& id) {
  for (std::size_t i = 0; i < a.ranking.size(); ++i)
    if (a.ranking[i].method->id == id) return i + 1;
  FAIL("no method " << id);
  return 0;
}

double score_of(const Assessment& a, const std::string& id) {
  return a.ranking.at(rank_of(a, id) - 1).score;
}

std::string text_of_file(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void require_bad(const std::string& text, const std::string& expected) {
  try {
    parse_provisioning_data(text, "bad.yaml");
    FAIL("accepted a malformed data file; expected '" << expected << "'");
  } catch (const Error& e) {
    INFO("message: " << e.what());
    CHECK(e.code() == ErrorCode::invalid_input);
    CHECK(std::string(e.what()).find(expected) != std::string::npos);
  }
}

// The shipped file with one line replaced (the first line containing `from`).
std::string with_line(const std::string& from, const std::string& to) {
  std::string t = text_of_file(kData);
  const auto pos = t.find(from);
  REQUIRE(pos != std::string::npos);
  t.replace(pos, from.size(), to);
  return t;
}

}  // namespace

TEST_CASE("the shipped data file: six methods, every dimension rated with a reason") {
  const auto& d = data();
  REQUIRE(d.methods.size() == 6);
  for (const char* id : {"ztp", "x509", "qr-app", "jitp", "token-psk", "manufacturer-cert"})
    CHECK(d.find(id) != nullptr);
  CHECK(d.dimensions.size() == 8);
  for (const auto& m : d.methods) {
    CHECK(m.ratings.size() == d.dimensions.size());
    CHECK(!m.devpki.empty());
    for (const auto& [dim, r] : m.ratings) {
      CHECK(!r.reason.empty());
      CHECK(r.score >= 1);
      CHECK(r.score <= 5);
    }
  }
  CHECK(d.guide.back().when.to_string() == "always");
}

// The quick decision guide's archetypes: what the guide recommends, and the
// assessment agrees (its first choice is one the guide names).
TEST_CASE("archetypes: the guide's recommendation and the ranking agree") {
  struct Case {
    const char* name;
    Deployment d;
    std::vector<std::string> recommended;
  };
  Deployment enterprise = deployment(Audience::enterprise, 50000, SecurityLevel::high);
  enterprise.secure_element = true;
  Deployment industrial = deployment(Audience::industrial, 50000, SecurityLevel::high);
  industrial.connectivity = Connectivity::intermittent;
  Deployment cloud = deployment(Audience::enterprise, 50000, SecurityLevel::medium);
  cloud.cloud_native = true;
  const std::vector<Case> cases = {
      {"consumer / smart home",
       deployment(Audience::consumer, 50000, SecurityLevel::medium),
       {"qr-app"}},
      {"enterprise", enterprise, {"ztp", "x509"}},
      {"industrial", industrial, {"ztp", "x509"}},
      {"prototype", deployment(Audience::prototype, 50, SecurityLevel::low), {"token-psk"}},
      {"cloud-native", cloud, {"jitp", "manufacturer-cert"}},
  };
  for (const auto& c : cases) {
    INFO(c.name);
    const Assessment a = assess(data(), c.d);
    REQUIRE(a.guide != nullptr);
    CHECK(a.guide->recommend == c.recommended);
    const std::string top = a.ranking.front().method->id;
    CHECK(std::find(c.recommended.begin(), c.recommended.end(), top) != c.recommended.end());
    // Not a photo finish: the top choice leads what the guide does not name.
    for (const auto& s : a.ranking) {
      if (std::find(c.recommended.begin(), c.recommended.end(), s.method->id) ==
          c.recommended.end()) {
        CHECK(a.ranking.front().score - s.score >= 2.0);
      }
    }
    CHECK(!a.ranking.front().explanation.empty());
  }
}

TEST_CASE("one input changed moves the ranking the way the reasons say") {
  SUBCASE("scale 50 -> 500,000: token/PSK falls (shared secrets do not scale)") {
    const Assessment small =
        assess(data(), deployment(Audience::prototype, 50, SecurityLevel::low));
    const Assessment big =
        assess(data(), deployment(Audience::prototype, 500000, SecurityLevel::low));
    CHECK(rank_of(small, "token-psk") == 1);
    CHECK(rank_of(big, "token-psk") > 1);
    CHECK(score_of(big, "token-psk") < score_of(small, "token-psk"));
    const auto& bonuses = big.ranking.at(rank_of(big, "token-psk") - 1).bonuses;
    CHECK(std::any_of(bonuses.begin(), bonuses.end(),
                      [](const std::string& b) { return b.rfind("-", 0) == 0; }));
  }
  SUBCASE("a secure element raises ZTP (hardware-backed IDevID)") {
    Deployment without = deployment(Audience::enterprise, 50000, SecurityLevel::medium);
    without.secure_element = false;
    Deployment with = without;
    with.secure_element = true;
    const Assessment a = assess(data(), without);
    const Assessment b = assess(data(), with);
    CHECK(score_of(b, "ztp") > score_of(a, "ztp"));
    CHECK(rank_of(b, "ztp") <= rank_of(a, "ztp"));
  }
  SUBCASE("security low -> high: token/PSK falls, X.509 rises") {
    const Assessment low =
        assess(data(), deployment(Audience::enterprise, 5000, SecurityLevel::low));
    const Assessment high =
        assess(data(), deployment(Audience::enterprise, 5000, SecurityLevel::high));
    CHECK(rank_of(high, "token-psk") >= rank_of(low, "token-psk"));
    CHECK(score_of(high, "x509") - score_of(high, "token-psk") >
          score_of(low, "x509") - score_of(low, "token-psk"));
  }
  SUBCASE("an unset optional input matches no condition on it") {
    Deployment d = deployment(Audience::enterprise, 50000, SecurityLevel::medium);
    ProvisioningCondition c;
    c.cloud_native = true;
    CHECK_FALSE(c.holds(d));
    d.cloud_native = true;
    CHECK(c.holds(d));
  }
}

TEST_CASE("the assessment's score is the formula: weights x ratings + bonuses") {
  const Deployment d = deployment(Audience::consumer, 50000, SecurityLevel::medium);
  const Assessment a = assess(data(), d);
  for (const auto& s : a.ranking) {
    double expect = 0;
    for (const auto& dim : data().dimensions)
      expect += a.weights.at(dim.id) * s.method->ratings.at(dim.id).score;
    for (const auto& b : data().bonus)
      if (b.method == s.method->id && b.when.holds(d)) expect += b.points;
    CHECK(s.score == doctest::Approx(expect));
  }
  for (std::size_t i = 1; i < a.ranking.size(); ++i)
    CHECK(a.ranking[i - 1].score >= a.ranking[i].score);
}

TEST_CASE("values outside the allowed sets name the allowed ones") {
  auto check = [](auto f, const std::string& expected) {
    try {
      f();
      FAIL("accepted");
    } catch (const Error& e) {
      CHECK(e.code() == ErrorCode::invalid_input);
      CHECK(std::string(e.what()).find(expected) != std::string::npos);
    }
  };
  check([] { parse_audience("hobbyist"); },
        "unknown audience 'hobbyist' (allowed: consumer, enterprise, industrial, prototype)");
  check([] { parse_security_level("extreme"); }, "(allowed: high, medium, low)");
  check([] { parse_connectivity("never"); }, "(allowed: always, intermittent)");
  check([] { parse_yes_no("maybe", "--secure-element"); }, "(allowed: yes, no)");
  check([] { parse_table_format("html"); }, "(allowed: table, markdown, csv, json)");
}

TEST_CASE("malformed data files are refused with file, line and key") {
  require_bad("version: 1\ndimensions: [\n", "bad.yaml:");
  require_bad("- a\n- b\n", "bad.yaml:1: expected a mapping");
  require_bad(with_line("version: 1", "version: 2"), "bad.yaml:");
  require_bad(with_line("version: 1", "version: 1\nextra: 3"), "extra: unknown key");
  // A score out of range: the line of the score and the key path.
  {
    const std::string t = with_line("score: 2", "score: 7");
    std::size_t line = 1;
    for (char ch : t.substr(0, t.find("score: 7")))
      line += ch == '\n';
    require_bad(t, "bad.yaml:" + std::to_string(line) + ": methods[0].ratings.");
    require_bad(t, "7 is not 1..5");
  }
  require_bad(with_line("method: qr-app", "method: carrier-pigeon"), "no method 'carrier-pigeon'");
  require_bad(with_line("reason:", "reasons:"), "unknown key (allowed: score, value, reason)");
  require_bad(with_line("audience: consumer", "audience: hobbyist"),
              "unknown audience 'hobbyist' (allowed: consumer, enterprise, industrial, prototype)");
  // The guide must end with a rule that always holds.
  {
    std::string t = text_of_file(kData);
    const auto pos = t.rfind("when: {}");
    REQUIRE(pos != std::string::npos);
    t.replace(pos, 8, "when: {audience: consumer}");
    require_bad(t, "the last guide rule must hold always");
  }
  CHECK_THROWS_AS(load_provisioning_data("/nonexistent/provisioning.yaml"), Error);
}

TEST_CASE("compare: every format carries every method and dimension") {
  const auto& d = data();
  for (const auto f : {TableFormat::table, TableFormat::markdown, TableFormat::csv}) {
    const std::string out = compare_table(d, f);
    for (const auto& m : d.methods)
      CHECK(out.find(m.name) != std::string::npos);
    for (const auto& dim : d.dimensions)
      CHECK(out.find(dim.title) != std::string::npos);
  }
  const std::string md = compare_table(d, TableFormat::markdown);
  CHECK(std::count(md.begin(), md.end(), '\n') == static_cast<long>(d.methods.size() + 2));
}
