// Rotation policy as a pure function: for one certificate, the profile's
// `rotation:` section and a time, is it due for renewal, since when, and if
// it cannot be renewed, why. No clock and no store: devpki-renew's plan and
// run call it with the time they were given, tests at every boundary.
//
// Boundaries (RFC 5280 4.1.2.5: notAfter is the last second of validity):
//   at <  due_at                          not_due
//   due_at <= at <= not_after             due
//   not_after < at <= not_after + grace   in_grace   (grace 0: never)
//   at > not_after + grace                past_grace
// due_at = not_after - lead - jitter_offset, where lead is renew_before (a
// duration, or a share of not_after - not_before) and jitter_offset a
// per-certificate share of `jitter` derived from issuer and serial: a batch
// minted in one hour comes due spread over `jitter`, never later than the
// rule says.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "pki/clock.hpp"
#include "pki/profile.hpp"
#include "pki/store.hpp"

namespace pki {

// What the decision is made from: one certificate as the store knows it.
struct RotationFacts {
  std::string issuer;
  std::string serial_hex;  // with issuer: the jitter seed (stable across runs)
  TimePoint not_before{};
  TimePoint not_after{};
  CertStatus status = CertStatus::issued;
  bool device_decommissioned = false;
};

enum class RotationState {
  not_due,         // due_at is later than `at`
  due,             // due_at <= at <= not_after
  in_grace,        // expired, inside grace_after_expiry: still renewable
  past_grace,      // expired beyond grace_after_expiry
  revoked,         // a revoked certificate is not renewed
  decommissioned,  // the device was decommissioned
  superseded,      // already renewed
  not_issued,      // reserved or abandoned: never issued
  no_policy,       // the profile has no rotation: section
  never_expires,   // notAfter 99991231235959Z: nothing to renew before
};
std::string_view to_string(RotationState s) noexcept;
// due or in_grace.
bool renewable(RotationState s) noexcept;

struct RotationDecision {
  RotationState state = RotationState::not_due;
  // Set unless no_policy / never_expires (then TimePoint{}).
  TimePoint due_at{};
  TimePoint grace_until{};                // not_after + grace_after_expiry
  std::chrono::seconds lead{0};           // renew_before as a duration for this certificate
  std::chrono::seconds jitter_offset{0};  // 0 <= offset < jitter (0 without jitter)
  // The rule that applies, for people: "renew_before 33% of 365d (120d 10h 48min)
  // before notAfter, 2h 5min earlier by jitter (up to 6h)".
  std::string rule;
  // One sentence for every state but due and not_due ("revoked (keyCompromise)"
  // is the caller's; here "the certificate is revoked").
  std::string reason;
};

// Status and device checks come first (superseded, not_issued,
// decommissioned, revoked), then the policy (no_policy), then time.
RotationDecision decide_rotation(const RotationFacts& facts, const RotationPolicy& policy,
                                 TimePoint at);

// The most time before notAfter a certificate of this lifetime can come due
// (lead + jitter): a store scan for "due by T" needs notAfter <= T + this.
std::chrono::seconds max_lead(const RotationPolicy& policy, std::chrono::seconds lifetime) noexcept;

}  // namespace pki
