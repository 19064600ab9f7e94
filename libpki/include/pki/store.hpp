// The inventory: the single source of truth for CAs, issued certificates,
// batches and the audit log. An interface with backends side by side (SQLite
// now, PostgreSQL later); domain code sees only this header.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "pki/clock.hpp"

namespace pki {

enum class CaStatus { active, retired };
std::string_view to_string(CaStatus s) noexcept;

struct CaRecord {
  std::string name;         // unique, [a-z0-9][a-z0-9._-]{0,63}
  std::string parent;       // empty for a root
  std::string profile;      // the profile it was issued under
  std::string subject;      // RFC 4514
  std::string serial_hex;   // lowercase, no leading zeros beyond one byte
  std::string key_ref;      // "file:keys/<name>.key.pem" (relative to home) or a pkcs11: URI
  std::string spki_sha256;  // hex
  std::string ski_hex;
  TimePoint not_before{};
  TimePoint not_after{};
  CaStatus status = CaStatus::active;
  std::vector<std::uint8_t> cert_der;
  TimePoint created_at{};
  // Rollover (devpki-ca rollover): the CA that took over issuance, set with
  // status retired. A retired CA still signs CRLs for what it issued.
  std::string successor;  // empty unless rolled over
  std::optional<TimePoint> retired_at;
};

enum class CertStatus { reserved, issued, abandoned, revoked, superseded };
std::string_view to_string(CertStatus s) noexcept;
CertStatus parse_cert_status(std::string_view s);

struct CertRecord {
  std::string issuer;      // CA name
  std::string serial_hex;  // unique per issuer, enforced by the database
  std::string device_id;   // may be empty (CA certificates, server certs without one)
  std::string profile;
  std::string batch_id;           // empty outside a batch
  std::int64_t batch_index = -1;  // position in the batch input; -1 outside a batch
  std::string subject;            // RFC 4514
  TimePoint not_before{};
  TimePoint not_after{};
  std::string spki_sha256;
  CertStatus status = CertStatus::reserved;
  std::string output;             // where the certificate was delivered (path), may be empty
  std::vector<std::uint8_t> der;  // empty until issued
  TimePoint created_at{};
  TimePoint updated_at{};
};

struct CertQuery {
  std::optional<std::string> issuer;
  std::optional<std::string> device_id;
  std::optional<std::string> profile;
  std::optional<std::string> serial_hex;
  std::optional<std::string> batch_id;
  std::optional<CertStatus> status;
  std::size_t limit = 0;  // 0 = no limit
};

struct AuditEvent {
  std::int64_t id = 0;  // assigned by the store
  TimePoint at{};
  std::string actor;    // "devpki-ca", user name, ...
  std::string action;   // "ca.init", "ca.issue", "cert.reserve", "cert.issue", ...
  std::string subject;  // what it is about: CA name, "<issuer>/<serial>"
  std::string detail;   // JSON object text
};

// A batch (devpki-mint, devpki-renew): its parameters as the engine wrote
// them (JSON text, opaque to the store), its state and the output position
// recorded with the last committed chunk.
struct BatchRecord {
  std::string id;  // [A-Za-z0-9][A-Za-z0-9._-]{0,63}
  std::string ca;
  std::string profile;
  std::uint64_t count = 0;  // devices in the input
  std::string state;        // "running", "complete"
  std::string params;       // JSON object text
  std::string out_dir;
  std::uint64_t position = 0;
  TimePoint created_at{};
  TimePoint updated_at{};
};

struct BatchRejectRecord {
  std::uint64_t index = 0;
  std::string device_id;
  std::string reason;
};

// RFC 5280 5.3.1 CRLReason codes as stored (7 is unused). pki/revocation.hpp
// names them; the store keeps the integer.
struct RevokeRequest {
  std::string issuer;
  std::string serial_hex;
  int reason = 0;
  TimePoint revoked_at{};
  std::optional<TimePoint> invalidity_date;
};

enum class RevokeOutcome {
  revoked,          // newly revoked (or a certificateHold made permanent)
  already_revoked,  // revoked before; the existing entry is unchanged
  not_found,        // no certificate with this serial from this issuer
  not_revocable,    // reserved or abandoned: never issued
};
std::string_view to_string(RevokeOutcome o) noexcept;

struct RevokeResult {
  RevokeOutcome outcome = RevokeOutcome::not_found;
  // For revoked / already_revoked: the entry now in force.
  int reason = 0;
  TimePoint revoked_at{};
  std::string device_id;
  TimePoint not_after{};
};

// A revocation as the store keeps it.
struct RevocationRecord {
  std::string issuer;
  std::string serial_hex;
  int reason = 0;
  TimePoint revoked_at{};
  std::optional<TimePoint> invalidity_date;
  TimePoint not_after{};         // the certificate's: the entry leaves the CRL after it
  std::string prior_status;      // "issued" or "superseded": restored when a hold is released
  std::int64_t changed_seq = 0;  // store-wide counter value of the last change (delta CRLs)
  std::optional<TimePoint> released_at;  // a certificateHold released (no longer in force)
};

enum class ReleaseOutcome { released, not_on_hold, not_found };

// One published CRL (full or delta). Numbers strictly increase per issuer
// across full and delta CRLs (RFC 5280 5.2.3 and 5.2.4).
struct CrlRecord {
  std::string issuer;
  std::uint64_t number = 0;
  bool delta = false;
  std::uint64_t base_number = 0;  // delta only: the full CRL it is based on
  TimePoint this_update{};
  TimePoint next_update{};
  std::uint64_t entries = 0;
  std::int64_t covered_seq = 0;  // every revocation change up to this seq is reflected
  std::string sha256;            // of the DER
  std::string file;              // where it was written (path relative to the home)
  TimePoint created_at{};
};

// A device known to the store beyond its certificates: today, a
// decommissioned one (never minted again without an explicit override).
struct DeviceRecord {
  std::string device_id;
  std::string status;  // "active", "decommissioned"
  int reason = 0;      // the CRLReason it was decommissioned with
  std::optional<TimePoint> decommissioned_at;
  TimePoint created_at{};
  TimePoint updated_at{};
  // Just-in-time provisioning (pki/jitp.hpp): the attributes a template
  // mapped (a JSON object of strings, keys sorted), the template's name and
  // the SHA-256 (hex) of the certificate that registered the device. Empty
  // ("{}", "", "") for a device no template registered.
  std::string attributes = "{}";
  std::string registered_by;
  std::string registered_cert;
};

// Registering a device from a certificate (JITP), idempotently.
struct DeviceRegistration {
  std::string device_id;
  std::string attributes;  // JSON object text, keys sorted (compared as text)
  std::string registered_by;
  std::string registered_cert;
  TimePoint now{};
};
enum class RegisterOutcome {
  registered,      // new row, or a row without attributes (e.g. known from a
                   // certificate only) given these attributes
  unchanged,       // registered before with the same attributes: nothing written
  conflict,        // registered before with other attributes: nothing written
  decommissioned,  // the device is decommissioned: nothing written
};
std::string_view to_string(RegisterOutcome o) noexcept;
struct RegisterResult {
  RegisterOutcome outcome = RegisterOutcome::registered;
  DeviceRecord device;  // the row as it is after the call (before it, when nothing was written)
};

// A CA certificate this home trusts for a purpose beyond its own hierarchy:
// today "bootstrap", the manufacturer CAs whose IDevIDs devpki-provision
// enroll accepts (devpki-ca trust add --bootstrap).
struct TrustAnchorRecord {
  std::string name;  // unique, as CA names: [a-z0-9][a-z0-9._-]{0,63}
  std::string purpose = "bootstrap";
  std::string subject;      // RFC 4514
  std::string sha256;       // of the certificate DER, hex; unique
  std::string spki_sha256;  // hex
  TimePoint not_before{};
  TimePoint not_after{};
  std::string source;  // "file:<path as given>" or "ca:<name>" (a CA of this home)
  std::vector<std::uint8_t> der;
  TimePoint added_at{};
};

// A one-time enrollment secret: a token (token/PSK method) or the setup
// code of a QR onboarding label. Only a keyed hash of the secret is stored.
struct EnrollmentSecretRecord {
  std::string id;           // public handle, 16 hex (random), for listing and audit
  std::string kind;         // "token" or "setup_code"
  std::string device_id;    // the device the secret enrolls
  std::string ca;           // the CA it is redeemed with (its successor after a rollover)
  std::string profile;      // the profile the certificate is issued under
  std::string secret_hash;  // HMAC-SHA256(home enrollment key, secret), hex; unique
  std::string state;        // "active", "redeemed", "revoked"
  TimePoint created_at{};
  TimePoint expires_at{};  // redeemable while now < expires_at
  std::optional<TimePoint> redeemed_at;
  std::string redeemed_issuer;  // with redeemed_serial: the certificate it was redeemed for
  std::string redeemed_serial;  // empty while the issuance runs (or if it was interrupted)
  std::optional<TimePoint> revoked_at;
};

struct SecretQuery {
  std::optional<std::string> kind;
  std::optional<std::string> device_id;
  std::optional<std::string> state;
};

enum class ClaimOutcome {
  claimed,   // was active and unexpired: now redeemed (redeemed_at = now)
  unknown,   // no secret with this hash
  redeemed,  // already redeemed
  revoked,
  expired,  // active but now >= expires_at
};
std::string_view to_string(ClaimOutcome o) noexcept;
struct ClaimResult {
  ClaimOutcome outcome = ClaimOutcome::unknown;
  std::optional<EnrollmentSecretRecord> secret;  // as it is after the call, unless unknown
};

struct DecommissionResult {
  std::string device_id;
  bool known = false;                       // the store has a certificate or a device row for it
  bool was_decommissioned = false;          // already decommissioned before this call
  std::vector<CertRecord> revoked;          // newly revoked now (rows without DER)
  std::vector<CertRecord> already_revoked;  // live until now but revoked before (rows without DER)
};

// One position of a renewal batch (devpki-renew run), frozen when the batch
// is created so that --resume renews exactly what the run planned. A
// position with a refusal, or without an old certificate (a CSR for a
// device that is not due), is a reject when the batch reaches it.
struct RenewalItemRecord {
  std::uint64_t index = 0;  // batch position, 0-based, dense
  std::string device_id;
  std::string old_issuer;  // the certificate renewed; empty: nothing to renew
  std::string old_serial;
  bool revoke_old = false;  // rotation.revoke_superseded when the batch was planned
  std::string refusal;      // non-empty: refused at planning (revoked, past grace, ...)
};

// The store side of a renewal plan (pki/renewal.hpp decides; the store
// finds the candidates with indexed queries).
struct ExpiringQuery {
  std::vector<std::string> issuers;     // empty: any issuer
  std::optional<std::string> profile;   // empty: any profile
  std::optional<std::string> batch_id;  // certificates of this batch only
  TimePoint not_after_max{};            // notAfter <= this
};

struct ExpiringCert {
  CertRecord cert;  // without DER
  bool device_decommissioned = false;
};

struct ReserveOptions {
  // Refuse (Error(conflict)) when the device id already holds a live
  // certificate (reserved, or issued and not yet expired at `now`) from the
  // same issuer under the same profile. Checked in the same transaction as the insert.
  bool refuse_live_duplicate = true;
  TimePoint now{};
};

class Store {
 public:
  virtual ~Store() = default;

