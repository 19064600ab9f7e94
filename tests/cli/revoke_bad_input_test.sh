#!/usr/bin/env bash
# Revocation and CRL bad input (issue 4): every refused `devpki-ca revoke`,
# `release` and `crl` exits 1 (usage) or 2 (refused) with a message naming
# the problem, and leaves the store (audit included), home/crl/ and the rest
# of the home, and the work directory exactly as they were. A refused `crl`
# burns no CRL number. Positive controls first and last.
source "$(dirname "$0")/lib.sh"
: "${MINT:?run through ctest (DEVPKI_MINT unset)}"

H=$T/home
new_home "$H"
W=$T/work  # inputs and --out files
mkdir -p "$W"
ca() { "$CA" --home "$H" "$@"; }
sql() { sqlite3 "$H/store.db" "$1"; }
# refuse NAME EXIT REGEX ARGS...: `devpki-ca --home $H ARGS...` is refused and changes nothing.
refuse() {
  local name=$1 code=$2 regex=$3
  shift 3
  expect_rejected "$H" "$W" "$name" "$code" "$regex" -- "$CA" --home "$H" "$@"
}
# control NAME ARGS...: `devpki-ca --home $H ARGS...` succeeds.
control() {
  local name=$1
  shift
  if "$CA" --home "$H" "$@" >"$T/out" 2>"$T/err"; then ok; else fail "control: $name: $(cat "$T/err")"; fi
}

# --- setup and positive controls ---------------------------------------------------
"$MINT" --home "$H" --passphrase-file "$PASS_FILE" --ca factory --profile device-idevid --count 6 \
  --id-pattern 'R-{seq}' --out "$T/b1" --format pem --batch-id b1 >/dev/null
"$MINT" --home "$H" --passphrase-file "$PASS_FILE" --ca factory --profile device-idevid --count 2 \
  --id-pattern 'GONE-{seq}' --out "$T/b3" --format pem --batch-id b3 >/dev/null
# A second issuing CA with a device of its own (and no CRL yet).
"$CA" --home "$H" issue-ca --parent root --name line2 --subject "/O=Acme/CN=Acme Line 2 CA" --key ec-p256 \
  --passphrase-file "$PASS_FILE" >/dev/null
"$MINT" --home "$H" --passphrase-file "$PASS_FILE" --ca line2 --profile device-idevid --count 1 \
  --id-pattern 'L-{seq}' --out "$T/bl" --format pem --batch-id bl >/dev/null
s() { cert_serial "$T/b1/R-$1/cert.pem"; }
SL=$(cert_serial "$T/bl/L-1/cert.pem")

control "root CRL" crl --ca root --passphrase-file "$PASS_FILE"
control "revoke R-1 superseded" revoke --serial "$(s 1)" --reason superseded
control "hold R-2" revoke --serial "$(s 2)" --reason certificateHold
control "revoke batch b3" revoke --batch b3 --reason keyCompromise
control "factory CRL" crl --ca factory --passphrase-file "$PASS_FILE"
control "factory delta CRL" crl --ca factory --delta --passphrase-file "$PASS_FILE"
NUM=$(sql "SELECT max(number) FROM crls WHERE issuer = 'factory'")
[ "$NUM" = 2 ] && ok || fail "control: factory CRL numbers: $(sql "SELECT group_concat(number) FROM crls")"
[ -f "$H/crl/factory-chain.crl.pem" ] && ok || fail "control: no chain bundle"

# --- revoke: what to revoke -----------------------------------------------------------
refuse "unknown serial" 2 "no certificate with serial 0?123456789abcdef in this home" \
  revoke --serial 0123456789ABCDEF
refuse "unknown serial under --ca" 2 "CA 'factory' issued no certificate with serial 0?123456789abcdef" \
  revoke --serial 0123456789abcdef --ca factory
refuse "serial of another issuer" 2 "serial 0?$SL was issued by 'line2', not by 'factory'" \
  revoke --serial "$SL" --ca factory --reason keyCompromise
refuse "unknown --ca" 2 "no CA named 'nosuch'" revoke --serial "$(s 3)" --ca nosuch
refuse "malformed serial" 2 "invalid serial 'xyz': expected hexadecimal digits" revoke --serial xyz
refuse "too long a serial" 2 "invalid serial .*1 to 20 bytes" revoke --serial "$(printf '1%.0s' $(seq 1 41))"
refuse "unknown device" 2 "device 'NOPE-1' is not known; nothing was revoked" revoke --device NOPE-1
refuse "invalid device id" 2 "invalid device id" revoke --device 'a/b'
refuse "device of another CA" 2 "device 'L-1' is not known under CA 'factory'" revoke --device L-1 --ca factory
refuse "unknown batch" 2 "no batch 'nosuch'" revoke --batch nosuch
# The root's own (self-signed) certificate: listing it on its own CRL makes
# OpenSSL (and so nginx) refuse every certificate under the root ("error 23 at
# 2 depth"), and no RFC 5280 relying party may take a trust anchor's status
# from the anchor's own CRL: a root is withdrawn from trust stores, not revoked.
"$CA" --home "$H" chain --ca root --out "$T/root.pem" >/dev/null 2>&1
RS=$(cert_serial "$T/root.pem")
refuse "revoke the root's own certificate" 2 "[Ss]elf-signed|trust anchor|own CRL|cannot be revoked|root CA" \
  revoke --serial "$RS" --ca root --reason keyCompromise
