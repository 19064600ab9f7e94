#!/usr/bin/env bash
# Revocation and CRLs (issue 4), the happy paths, checked by verifiers nobody
# here wrote: `openssl crl -verify` and GnuTLS `certtool --verify-crl` accept
# every CRL; `openssl verify -crl_check_all` with the chain bundle refuses
# revoked devices and accepts the others (GnuTLS `certtool --verify` agrees);
# reason codes and invalidity dates as openssl prints them; CRL numbers
# strictly increase across runs, full and delta sharing one sequence; delta
# CRLs (deltaCRLIndicator, freshestCRL on the full one, `openssl verify
# -use_deltas`); certificateHold -> release -> removeFromCRL on the delta and
# gone from the next full CRL; a hold made permanent; crl --out/--json; an
# issuing CA revoked by the root (cACompromise) shuts out its devices; a revoked
# certificate leaves the CRL once expired, and an expired one cannot be revoked;
# crl-status fresh / stale / expired / missing with a short-lived CRL profile.
source "$(dirname "$0")/lib.sh"
: "${MINT:?run through ctest (DEVPKI_MINT unset)}"

H=$T/h
new_home "$H"
ca_files "$H" factory "$T/ca"
ROOT=$T/ca/root.pem
"$CA" --home "$H" chain --ca factory --no-root --out "$T/ca/factory.pem" >/dev/null
FACTORY=$T/ca/factory.pem
CRLD=$H/crl
BUNDLE=$CRLD/factory-chain.crl.pem
mkdir -p "$T/seq"

# run NAME EXPECTED_EXIT COMMAND...: stdout to $T/out, stderr to $T/err.
run() {
  local name=$1 code=$2 rc=0
  shift 2
  "$@" >"$T/out" 2>"$T/err" || rc=$?
  if [ "$rc" -eq "$code" ]; then ok; else fail "$name: exit $rc, expected $code: $(cat "$T/err")"; fi
  return 0
}
ca() { "$CA" --home "$H" "$@"; }
sql() { sqlite3 "$H/store.db" "$1"; }
# jqt NAME FILTER: the JSON in $T/out satisfies FILTER.
jqt() { jq -e "$2" "$T/out" >/dev/null 2>&1 && ok || fail "$1: $(cat "$T/out")"; }

# publish NAME EXPECTED_NUMBER ARGS...: `devpki-ca crl --json ARGS...` succeeds
# with that CRL number, the files it names hold that CRL, and a copy of its PEM
# goes to $T/seq/ (for the strictly-increasing check at the end).
seq_n=0
publish() {
  local name=$1 number=$2 pem der
  shift 2
  run "$name" 0 ca --json crl --passphrase-file "$PASS_FILE" "$@"
  jqt "$name: JSON number" ".number == $number"
  pem=$(jq -r .pem_file "$T/out")
  der=$(jq -r .der_file "$T/out")
  [ -f "$pem" ] && [ "$(crl_number "$pem")" -eq "$number" ] && ok ||
    fail "$name: $pem does not hold CRL number $number"
  # The DER file (what the distribution point names) is the same CRL.
  openssl crl -in "$pem" -outform DER 2>/dev/null | cmp -s - "$der" && ok || fail "$name: $der is not $pem in DER"
  [ "$(sha256sum <"$der" | cut -d' ' -f1)" = "$(jq -r .sha256 "$T/out")" ] && ok || fail "$name: JSON sha256"
  seq_n=$((seq_n + 1))
  last_copy=$T/seq/$(printf %03d $seq_n)-$(jq -r .ca "$T/out").pem
  cp "$pem" "$last_copy"
}

# --- devices --------------------------------------------------------------------
"$MINT" --home "$H" --passphrase-file "$PASS_FILE" --ca factory --profile device-idevid --count 10 \
  --id-pattern 'R-{seq:02}' --out "$T/b1" --format pem --batch-id b1 >/dev/null
"$MINT" --home "$H" --passphrase-file "$PASS_FILE" --ca factory --profile device-idevid --count 3 \
  --id-pattern 'B-{seq}' --out "$T/b2" --format pem --batch-id b2 >/dev/null