  virtual int schema_version() = 0;

  // CAs. add_ca: Error(conflict) if the name exists.
  virtual void add_ca(const CaRecord& ca) = 0;
  // Rollover in one transaction: adds `successor` (as add_ca) and retires
  // `predecessor` (status retired, successor, retired_at = now).
  // Error(not_found) for an unknown predecessor; Error(conflict) if it is
  // not active or already has a successor, or if the successor's name exists.
  virtual void add_successor_ca(const CaRecord& successor, std::string_view predecessor,
                                TimePoint now) = 0;
  // The latest notAfter of the certificates `issuer` issued (issued, revoked
  // or superseded); nullopt when it issued none. A retired CA publishes CRLs
  // until then.
  virtual std::optional<TimePoint> last_issued_not_after(std::string_view issuer) = 0;
  virtual std::optional<CaRecord> find_ca(std::string_view name) = 0;
  virtual std::vector<CaRecord> list_cas() = 0;

  // Issuance protocol (DESIGN.md): reserve -> (sign, deliver) -> commit_issued,
  // or abandon. reserve() writes the row with status reserved, committed
  // durably before it returns. Error(conflict) for a serial already used by
  // this issuer (whatever its status: serials are never reused) or for a live
  // duplicate device (see ReserveOptions). created_at and updated_at are set to opts.now.
  virtual void reserve(const CertRecord& rec, const ReserveOptions& opts) = 0;
  // reserved -> issued, storing the DER. Error(not_found) / Error(conflict) if
  // the row is missing or not reserved.
  virtual void commit_issued(std::string_view issuer, std::string_view serial_hex,
                             const std::vector<std::uint8_t>& der, TimePoint now) = 0;
  // reserved -> abandoned (the serial stays burnt).
  virtual void abandon(std::string_view issuer, std::string_view serial_hex, TimePoint now) = 0;

