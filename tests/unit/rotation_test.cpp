// Rotation policy: every boundary of pki/rotation.hpp's table to the second,
// percent and duration rules, the jitter formula (pinned), the notBefore
// clamp, status precedence, and a real profile parsed and decided.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <set>
#include <string>

#include "pki/clock.hpp"
#include "pki/profile.hpp"
#include "pki/rotation.hpp"

using namespace pki;
using namespace std::chrono;

namespace {

// 2025-11-20T10:00:00Z .. 2026-11-20T10:00:00Z: 365 days.
const TimePoint kNotBefore = sys_days{2025y / November / 20} + 10h;
const TimePoint kNotAfter = sys_days{2026y / November / 20} + 10h;

RotationFacts facts(std::string serial = "0A1B2C3D4E5F") {
  RotationFacts f;
  f.issuer = "device-ca";
  f.serial_hex = std::move(serial);
  f.not_before = kNotBefore;
  f.not_after = kNotAfter;
  return f;
}

RotationPolicy percent_policy(int pct, seconds grace = seconds{0}, seconds jitter = seconds{0}) {
  RotationPolicy p;
  p.enabled = true;
  p.renew_before_percent = pct;
  p.grace_after_expiry = grace;
  p.jitter = jitter;
  return p;
}

RotationPolicy duration_policy(seconds before, seconds grace = seconds{0},
                               seconds jitter = seconds{0}) {
  RotationPolicy p;
  p.enabled = true;
  p.renew_before = before;
  p.grace_after_expiry = grace;
  p.jitter = jitter;
  return p;
}

RotationState state_at(const RotationFacts& f, const RotationPolicy& p, TimePoint at) {
  return decide_rotation(f, p, at).state;
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("to_string and renewable") {
  CHECK(to_string(RotationState::not_due) == "not_due");
  CHECK(to_string(RotationState::due) == "due");
  CHECK(to_string(RotationState::in_grace) == "in_grace");
  CHECK(to_string(RotationState::past_grace) == "past_grace");
  CHECK(to_string(RotationState::revoked) == "revoked");
  CHECK(to_string(RotationState::decommissioned) == "decommissioned");
  CHECK(to_string(RotationState::superseded) == "superseded");
  CHECK(to_string(RotationState::not_issued) == "not_issued");
  CHECK(to_string(RotationState::no_policy) == "no_policy");
  CHECK(to_string(RotationState::never_expires) == "never_expires");

  CHECK(renewable(RotationState::due));
  CHECK(renewable(RotationState::in_grace));
  for (auto s :
       {RotationState::not_due, RotationState::past_grace, RotationState::revoked,
        RotationState::decommissioned, RotationState::superseded, RotationState::not_issued,
        RotationState::no_policy, RotationState::never_expires}) {
    CAPTURE(to_string(s));
    CHECK_FALSE(renewable(s));
  }
}

TEST_CASE("every boundary to the second, duration rule with grace") {
  const auto f = facts();
  const auto p = duration_policy(days{30}, days{7});
  const auto d = decide_rotation(f, p, kNotBefore);
  CHECK(d.lead == days{30});
  CHECK(d.jitter_offset == seconds{0});
  CHECK(d.due_at == kNotAfter - days{30});
  CHECK(d.grace_until == kNotAfter + days{7});
  CHECK(d.rule == "renew_before 30d before notAfter; grace 7d after expiry");

  CHECK(state_at(f, p, kNotBefore) == RotationState::not_due);
  CHECK(state_at(f, p, d.due_at - 1s) == RotationState::not_due);
  CHECK(state_at(f, p, d.due_at) == RotationState::due);
  CHECK(state_at(f, p, d.due_at + 1s) == RotationState::due);
  CHECK(state_at(f, p, kNotAfter - 1s) == RotationState::due);
  CHECK(state_at(f, p, kNotAfter) == RotationState::due);  // notAfter is inclusive
  CHECK(state_at(f, p, kNotAfter + 1s) == RotationState::in_grace);
  CHECK(state_at(f, p, d.grace_until - 1s) == RotationState::in_grace);
  CHECK(state_at(f, p, d.grace_until) == RotationState::in_grace);
  CHECK(state_at(f, p, d.grace_until + 1s) == RotationState::past_grace);

  CHECK(decide_rotation(f, p, d.due_at - 1s).reason.empty());
  CHECK(decide_rotation(f, p, d.due_at).reason.empty());
  CHECK(decide_rotation(f, p, kNotAfter + 1s).reason ==
        "expired 2026-11-20T10:00:00Z, inside the 7d grace after expiry (until "
        "2026-11-27T10:00:00Z)");
  CHECK(decide_rotation(f, p, d.grace_until + 1s).reason ==
        "expired 2026-11-20T10:00:00Z, beyond the 7d grace after expiry (until "
        "2026-11-27T10:00:00Z)");
}

TEST_CASE("grace 0: past_grace one second after notAfter, never in_grace") {
  const auto f = facts();
  const auto p = duration_policy(days{30});
  const auto d = decide_rotation(f, p, kNotAfter);
  CHECK(d.state == RotationState::due);
  CHECK(d.grace_until == kNotAfter);
  CHECK(contains(d.rule, "no grace after expiry"));
  const auto after = decide_rotation(f, p, kNotAfter + 1s);
  CHECK(after.state == RotationState::past_grace);
  CHECK(after.reason ==
        "expired 2026-11-20T10:00:00Z, and the profile allows no grace after expiry");
  CHECK(state_at(f, p, kNotAfter + days{365}) == RotationState::past_grace);
}

TEST_CASE("percent rule: share of the lifetime, whole seconds, rounded down") {
  const auto f = facts();
  const auto d = decide_rotation(f, percent_policy(33, days{7}), kNotBefore);
  // 365d = 31536000 s; 33% = 10406880 s = 120d 10h 48min exactly.
  CHECK(d.lead == seconds{10406880});
  CHECK(d.lead == days{120} + 10h + 48min);
  CHECK(d.due_at == kNotAfter - seconds{10406880});
  CHECK(d.rule == "renew_before 33% of 1y (120d10h48min) before notAfter; grace 7d after expiry");
  CHECK(state_at(f, percent_policy(33), d.due_at - 1s) == RotationState::not_due);
  CHECK(state_at(f, percent_policy(33), d.due_at) == RotationState::due);

  struct Case {
    std::int64_t lifetime;
    int pct;
    std::int64_t lead;
  };
  const Case cases[] = {
      {1000, 33, 330}, {101, 33, 33},  // 33.33 -> 33
      {101, 99, 99},                   // 99.99 -> 99
      {99, 1, 0},                      // 0.99 -> 0
      {199, 50, 99},                   // 99.5 -> 99
      {3, 67, 2},                      // 2.01 -> 2
  };
  for (const auto& c : cases) {
    CAPTURE(c.lifetime);
    CAPTURE(c.pct);
    RotationFacts g = facts();
    g.not_after = g.not_before + seconds{c.lifetime};
    const auto r = decide_rotation(g, percent_policy(c.pct), g.not_before);
    CHECK(r.lead.count() == c.lead);
    CHECK(r.due_at == g.not_after - seconds{c.lead});
  }
}

TEST_CASE("jitter: pinned formula, FNV-1a 64 of issuer/lowercase(serial) mod jitter") {
  // FNV-1a 64 of "device-ca/0a1b2c3d4e5f" = 0x039999a67bfadfa7
  // = 259407393874173863; mod 21600 (6h) = 17063 s = 4h44min23s.
  const auto p = percent_policy(33, days{7}, hours{6});
  const auto d = decide_rotation(facts("0A1B2C3D4E5F"), p, kNotBefore);
  CHECK(d.jitter_offset == seconds{17063});
  CHECK(d.due_at == kNotAfter - seconds{10406880} - seconds{17063});
  CHECK(d.rule ==
        "renew_before 33% of 1y (120d10h48min) before notAfter; 4h44min23s earlier by jitter (up "
        "to 6h); grace 7d after expiry");
  // The serial's hex case does not matter.
  CHECK(decide_rotation(facts("0a1b2c3d4e5f"), p, kNotBefore).jitter_offset == seconds{17063});
  // Same again: stable across calls.
  CHECK(decide_rotation(facts("0A1B2C3D4E5F"), p, kNotBefore).jitter_offset == seconds{17063});

  // FNV-1a 64 of "a/1" = 0xe620f01904691bd8; mod 86400 = 77784.
  RotationFacts g = facts("1");
  g.issuer = "a";
  CHECK(decide_rotation(g, duration_policy(days{30}, seconds{0}, hours{24}), kNotBefore)
            .jitter_offset == seconds{77784});
  // A different issuer, same serial: a different offset.
  CHECK(decide_rotation(facts("1"), duration_policy(days{30}, seconds{0}, hours{24}), kNotBefore)
            .jitter_offset != seconds{77784});

  // Boundaries hold with jitter: due_at is moved, the table is not.
  CHECK(state_at(facts(), p, d.due_at - 1s) == RotationState::not_due);
  CHECK(state_at(facts(), p, d.due_at) == RotationState::due);
  CHECK(state_at(facts(), p, kNotAfter) == RotationState::due);
  CHECK(state_at(facts(), p, kNotAfter + 1s) == RotationState::in_grace);
}

TEST_CASE("jitter: no jitter gives offset 0; offsets stay in [0, jitter) and spread out") {
  CHECK(decide_rotation(facts(), duration_policy(days{30}), kNotBefore).jitter_offset ==
        seconds{0});
  // 1 second of jitter: the only offset is 0.
  CHECK(decide_rotation(facts(), duration_policy(days{30}, seconds{0}, seconds{1}), kNotBefore)
            .jitter_offset == seconds{0});

  const seconds jitter = hours{6};
  const auto p = duration_policy(days{30}, seconds{0}, jitter);
  std::set<std::int64_t> offsets;
  std::int64_t lo = jitter.count(), hi = -1;
  std::int64_t buckets[10] = {};
  for (int i = 0; i < 1000; ++i) {
    char serial[32];
    std::snprintf(serial, sizeof serial, "%016X", 0x5A000000u + static_cast<unsigned>(i));
    const auto d = decide_rotation(facts(serial), p, kNotBefore);
    const std::int64_t o = d.jitter_offset.count();
    REQUIRE(o >= 0);
    REQUIRE(o < jitter.count());
    CHECK(d.due_at == kNotAfter - days{30} - d.jitter_offset);
    offsets.insert(o);
    lo = std::min(lo, o);
    hi = std::max(hi, o);
    ++buckets[o * 10 / jitter.count()];
  }
  // Deterministic inputs, so these cannot flake; loose enough for any decent hash.
  CHECK(offsets.size() > 900);
  CHECK(lo < jitter.count() / 10);
  CHECK(hi > 9 * jitter.count() / 10);
  for (const auto b : buckets)
    CHECK(b > 50);  // each tenth of the window holds some of the batch (expect ~100)
}

TEST_CASE("due_at is never earlier than notBefore") {
  RotationFacts f = facts();
  f.not_after = f.not_before + hours{1};
  // lead 30min, jitter up to 1d: most offsets would put due_at before notBefore.
  const auto p = duration_policy(minutes{30}, seconds{0}, days{1});
  const auto d = decide_rotation(f, p, f.not_before);
  REQUIRE(d.lead + d.jitter_offset > hours{1});  // this serial's offset is 17063 s
  CHECK(d.due_at == f.not_before);
  CHECK(d.state == RotationState::due);
  CHECK(contains(d.rule, "held at notBefore 2025-11-20T10:00:00Z"));
  CHECK(state_at(f, p, f.not_before - 1s) == RotationState::not_due);
  CHECK(state_at(f, p, f.not_after) == RotationState::due);
  CHECK(state_at(f, p, f.not_after + 1s) == RotationState::past_grace);

  // Exactly at notBefore is not a clamp.
  RotationFacts g = facts();
  g.not_after = g.not_before + days{30};
  const auto e = decide_rotation(g, duration_policy(days{30}), g.not_before);
  CHECK(e.due_at == g.not_before);
  CHECK_FALSE(contains(e.rule, "held at"));
}

TEST_CASE("status precedence: superseded, not_issued, decommissioned, revoked, policy, time") {
  const auto p = duration_policy(days{30}, days{7});
  const TimePoint due_time = kNotAfter - days{1};

  RotationFacts f = facts();
  f.status = CertStatus::superseded;
  f.device_decommissioned = true;
  auto d = decide_rotation(f, p, due_time);
  CHECK(d.state == RotationState::superseded);
  CHECK(d.reason == "the certificate was already renewed (superseded)");
  // Timing is still reported for people.
  CHECK(d.due_at == kNotAfter - days{30});

  for (const auto s : {CertStatus::reserved, CertStatus::abandoned}) {
    f.status = s;
    d = decide_rotation(f, p, due_time);
    CHECK(d.state == RotationState::not_issued);
    CHECK(contains(d.reason, "never issued"));
  }

  f.status = CertStatus::revoked;  // decommissioned beats revoked
  d = decide_rotation(f, p, due_time);
  CHECK(d.state == RotationState::decommissioned);
  CHECK(d.reason == "the device was decommissioned");

  f.device_decommissioned = false;
  d = decide_rotation(f, p, due_time);
  CHECK(d.state == RotationState::revoked);
  CHECK(d.reason == "the certificate is revoked");

  // Status checks come before the policy and before expiry.
  RotationPolicy none;
  CHECK(state_at(f, none, due_time) == RotationState::revoked);
  f.not_after = forever();
  CHECK(state_at(f, p, due_time) == RotationState::revoked);
  f.status = CertStatus::issued;
  f.device_decommissioned = true;
  CHECK(state_at(f, none, due_time) == RotationState::decommissioned);

  // no_policy beats never_expires.
  f.device_decommissioned = false;
  CHECK(state_at(f, none, due_time) == RotationState::no_policy);
  CHECK(state_at(f, p, due_time) == RotationState::never_expires);

  // Issued, live device, policy, finite: time decides (also when long expired).
  CHECK(state_at(facts(), p, kNotAfter + days{100}) == RotationState::past_grace);
}

TEST_CASE("no_policy") {
  const RotationPolicy none;  // enabled = false
  const auto d = decide_rotation(facts(), none, kNotAfter);
  CHECK(d.state == RotationState::no_policy);
  CHECK(d.reason == "the profile has no rotation: section");
  CHECK(d.due_at == TimePoint{});
  CHECK(d.grace_until == TimePoint{});
  CHECK(d.lead == seconds{0});
  CHECK(d.jitter_offset == seconds{0});
  // A policy struct with values but not enabled is still no policy.
  RotationPolicy off = duration_policy(days{30}, days{7}, hours{6});
  off.enabled = false;
  CHECK(state_at(facts(), off, kNotAfter) == RotationState::no_policy);
}

TEST_CASE("never_expires") {
  RotationFacts f = facts();
  f.not_after = forever();
  const auto d = decide_rotation(f, percent_policy(33, days{7}, hours{6}), kNotBefore);
  CHECK(d.state == RotationState::never_expires);
  CHECK(d.due_at == TimePoint{});
  CHECK(d.grace_until == TimePoint{});
  CHECK(d.lead == seconds{0});
  CHECK(d.jitter_offset == seconds{0});
  CHECK(contains(d.reason, "never expires"));
  CHECK(contains(d.reason, "9999-12-31T23:59:59Z"));
  CHECK_FALSE(renewable(d.state));
}

TEST_CASE("max_lead") {
  const seconds year{365LL * 86400};
  CHECK(max_lead(RotationPolicy{}, year) == seconds{0});
  CHECK(max_lead(duration_policy(days{30}), year) == days{30});
  CHECK(max_lead(duration_policy(days{30}, days{7}, hours{6}), year) == days{30} + hours{6});
  CHECK(max_lead(percent_policy(33), year) == seconds{10406880});
  CHECK(max_lead(percent_policy(33, seconds{0}, hours{24}), year) == seconds{10406880 + 86400});
  CHECK(max_lead(percent_policy(33), seconds{101}) == seconds{33});
  RotationPolicy off = duration_policy(days{30}, seconds{0}, hours{6});
  off.enabled = false;
  CHECK(max_lead(off, year) == seconds{0});

  // An upper bound on every certificate's notAfter - due_at.
  const auto p = percent_policy(33, seconds{0}, hours{6});
  for (int i = 0; i < 200; ++i) {
    const auto d = decide_rotation(facts(std::to_string(i)), p, kNotBefore);
    CHECK(kNotAfter - d.due_at <= max_lead(p, kNotAfter - kNotBefore));
    CHECK(kNotAfter - d.due_at == d.lead + d.jitter_offset);
  }
}

TEST_CASE("a parsed profile decides in the same units") {
  const std::string yaml =
      "name: t\n"
      "validity: 1y\n"
      "keys: [ec-p256]\n"
      "subject:\n"
      "  - CN: \"{device_id}\"\n"
      "rotation:\n"
      "  renew_before: 33%\n"
      "  rekey: allowed\n"
      "  grace_after_expiry: 7d\n"
      "  jitter: 6h\n";
  const ProfileSpec spec = parse_profile(yaml, "t.yaml");
  REQUIRE(spec.rotation.enabled);
  REQUIRE(spec.rotation.renew_before_percent == 33);
  REQUIRE(spec.rotation.jitter == hours{6});

  RotationFacts f = facts();
  f.not_after = f.not_before + spec.validity.duration;
  REQUIRE(f.not_after == kNotAfter);
  const auto d = decide_rotation(f, spec.rotation, kNotBefore);
  CHECK(d.state == RotationState::not_due);
  CHECK(d.lead == days{120} + 10h + 48min);
  CHECK(d.jitter_offset == seconds{17063});
  CHECK(d.grace_until == kNotAfter + days{7});
  CHECK(d.rule ==
        "renew_before 33% of 1y (120d10h48min) before notAfter; 4h44min23s earlier by jitter (up "
        "to 6h); grace 7d after expiry");
  CHECK(state_at(f, spec.rotation, d.due_at - 1s) == RotationState::not_due);
  CHECK(state_at(f, spec.rotation, d.due_at) == RotationState::due);
  CHECK(state_at(f, spec.rotation, d.grace_until) == RotationState::in_grace);
  CHECK(state_at(f, spec.rotation, d.grace_until + 1s) == RotationState::past_grace);
  CHECK(max_lead(spec.rotation, spec.validity.duration) == d.lead + hours{6});

  const std::string yaml_duration =
      "name: t\n"
      "validity: 90d\n"
      "keys: [ec-p256]\n"
      "subject:\n"
      "  - CN: \"{device_id}\"\n"
      "rotation: {renew_before: 30d}\n";
  const ProfileSpec spec2 = parse_profile(yaml_duration, "t.yaml");
  RotationFacts g = facts();
  g.not_after = g.not_before + spec2.validity.duration;
  const auto e = decide_rotation(g, spec2.rotation, g.not_before);
  CHECK(e.lead == days{30});
  CHECK(e.jitter_offset == seconds{0});
  CHECK(e.due_at == g.not_before + days{60});
  CHECK(state_at(g, spec2.rotation, g.not_after + 1s) == RotationState::past_grace);

  // No rotation: section.
  const std::string yaml_none =
      "name: t\n"
      "validity: 90d\n"
      "keys: [ec-p256]\n"
      "subject:\n"
      "  - CN: \"{device_id}\"\n";
  const ProfileSpec spec3 = parse_profile(yaml_none, "t.yaml");
  CHECK(state_at(g, spec3.rotation, g.not_after) == RotationState::no_policy);
}