dev() { echo "$T/b1/R-$1/cert.pem"; }
declare -A S
for i in 01 02 03 04 05 06 07 08 09 10; do S[$i]=$(cert_serial "$(dev $i)"); done
for i in 1 2 3; do S[B$i]=$(cert_serial "$T/b2/B-$i/cert.pem"); done
# verdicts WANT LABEL CERT...: openssl verify with the current chain bundle says WANT of each.
verdicts() {
  local want=$1 label=$2 c v bad=""
  shift 2
  for c in "$@"; do
    v=$(crl_verdict "$c" "$ROOT" "$FACTORY" "$BUNDLE")
    [ "$v" = "$want" ] || bad+="$(basename "$(dirname "$c")"): $v; "
  done
  [ -z "$bad" ] && ok || fail "$label: openssl verify -crl_check_all, expected $want: $bad"
}
# Issued certificates point at their issuer's CRL.
grep -q 'URI:http://pki.acme.example/crl/factory.crl$' <<<"$(openssl x509 -in "$(dev 01)" -noout -ext crlDistributionPoints 2>&1)" && ok ||
  fail "device certificate CRL distribution point: $(openssl x509 -in "$(dev 01)" -noout -ext crlDistributionPoints 2>&1)"
grep -q 'URI:http://pki.acme.example/crl/root.crl$' <<<"$(openssl x509 -in "$FACTORY" -noout -ext crlDistributionPoints 2>&1)" && ok || fail "factory certificate CRL distribution point"

# --- nothing published yet ----------------------------------------------------------
run "crl-status, no CRL" 2 ca crl-status
grep -q '^root: no CRL published' "$T/out" && grep -q '^factory: no CRL published' "$T/out" && ok ||
  fail "crl-status, no CRL: $(cat "$T/out")"
run "crl-status --json, no CRL" 2 ca --json crl-status
jqt "crl-status --json, no CRL" '[.cas[] | select(.ca == "root" or .ca == "factory") | .state] == ["missing", "missing"]'

# The factory's CRL before the root has one: published, no chain bundle, a warning.
publish "factory CRL before the root's" 1 --ca factory
jqt "factory CRL before the root's" '.ca == "factory" and .delta == false and .entries == 0 and .bundle == ""
  and (.bundle_problem | test("root")) and (.der_file | endswith("/crl/factory.crl"))
  and (.pem_file | endswith("/crl/factory.crl.pem"))'
grep -q 'no chain bundle for factory' "$T/err" && grep -q 'crl --ca root' "$T/err" && ok ||
  fail "factory CRL before the root's: warning '$(cat "$T/err")'"
[ ! -e "$BUNDLE" ] && ok || fail "a chain bundle without the root's CRL"

# --- the root's CRL ---------------------------------------------------------------------
publish "root CRL" 1 --ca root
jqt "root CRL" '.entries == 0 and .bundle_problem == "" and (.bundle | endswith("/crl/root-chain.crl.pem"))'
crl_verifies "root CRL" "$CRLD/root.crl.pem" "$ROOT"
txt=$(openssl crl -in "$CRLD/root.crl.pem" -noout -text)
grep -q 'Version 2 (0x1)' <<<"$txt" && ok || fail "root CRL is not v2"
grep -q 'Freshest CRL' <<<"$txt" && fail "root CRL has freshestCRL (its profile has no delta CRLs)" || ok
life=$(($(epoch_of "$(openssl crl -in "$CRLD/root.crl.pem" -noout -nextupdate | cut -d= -f2)") -
  $(epoch_of "$(openssl crl -in "$CRLD/root.crl.pem" -noout -lastupdate | cut -d= -f2)")))
[ "$life" -eq $((90 * 86400)) ] && ok || fail "root CRL lives $life s, expected 90 days (profile crl.next_update)"

# --- the factory's first full CRL with a bundle --------------------------------------------
publish "factory CRL" 2 --ca factory
jqt "factory CRL" ".entries == 0 and .bundle == \"$BUNDLE\" and .bundle_problem == \"\""
[ ! -s "$T/err" ] && ok || fail "factory CRL: stderr '$(cat "$T/err")'"
for f in factory.crl factory.crl.pem factory-chain.crl.pem root.crl root.crl.pem; do
  [ "$(stat -c %a "$CRLD/$f")" = 644 ] || fail "$f: mode $(stat -c %a "$CRLD/$f"), expected 644 (public)"
done
crl_verifies "factory CRL" "$CRLD/factory.crl.pem" "$FACTORY"
txt=$(openssl crl -in "$CRLD/factory.crl.pem" -noout -text)
grep -q 'Version 2 (0x1)' <<<"$txt" && ok || fail "factory CRL is not v2"
grep -q 'No Revoked Certificates' <<<"$txt" && ok || fail "factory CRL 2 lists certificates"
# AKI = the factory certificate's SKI.
ski=$(openssl x509 -in "$FACTORY" -noout -ext subjectKeyIdentifier | tail -1 | tr -d ' ')
aki=$(grep -A1 'Authority Key Identifier' <<<"$txt" | tail -1 | tr -d ' ' | sed 's/^keyid://')
[ -n "$ski" ] && [ "$aki" = "$ski" ] && ok || fail "factory CRL AKI '$aki' is not the factory's SKI '$ski'"
grep -q 'URI:http://pki.acme.example/crl/factory-delta.crl' <<<"$(grep -A3 'X509v3 Freshest CRL' <<<"$txt")" && ok ||
  fail "factory full CRL has no freshestCRL naming factory-delta.crl: $txt"