  virtual std::optional<CertRecord> find_cert(std::string_view issuer,
                                              std::string_view serial_hex) = 0;
  virtual std::vector<CertRecord> find_certs(const CertQuery& q) = 0;

  // Batches. create_batch: Error(conflict) if the id exists.
  virtual void create_batch(const BatchRecord& b) = 0;
  virtual std::optional<BatchRecord> find_batch(std::string_view id) = 0;
  virtual std::vector<BatchRecord> list_batches() = 0;
  virtual void set_batch_state(std::string_view id, std::string_view state, TimePoint now) = 0;

  // The batch protocol, a chunk per transaction. reserve_chunk: every row
  // reserved, or none (Error(conflict) naming the first serial or live
  // duplicate that failed; a (batch_id, batch_index) that already has a row
  // that is not abandoned is a conflict too).
  virtual void reserve_chunk(std::span<const CertRecord> rows, const ReserveOptions& opts) = 0;
  // Marks the chunk's rows issued with their DER, records the chunk's
  // rejects and sets the batch's output position, in one transaction.
  struct IssuedDer {
    std::string_view serial_hex;
    std::span<const std::uint8_t> der;
  };
  virtual void commit_chunk(std::string_view batch_id, std::string_view issuer,
                            std::span<const IssuedDer> issued,
                            std::span<const BatchRejectRecord> rejects, std::uint64_t position,
                            TimePoint now) = 0;
  // Abandons these reserved rows and sets the output position, in one transaction.
  virtual void abandon_chunk(std::string_view batch_id, std::string_view issuer,
                             std::span<const std::string> serials, std::uint64_t position,
                             TimePoint now) = 0;
  // The batch's rows with one of these statuses, ordered by batch_index, one
  // at a time (memory does not grow with the batch). `fn` returns false to
  // stop. Rows are read without their DER unless `with_der`. `fn` must not
  // call back into the store.
  virtual void for_each_batch_cert(std::string_view batch_id, std::span<const CertStatus> statuses,
                                   bool with_der,
                                   const std::function<bool(const CertRecord&)>& fn) = 0;
  virtual std::vector<BatchRejectRecord> batch_rejects(std::string_view batch_id) = 0;

