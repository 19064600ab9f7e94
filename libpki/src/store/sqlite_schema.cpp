#include "store/sqlite_schema.hpp"

#include <array>
#include <string>

#include "store/sqlite_handle.hpp"

namespace pki::sqlite {

namespace {

// Migration N (1-based) turns version N-1 into version N. Append only: a
// migration that has shipped is never edited, a change is a new step.
//
// Conventions: times are INTEGER unix seconds (UTC); optional text (parent,
// device_id, batch_id, output) is NULL when absent so foreign keys and
// "IS NULL" mean what they say; serials are lowercase hex (the CHECKs keep
// "0A" and "0a" from being two serials).
constexpr std::array kMigrations = {
    // v1: CAs, certificates, audit; batches, revocations and CRL numbers are
    // created now so the modules that use them need no migration of their own.
    R"sql(
CREATE TABLE cas (
  name        TEXT PRIMARY KEY NOT NULL,
  parent      TEXT REFERENCES cas(name),
  profile     TEXT NOT NULL,
  subject     TEXT NOT NULL,
  serial_hex  TEXT NOT NULL CHECK (serial_hex <> '' AND serial_hex NOT GLOB '*[^0-9a-f]*'),
  key_ref     TEXT NOT NULL,
  spki_sha256 TEXT NOT NULL,
  ski_hex     TEXT NOT NULL,
  not_before  INTEGER NOT NULL,
  not_after   INTEGER NOT NULL,
  status      TEXT NOT NULL CHECK (status IN ('active', 'retired')),
  cert_der    BLOB,
  created_at  INTEGER NOT NULL
);

CREATE TABLE certificates (
  issuer      TEXT NOT NULL REFERENCES cas(name),
  serial_hex  TEXT NOT NULL CHECK (serial_hex <> '' AND serial_hex NOT GLOB '*[^0-9a-f]*'),
  device_id   TEXT,
  profile     TEXT NOT NULL,
  batch_id    TEXT,
  subject     TEXT NOT NULL,
  not_before  INTEGER NOT NULL,
  not_after   INTEGER NOT NULL,
  spki_sha256 TEXT NOT NULL,
  status      TEXT NOT NULL
              CHECK (status IN ('reserved', 'issued', 'abandoned', 'revoked', 'superseded')),
  output      TEXT,
  der         BLOB,
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL,
  -- Serial uniqueness per issuer is the database's job, whatever the status:
  -- an abandoned serial stays burnt.
  PRIMARY KEY (issuer, serial_hex)
);
-- The live-duplicate check in reserve(); also "this device under this CA".
CREATE INDEX certificates_issuer_profile_device ON certificates (issuer, profile, device_id);
CREATE INDEX certificates_device ON certificates (device_id);
-- Renewal ("what expires before T") and CRL pruning.
CREATE INDEX certificates_not_after ON certificates (not_after);
CREATE INDEX certificates_batch ON certificates (batch_id);
CREATE INDEX certificates_status ON certificates (status);

CREATE TABLE audit (
  id      INTEGER PRIMARY KEY AUTOINCREMENT,
  at      INTEGER NOT NULL,
  actor   TEXT NOT NULL,
  action  TEXT NOT NULL,
  subject TEXT NOT NULL,
  detail  TEXT NOT NULL
);

CREATE TABLE batches (
  id         TEXT PRIMARY KEY NOT NULL,
  ca         TEXT NOT NULL REFERENCES cas(name),
  profile    TEXT NOT NULL,
  count      INTEGER NOT NULL CHECK (count >= 0),
  state      TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);

-- reason: the RFC 5280 5.3.1 CRLReason code (7 is not used).
CREATE TABLE revocations (
  issuer          TEXT NOT NULL,
  serial_hex      TEXT NOT NULL,
  reason          INTEGER NOT NULL CHECK (reason BETWEEN 0 AND 10 AND reason <> 7),
  revoked_at      INTEGER NOT NULL,
  invalidity_date INTEGER,
  PRIMARY KEY (issuer, serial_hex),
  FOREIGN KEY (issuer, serial_hex) REFERENCES certificates (issuer, serial_hex)
);

-- RFC 5280 5.2.3: CRL numbers strictly increase per issuer.
CREATE TABLE crl_numbers (
  issuer      TEXT PRIMARY KEY NOT NULL REFERENCES cas(name),
  last_number INTEGER NOT NULL CHECK (last_number >= 0)
);
)sql",
    // v2: batches (devpki-mint). A certificate knows its position in its
    // batch; a batch position holds at most one certificate that is not
    // abandoned (what makes a resumed batch unable to issue a device twice);
    // rejects are stored with the chunk that found them, so rejects.jsonl
    // matches the store after any crash; the batch records the output
    // position of its last committed chunk.
    //
    // The certificates table is rebuilt (SQLite's documented procedure for a
    // changed CHECK): v1 wrote `status IN (...)`, which SQLite evaluates
    // with an ephemeral table on every insert and status change (measured:
    // about 7% of a minting run's instructions); the OR chain costs nothing.
    // The status index becomes a partial index of reserved rows: only
    // recovery looks rows up by status. revocations (empty until revocation
    // exists) is recreated because it references certificates.
    R"sql(
CREATE TABLE certificates_v2 (
  issuer      TEXT NOT NULL REFERENCES cas(name),
  serial_hex  TEXT NOT NULL CHECK (serial_hex <> '' AND serial_hex NOT GLOB '*[^0-9a-f]*'),
  device_id   TEXT,
  profile     TEXT NOT NULL,
  batch_id    TEXT,
  subject     TEXT NOT NULL,
  not_before  INTEGER NOT NULL,
  not_after   INTEGER NOT NULL,
  spki_sha256 TEXT NOT NULL,
  status      TEXT NOT NULL
              CHECK (status = 'reserved' OR status = 'issued' OR status = 'abandoned' OR
                     status = 'revoked' OR status = 'superseded'),
  output      TEXT,
  der         BLOB,
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL,
  batch_index INTEGER CHECK (batch_index >= 0),
  PRIMARY KEY (issuer, serial_hex)
);
INSERT INTO certificates_v2 (issuer, serial_hex, device_id, profile, batch_id, subject,
                             not_before, not_after, spki_sha256, status, output, der,
                             created_at, updated_at)
  SELECT issuer, serial_hex, device_id, profile, batch_id, subject, not_before, not_after,
         spki_sha256, status, output, der, created_at, updated_at FROM certificates;
DROP TABLE revocations;
DROP TABLE certificates;
ALTER TABLE certificates_v2 RENAME TO certificates;

CREATE INDEX certificates_issuer_profile_device ON certificates (issuer, profile, device_id);
CREATE INDEX certificates_device ON certificates (device_id);
CREATE INDEX certificates_not_after ON certificates (not_after);
-- One index for "the rows of a batch" and for the rule that a batch position
-- holds at most one certificate that is not abandoned (what makes a resumed
-- batch unable to issue a device twice): abandoned rows are told apart by
-- their serial, every other row of a position shares the key ''.
CREATE UNIQUE INDEX certificates_batch ON certificates
  (batch_id, batch_index, (CASE WHEN status = 'abandoned' THEN serial_hex ELSE '' END));
CREATE INDEX certificates_reserved ON certificates (issuer, serial_hex) WHERE status = 'reserved';

CREATE TABLE revocations (
  issuer          TEXT NOT NULL,
  serial_hex      TEXT NOT NULL,
  reason          INTEGER NOT NULL CHECK (reason BETWEEN 0 AND 10 AND reason <> 7),
  revoked_at      INTEGER NOT NULL,
  invalidity_date INTEGER,
  PRIMARY KEY (issuer, serial_hex),
  FOREIGN KEY (issuer, serial_hex) REFERENCES certificates (issuer, serial_hex)
);

ALTER TABLE batches ADD COLUMN params TEXT NOT NULL DEFAULT '{}';
ALTER TABLE batches ADD COLUMN out_dir TEXT NOT NULL DEFAULT '';
ALTER TABLE batches ADD COLUMN position INTEGER NOT NULL DEFAULT 0 CHECK (position >= 0);

CREATE TABLE batch_rejects (
  batch_id    TEXT NOT NULL REFERENCES batches(id),
  batch_index INTEGER NOT NULL CHECK (batch_index >= 0),
  device_id   TEXT NOT NULL,
  reason      TEXT NOT NULL,
  PRIMARY KEY (batch_id, batch_index)
);
)sql",
    // v3: revocation, CRLs, decommissioned devices.
    //
    // revocations is recreated (empty in v2 stores; any row is carried over)
    // with what CRL generation needs without a join: the certificate's
    // not_after (an entry leaves the CRL once its certificate expires), the
    // status to restore when a certificateHold is released, released_at
    // (the entry is kept so a delta CRL can say removeFromCRL) and
    // changed_seq, a store-wide counter stamped on every change, so a delta
    // CRL is "changed after the base's covered_seq". WITHOUT ROWID: the
    // table is clustered on its key, so a full CRL ("this issuer's entries")
    // is one range scan of the table with no second lookup per entry and no
    // extra index; a row is small (about 80 bytes). removeFromCRL (8) is
    // not a reason to revoke for (RFC 5280 5.3.1: delta CRLs only).
    //
    // crls replaces crl_numbers (never written): a published CRL is recorded
    // with its number, and RFC 5280 5.2.3's "strictly increasing" is
    // checked against the MAX in the insert's transaction.
    //
    // devices holds what the store knows about a device beyond its
    // certificates; attributes is for just-in-time provisioning.
    R"sql(
CREATE TABLE revocations_v3 (
  issuer          TEXT NOT NULL,
  serial_hex      TEXT NOT NULL,
  reason          INTEGER NOT NULL CHECK (reason BETWEEN 0 AND 10 AND reason <> 7 AND reason <> 8),
  revoked_at      INTEGER NOT NULL,
  invalidity_date INTEGER,
  not_after       INTEGER NOT NULL,
  prior_status    TEXT NOT NULL CHECK (prior_status = 'issued' OR prior_status = 'superseded'),
  changed_seq     INTEGER NOT NULL CHECK (changed_seq >= 1),
  released_at     INTEGER,
  PRIMARY KEY (issuer, serial_hex),
  FOREIGN KEY (issuer, serial_hex) REFERENCES certificates (issuer, serial_hex)
) WITHOUT ROWID;
INSERT INTO revocations_v3 (issuer, serial_hex, reason, revoked_at, invalidity_date, not_after,
                            prior_status, changed_seq)
  SELECT r.issuer, r.serial_hex, r.reason, r.revoked_at, r.invalidity_date, c.not_after,
         'issued', r.rowid
  FROM revocations AS r JOIN certificates AS c USING (issuer, serial_hex);
DROP TABLE revocations;
ALTER TABLE revocations_v3 RENAME TO revocations;
-- Delta CRLs (changed after a seq) and covered_seq (the issuer's MAX).
CREATE INDEX revocations_changes ON revocations (issuer, changed_seq);

DROP TABLE crl_numbers;

CREATE TABLE crls (
  issuer      TEXT NOT NULL REFERENCES cas(name),
  number      INTEGER NOT NULL CHECK (number >= 1),
  delta       INTEGER NOT NULL CHECK (delta = 0 OR delta = 1),
  -- A delta names the full CRL it is based on, an earlier number.
  base_number INTEGER CHECK ((delta = 0 AND base_number IS NULL) OR
                             (delta = 1 AND base_number IS NOT NULL AND base_number >= 1 AND
                              base_number < number)),
  this_update INTEGER NOT NULL,
  next_update INTEGER NOT NULL,
  entries     INTEGER NOT NULL CHECK (entries >= 0),
  covered_seq INTEGER NOT NULL CHECK (covered_seq >= 0),
  sha256      TEXT,
  file        TEXT,
  created_at  INTEGER NOT NULL,
  PRIMARY KEY (issuer, number)
);

CREATE TABLE devices (
  device_id         TEXT PRIMARY KEY NOT NULL,
  status            TEXT NOT NULL CHECK (status = 'active' OR status = 'decommissioned'),
  reason            INTEGER CHECK (reason BETWEEN 0 AND 10 AND reason <> 7 AND reason <> 8),
  decommissioned_at INTEGER,
  created_at        INTEGER NOT NULL,
  updated_at        INTEGER NOT NULL,
  attributes        TEXT NOT NULL DEFAULT '{}'
);
)sql",
    // v4: renewal (devpki-renew) and CA rollover.
    //
    // cas: a rolled-over CA names its successor and when it was retired
    // (NULL for a CA that was not rolled over). Only a retired CA has a
    // successor, never itself.
    //
    // renewal_items: a renewal batch's plan, one row per batch position,
    // frozen when the batch is created so that a resume renews exactly what
    // the run planned. old_issuer and old_serial name the certificate the
    // position renews (both NULL: nothing to renew), which must exist;
    // refusal is NULL unless the position was refused at planning. WITHOUT
    // ROWID: committing a chunk looks each issued row's item up by its key.
    //
    // certificates_expiring serves the renewal scan ("issued or revoked,
    // with a device, notAfter up to T, in notAfter, issuer, serial order"):
    // a partial index holds only the rows the scan can return, in the scan's
    // order, so the scan reads the window and nothing else, with no sort.
    // device_id and profile are in it so that the issuer and profile filters
    // and the "newest of its device" test are decided from the index: the
    // table row is read only for a certificate the scan returns.
    // certificates_device_profile answers "is there a later reserved or
    // issued certificate of this device under this profile" with one index
    // probe per candidate; it replaces certificates_device (its prefix),
    // which decommissioning used. certificates_issuer_not_after replaces
    // certificates_not_after, which no query used once renewal had its own
    // index: a retired CA's last notAfter (how long it publishes CRLs) is
    // read from the top of its range instead of from all of its rows.
    R"sql(
ALTER TABLE cas ADD COLUMN successor TEXT REFERENCES cas(name)
  CHECK (successor IS NULL OR (successor <> name AND status = 'retired'));
ALTER TABLE cas ADD COLUMN retired_at INTEGER CHECK (retired_at IS NULL OR status = 'retired');

CREATE TABLE renewal_items (
  batch_id    TEXT NOT NULL REFERENCES batches(id),
  batch_index INTEGER NOT NULL CHECK (batch_index >= 0),
  device_id   TEXT NOT NULL,
  old_issuer  TEXT,
  old_serial  TEXT CHECK (old_serial <> '' AND old_serial NOT GLOB '*[^0-9a-f]*'),
  revoke_old  INTEGER NOT NULL CHECK (revoke_old = 0 OR revoke_old = 1),
  refusal     TEXT CHECK (refusal <> ''),
  CHECK ((old_issuer IS NULL) = (old_serial IS NULL)),
  PRIMARY KEY (batch_id, batch_index),
  FOREIGN KEY (old_issuer, old_serial) REFERENCES certificates (issuer, serial_hex)
) WITHOUT ROWID;

CREATE INDEX certificates_expiring ON certificates (not_after, issuer, serial_hex, device_id, profile)
  WHERE (status = 'issued' OR status = 'revoked') AND device_id IS NOT NULL;
CREATE INDEX certificates_device_profile ON certificates (device_id, profile, not_after);
DROP INDEX certificates_device;
CREATE INDEX certificates_issuer_not_after ON certificates (issuer, not_after);
DROP INDEX certificates_not_after;
)sql",
    // v5: provisioning (devpki-provision enroll, jitp, token, qr).
    //
    // trust_anchors: the CA certificates this home trusts beyond its own
    // hierarchy, by purpose; today only 'bootstrap' (the manufacturer CAs
    // whose IDevIDs enroll accepts), so the CHECK refuses anything else
    // until a new purpose comes with its own code. A certificate is trusted
    // once: sha256 (of the DER, lowercase hex so that one certificate cannot
    // be two rows) is UNIQUE as well as the name. The DER is kept, so the
    // trust store is the database and not a file that can drift from it.
    //
    // enrollment_secrets: one-time tokens and setup codes, stored only as a
    // keyed hash; secret_hash is UNIQUE, which is also the lookup of a
    // redemption (the hash is all a redeemer presents). The CHECKs make the
    // state machine the table's: a secret is redeemed exactly when it has a
    // redeemed_at, revoked exactly when it has a revoked_at (so never both),
    // and only a redeemed secret names the certificate it was redeemed for,
    // by issuer and serial together, a certificate that must exist (the
    // issuance reserves it first). A secret that expires no later than it
    // was created could never be redeemed. ca must be a CA of this home.
    // There is no foreign key to devices: a secret is issued for a device
    // the store may know only from its id.
    //
    // enrollment_secrets_device answers "the device's active secrets of a
    // kind" (the one-active-secret rule when secrets are added, revoking a
    // device's secrets) with one index probe; it is not partial because
    // listing a device's secrets, whatever their state, uses it too.
    //
    // devices: a device registered by a just-in-time provisioning template
    // records the template (registered_by) and the SHA-256 of the
    // certificate that registered it (registered_cert); attributes (v3)
    // holds what the template mapped. NULL for a device no template
    // registered.
    R"sql(