grep -q 'Delta CRL Indicator' <<<"$txt" && fail "full CRL has a deltaCRLIndicator" || ok
this=$(jq -r .this_update "$T/out")
next=$(jq -r .next_update "$T/out")
[ "$(epoch_of "$this")" -eq "$(epoch_of "$(openssl crl -in "$CRLD/factory.crl.pem" -noout -lastupdate | cut -d= -f2)")" ] &&
  [ "$(epoch_of "$next")" -eq "$(epoch_of "$(openssl crl -in "$CRLD/factory.crl.pem" -noout -nextupdate | cut -d= -f2)")" ] &&
  ok || fail "JSON this_update/next_update ($this, $next) are not the CRL's"
[ $(($(epoch_of "$next") - $(epoch_of "$this"))) -eq $((7 * 86400)) ] && ok || fail "factory CRL does not live 7 days"
# The bundle: the factory's CRL then the root's, byte for byte the published ones.
[ "$(split_pem "$BUNDLE" "$T/bundle")" -eq 2 ] && ok || fail "bundle does not hold 2 CRLs"
cmp -s "$T/bundle-1.pem" "$CRLD/factory.crl.pem" && cmp -s "$T/bundle-2.pem" "$CRLD/root.crl.pem" && ok ||
  fail "bundle is not factory.crl.pem + root.crl.pem"
# Every device is good.
all=()
for i in 01 02 03 04 05 06 07 08 09 10; do all+=("$(dev $i)"); done
verdicts OK "no revocation yet" "${all[@]}" "$T"/b2/B-*/cert.pem
[ "$(certtool_crl_verdict "$(dev 01)" "$FACTORY" "$ROOT" "$BUNDLE")" = Verified ] && ok ||
  fail "certtool --verify with the bundle: $(certtool_crl_verdict "$(dev 01)" "$FACTORY" "$ROOT" "$BUNDLE")"

# --- revoking ---------------------------------------------------------------------
INV=$(date -u -d '-1 hour' +%Y-%m-%dT%H:%M:%SZ)
# By serial, as openssl prints it (upper case), with an invalidity date.
up=$(openssl x509 -in "$(dev 01)" -noout -serial | cut -d= -f2)
run "revoke --serial" 0 ca revoke --serial "$up" --reason keyCompromise --invalidity-date "$INV"
grep -Eq "^revoked factory/0*${S[01]} \(device R-01\): keyCompromise$" "$T/out" && grep -q '^1 revoked, 0 already revoked$' "$T/out" &&
  ok || fail "revoke --serial output: $(cat "$T/out")"
grep -q 'publish it with `devpki-ca crl --ca factory`' "$T/err" && ok || fail "revoke: no hint to publish: $(cat "$T/err")"
# (exit 0: the full CRLs are fresh; delta CRLs are opt-in, never "missing")
run "crl-status after a revocation" 0 ca --json crl-status
jqt "crl-status revoked_since" '.cas[] | select(.ca == "factory") | .revoked_since == 1'
# By device; the reason case-insensitive.
run "revoke --device" 0 ca revoke --device R-02 --reason SUPERSEDED
grep -Eq "^revoked factory/0*${S[02]} \(device R-02\): superseded$" "$T/out" && ok || fail "revoke --device: $(cat "$T/out")"
# By serial with ':' separators and --ca; a numeric reason code.
colons=$(openssl x509 -in "$(dev 03)" -noout -serial | cut -d= -f2 | sed 's/../&:/g; s/:$//')
run "revoke --serial aa:bb --ca --reason 9" 0 ca revoke --serial "$colons" --ca factory --reason 9
grep -q ': privilegeWithdrawn$' "$T/out" && ok || fail "reason 9: $(cat "$T/out")"
run "revoke certificateHold" 0 ca revoke --serial "${S[04]}" --reason certificateHold
# A list of serials: comments, blank lines, CRLF, upper case; JSON.
printf '# two devices\r\n\r\n%s\r\n  %s  \n' "$(openssl x509 -in "$(dev 05)" -noout -serial | cut -d= -f2)" "${S[06]}" >"$T/serials.txt"
run "revoke --serials" 0 ca --json revoke --serials "$T/serials.txt" --reason affiliationChanged
jqt "revoke --serials JSON" '.revoked == 2 and .already_revoked == 0 and .stale_crls == ["factory"]
  and ([.certificates[].device_id] == ["R-05", "R-06"]) and all(.certificates[]; .outcome == "revoked"
  and .reason == "affiliationChanged" and .issuer == "factory" and (.revoked_at | test("^[0-9-]{10}T[0-9:]{8}Z$")))'