  // Renewal batches. create_renewal_batch: the batch row and its items in
  // one transaction (Error(conflict) if the id exists). Once a renewal
  // batch's row is committed issued (commit_chunk, including the rows a
  // resume recovers), the certificate its item renews goes from issued to
  // superseded, and with revoke_old is revoked with reason superseded (4)
  // at that time, in the same transaction. An old certificate that is no
  // longer issued (revoked meanwhile) is left as it is.
  virtual void create_renewal_batch(const BatchRecord& b,
                                    std::span<const RenewalItemRecord> items) = 0;
  // In index order; empty for a batch that is not a renewal.
  virtual std::vector<RenewalItemRecord> renewal_items(std::string_view batch_id) = 0;
  // The renewal candidates: certificates with a device id, status issued or
  // revoked, notAfter <= q.not_after_max, that are their device's newest
  // under their profile (no reserved or issued certificate of the same
  // device and profile, from any issuer, has a later notAfter). Ordered by
  // notAfter, then issuer and serial; streamed; `fn` returns false to stop
  // and must not call back into the store. Indexed: a plan over 1,000,000
  // certificates reads only the ones in the window.
  virtual void for_each_expiring(const ExpiringQuery& q,
                                 const std::function<bool(const ExpiringCert&)>& fn) = 0;
  // Device ids among `ids` that hold a live certificate (reserved, or issued
  // and not expired at `now`) from `issuer` under `profile`.
  virtual std::vector<std::string> live_devices(std::string_view issuer, std::string_view profile,
                                                std::span<const std::string> ids,
                                                TimePoint now) = 0;