refuse "revoke the root's own certificate, no --ca" 2 "[Ss]elf-signed|trust anchor|own CRL|cannot be revoked|root CA" \
  revoke --serial "$RS"

# --- revoke: already revoked ----------------------------------------------------------
refuse "already revoked, same reason" 2 "already revoked \(superseded, [0-9T:-]+Z\); nothing was changed" \
  revoke --serial "$(s 1)" --reason superseded
refuse "already revoked, another reason" 2 "already revoked.*nothing was changed" \
  revoke --serial "$(s 1)" --reason keyCompromise
refuse "already revoked, by device" 2 "already revoked.*nothing was changed" revoke --device R-1
refuse "already revoked, by batch" 2 "all 2 selected certificates are already revoked; nothing was changed" \
  revoke --batch b3 --reason keyCompromise
refuse "hold on hold" 2 "already revoked \(certificateHold.*to make a hold permanent, revoke again with another reason" \
  revoke --serial "$(s 2)" --reason certificateHold

# --- revoke: reason and invalidity date ---------------------------------------------
ALL='unspecified, keyCompromise, cACompromise, affiliationChanged, superseded, cessationOfOperation, certificateHold, privilegeWithdrawn, aACompromise'
refuse "unknown reason" 2 "unknown revocation reason 'stolen': use one of $ALL" \
  revoke --serial "$(s 3)" --reason stolen
refuse "reason code 7 (unused)" 2 "unknown revocation reason '7'" revoke --serial "$(s 3)" --reason 7
refuse "reason code 11" 2 "unknown revocation reason '11'" revoke --serial "$(s 3)" --reason 11
refuse "removeFromCRL" 2 "removeFromCRL is not a reason to revoke.*devpki-ca release" \
  revoke --serial "$(s 3)" --reason removeFromCRL
refuse "removeFromCRL as 8" 2 "removeFromCRL is not a reason to revoke" revoke --serial "$(s 3)" --reason 8
refuse "invalidity date in the future" 2 "the invalidity date [0-9T:-]+Z is in the future" \
  revoke --serial "$(s 3)" --reason keyCompromise --invalidity-date "$(date -u -d '+1 day' +%Y-%m-%dT%H:%M:%SZ)"
refuse "malformed invalidity date" 2 "invalid time 'yesterday': expected YYYY-MM-DDTHH:MM:SSZ" \
  revoke --serial "$(s 3)" --reason keyCompromise --invalidity-date yesterday
refuse "impossible invalidity date" 2 "invalid time '2025-02-30T00:00:00Z': no such date" \
  revoke --serial "$(s 3)" --reason keyCompromise --invalidity-date 2025-02-30T00:00:00Z

# --- revoke --serials: all or nothing ------------------------------------------------------
: >"$W/empty.txt"
refuse "empty serial list" 2 "empty.txt: no serial in the file" revoke --serials "$W/empty.txt"
printf '# only a comment\n\n' >"$W/comments.txt"
refuse "serial list of comments" 2 "comments.txt: no serial in the file" revoke --serials "$W/comments.txt"
refuse "missing serial list" 2 "cannot read serial list" revoke --serials "$W/missing.txt"
printf '%s\n%s\n' "$(s 3)" 0123456789abcdef >"$W/unknown.txt"
refuse "serial list with an unknown serial" 2 "no certificate with serial 0?123456789abcdef" \
  revoke --serials "$W/unknown.txt" --reason keyCompromise
printf '%s\n%s\n' "$(s 3)" "$(s 1)" >"$W/revoked.txt"
# One of the list already revoked: the other is revoked, the first reported.
printf '%s\n%s\n%s\n' "$(s 3)" "$(s 4)" "$(tr a-f A-F <<<"$(s 3)")" >"$W/dup.txt"
refuse "serial listed twice" 2 "serial 0?$(s 3) is listed twice \(entry #3\)" revoke --serials "$W/dup.txt"
printf '%s\nnot-hex\n' "$(s 3)" >"$W/bad.txt"
refuse "malformed serial in the list" 2 "serial #2 of the list: invalid serial 'not-hex'" revoke --serials "$W/bad.txt"
printf '%s\n%s\n' "$(s 3)" "$SL" >"$W/mixed.txt"
refuse "list with a serial of another issuer" 2 "was issued by 'line2', not by 'factory'" \
  revoke --serials "$W/mixed.txt" --ca factory
