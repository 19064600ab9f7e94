// Redeeming a one-time enrollment secret (pki/enrollment.hpp): every
// refusal is decided before the secret is claimed and leaves it as it was;
// the claim itself is the store's single UPDATE, so two redeemers racing for
// one secret get one certificate between them.
#include <nlohmann/json.hpp>

#include "enrollment/secrets_internal.hpp"
#include "pki/csr.hpp"
#include "pki/enrollment.hpp"
#include "pki/onboarding.hpp"

namespace pki {

namespace {

struct Presented {
  SecretKind kind = SecretKind::token;
  std::string canonical;
  std::string payload_device;  // a QR payload's device id
};

// Which secret the text is; RedeemRefused(malformed) when none.
Presented classify(std::string_view text) {
  std::string t(text);
  while (!t.empty() && (t.back() == '\n' || t.back() == '\r' || t.back() == ' '))
    t.pop_back();
  Presented p;
  try {
    if (t.size() >= 4 && (t.compare(0, 4, "dpt_") == 0 || t.compare(0, 4, "DPT_") == 0)) {
      p.kind = SecretKind::token;
      p.canonical = enrollment::canonical_token(t);
    } else if (looks_like_payload(t)) {
      const OnboardingPayload payload = parse_payload(t);
      p.kind = SecretKind::setup_code;
      p.canonical = payload.setup_code;
      p.payload_device = payload.device_id;
    } else {
      std::size_t chars = 0;
      for (char c : t)
        if (c != '-' && c != ' ') ++chars;
      if (chars != 12 && chars != 13) {
        throw Error(ErrorCode::invalid_input,
                    "not an enrollment secret: expected a token (dpt_...), a setup code "
                    "(XXXX-XXXX-XXXX-C) or a QR onboarding payload (DP1|...)");
      }
      p.kind = SecretKind::setup_code;
      p.canonical = parse_setup_code(t);
    }
  } catch (const RedeemRefused&) {
    throw;
  } catch (const Error& e) {
    throw RedeemRefused(RedeemRefusal::malformed, ErrorCode::invalid_input, e.what());
  }
  return p;
}

std::string secret_name(std::string_view kind) {
  return kind == "token" ? "token" : "setup code";
}

}  // namespace

std::optional<EnrollmentSecretRecord> lookup_enrollment_secret(Home& home,
                                                               std::string_view presented) {
  const Presented p = classify(presented);
  const auto hash = enrollment::secret_hash(home, p.kind, p.canonical, false);
  if (!hash) return std::nullopt;  // no key: this home never issued a secret
  return home.store().find_enrollment_secret(*hash);
}

RedeemResult redeem_enrollment_secret(Home& home, const RedeemRequest& req, const Clock& clock) {
  const TimePoint now = clock.now();
  Store& store = home.store();
  std::optional<EnrollmentSecretRecord> secret;
  std::string kind_text = "enrollment";

  // Records a refusal (never the secret) and throws it. A malformed text's
  // message may quote it (a setup code with one character mistyped is the
  // secret itself): the audit record gets a message without it.
  const auto refuse = [&](RedeemRefusal why, ErrorCode code, const std::string& message) {
    AuditEvent ev;
    ev.at = now;
    ev.actor = req.actor;
    ev.action = kind_text + ".redeem.refused";
    nlohmann::json d{{"reason", std::string(to_string(why))},
                     {"message", why == RedeemRefusal::malformed
                                     ? std::string("not a well-formed token, setup code or QR "
                                                   "onboarding payload (the text is not recorded)")
                                     : message}};
    if (secret) {
      ev.subject = secret->id;
      d["device_id"] = secret->device_id;
    }
    ev.detail = d.dump();
    store.append_audit(ev);
    throw RedeemRefused(why, code, message);
  };

  Presented p;
  try {
    p = classify(req.secret);
  } catch (const RedeemRefused& e) {
    refuse(e.reason(), e.code(), e.what());
  }
  kind_text = std::string(to_string(p.kind));
  const std::string what = secret_name(kind_text);
  const auto hashed = enrollment::secret_hash(home, p.kind, p.canonical, false);
  const std::string hash = hashed.value_or(std::string());
  if (hashed) secret = store.find_enrollment_secret(hash);
  if (!secret) {
    refuse(RedeemRefusal::unknown, ErrorCode::policy,
           "unknown " + what + ": this home did not issue it (or it was mistyped)");
  }
  const std::string label = what + " " + secret->id + " for device " + secret->device_id;
  if (secret->state == "redeemed") {
    std::string cert;
    if (!secret->redeemed_serial.empty()) {
      cert =
          " (certificate " + secret->redeemed_serial + " from CA " + secret->redeemed_issuer + ")";
    }
    refuse(RedeemRefusal::replayed, ErrorCode::policy,
           label + " was already redeemed at " + format_time(*secret->redeemed_at) + cert +
               ": it is single use");
  }
  if (secret->state == "revoked") {
    refuse(RedeemRefusal::revoked, ErrorCode::policy,
           label + " was revoked at " + format_time(*secret->revoked_at));
  }
  if (now >= secret->expires_at) {
    refuse(RedeemRefusal::expired, ErrorCode::policy,
           label + " expired at " + format_time(secret->expires_at) + ": issue a new one");
  }
  if (!p.payload_device.empty() && p.payload_device != secret->device_id) {
    refuse(RedeemRefusal::device, ErrorCode::policy,
           "the payload names device " + p.payload_device + " but its setup code is for device " +
               secret->device_id);
  }
  const std::vector<std::string> ids{secret->device_id};
  if (!store.decommissioned_devices(ids).empty()) {
    refuse(RedeemRefusal::device, ErrorCode::policy,
           "device " + secret->device_id + " is decommissioned: " + what + " " + secret->id +
               " cannot be redeemed");
  }
  try {
    CertificationRequest::parse(req.csr);
  } catch (const Error& e) {
    refuse(RedeemRefusal::csr, ErrorCode::invalid_input, std::string("the CSR: ") + e.what());
  }

  // The single-use step.
  const ClaimResult claim = store.claim_enrollment_secret(hash, now);
  if (claim.outcome != ClaimOutcome::claimed) {
    if (claim.secret) secret = claim.secret;
    const auto why = claim.outcome == ClaimOutcome::expired   ? RedeemRefusal::expired
                     : claim.outcome == ClaimOutcome::revoked ? RedeemRefusal::revoked
                     : claim.outcome == ClaimOutcome::unknown ? RedeemRefusal::unknown
                                                              : RedeemRefusal::replayed;
    refuse(why, ErrorCode::policy,
           label + " was " + std::string(to_string(claim.outcome)) +
               " by another request a moment ago: it is single use");
  }
  secret = claim.secret;

  SignRequest sr;
  sr.ca = secret->ca;
  sr.profile = secret->profile;
  sr.csr = req.csr;
  sr.device_id = secret->device_id;
  sr.out = req.out;
  sr.overwrite = req.overwrite;
  sr.passphrase = req.passphrase;
  sr.actor = req.actor;
  SignResult issued;
  try {
    issued = sign_csr(home, sr, clock);
  } catch (const Error& e) {
    // Nothing was signed unless the failure was the final store commit
    // (sign_csr: the certificate is then written and its row reserved):
    // anything else gives the secret back.
    if (e.code() != ErrorCode::store) store.release_enrollment_secret(secret->id);
    const bool csr_problem = e.code() == ErrorCode::invalid_input || e.code() == ErrorCode::policy;
    if (csr_problem) {
      refuse(RedeemRefusal::csr, e.code(), std::string("the CSR: ") + e.what());
    }
    AuditEvent ev;
    ev.at = now;
    ev.actor = req.actor;
    ev.action = kind_text + ".redeem.failed";
    ev.subject = secret->id;
    ev.detail = nlohmann::json{{"device_id", secret->device_id},
                               {"message", e.what()},
                               {"released", e.code() != ErrorCode::store}}
                    .dump();
    try {
      store.append_audit(ev);
    } catch (const Error&) {
      // The issuance error is the one to report.
    }
    throw;
  }
  store.complete_enrollment_secret(secret->id, issued.issuer, issued.serial_hex);
  secret->redeemed_issuer = issued.issuer;
  secret->redeemed_serial = issued.serial_hex;

  AuditEvent ev;
  ev.at = now;
  ev.actor = req.actor;
  ev.action = kind_text + ".redeem";
  ev.subject = secret->id;
  ev.detail = nlohmann::json{{"device_id", secret->device_id},
                             {"issuer", issued.issuer},
                             {"serial", issued.serial_hex},
                             {"profile", secret->profile}}
                  .dump();
  store.append_audit(ev);
  return RedeemResult{std::move(issued), *secret};
}

}  // namespace pki
