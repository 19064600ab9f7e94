// Rotation policy as a pure function (see pki/rotation.hpp for the table of
// boundaries). No clock, no store, no floating point: the same facts, policy
// and time give the same decision on every run and every platform.
#include "pki/rotation.hpp"

#include <algorithm>
#include <cstdint>

namespace pki {

using std::chrono::seconds;

namespace {

// The certificate's lifetime, never negative (a malformed notAfter before
// notBefore counts as no lifetime at all).
seconds lifetime_of(const RotationFacts& f) noexcept {
  const seconds life = f.not_after - f.not_before;
  return std::max(life, seconds{0});
}

// renew_before as a duration for a certificate of this lifetime. A percentage
// is a share of the lifetime in whole seconds, rounded down, in integer
// arithmetic: lifetime_seconds * percent / 100. Never negative.
seconds lead_for(const RotationPolicy& policy, seconds lifetime) noexcept {
  seconds lead{0};
  if (policy.renew_before) {
    lead = *policy.renew_before;
  } else if (policy.renew_before_percent) {
    const std::int64_t pct = std::clamp(*policy.renew_before_percent, 0, 100);
    lead = seconds{std::max<std::int64_t>(lifetime.count(), 0) * pct / 100};
  }
  return std::max(lead, seconds{0});
}

// The jitter seed and offset, the exact formula (tests pin a value):
//   key    = issuer + "/" + lowercase(serial_hex)        (bytes, as given)
//   h      = FNV-1a 64 over key: h = 14695981039346656037;
//            for each byte b: h = (h XOR b) * 1099511628211 (mod 2^64)
//   offset = h mod jitter_seconds                        (0 when jitter <= 0)
// Serial hex is lowercased so "0A1B" and "0a1b" spread the same certificate
// the same way.
std::uint64_t fnv1a64(const std::string& issuer, const std::string& serial_hex) noexcept {
  std::uint64_t h = 14695981039346656037ULL;
  const auto mix = [&h](unsigned char b) {
    h ^= b;
    h *= 1099511628211ULL;
  };
  for (const char c : issuer)
    mix(static_cast<unsigned char>(c));
  mix(static_cast<unsigned char>('/'));
  for (const char c : serial_hex) {
    auto b = static_cast<unsigned char>(c);
    if (b >= 'A' && b <= 'Z') b = static_cast<unsigned char>(b - 'A' + 'a');
    mix(b);
  }
  return h;
}

seconds jitter_offset_for(const RotationFacts& f, seconds jitter) noexcept {
  if (jitter <= seconds{0}) return seconds{0};
  const auto j = static_cast<std::uint64_t>(jitter.count());
  return seconds{static_cast<std::int64_t>(fnv1a64(f.issuer, f.serial_hex) % j)};
}

// "renew_before 33% of 1y (120d10h48min) before notAfter; 2h5min earlier by
// jitter (up to 6h); grace 7d after expiry". `lifetime`/`lead`/`offset` are
// left out when the certificate has no finite lifetime (never_expires).
std::string describe(const RotationPolicy& p, const seconds* lifetime, seconds lead, seconds offset,
                     bool clamped, TimePoint not_before) {
  std::string out = "renew_before ";
  if (p.renew_before) {
    out += format_duration(*p.renew_before);
  } else if (p.renew_before_percent) {
    out += std::to_string(*p.renew_before_percent);
    out += "%";
    if (lifetime) {
      out += " of ";
      out += format_duration(*lifetime);
      out += " (";
      out += format_duration(lead);
      out += ")";
    } else {
      out += " of the lifetime";
    }
  } else {
    out += "(not set: due at notAfter)";
  }
  out += " before notAfter";
  if (p.jitter > seconds{0}) {
    out += "; ";
    if (lifetime) {
      out += format_duration(offset);
      out += " earlier by jitter (up to ";
    } else {
      out += "earlier by jitter (up to ";
    }
    out += format_duration(p.jitter);
    out += ")";
  }
  if (clamped) {
    out += "; held at notBefore ";
    out += format_time(not_before);
    out += " (the lifetime is shorter than that)";
  }
  if (p.grace_after_expiry > seconds{0}) {
    out += "; grace ";
    out += format_duration(p.grace_after_expiry);
    out += " after expiry";
  } else {
    out += "; no grace after expiry";
  }
  return out;
}

std::string expired_reason(const RotationFacts& f, const RotationPolicy& p, TimePoint grace_until,
                           bool inside) {
  std::string out = "expired ";
  out += format_time(f.not_after);
  if (p.grace_after_expiry <= seconds{0}) {
    out += ", and the profile allows no grace after expiry";
    return out;
  }
  out += inside ? ", inside the " : ", beyond the ";
  out += format_duration(p.grace_after_expiry);
  out += " grace after expiry (until ";
  out += format_time(grace_until);
  out += ")";
  return out;
}

}  // namespace

std::string_view to_string(RotationState s) noexcept {
  switch (s) {
    case RotationState::not_due:
      return "not_due";
    case RotationState::due:
      return "due";
    case RotationState::in_grace:
      return "in_grace";
    case RotationState::past_grace:
      return "past_grace";
    case RotationState::revoked:
      return "revoked";
    case RotationState::decommissioned:
      return "decommissioned";
    case RotationState::superseded:
      return "superseded";
    case RotationState::not_issued:
      return "not_issued";
    case RotationState::no_policy:
      return "no_policy";
    case RotationState::never_expires:
      return "never_expires";
  }
  return "unknown";
}

bool renewable(RotationState s) noexcept {
  return s == RotationState::due || s == RotationState::in_grace;
}

RotationDecision decide_rotation(const RotationFacts& facts, const RotationPolicy& policy,
                                 TimePoint at) {
  RotationDecision d;

  // Timing is computed whenever it is meaningful (a policy and a finite
  // notAfter), also for states decided by status, so callers can show it.
  const bool timed = policy.enabled && !is_forever(facts.not_after);
  bool clamped = false;
  if (timed) {
    const seconds lifetime = lifetime_of(facts);
    d.lead = lead_for(policy, lifetime);
    d.jitter_offset = jitter_offset_for(facts, policy.jitter);
    d.due_at = facts.not_after - d.lead - d.jitter_offset;
    // Never before notBefore (a tiny lifetime with a big lead or jitter).
    const TimePoint earliest = std::min(facts.not_before, facts.not_after);
    if (d.due_at < earliest) {
      d.due_at = earliest;
      clamped = true;
    }
    d.grace_until = facts.not_after + std::max(policy.grace_after_expiry, seconds{0});
    d.rule = describe(policy, &lifetime, d.lead, d.jitter_offset, clamped, facts.not_before);
  } else if (policy.enabled) {
    d.rule = describe(policy, nullptr, seconds{0}, seconds{0}, false, facts.not_before);
  }

  switch (facts.status) {
    case CertStatus::superseded:
      d.state = RotationState::superseded;
      d.reason = "the certificate was already renewed (superseded)";
      return d;
    case CertStatus::reserved:
      d.state = RotationState::not_issued;
      d.reason = "the certificate was reserved but never issued";
      return d;
    case CertStatus::abandoned:
      d.state = RotationState::not_issued;
      d.reason = "the certificate was abandoned: never issued";
      return d;
    case CertStatus::revoked:
    case CertStatus::issued:
      break;
  }
  if (facts.device_decommissioned) {
    d.state = RotationState::decommissioned;
    d.reason = "the device was decommissioned";
    return d;
  }
  if (facts.status == CertStatus::revoked) {
    d.state = RotationState::revoked;
    d.reason = "the certificate is revoked";
    return d;
  }
  if (!policy.enabled) {
    d.state = RotationState::no_policy;
    d.reason = "the profile has no rotation: section";
    return d;
  }
  if (is_forever(facts.not_after)) {
    d.state = RotationState::never_expires;
    d.reason = "the certificate never expires (notAfter ";
    d.reason += format_time(facts.not_after);
    d.reason += "): there is nothing to renew before";
    return d;
  }

  if (at < d.due_at) {
    d.state = RotationState::not_due;
  } else if (at <= facts.not_after) {
    d.state = RotationState::due;
  } else if (policy.grace_after_expiry > seconds{0} && at <= d.grace_until) {
    d.state = RotationState::in_grace;
    d.reason = expired_reason(facts, policy, d.grace_until, true);
  } else {
    d.state = RotationState::past_grace;
    d.reason = expired_reason(facts, policy, d.grace_until, false);
  }
  return d;
}

std::chrono::seconds max_lead(const RotationPolicy& policy,
                              std::chrono::seconds lifetime) noexcept {
  if (!policy.enabled) return seconds{0};
  return lead_for(policy, std::max(lifetime, seconds{0})) + std::max(policy.jitter, seconds{0});
}

}  // namespace pki
