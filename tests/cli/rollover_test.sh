#!/usr/bin/env bash
# Issuing CA rollover (devpki-ca rollover), end to end: a device from the old
# CA, the rollover (default name and subject, --json, next steps), `sign
# --ca factory` issued by the successor with a warning, `chain` carrying both
# CAs (and --no-root), both devices accepted by `openssl verify -x509_strict`
# and GnuTLS `certtool --verify` against that chain; the old device revoked,
# both CRLs published, and the bundle refusing the revoked old device and
# accepting the new one (`openssl verify -crl_check_all`, certtool);
# crl-status, list and show naming the retired CA and its successor. Then
# every bad rollover (root, unknown, retired, taken --name, wrong parent
# passphrase, no passphrase) refused with a clear message, the home
# byte-identical.
source "$(dirname "$0")/lib.sh"

H=$T/h
new_home "$H"
W=$T/work
mkdir -p "$W"
YEAR=$(date -u +%Y)
NEW=factory-$YEAR
ca() { "$CA" --home "$H" "$@"; }
# run NAME EXPECTED_EXIT COMMAND...: stdout to $T/out, stderr to $T/err.
run() {
  local name=$1 code=$2 rc=0
  shift 2
  "$@" >"$T/out" 2>"$T/err" || rc=$?
  if [ "$rc" -eq "$code" ]; then ok; else fail "$name: exit $rc, expected $code: $(cat "$T/err")"; fi
  return 0
}
jqt() { jq -e "$2" "$T/out" >/dev/null 2>&1 && ok || fail "$1: $(cat "$T/out")"; }
# verdict CERT CHAIN_PEM [CRL]: `openssl verify -x509_strict` of CERT with the
# chain's last certificate trusted and the rest untrusted: OK, revoked, or the output.
verdict() {
  local cert=$1 chain=$2 crl=${3:-}
  last_cert "$chain" >"$T/v-root.pem"
  if [ -n "$crl" ]; then
    crl_verdict "$cert" "$T/v-root.pem" "$chain" "$crl"
  elif out=$(openssl verify -x509_strict -CAfile "$T/v-root.pem" -untrusted "$chain" "$cert" 2>&1); then
    echo OK
  else
    tr '\n' ' ' <<<"$out"
    echo
  fi
}

# --- before: a device of the old CA ----------------------------------------------
csr_openssl "$W/old.csr" ec:P-256 -subj /CN=old
csr_openssl "$W/new.csr" ec:P-256 -subj /CN=new
run "sign from factory" 0 ca sign --ca factory --profile device-ldevid --csr "$W/old.csr" \
  --device-id OLD-1 --out "$W/old.pem" --passphrase-file "$PASS_FILE"
OLD_SERIAL=$(cert_serial "$W/old.pem")
OLD_NOT_AFTER=$(openssl x509 -in "$W/old.pem" -noout -enddate | cut -d= -f2)

# --- rollover ------------------------------------------------------------------
run "rollover" 0 ca rollover --ca factory --passphrase-file "$PASS_FILE"
grep -q "^rolled over CA 'factory' to '$NEW' under 'root'$" "$T/out" && ok ||
  fail "rollover output: $(cat "$T/out")"
grep -q "devpki-ca chain --ca $NEW" "$T/out" && grep -q "devpki-ca crl --ca $NEW" "$T/out" &&
  grep -q "Keep publishing the CRL of 'factory' until $(date -u -d "$OLD_NOT_AFTER" +%Y-%m-%dT%H:%M:%SZ)" "$T/out" &&
  ok || fail "rollover: next steps: $(cat "$T/out")"
run "list --json after rollover" 0 ca --json list
jqt "the old CA is retired, naming its successor" \
  ".[] | select(.name == \"factory\") | .status == \"retired\" and .successor == \"$NEW\" and (.retired_at | test(\"Z$\"))"
jqt "the successor: active, same parent and profile, subject with this year" \
  ".[] | select(.name == \"$NEW\") | .status == \"active\" and .parent == \"root\" and .profile == \"issuing-ca\"
   and .subject == \"CN=Acme Factory CA $YEAR,O=Acme\" and .successor == \"\" and .retired_at == null"
run "list text" 0 ca list
grep -Eq "^factory +root +[0-9TZ:-]+ +retired +$NEW +CN=Acme Factory CA,O=Acme$" "$T/out" && ok ||
  fail "list text: $(cat "$T/out")"