CREATE TABLE trust_anchors (
  name        TEXT PRIMARY KEY NOT NULL,
  purpose     TEXT NOT NULL CHECK (purpose = 'bootstrap'),
  subject     TEXT NOT NULL,
  sha256      TEXT NOT NULL UNIQUE CHECK (sha256 <> '' AND sha256 NOT GLOB '*[^0-9a-f]*'),
  spki_sha256 TEXT NOT NULL,
  not_before  INTEGER NOT NULL,
  not_after   INTEGER NOT NULL,
  source      TEXT NOT NULL,
  der         BLOB NOT NULL,
  added_at    INTEGER NOT NULL
);

CREATE TABLE enrollment_secrets (
  id              TEXT PRIMARY KEY NOT NULL CHECK (id <> '' AND id NOT GLOB '*[^0-9a-f]*'),
  kind            TEXT NOT NULL CHECK (kind = 'token' OR kind = 'setup_code'),
  device_id       TEXT NOT NULL CHECK (device_id <> ''),
  ca              TEXT NOT NULL REFERENCES cas(name),
  profile         TEXT NOT NULL,
  secret_hash     TEXT NOT NULL UNIQUE
                  CHECK (secret_hash <> '' AND secret_hash NOT GLOB '*[^0-9a-f]*'),
  state           TEXT NOT NULL
                  CHECK (state = 'active' OR state = 'redeemed' OR state = 'revoked'),
  created_at      INTEGER NOT NULL,
  expires_at      INTEGER NOT NULL CHECK (expires_at > created_at),
  redeemed_at     INTEGER,
  redeemed_issuer TEXT,
  redeemed_serial TEXT CHECK (redeemed_serial <> '' AND redeemed_serial NOT GLOB '*[^0-9a-f]*'),
  revoked_at      INTEGER,
  CHECK ((state = 'redeemed') = (redeemed_at IS NOT NULL)),
  CHECK ((state = 'revoked') = (revoked_at IS NOT NULL)),
  CHECK ((redeemed_issuer IS NULL) = (redeemed_serial IS NULL)),
  CHECK (redeemed_serial IS NULL OR state = 'redeemed'),
  FOREIGN KEY (redeemed_issuer, redeemed_serial) REFERENCES certificates (issuer, serial_hex)
);
CREATE INDEX enrollment_secrets_device ON enrollment_secrets (device_id, kind, state);

