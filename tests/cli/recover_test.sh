#!/usr/bin/env bash
# devpki-ca recover: the restart step of the crash-safety protocol. The crash
# states are made by hand in the store (a kill -9 at the right instant is not
# repeatable): a row reserved with its certificate delivered, and one reserved
# with nothing delivered.
source "$(dirname "$0")/lib.sh"

H=$T/pki
new_home "$H"
csr_openssl "$T/a.csr" ec:P-256 -subj /CN=a
csr_openssl "$T/b.csr" ec:P-256 -subj /CN=b
"$CA" --home "$H" sign --ca factory --profile device-ldevid --csr "$T/a.csr" --device-id SN-A \
  --out "$T/a.pem" --passphrase-file "$PASS_FILE" >/dev/null
serial=$(openssl x509 -in "$T/a.pem" -noout -serial | cut -d= -f2 | tr 'A-F' 'a-f')
serial=${serial#00}
db=$H/store.db

# Crash after deliver, before commit: reserved, no DER, the file is there.
sqlite3 "$db" "UPDATE certificates SET status='reserved', der=NULL WHERE serial_hex='$serial'"
# Crash before deliver: reserved, the file was never written.
sqlite3 "$db" "INSERT INTO certificates (issuer, serial_hex, device_id, profile, subject, not_before,
  not_after, spki_sha256, status, output, created_at, updated_at)
  SELECT issuer, '0badc0ffee', 'SN-B', profile, subject, not_before, not_after, spki_sha256,
  'reserved', '$T/never.pem', created_at, updated_at FROM certificates WHERE serial_hex='$serial'"

# While reserved, the device is blocked, and the message says what to do.
expect_fail "reserved row blocks its device" 2 "recover" -- \
  "$CA" --home "$H" sign --ca factory --profile device-ldevid --csr "$T/b.csr" --device-id SN-B \
  --out "$T/b.pem" --passphrase-file "$PASS_FILE"

# Young reservations are left alone by default.
out=$("$CA" --home "$H" recover --json)
if [ "$(jq '.skipped | length' <<<"$out")" = 2 ] && [ "$(jq '.completed | length' <<<"$out")" = 0 ]; then ok; else
  fail "default min-age did not skip: $out"; fi

out=$("$CA" --home "$H" recover --min-age 0s --json)
if [ "$(jq -r '.completed[0].serial' <<<"$out")" = "$serial" ] &&
   [ "$(jq -r '.completed[0].status' <<<"$out")" = issued ]; then ok; else fail "completed: $out"; fi
if [ "$(jq -r '.abandoned[0].serial' <<<"$out")" = 0badc0ffee ] &&
   [ "$(jq -r '.abandoned[0].status' <<<"$out")" = abandoned ]; then ok; else fail "abandoned: $out"; fi

# The store agrees, the DER is the delivered file's, and nothing is left to do.
if [ "$(sqlite3 "$db" "SELECT status FROM certificates WHERE serial_hex='$serial'")" = issued ]; then ok; else
  fail "row not issued"; fi
if [ "$(sqlite3 "$db" "SELECT hex(der) FROM certificates WHERE serial_hex='$serial'")" = \
     "$(openssl x509 -in "$T/a.pem" -outform DER | od -An -v -tx1 | tr -d ' \n' | tr 'a-f' 'A-F')" ]; then ok; else
  fail "stored DER differs from the delivered file"; fi
if [ "$(sqlite3 "$db" "SELECT status FROM certificates WHERE serial_hex='0badc0ffee'")" = abandoned ]; then ok; else
  fail "row not abandoned"; fi
if [ "$(sqlite3 "$db" "SELECT count(*) FROM audit WHERE action LIKE 'cert.recover.%' AND actor='devpki-ca'")" = 2 ]; then ok; else
  fail "no audit events for the recovery"; fi
out=$("$CA" --home "$H" recover --min-age 0s)
if grep -q "0 completed, 0 abandoned, 0 skipped" <<<"$out"; then ok; else fail "second run: $out"; fi

# The abandoned serial never comes back, and the device can be issued again.
"$CA" --home "$H" sign --ca factory --profile device-ldevid --csr "$T/b.csr" --device-id SN-B \
  --out "$T/b.pem" --passphrase-file "$PASS_FILE" >/dev/null && ok || fail "SN-B not issued after recover"
openssl verify -x509_strict -CAfile <("$CA" --home "$H" chain --ca factory | last_cert /dev/stdin) \
  -untrusted <("$CA" --home "$H" chain --ca factory) "$T/b.pem" >/dev/null && ok || fail "SN-B does not verify"
finish