run "revoke --batch" 0 ca --json revoke --batch b2 --reason cessationOfOperation
jqt "revoke --batch JSON" '.revoked == 3 and ([.certificates[].device_id] | sort) == ["B-1", "B-2", "B-3"]'
# A hold made permanent by revoking again with another reason.
run "hold R-09" 0 ca revoke --serial "${S[09]}" --reason certificateHold
run "hold made permanent" 0 ca revoke --serial "${S[09]}" --reason keyCompromise
grep -q ': keyCompromise$' "$T/out" && ok || fail "hold made permanent: $(cat "$T/out")"
run "revoke, default reason" 0 ca revoke --serial "${S[10]}"
grep -q ': unspecified$' "$T/out" && ok || fail "default reason: $(cat "$T/out")"
[ "$(sql "SELECT count(*) FROM revocations WHERE released_at IS NULL")" -eq 11 ] && ok ||
  fail "store: $(sql "SELECT count(*) FROM revocations") revocation rows, expected 11"
[ "$(sql "SELECT count(*) FROM certificates WHERE status = 'revoked'")" -eq 11 ] && ok ||
  fail "store: $(sql "SELECT count(*) FROM certificates WHERE status = 'revoked'") revoked certificates, expected 11"
run "crl-status before publishing" 0 ca --json crl-status
jqt "crl-status revoked_since 11" '.cas[] | select(.ca == "factory") | .revoked_since == 11'
# Not on any CRL yet: still good for openssl.
verdicts OK "revoked, not yet published" "$(dev 01)"

# --- the full CRL that lists them ------------------------------------------------------
publish "factory CRL 3" 3 --ca factory
CRL3=$last_copy
jqt "factory CRL 3" '.entries == 11 and .delta == false'
crl_verifies "factory CRL 3" "$CRLD/factory.crl.pem" "$FACTORY"
crl_verifies "factory CRL 3 in DER" "$CRLD/factory.crl" "$FACTORY"
want=$(for k in 01 02 03 04 05 06 09 10 B1 B2 B3; do echo "${S[$k]}"; done | sort)
[ "$(crl_serials "$CRLD/factory.crl.pem")" = "$want" ] && ok ||
  fail "CRL 3 serials: $(crl_serials "$CRLD/factory.crl.pem" | tr '\n' ' '), expected $(tr '\n' ' ' <<<"$want")"
crl_entries "$CRLD/factory.crl.pem" >"$T/entries"
# reason_is KEY REASON: the entry of S[KEY] has that reason (openssl's words, '_' for spaces).
reason_is() {
  local got
  got=$(awk -v s="${S[$1]}" '$1 == s { print $2 }' "$T/entries")
  [ "$got" = "$2" ] && ok || fail "CRL entry of $1 (${S[$1]}): reason '$got', expected '$2'"
}
reason_is 01 Key_Compromise
reason_is 02 Superseded
reason_is 03 Privilege_Withdrawn
reason_is 04 Certificate_Hold
reason_is 05 Affiliation_Changed
reason_is 06 Affiliation_Changed
reason_is 09 Key_Compromise
reason_is B1 Cessation_Of_Operation
reason_is B3 Cessation_Of_Operation
# unspecified: RFC 5280 5.3.1 says the reason code extension SHOULD then be absent.
got=$(awk -v s="${S[10]}" '$1 == s { print $2 }' "$T/entries")
[ "$got" = - ] && ok || fail "CRL entry with reason unspecified: '$got', expected no reason code (RFC 5280 5.3.1)"
# The invalidity date, only where one was given.
inv=$(awk -v s="${S[01]}" '$1 == s { print $3 }' "$T/entries" | tr '_' ' ')
[ "$inv" != - ] && [ "$(epoch_of "$inv")" -eq "$(epoch_of "$INV")" ] && ok ||
  fail "CRL entry of R-01: invalidity date '$inv', expected $INV"
[ "$(awk -v s="${S[02]}" '$1 == s { print $3 }' "$T/entries")" = - ] && ok || fail "R-02 has an invalidity date"
# The revocation date is the time of the revoke command (within this test's run).
rd=$(openssl crl -in "$CRLD/factory.crl.pem" -noout -text | grep -A1 "Serial Number: 0*$(tr a-f A-F <<<"${S[02]}")\$" |
  sed -n 's/.*Revocation Date: //p')