  // Called inside revoke()'s or decommission()'s transaction once the work
  // is done, before the commit: it may inspect the results, throw to roll
  // everything back (nothing recorded), and return the audit event to record
  // in the same transaction. It may read the store (on this connection it sees
  // the transaction's own writes) but must not write to it. Not called on a
  // dry run.
  using RevokeHook = std::function<std::optional<AuditEvent>(std::span<const RevokeResult>)>;
  using DecommissionHook =
      std::function<std::optional<AuditEvent>(std::span<const DecommissionResult>)>;

  // Revocation: every request in one transaction (all recorded or none),
  // an outcome per request in order. An issued or superseded certificate
  // becomes revoked; a certificateHold (reason 6) entry may be made
  // permanent by a later request with another reason (outcome revoked).
  virtual std::vector<RevokeResult> revoke(std::span<const RevokeRequest> reqs, TimePoint now,
                                           const RevokeHook& before_commit = {}) = 0;
  // certificateHold -> in force again (status restored, entry kept as
  // released so a delta CRL can say removeFromCRL).
  virtual ReleaseOutcome release_hold(std::string_view issuer, std::string_view serial_hex,
                                      TimePoint now) = 0;
  virtual std::optional<RevocationRecord> find_revocation(std::string_view issuer,
                                                          std::string_view serial_hex) = 0;
  // The entries of a full CRL: `issuer`'s revocations in force whose
  // certificate has not expired at `at`, streamed (memory does not grow with
  // the list), read in one snapshot. Returns the snapshot's covered_seq (the
  // highest changed_seq of the issuer's revocations, 0 if none).
  // `fn` must not call back into the store.
  virtual std::int64_t for_each_revoked(std::string_view issuer, TimePoint at,
                                        const std::function<void(const RevocationRecord&)>& fn) = 0;
  // The entries of a delta CRL: revocations of `issuer` changed after
  // `since_seq` (in force, or released holds: released_at set) whose
  // certificate has not expired at `at`. Returns the covered_seq as above.
  virtual std::int64_t for_each_revocation_change(
      std::string_view issuer, std::int64_t since_seq, TimePoint at,
      const std::function<void(const RevocationRecord&)>& fn) = 0;

  // CRLs. record_crl: Error(conflict) unless rec.number is greater than every
  // number recorded for the issuer (checked in the insert's transaction).
  virtual void record_crl(const CrlRecord& rec) = 0;
  // The last full (delta = false) or delta CRL recorded for the issuer.
  virtual std::optional<CrlRecord> last_crl(std::string_view issuer, bool delta) = 0;
  // 0 when the issuer has none.
  virtual std::uint64_t last_crl_number(std::string_view issuer) = 0;

