// Renewal (devpki-renew): find the certificates rotation policy says are
// due, and renew them as a batch.
//
// plan_renewals() reads the store's expiring-certificate index and applies
// decide_rotation() (pki/rotation.hpp) to each candidate. run_renewal()
// freezes the plan into a renewal batch (the store's renewal items) and runs
// it through the batch engine of pki/batch.hpp: the same pipeline, crash
// safety, outputs, manifest, rejects and resume as devpki-mint. A renewed
// certificate keeps the old one's subject (the device's identity); with the
// kept key it keeps its SANs too, with a new CSR it gets the SANs an
// enrollment would (the profile's, and those of the CSR the profile allows).
// The profile supplies everything else as it is now. It is issued by the
// current issuer of the old certificate's CA (its successor after a rollover).
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "pki/batch.hpp"
#include "pki/home.hpp"
#include "pki/rotation.hpp"

namespace pki {

struct RenewalSelector {
  // Certificates issued by this CA or another of its lineage (the CAs it was
  // rolled over from or to).
  std::optional<std::string> ca;
  std::optional<std::string> profile;
  std::optional<std::string> batch_id;  // minted (or renewed) by this batch
  // Also what comes due within this long after `at` (plan --within 30d).
  std::chrono::seconds within{0};
};

struct RenewalCandidate {
  CertRecord cert;  // without DER
  RotationDecision decision;
  std::string target_ca;  // who issues the renewal (current_issuer of cert.issuer)
  Rekey rekey = Rekey::allowed;
  bool revoke_superseded = false;
};

struct RenewalGroup {
  std::string target_ca;
  std::string profile;
  std::uint64_t due = 0;      // renewable by the horizon
  std::uint64_t refused = 0;  // would be due but cannot be renewed
};

struct RenewalPlan {
  TimePoint at{};
  TimePoint horizon{};  // at + within
  // Renewable by the horizon (due, in_grace, or not_due with due_at <=
  // horizon), ordered by due_at, then device id.
  std::vector<RenewalCandidate> due;
  // Would be due by the horizon but cannot be renewed: revoked and
  // decommissioned certificates that have not expired yet, and certificates
  // past grace. Same order.
  std::vector<RenewalCandidate> refused;
  std::vector<RenewalGroup> groups;  // by (target CA, profile), sorted
  // Profiles of the selection without a rotation: section (their
  // certificates are never due); sorted.
  std::vector<std::string> profiles_without_policy;
  std::uint64_t scanned = 0;  // candidates read from the store
};

// Error(not_found) for an unknown CA, profile or batch in the selector.
RenewalPlan plan_renewals(Home& home, const RenewalSelector& sel, TimePoint at);

struct RenewRequest {
  RenewalSelector select;
  std::filesystem::path out;
  BatchFormat format = BatchFormat::jsonl;  // jsonl or pem: renewal never makes a key
  // New CSRs (as devpki-mint --csrs: a directory or a .jsonl file), matched
  // by device id. Required for rekey: required; used when rekey: allowed;
  // refused for rekey: forbidden. A CSR for a device that is not due is a reject.
  std::filesystem::path csrs;
  std::string batch_id;  // empty: generated ("<ca>-renew-<UTC yyyymmddThhmmss>-<4 hex>")
  unsigned threads = 1;
  std::size_t chunk = 1000;
  std::string actor = "devpki-renew";
};

// What a run would do (--dry-run) or did: one line per position.
enum class RenewAction { renew_kept_key, renew_new_key, refuse };
std::string_view to_string(RenewAction a) noexcept;

struct RenewPreviewItem {
  std::uint64_t index = 0;
  std::string device_id;
  std::string old_issuer;  // empty for a CSR of a device that is not due
  std::string old_serial;
  RenewAction action = RenewAction::refuse;
  std::string reason;  // for refuse
};

struct RenewPreview {
  RenewalPlan plan;
  std::string target_ca;
  std::string profile;
  std::vector<RenewPreviewItem> items;
};

// The run's positions without writing anything (what --dry-run prints and
// what run_renewal() records). Error(invalid_input) when the due
// certificates span several (target CA, profile) groups (the message lists
// them and the --ca/--profile that picks each), for --format p12, and for
// CSRs given to a profile with rekey: forbidden. The CSR files are read and
// matched here; their signatures are checked when the batch reaches them.
RenewPreview preview_renewal(Home& home, const RenewRequest& req, TimePoint at);

// Runs the renewal as a new batch and returns its result. Nothing due: no
// batch is created (CSRs given are not looked at), result.total == 0 and
// batch_id empty.
// Errors before the batch exists leave the store and `out` untouched; after,
// the batch is resumable with resume_batch() (devpki-renew run --resume ID).
BatchResult run_renewal(Home& home, const RenewRequest& req, const BatchSecrets& secrets,
                        const Clock& clock, const ProgressFn& progress = {});

}  // namespace pki