[ -n "$rd" ] && [ $(($(date +%s) - $(epoch_of "$rd"))) -lt 600 ] && ok || fail "R-02 revocation date '$rd'"
# What relying parties conclude.
verdicts revoked "revoked devices" "$(dev 01)" "$(dev 02)" "$(dev 03)" "$(dev 04)" "$(dev 05)" "$(dev 06)" \
  "$(dev 09)" "$(dev 10)" "$T"/b2/B-*/cert.pem
verdicts OK "devices not revoked" "$(dev 07)" "$(dev 08)"
v=$(certtool_crl_verdict "$(dev 01)" "$FACTORY" "$ROOT" "$BUNDLE")
[ "$v" = revoked ] && ok || fail "certtool --verify of revoked R-01 with the bundle: $v"
v=$(certtool_crl_verdict "$(dev 07)" "$FACTORY" "$ROOT" "$BUNDLE")
[ "$v" = Verified ] && ok || fail "certtool --verify of good R-07 with the bundle: $v"
run "crl-status text" 0 ca crl-status
grep -Eq '^factory: CRL 3, 11 entries, next update [0-9T:-]+Z: fresh$' "$T/out" && ok ||
  fail "crl-status text: $(cat "$T/out")"
run "crl-status --json" 0 ca --json crl-status
# No delta published yet: no delta state (deltas are judged once the CA publishes them).
jqt "crl-status --json" '(.now | test("Z$")) and (.cas[] | select(.ca == "factory") | .state == "fresh"
  and .number == 3 and .entries == 11 and (has("delta_state") | not) and .revoked_since == 0)
  and (.cas[] | select(.ca == "root") | .state == "fresh" and .number == 1 and (has("delta_state") | not))'

# --- delta CRLs ------------------------------------------------------------------------
run "revoke R-08 after CRL 3" 0 ca revoke --serial "${S[08]}" --reason keyCompromise
publish "delta CRL 4" 4 --ca factory --delta
DELTA=$CRLD/factory-delta.crl.pem
jqt "delta CRL 4" ".delta == true and .base_number == 3 and .entries == 1 and .bundle == \"\"
  and .pem_file == \"$DELTA\" and (.der_file | endswith(\"/crl/factory-delta.crl\"))"
crl_verifies "delta CRL 4" "$DELTA" "$FACTORY"
txt=$(openssl crl -in "$DELTA" -noout -text)
grep -Eq '^ *(0x)?0*3$' <<<"$(grep -A1 'X509v3 Delta CRL Indicator: critical' <<<"$txt" | tail -1)" && ok ||
  fail "delta CRL: no critical deltaCRLIndicator naming base 3: $txt"
grep -q 'Freshest CRL' <<<"$txt" && fail "delta CRL has freshestCRL" || ok
[ "$(crl_serials "$DELTA")" = "${S[08]}" ] && ok || fail "delta CRL 4 lists $(crl_serials "$DELTA" | tr '\n' ' ')"
[ "$(crl_entries "$DELTA" | cut -d' ' -f2)" = Key_Compromise ] && ok || fail "delta CRL 4 reason: $(crl_entries "$DELTA")"
cmp -s "$CRLD/factory.crl.pem" "$CRL3" && ok ||
  fail "publishing a delta changed factory.crl.pem"
# openssl with the full CRLs only: R-08 still good; with the delta (-use_deltas): revoked.
verdicts OK "R-08 without the delta" "$(dev 08)"
v=$(VERIFY_OPTS=-use_deltas crl_verdict "$(dev 08)" "$ROOT" "$FACTORY" "$BUNDLE" "$DELTA")
[ "$v" = revoked ] && ok || fail "openssl verify -use_deltas: R-08 with the delta CRL: $v"
v=$(VERIFY_OPTS=-use_deltas crl_verdict "$(dev 07)" "$ROOT" "$FACTORY" "$BUNDLE" "$DELTA")
[ "$v" = OK ] && ok || fail "openssl verify -use_deltas: good R-07 with the delta CRL: $v"
v=$(VERIFY_OPTS=-use_deltas crl_verdict "$(dev 01)" "$ROOT" "$FACTORY" "$BUNDLE" "$DELTA")
[ "$v" = revoked ] && ok || fail "openssl verify -use_deltas: R-01 (on the base CRL): $v"
run "crl-status, all fresh" 0 ca --json crl-status
jqt "crl-status, all fresh" '.cas[] | select(.ca == "factory") | .state == "fresh" and .delta_state == "fresh"
  and .delta_number == 4 and .revoked_since == 1 and (.delta_next_update | test("Z$"))'