run "show the old CA" 0 ca show factory
grep -q "status:      retired (rolled over to $NEW on " "$T/out" && grep -q "lineage:     factory -> $NEW" "$T/out" &&
  grep -q "issues now:  $NEW" "$T/out" && grep -q "CRLs until:  " "$T/out" && ok || fail "show factory: $(cat "$T/out")"
run "show --json" 0 ca --json show "$NEW"
jqt "show --json lineage" ".lineage == [\"factory\", \"$NEW\"] and .current_issuer == \"$NEW\" and .crl_needed_until == null"
# The new key: a different one, encrypted.
[ "$(jq -r ".[] | select(.name == \"$NEW\") | .key_ref" <<<"$(ca --json list)")" = "file:keys/$NEW.key.pem" ] &&
  grep -q 'ENCRYPTED PRIVATE KEY' "$H/keys/$NEW.key.pem" && ok || fail "the successor's key file"
[ "$(stat -c %a "$H/keys/$NEW.key.pem")" = 600 ] && ok || fail "the successor's key file mode"
openssl x509 -in <(ca --json show "$NEW" | jq -r .certificate.pem) -noout -text >"$T/newca.txt"
grep -q 'Public-Key: (256 bit)' "$T/newca.txt" && grep -q 'CA:TRUE' "$T/newca.txt" && ok ||
  fail "the successor's certificate: $(head -20 "$T/newca.txt")"
[ "$(sqlite3 "$H/store.db" "SELECT action || ' ' || subject FROM audit ORDER BY id DESC LIMIT 1")" = "ca.rollover factory" ] &&
  ok || fail "no ca.rollover audit event"

# --- sign after the rollover: issued by the successor, with a warning --------------------
run "sign --ca factory after the rollover" 0 ca --json sign --ca factory --profile device-ldevid \
  --csr "$W/new.csr" --device-id NEW-1 --out "$W/new.pem" --passphrase-file "$PASS_FILE"
jqt "the successor issued it" ".issuer == \"$NEW\" and .device_id == \"NEW-1\" and .status == \"issued\""
grep -q "warning: CA 'factory' was rolled over on [0-9-]*; issued by its successor '$NEW' instead (use --ca $NEW)" "$T/err" &&
  ok || fail "sign: no rollover warning: $(cat "$T/err")"
[ "$(openssl x509 -in "$W/new.pem" -noout -issuer -nameopt RFC2253)" = "issuer=CN=Acme Factory CA $YEAR,O=Acme" ] &&
  ok || fail "new device's issuer: $(openssl x509 -in "$W/new.pem" -noout -issuer)"
openssl x509 -in "$W/new.pem" -noout -text | grep -q "crl/$NEW.crl" && ok || fail "new device's CRL DP names the successor"
run "sign text names the issuer" 0 ca sign --ca factory --profile device-ldevid --csr "$W/new.csr" \
  --device-id NEW-2 --out "$W/new2.pem" --passphrase-file "$PASS_FILE"
grep -q " by $NEW under device-ldevid for device NEW-2" "$T/out" && ok || fail "sign text: $(cat "$T/out")"

# --- chain: both issuing CAs, newest first after the CA ----------------------------------
for c in factory "$NEW"; do
  ca chain --ca "$c" --out "$W/$c-chain.pem" >/dev/null 2>&1
  [ "$(split_pem "$W/$c-chain.pem" "$W/$c-part")" = 3 ] && ok || fail "chain --ca $c: not 3 certificates"
done
subj() { openssl x509 -in "$1" -noout -subject -nameopt RFC2253 | sed 's/^subject=//'; }
[ "$(subj "$W/$NEW-part-1.pem")|$(subj "$W/$NEW-part-2.pem")|$(subj "$W/$NEW-part-3.pem")" = \
  "CN=Acme Factory CA $YEAR,O=Acme|CN=Acme Factory CA,O=Acme|CN=Acme Root CA,O=Acme" ] && ok ||
  fail "chain --ca $NEW order"
[ "$(subj "$W/factory-part-1.pem")|$(subj "$W/factory-part-2.pem")" = \
  "CN=Acme Factory CA,O=Acme|CN=Acme Factory CA $YEAR,O=Acme" ] && ok || fail "chain --ca factory order"
run "chain --no-root" 0 ca chain --ca "$NEW" --no-root
[ "$(grep -c 'BEGIN CERTIFICATE' "$T/out")" = 2 ] && ! grep -q "$(sed -n 2p "$W/$NEW-part-3.pem")" "$T/out" && ok ||
  fail "chain --no-root: $(grep -c 'BEGIN CERTIFICATE' "$T/out") certificates"
run "chain --json" 0 ca --json chain --ca "$NEW"
jqt "chain --json" '.certificates | length == 3'
out=$(ca chain --help)
grep -q 'rollover' <<<"$out" && ok || fail "chain --help says nothing of rollovers"

# openssl verify -x509_strict: both devices against the successor's published chain.
CHAIN=$W/$NEW-chain.pem
for d in old new; do
  v=$(verdict "$W/$d.pem" "$CHAIN")
  [ "$v" = OK ] && ok || fail "openssl verify of the $d device against chain --ca $NEW: $v"
  # Trusting the whole chain file, as a server's client-CA file does.
  openssl verify -x509_strict -CAfile "$CHAIN" "$W/$d.pem" >/dev/null 2>&1 && ok ||
    fail "openssl verify -CAfile chain of the $d device"
  # GnuTLS agrees.
  out=$(certtool --verify --load-ca-certificate "$W/$NEW-part-3.pem" --infile <(cat "$W/$d.pem" "$CHAIN") 2>&1) || true
  grep -q 'Chain verification output: Verified' <<<"$out" && ok ||
    fail "certtool --verify of the $d device: $(tail -2 <<<"$out")"
done
out=$(certtool --verify-chain --infile <(cat "$W/new.pem" "$W/$NEW-part-1.pem" "$W/$NEW-part-3.pem") 2>&1) || true
grep -q 'Chain verification output: Verified' <<<"$out" && ok || fail "certtool --verify-chain (new): $(tail -2 <<<"$out")"

# --- CRLs: the old device revoked, both CAs publish ------------------------------------
run "revoke the old device" 0 ca revoke --serial "$OLD_SERIAL" --ca factory --reason keyCompromise
run "crl of the retired CA" 0 ca crl --ca factory --passphrase-file "$PASS_FILE"
grep -q "^CRL 1 of factory: 1 entry" "$T/out" && ok || fail "crl --ca factory: $(cat "$T/out")"
# The successor and the root have no CRL yet: the bundle waits for them.
grep -q "no chain bundle for factory: .*has no CRL" "$T/err" && ok || fail "crl --ca factory: bundle warning: $(cat "$T/err")"
run "crl of the root" 0 ca crl --ca root --passphrase-file "$PASS_FILE"
run "crl of the successor" 0 ca --json crl --ca "$NEW" --passphrase-file "$PASS_FILE"
jqt "the successor's CRL rewrites both bundles" \
  "(.bundles | map(select(.problem == \"\") | .ca) | sort) == ([\"factory\", \"$NEW\"] | sort)"
crl_verifies "the retired CA's CRL" "$H/crl/factory.crl.pem" "$W/factory-part-1.pem"
crl_verifies "the successor's CRL" "$H/crl/$NEW.crl.pem" "$W/$NEW-part-1.pem"
for b in factory "$NEW"; do
  BUNDLE=$H/crl/$b-chain.crl.pem
  [ "$(grep -c 'BEGIN X509 CRL' "$BUNDLE")" = 3 ] && ok || fail "$b bundle: not 3 CRLs"
  v=$(verdict "$W/old.pem" "$CHAIN" "$BUNDLE")
  [ "$v" = revoked ] && ok || fail "openssl verify -crl_check_all, $b bundle, revoked old device: $v"
  v=$(verdict "$W/new.pem" "$CHAIN" "$BUNDLE")
  [ "$v" = OK ] && ok || fail "openssl verify -crl_check_all, $b bundle, new device: $v"
done
v=$(certtool_crl_verdict "$W/old.pem" "$W/factory-part-1.pem" "$W/$NEW-part-3.pem" "$H/crl/$NEW-chain.crl.pem")
[ "$v" = revoked ] && ok || fail "certtool: old device with the bundle: $v"
v=$(certtool_crl_verdict "$W/new.pem" "$W/$NEW-part-1.pem" "$W/$NEW-part-3.pem" "$H/crl/$NEW-chain.crl.pem")
[ "$v" = Verified ] && ok || fail "certtool: new device with the bundle: $v"
# Publishing the old CA again rewrites the successor's bundle too.
before=$(sha256sum <"$H/crl/$NEW-chain.crl.pem")
run "crl of the retired CA again" 0 ca crl --ca factory --passphrase-file "$PASS_FILE"
grep -q "$NEW-chain.crl.pem (chain bundle of $NEW)" "$T/out" && ok || fail "crl --ca factory: $(cat "$T/out")"
[ "$(sha256sum <"$H/crl/$NEW-chain.crl.pem")" != "$before" ] && ok || fail "the successor's bundle was not rewritten"

# --- crl-status lists the retired CA and until when --------------------------------
run "crl-status" 0 ca crl-status
grep -Eq "^factory \(rolled over to $NEW; keep publishing until its last certificate expires at [0-9T:-]+Z\): CRL 2, 1 entry" "$T/out" &&
  ok || fail "crl-status text: $(cat "$T/out")"
grep -q "^$NEW: CRL 1, 0 entries" "$T/out" && ok || fail "crl-status: successor: $(cat "$T/out")"
run "crl-status --json" 0 ca --json crl-status
jqt "crl-status --json" "(.cas[] | select(.ca == \"factory\") | .retired and .successor == \"$NEW\" and (.needed_until | test(\"Z$\")))
  and (.cas[] | select(.ca == \"$NEW\") | .retired == false)"

# --- bad rollovers: refused, the home byte-identical ----------------------------------
"$CA" --home "$H" issue-ca --parent root --name line2 --subject "/O=Acme/CN=Acme Line 2 CA" \
  --passphrase-file "$PASS_FILE" >/dev/null
printf 'wrong\n' >"$T/wrong"
refuse() {
  local name=$1 code=$2 regex=$3
  shift 3
  expect_rejected "$H" "$W" "$name" "$code" "$regex" -- "$CA" --home "$H" "$@"
}
P=(--passphrase-file "$PASS_FILE")
refuse "rollover of the root" 2 "CA 'root' is a root: rollover replaces an issuing CA" rollover --ca root "${P[@]}"
refuse "rollover of an unknown CA" 2 "no CA named 'nope' \(see .devpki-ca list.\)" rollover --ca nope "${P[@]}"
refuse "rollover of a retired CA" 2 "CA 'factory' is retired \(rolled over to '$NEW' on [0-9-]+\); roll over its current issuer '$NEW' instead" \
  rollover --ca factory "${P[@]}"
refuse "rollover to a taken --name" 2 "a CA named 'factory' already exists; name the successor with --name" \
  rollover --ca line2 --name factory "${P[@]}"
refuse "rollover to the successor's name" 2 "a CA named '$NEW' already exists" rollover --ca "$NEW" "${P[@]}"
refuse "rollover to a taken subject" 2 "CA 'line2' already has the subject" \
  rollover --ca "$NEW" --name other --subject "/O=Acme/CN=Acme Line 2 CA" "${P[@]}"
refuse "rollover with a wrong parent passphrase" 2 "CA 'root' key: .*(passphrase|decrypt)" \
  rollover --ca line2 "${P[@]}" --parent-passphrase-file "$T/wrong"
refuse "rollover without a passphrase" 2 "CA keys are stored encrypted" rollover --ca line2
refuse "rollover with a bad --name" 2 "invalid CA name 'Bad/Name'" rollover --ca line2 --name Bad/Name "${P[@]}"
refuse "rollover with a bad --key" 2 "key" rollover --ca line2 --key dsa-1024 "${P[@]}"
refuse "rollover without --ca" 1 "--ca is required" rollover "${P[@]}"
# Positive control: the same home still rolls over.
run "control: rollover line2 --name line2-b --json" 0 ca --json rollover --ca line2 --name line2-b "${P[@]}"
jqt "rollover --json" '.successor.name == "line2-b" and .predecessor.status == "retired" and .predecessor.successor == "line2-b" and .old_crl_until == null'
run "rollover --help" 0 ca rollover --help
grep -q -- '--parent-passphrase-file' "$T/out" && grep -q -- '--validity' "$T/out" && ok || fail "rollover --help"
out=$("$CA" --help)
grep -q rollover <<<"$out" && ok || fail "--help does not list rollover"

finish