[ "$(sql "SELECT status FROM certificates WHERE issuer = 'factory' AND serial_hex LIKE '%$(s 3)'")" = issued ] && ok ||
  fail "R-3 is not 'issued' after the refused lists"

# --- revoke: usage (exit 1) ------------------------------------------------------------
refuse "revoke without a selector" 1 "--serial, --device, --batch or --serials" revoke --reason keyCompromise
refuse "--serial with --device" 1 "excludes" revoke --serial "$(s 3)" --device R-3
refuse "--batch with --serials" 1 "excludes" revoke --batch b1 --serials "$W/revoked.txt"
refuse "--reason without a value" 1 "reason" revoke --serial "$(s 3)" --reason
refuse "revoke, unknown option" 1 "nosuch" revoke --serial "$(s 3)" --nosuch

# --- release ------------------------------------------------------------------------------
refuse "release a permanent revocation" 2 "is not on hold \(revoked: superseded, which is permanent\); nothing was changed" \
  release --serial "$(s 1)"
refuse "release a certificate not revoked" 2 "factory/0?$(s 3) is not revoked; nothing was changed" release --serial "$(s 3)"
refuse "release an unknown serial" 2 "no certificate with serial 0?123456789abcdef" release --serial 0123456789abcdef
refuse "release a serial of another issuer" 2 "was issued by 'line2', not by 'factory'" release --serial "$SL" --ca factory
refuse "release a malformed serial" 2 "invalid serial" release --serial zz
refuse "release without --serial" 1 "serial" release

# --- crl ---------------------------------------------------------------------------------
echo keep >"$W/exists.pem"
refuse "crl --out exists" 2 "exists.pem exists; use --force to replace it" \
  crl --ca factory --out "$W/exists.pem" --passphrase-file "$PASS_FILE"
[ "$(cat "$W/exists.pem")" = keep ] && ok || fail "crl --out exists: the file changed"
refuse "crl --out in a missing directory" 2 "no directory" \
  crl --ca factory --out "$W/nodir/f.pem" --passphrase-file "$PASS_FILE"
refuse "crl of an unknown CA" 2 "no CA named 'nosuch'" crl --ca nosuch --passphrase-file "$PASS_FILE"
refuse "delta CRL of the root (no deltas in its profile)" 2 "CA 'root' publishes no delta CRLs: its profile 'root-ca' has no crl.delta_next_update" \
  crl --ca root --delta --passphrase-file "$PASS_FILE"
refuse "delta CRL without a full CRL" 2 "CA 'line2' has no full CRL to base a delta CRL on.*devpki-ca crl --ca line2" \
  crl --ca line2 --delta --passphrase-file "$PASS_FILE"
echo wrong >"$T/wrong-pass"
refuse "crl, wrong passphrase" 2 "wrong passphrase" crl --ca factory --passphrase-file "$T/wrong-pass"
refuse "crl, no passphrase" 2 "passphrase" crl --ca factory
refuse "crl without --ca" 1 "--ca" crl --passphrase-file "$PASS_FILE"
expect_rejected "$H" "$W" "crl, no home" 2 "no devpki home" -- \
  "$CA" --home "$T/nohome" crl --ca factory --passphrase-file "$PASS_FILE"
[ ! -e "$T/nohome" ] && ok || fail "crl, no home: created it"
expect_rejected "$H" "$W" "revoke, no home" 2 "no devpki home" -- \
  "$CA" --home "$T/nohome" revoke --serial "$(s 3)"
expect_rejected "$H" "$W" "crl-status, no home" 2 "no devpki home" -- "$CA" --home "$T/nohome" crl-status

# --- closing controls: nothing was burnt, everything still works ------------------------------
control "revoke R-3 after the refusals" --json revoke --serials "$W/revoked.txt" --reason keyCompromise
jq -e '.revoked == 1 and .already_revoked == 1' "$T/out" >/dev/null && ok ||
  fail "a list with one revoked serial: $(cat "$T/out")"
control "release R-2" release --serial "$(s 2)"
control "factory CRL after the refusals" --json crl --ca factory --passphrase-file "$PASS_FILE"
# No refused crl used a number: the next one is the one after the controls'.
jq -e ".number == $((NUM + 1)) and .entries == 4" "$T/out" >/dev/null && ok ||
  fail "CRL after the refused runs: $(cat "$T/out") (expected number $((NUM + 1)), 4 entries: R-1, R-3, GONE-1, GONE-2)"
[ "$(crl_serials "$H/crl/factory.crl.pem" | tr '\n' ' ')" = "$(for x in "$(s 1)" "$(s 3)" \
  "$(cert_serial "$T/b3/GONE-1/cert.pem")" "$(cert_serial "$T/b3/GONE-2/cert.pem")"; do echo "$x"; done | sort | tr '\n' ' ')" ] &&
  ok || fail "CRL after the refused runs lists $(crl_serials "$H/crl/factory.crl.pem" | tr '\n' ' ')"

finish