run "crl-status text, all fresh" 0 ca crl-status
grep -Eq '^factory: CRL 3, 11 entries, next update [0-9T:-]+Z: fresh; delta 4, next update [0-9T:-]+Z: fresh; 1 revocation\(s\) not on it yet$' "$T/out" && ok ||
  fail "crl-status text: $(cat "$T/out")"

# --- certificateHold -> release -> removeFromCRL -> gone ----------------------------------
verdicts revoked "R-04 on hold" "$(dev 04)"
run "release" 0 ca release --serial "${S[04]}"
grep -q "released the hold on factory/${S[04]}" "$T/out" && ok || fail "release output: $(cat "$T/out")"
[ "$(sql "SELECT status FROM certificates WHERE serial_hex LIKE '%${S[04]}' AND issuer = 'factory'")" = issued ] && ok ||
  fail "released certificate's status: $(sql "SELECT status FROM certificates WHERE serial_hex LIKE '%${S[04]}'")"
publish "delta CRL 5" 5 --ca factory --delta
jqt "delta CRL 5" '.base_number == 3 and .entries == 2'
crl_entries "$DELTA" >"$T/entries"
reason_is 04 Remove_From_CRL
reason_is 08 Key_Compromise
crl_verifies "delta CRL 5" "$DELTA" "$FACTORY"
v=$(VERIFY_OPTS=-use_deltas crl_verdict "$(dev 04)" "$ROOT" "$FACTORY" "$BUNDLE" "$DELTA")
[ "$v" = OK ] && ok || fail "openssl verify -use_deltas: released R-04 (removeFromCRL on the delta): $v"
publish "factory CRL 6" 6 --ca factory
jqt "factory CRL 6" '.entries == 11 and .delta == false'
want=$(for k in 01 02 03 05 06 08 09 10 B1 B2 B3; do echo "${S[$k]}"; done | sort)
[ "$(crl_serials "$CRLD/factory.crl.pem")" = "$want" ] && ok ||
  fail "CRL 6 serials: $(crl_serials "$CRLD/factory.crl.pem" | tr '\n' ' '), expected $(tr '\n' ' ' <<<"$want")"
grep -q Certificate_Hold <<<"$(crl_entries "$CRLD/factory.crl.pem")" && fail "CRL 6 still has a hold entry" || ok
crl_verifies "factory CRL 6" "$CRLD/factory.crl.pem" "$FACTORY"
verdicts OK "released R-04 and R-07" "$(dev 04)" "$(dev 07)"
verdicts revoked "R-08 on the full CRL 6" "$(dev 08)" "$(dev 01)"
publish "delta CRL 7" 7 --ca factory --delta
jqt "delta CRL 7" '.base_number == 6 and .entries == 0'
crl_verifies "delta CRL 7" "$DELTA" "$FACTORY"

# --- --out ------------------------------------------------------------------------------
publish "crl --out" 8 --ca factory --out "$T/f.pem"
jqt "crl --out JSON" ".out == \"$T/f.pem\""
cmp -s "$T/f.pem" "$CRLD/factory.crl.pem" && ok || fail "--out is not the published CRL"
run "crl --out text" 0 ca crl --ca factory --out "$T/f.pem" --force --passphrase-file "$PASS_FILE"
grep -Eq '^CRL 9 of factory: 11 entries, next update [0-9T:-]+Z$' "$T/out" && grep -q "^  $T/f.pem\$" "$T/out" &&
  grep -q "^  $BUNDLE (chain bundle)\$" "$T/out" && ok || fail "crl text output: $(cat "$T/out")"
[ "$(crl_number "$T/f.pem")" -eq 9 ] && ok || fail "--force did not replace --out"
seq_n=$((seq_n + 1))
cp "$T/f.pem" "$T/seq/$(printf %03d $seq_n)-factory.pem"
run "crl --out -" 0 ca crl --ca root --out - --passphrase-file "$PASS_FILE"
openssl crl -in "$T/out" -noout 2>/dev/null && [ "$(crl_number "$T/out")" -eq 2 ] && ok ||
  fail "crl --out -: stdout is not root CRL 2: $(head -3 "$T/out")"
cmp -s "$T/out" "$CRLD/root.crl.pem" && ok || fail "crl --out -: not the published root CRL"
seq_n=$((seq_n + 1))
cp "$T/out" "$T/seq/$(printf %03d $seq_n)-root.pem"
# The bundle written with CRL 9 still verifies everything.
verdicts revoked "after CRL 9" "$(dev 01)" "$(dev 08)"
verdicts OK "after CRL 9" "$(dev 07)"

