// Revocation: taking certificates out of service before they expire, by
// serial, device, batch or list, with RFC 5280 reason codes; and
// decommissioning devices (revoke everything they hold, never mint them
// again). Each request is one store transaction: all of it or none.
#pragma once

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pki/clock.hpp"
#include "pki/store.hpp"

namespace pki {

class Home;

// RFC 5280 5.3.1 CRLReason.
enum class RevocationReason : int {
  unspecified = 0,
  key_compromise = 1,
  ca_compromise = 2,
  affiliation_changed = 3,
  superseded = 4,
  cessation_of_operation = 5,
  certificate_hold = 6,
  remove_from_crl = 8,  // delta CRLs only; never a request
  privilege_withdrawn = 9,
  aa_compromise = 10,
};
// The RFC's names: "keyCompromise", "certificateHold", ...
std::string_view to_string(RevocationReason r) noexcept;
// Accepts the RFC names (case-insensitive) and the numeric codes.
// Error(invalid_input) naming the allowed values; removeFromCRL is refused
// (it is not a reason a certificate is revoked for).
RevocationReason parse_revocation_reason(std::string_view text);
// Names accepted by parse_revocation_reason, for --help and messages.
const std::vector<std::string_view>& revocation_reason_names();

struct RevokeTarget {
  // Exactly one of these selects the certificates.
  std::optional<std::string> serial_hex;  // with `ca`, or unique across CAs
  std::optional<std::string> device_id;   // every live certificate of the device
  std::optional<std::string> batch_id;    // every live certificate of the batch
  std::vector<std::string> serials;       // a list (hex), each as serial_hex
  // Restricts to one issuing CA; for a serial, a serial of another issuer is refused.
  std::optional<std::string> ca;
};

struct RevokeOptions {
  RevocationReason reason = RevocationReason::unspecified;
  std::optional<TimePoint> invalidity_date;  // must not be in the future
  std::string actor = "devpki";
};

struct RevokedItem {
  std::string issuer;
  std::string serial_hex;
  std::string device_id;
  RevokeOutcome outcome = RevokeOutcome::revoked;
  RevocationReason reason = RevocationReason::unspecified;  // the entry in force
  TimePoint revoked_at{};
};

struct RevokeReport {
  std::vector<RevokedItem> items;  // in request order
  std::vector<std::string> cas;    // issuers with a new revocation (their CRLs are stale)
  std::size_t revoked = 0;
  std::size_t already_revoked = 0;
};

// Error(not_found) for an unknown serial, device or batch (nothing
// recorded); Error(invalid_input) for a malformed serial, or a serial of
// another issuer than `ca`; Error(conflict) when every selected certificate
// was already revoked (nothing to do, nothing written). A selection with no
// live certificate is Error(not_found) too. Recorded in one transaction
// together with its audit event.
RevokeReport revoke(Home& home, const RevokeTarget& target, const RevokeOptions& opts,
                    const Clock& clock);

// Releases a certificateHold. Error(not_found) for an unknown serial,
// Error(conflict) when it is not on hold.
// Returns the certificate's name, "<issuer>/<serial>" (serial normalized).
std::string release_hold(Home& home, const std::string& ca, const std::string& serial_hex,
                         const Clock& clock, const std::string& actor = "devpki");

struct DecommissionReport;

struct DecommissionOptions {
  RevocationReason reason = RevocationReason::cessation_of_operation;
  bool dry_run = false;
  std::string actor = "devpki";
  // Called with the outcome inside the store transaction, before the
  // commit (not on a dry run): throwing rolls everything back. A tool
  // unlocks the CA keys it will publish CRLs with here, so a wrong
  // passphrase changes nothing. It may read the store, not write to it.
  std::function<void(const DecommissionReport&)> before_commit;
};

struct DecommissionReport {
  std::vector<DecommissionResult> devices;  // in input order
  std::vector<std::string> unknown;         // ids the store does not know
  std::vector<std::string> cas;             // issuers with a new revocation
  std::size_t newly_decommissioned = 0;
  std::size_t revoked = 0;
  std::size_t already_revoked = 0;
};

// Validates every id first (Error(invalid_input) naming the first bad one
// and its position; an empty list is refused), then revokes and marks in one
// transaction, with its audit event. Unknown ids are listed, the rest still goes through. A second
// run with the same ids changes nothing.
DecommissionReport decommission(Home& home, const std::vector<std::string>& device_ids,
                                const DecommissionOptions& opts, const Clock& clock);

// Device ids from a file: one per line; blank lines and '#' comments are
// skipped; CRLF tolerated. Error(invalid_input) naming file and line for a
// malformed id or a duplicate, and for a file with no id at all.
std::vector<std::string> read_device_list(const std::filesystem::path& file);

// The device ids of a batch's issued certificates (issued, superseded or
// revoked since), in batch order. Error(not_found) for an unknown batch.
std::vector<std::string> batch_devices(Home& home, const std::string& batch_id);

}  // namespace pki