  // Devices. Of `ids`, those decommissioned.
  virtual std::vector<std::string> decommissioned_devices(std::span<const std::string> ids) = 0;
  virtual std::optional<DeviceRecord> find_device(std::string_view device_id) = 0;
  // In one transaction: every certificate of each device that is issued or
  // superseded and not expired at `now` (any issuer) is revoked with
  // `reason` at `now`, and the device is marked decommissioned (a device
  // with no certificate and no row is unknown: nothing is written for it).
  // A certificateHold in force is made permanent with `reason` (listed in
  // `revoked`), as revoke() does, unless `reason` is certificateHold.
  // With `dry_run` the same work is done and rolled back: the results are
  // the plan. One result per id, in order (ids are expected unique).
  virtual std::vector<DecommissionResult> decommission(
      std::span<const std::string> ids, int reason, TimePoint now, bool dry_run,
      const DecommissionHook& before_commit = {}) = 0;

  // JITP registration in one transaction: the outcome, and `audit` appended
  // only when something was written (registered).
  virtual RegisterResult register_device(const DeviceRegistration& reg,
                                         const AuditEvent& audit) = 0;

  // Trust anchors. add: Error(conflict) naming the existing anchor when the
  // name or the certificate (sha256) is already trusted; `audit` appended in
  // the same transaction.
  virtual void add_trust_anchor(const TrustAnchorRecord& a, const AuditEvent& audit) = 0;
  // By name order; optionally one purpose.
  virtual std::vector<TrustAnchorRecord> list_trust_anchors(
      std::optional<std::string_view> purpose = std::nullopt) = 0;
  // false when no anchor has that name (nothing written).
  virtual bool remove_trust_anchor(std::string_view name, const AuditEvent& audit) = 0;

  // Enrollment secrets. add: every record or none, with `audit` (one event
  // per record, or empty) in the same transaction. A device that already
  // holds an active, unexpired (at `now`) secret of the same kind is
  // Error(conflict) naming it, unless `replace`: those are revoked (at
  // `now`) in the same transaction. Error(conflict) for a duplicate hash.
  virtual void add_enrollment_secrets(std::span<const EnrollmentSecretRecord> secrets, bool replace,
                                      TimePoint now, std::span<const AuditEvent> audit) = 0;
  virtual std::optional<EnrollmentSecretRecord> find_enrollment_secret(
      std::string_view secret_hash) = 0;
  // Ordered by device id, then created_at, then id.
  virtual std::vector<EnrollmentSecretRecord> list_enrollment_secrets(const SecretQuery& q) = 0;
  // The single-use step: an active secret that has not expired at `now`
  // becomes redeemed (redeemed_at = now) in one statement, so of two
  // concurrent redeemers exactly one is told claimed.
  virtual ClaimResult claim_enrollment_secret(std::string_view secret_hash, TimePoint now) = 0;
  // After the issuance a claim was for: records the certificate (the claim
  // stays redeemed). Error(not_found) for an unknown id.
  virtual void complete_enrollment_secret(std::string_view id, std::string_view issuer,
                                          std::string_view serial_hex) = 0;
  // A claim whose issuance failed before anything was signed: redeemed
  // without a certificate -> active again (redeemed_at cleared). false when
  // the secret is not in that state (nothing written).
  virtual bool release_enrollment_secret(std::string_view id) = 0;
  // Every active secret of the device (of `kind`, or any kind) -> revoked at
  // `now`, with one `audit` event per revoked secret (its `subject` set to the
  // secret's id), in one transaction. Returns the secrets revoked.
  virtual std::vector<EnrollmentSecretRecord> revoke_enrollment_secrets(
      std::string_view device_id, std::optional<std::string_view> kind, TimePoint now,
      const AuditEvent& audit) = 0;

  virtual void append_audit(const AuditEvent& ev) = 0;
  // Oldest first, in the order appended; with a limit, the newest `limit`
  // events, still oldest first.
  virtual std::vector<AuditEvent> audit_log(std::size_t limit = 0) = 0;
};

// Opens (creating and migrating if needed) the store at `url`:
// "sqlite:/path/store.db", "sqlite:///abs/path" or a plain path.
// Error(store) if it cannot; Error(invalid_input) for an unknown scheme.
std::unique_ptr<Store> open_store(const std::string& url);

}  // namespace pki