# --- CRL numbers strictly increase across runs (full and delta share the sequence) ----------
for who in factory root; do
  nums=$(for f in "$T"/seq/*-$who.pem; do crl_number "$f"; done | tr '\n' ' ')
  prev=0 bad=""
  for n in $nums; do
    [ "$n" -gt "$prev" ] || bad=1
    prev=$n
  done
  [ -z "$bad" ] && ok || fail "$who CRL numbers do not strictly increase: $nums"
done
[ "$(for f in "$T"/seq/*-factory.pem; do crl_number "$f"; done | tr '\n' ' ')" = "1 2 3 4 5 6 7 8 9 " ] && ok ||
  fail "factory CRL numbers: $(for f in "$T"/seq/*-factory.pem; do crl_number "$f"; done | tr '\n' ' ')"
[ "$(sql "SELECT group_concat(number) FROM (SELECT number FROM crls WHERE issuer = 'factory' ORDER BY number)")" = 1,2,3,4,5,6,7,8,9 ] &&
  ok || fail "store crls: $(sql "SELECT group_concat(number) FROM crls WHERE issuer = 'factory'")"

# --- an issuing CA revoked by the root (cACompromise) shuts out its devices ----------------
"$CA" --home "$H" issue-ca --parent root --name line2 --subject "/O=Acme/CN=Acme Line 2 CA" --key ec-p256 \
  --passphrase-file "$PASS_FILE" >/dev/null
"$MINT" --home "$H" --passphrase-file "$PASS_FILE" --ca line2 --profile device-idevid --count 1 \
  --id-pattern 'L-{seq}' --out "$T/bl" --format pem --batch-id bl >/dev/null
"$CA" --home "$H" chain --ca line2 --no-root --out "$T/ca/line2.pem" >/dev/null
L2B=$CRLD/line2-chain.crl.pem
publish "line2 CRL" 1 --ca line2
jqt "line2 CRL" ".bundle == \"$L2B\""
v=$(crl_verdict "$T/bl/L-1/cert.pem" "$ROOT" "$T/ca/line2.pem" "$L2B")
[ "$v" = OK ] && ok || fail "device of line2 before its CA is revoked: openssl verify says $v"
run "revoke an issuing CA" 0 ca revoke --serial "$(cert_serial "$T/ca/line2.pem")" --ca root --reason cACompromise
grep -Eq "^revoked root/0*$(cert_serial "$T/ca/line2.pem"): cACompromise\$" "$T/out" && ok || fail "revoke an issuing CA: $(cat "$T/out")"
publish "root CRL 3" 3 --ca root
crl_verifies "root CRL 3" "$CRLD/root.crl.pem" "$ROOT"
[ "$(crl_entries "$CRLD/root.crl.pem")" = "$(cert_serial "$T/ca/line2.pem") CA_Compromise -" ] && ok ||
  fail "root CRL 3 entries: $(crl_entries "$CRLD/root.crl.pem")"
# line2's chain bundle (what its servers load) was written with root CRL 2. Once
# the root has published CRL 3 revoking line2, servers loading the bundle must
# refuse line2's devices, or at least crl-status must say the bundle is stale.
v=$(crl_verdict "$T/bl/L-1/cert.pem" "$ROOT" "$T/ca/line2.pem" "$L2B")
rc=0
"$CA" --home "$H" crl-status >"$T/status" 2>&1 || rc=$?
split_pem "$L2B" "$T/l2b" >/dev/null
[ "$v" = revoked ] || [ "$rc" -ne 0 ] && ok ||
  fail "after root CRL 3 (line2 revoked), $L2B still holds root CRL $(crl_number "$T/l2b-2.pem"), openssl verify says '$v' of line2's device with it, and crl-status exits 0: $(tr '\n' ' ' <"$T/status")"
# Republishing line2's CRL refreshes its bundle.
publish "line2 CRL 2" 2 --ca line2
v=$(crl_verdict "$T/bl/L-1/cert.pem" "$ROOT" "$T/ca/line2.pem" "$L2B")
[ "$v" = revoked ] && ok || fail "device of the revoked line2 CA: openssl verify says $v"
out=$(openssl verify -crl_check_all -CAfile "$ROOT" -untrusted "$T/ca/line2.pem" \
  -CRLfile "$L2B" "$T/bl/L-1/cert.pem" 2>&1) || true
grep -q 'error 23 at 1 depth' <<<"$out" && ok || fail "line2 device: not refused at depth 1 (the CA): $out"
publish "factory CRL 10" 10 --ca factory
verdicts OK "factory devices, root CRL 3" "$(dev 07)"
verdicts revoked "factory devices, root CRL 3" "$(dev 01)"

# --- crl-status: stale and expired, with a CA whose CRLs live seconds ----------------------
# (and devices whose certificates live as long: a revoked certificate leaves the
# CRL once it has expired; an expired one cannot be revoked)
LIFE=6
[ "${DEVPKI_SANITIZE:-OFF}" = ON ] && LIFE=12
cat >"$H/profiles/blink.yaml" <<EOF
name: blink
validity: ${LIFE}s
backdate: 0s
keys: [ec-p256]
subject:
  - CN: "{device_id}"
key_usage: [digitalSignature]
extended_key_usage: [clientAuth]
basic_constraints: {ca: false}
EOF
"$MINT" --home "$H" --passphrase-file "$PASS_FILE" --ca factory --profile blink --count 2 \
  --id-pattern 'BL-{seq}' --out "$T/blink" --format pem --batch-id blink >/dev/null
BL1=$(cert_serial "$T/blink/BL-1/cert.pem")
BL2=$(cert_serial "$T/blink/BL-2/cert.pem")
bl_end=$(epoch_of "$(openssl x509 -in "$T/blink/BL-2/cert.pem" -noout -enddate | cut -d= -f2)")
run "revoke a short-lived certificate" 0 ca revoke --serial "$BL1" --reason keyCompromise
publish "factory CRL 11" 11 --ca factory
jqt "factory CRL 11" '.entries == 12'
grep -qx "$BL1" <<<"$(crl_serials "$CRLD/factory.crl.pem")" && ok || fail "CRL 11 does not list BL-1"
cat >"$H/profiles/short-ca.yaml" <<EOF
name: short-ca
description: "test: an issuing CA whose CRLs live ${LIFE} seconds"
validity: 1y
keys: [ec-p256]
key_usage: [keyCertSign, cRLSign]
basic_constraints: {ca: true, path_len: 0}
crl:
  next_update: ${LIFE}s
EOF
"$CA" --home "$H" issue-ca --parent root --name short --subject "/O=Acme/CN=Short CA" --key ec-p256 \
  --profile short-ca --passphrase-file "$PASS_FILE" >/dev/null
run "crl-status, short CA without a CRL" 2 ca crl-status
grep -q '^short: no CRL published' "$T/out" && ok || fail "crl-status, short CA missing: $(cat "$T/out")"
publish "short CRL" 1 --ca short
this=$(epoch_of "$(jq -r .this_update "$T/out")")
next=$(epoch_of "$(jq -r .next_update "$T/out")")
[ $((next - this)) -eq $LIFE ] && ok || fail "short CRL lives $((next - this)) s, expected $LIFE"
run "crl-status, short CRL fresh" 0 ca --json crl-status
jqt "crl-status, short CRL fresh" '.cas[] | select(.ca == "short") | .state == "fresh"'
wait_until $((this + LIFE / 2 + 1))
run "crl-status, short CRL past half its life" 1 ca --json crl-status
jqt "crl-status, stale" '.cas[] | select(.ca == "short") | .state == "stale"'
[ "$(date +%s)" -le "$next" ] || fail "test too slow: the stale check ran after nextUpdate"
wait_until $((next + 2))
run "crl-status, short CRL expired" 2 ca --json crl-status
jqt "crl-status, expired" '(.cas[] | select(.ca == "short") | .state == "expired")
  and (.cas[] | select(.ca == "factory") | .state == "fresh")'
run "crl-status text, expired" 2 ca crl-status
grep -Eq '^short: CRL 1, 0 entries, next update [0-9T:-]+Z: expired$' "$T/out" && ok || fail "crl-status text: $(cat "$T/out")"
# Publishing again makes it fresh.
publish "short CRL 2" 2 --ca short
run "crl-status, republished" 0 ca crl-status
# The short-lived certificates have expired: BL-1 leaves the CRL, BL-2 cannot be revoked.
wait_until $((bl_end + 2))
before=$(store_snapshot "$H")
expect_fail "revoke an expired certificate" 2 "certificate factory/0*$BL2 expired on [0-9T:-]+Z: an expired certificate is no longer listed on CRLs; nothing was revoked" -- \
  "$CA" --home "$H" revoke --serial "$BL2" --reason keyCompromise
expect_fail "revoke the device of an expired certificate" 2 "device 'BL-2' has no unexpired certificate; nothing was revoked" -- \
  "$CA" --home "$H" revoke --device BL-2
[ "$(store_snapshot "$H")" = "$before" ] && ok || fail "refused revocations of an expired certificate changed the store"
publish "factory CRL 12" 12 --ca factory
jqt "factory CRL 12" '.entries == 11'
grep -qx "$BL1" <<<"$(crl_serials "$CRLD/factory.crl.pem")" && fail "CRL 12 still lists the expired BL-1" || ok
grep -qx "${S[01]}" <<<"$(crl_serials "$CRLD/factory.crl.pem")" && ok || fail "CRL 12 lost R-01"

finish