ALTER TABLE devices ADD COLUMN registered_by TEXT;
ALTER TABLE devices ADD COLUMN registered_cert TEXT;
)sql",
};

}  // namespace

int latest_schema_version() noexcept {
  return static_cast<int>(kMigrations.size());
}

int stored_schema_version(sqlite3* db) {
  constexpr std::string_view kWhat = "reading the store schema version";
  // A fresh file has no schema_version table yet: that is version 0.
  const auto has_table_stmt = prepare(db,
                                      "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = "
                                      "'table' AND name = 'schema_version')",
                                      kWhat);
  Statement has_table(db, has_table_stmt.get(), kWhat);
  if (!has_table.step() || has_table.integer(0) == 0) return 0;

  const auto version_stmt =
      prepare(db, "SELECT COALESCE(MAX(version), 0) FROM schema_version", kWhat);
  Statement version(db, version_stmt.get(), kWhat);
  if (!version.step()) return 0;
  return static_cast<int>(version.integer(0));
}

void migrate(sqlite3* db, int target) {
  const int latest = target > 0 ? target : latest_schema_version();
  for (;;) {
    // Each step re-reads the version inside its own write transaction, so two
    // processes opening a fresh store at once apply each migration exactly once.
    Transaction tx(db, Transaction::Kind::immediate, "migrating the store schema");
    const int current = stored_schema_version(db);
    if (current > latest) {
      throw Error(ErrorCode::store, "store schema v" + std::to_string(current) +
                                        " is newer than this devpki (v" + std::to_string(latest) +
                                        ")");
    }
    if (current == latest) {
      tx.commit();
      return;
    }
    const int next = current + 1;
    const std::string what = "migrating the store schema to v" + std::to_string(next);
    exec(db,
         "CREATE TABLE IF NOT EXISTS schema_version ("
         "version INTEGER PRIMARY KEY NOT NULL, applied_at INTEGER NOT NULL)",
         what);
    exec(db, kMigrations[static_cast<std::size_t>(current)], what);
    const std::string record = "INSERT INTO schema_version (version, applied_at) VALUES (" +
                               std::to_string(next) + ", CAST(strftime('%s', 'now') AS INTEGER))";
    exec(db, record.c_str(), what);
    tx.commit();
  }
}

}  // namespace pki::sqlite
