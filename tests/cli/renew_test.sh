#!/usr/bin/env bash
# devpki-renew (issue 5): plan lists what rotation policy says is due (with
# --within and --at to look ahead), and what cannot be renewed and why
# (revoked, decommissioned, past grace); run renews the due certificates as
# a batch: kept keys (subject, SANs and key unchanged, new serial and
# validity), re-keying from CSRs matched by device id (a CSR with the old
# key, a missing CSR, a CSR for an unknown device and a CSR whose subject
# differs are refused with their reason), the old certificates superseded
# and revoked with reason superseded when the profile says so; --dry-run
# writes nothing; --resume of a complete batch issues nothing; after
# `devpki-ca rollover` the renewals come from the successor and verify
# (openssl verify -x509_strict, certtool) against the successor's chain.
source "$(dirname "$0")/lib.sh"
: "${MINT:?run through ctest (DEVPKI_MINT unset)}"
: "${DECOM:?run through ctest (DEVPKI_DECOMMISSION unset)}"
RENEW=${DEVPKI_RENEW:?run through ctest (DEVPKI_RENEW unset)}

H=$T/h
new_home "$H"
ca_files "$H" factory "$T/ca"
ROOT=$T/ca/root.pem
CHAIN=$T/ca/chain.pem

# profile NAME VALIDITY RENEW_BEFORE REKEY GRACE REVOKE_SUPERSEDED JITTER: a
# device-ldevid-like profile with this rotation section, in the home.
profile() {
  cat >"$H/profiles/$1.yaml" <<EOF
name: $1
description: "renewal test profile"
validity: $2
backdate: 0s
keys: [ec-p256, ec-p384, ed25519]
subject:
  - O: Acme
  - OU: Devices
  - CN: "{device_id}"
san:
  allow:
    - {type: dns, pattern: "{device_id}.devices.acme.example"}
  add:
    - {type: uri, value: "urn:acme:device:{device_id}"}
key_usage: [digitalSignature]
extended_key_usage: [clientAuth]
basic_constraints: {ca: false}
crl_distribution_points: ["http://pki.acme.example/crl/{ca}.crl"]
rotation:
  renew_before: $3
  rekey: $4
  grace_after_expiry: $5
  revoke_superseded: $6
  jitter: $7
EOF
}
profile fleet 10d 2d allowed 1d true 0s
profile fleet-rekey 10d 20% required 0s false 1h
profile blink 2s 1s allowed 0s false 0s

sql() { sqlite3 "$H/store.db" "$1"; }
# renew NAME EXPECTED_EXIT ARGS...: devpki-renew on $H; stdout to $T/out, stderr to $T/err.
renew() {
  local name=$1 code=$2 rc=0
  shift 2
  "$RENEW" --home "$H" "$@" >"$T/out" 2>"$T/err" || rc=$?
  if [ "$rc" -eq "$code" ]; then ok; else fail "$name: exit $rc, expected $code: $(cat "$T/err")"; fi
  return 0
}
jqt() { jq -e "$2" "$T/out" >/dev/null 2>&1 && ok || fail "$1: $(head -c 2000 "$T/out")"; }
check() { if eval "$2"; then ok; else fail "$1"; fi; }
at_in() { date -u -d "$1" +%Y-%m-%dT%H:%M:%SZ; }
spki() { openssl x509 -in "$1" -noout -pubkey | openssl pkey -pubin -outform DER | sha256sum | cut -c1-64; }
subj() { openssl x509 -in "$1" -noout -subject -nameopt RFC2253; }
sans() { openssl x509 -in "$1" -noout -ext subjectAltName | tail -n +2 | tr -d ' '; }
verify_strict() { openssl verify -x509_strict -CAfile "$1" -untrusted "$2" "$3" >/dev/null 2>&1; }
status_of() { sql "SELECT status FROM certificates WHERE issuer = '$1' AND serial_hex = '$2'"; }

mint() {  # mint PROFILE PATTERN COUNT BATCH
  "$MINT" --home "$H" --passphrase-file "$PASS_FILE" --ca factory --profile "$1" --count "$3" \
    --id-pattern "$2" --format pem --out "$T/$4" --batch-id "$4" >/dev/null
}
mint fleet 'F-{seq}' 6 m1
F() { echo "$T/m1/F-$1/cert.pem"; }

# ---- plan ---------------------------------------------------------------------------
renew "plan now" 0 plan --json
jqt "plan now: nothing due" '.due == [] and .refused == [] and .groups == []'
renew "plan now (text)" 0 plan
check "plan text says nothing is due" "grep -q 'nothing is due' '$T/out'"
renew "plan --within 9d" 0 plan --within 9d --json
jqt "plan --within 9d: six due from factory" \
  '(.due | length) == 6 and .groups == [{"target_ca":"factory","profile":"fleet","due":6,"refused":0}]'
jqt "plan --within 9d: state not_due, rule and fields" \
  '[.due[] | select(.state == "not_due" and .issuer == "factory" and .profile == "fleet" and (.rule | test("renew_before 2d")) and .rekey == "allowed")] | length == 6'
jqt "plan lists profiles without rotation" '.profiles_without_policy | index("device-idevid") != null'
# The due time is notAfter - 2d (no jitter in this profile).
na=$(epoch_of "$(openssl x509 -in "$(F 1)" -noout -enddate | cut -d= -f2)")
due=$(jq -r '.due[] | select(.device_id == "F-1") | .due_at' "$T/out")
check "F-1 is due 2d before its notAfter" "[ $(epoch_of "$due") -eq $((na - 2 * 86400)) ]"
renew "plan --at +8d12h" 0 plan --at "$(at_in '+8 days 12 hours')" --json
jqt "plan --at +8d12h: all due" '[.due[] | select(.state == "due")] | length == 6'
renew "plan --at +10d12h" 0 plan --at "$(at_in '+10 days 12 hours')" --json
jqt "plan --at +10d12h: expired, in the 1d grace" '[.due[] | select(.state == "in_grace")] | length == 6'
renew "plan --at +12d" 0 plan --at "$(at_in '+12 days')" --json
jqt "plan --at +12d: past grace, refused with the reason" \
  '(.due | length) == 0 and ([.refused[] | select(.state == "past_grace" and (.reason | test("grace")))] | length) == 6'
renew "plan --ca factory --profile fleet --batch m1" 0 plan --within 9d --ca factory --profile fleet --batch m1 --json
jqt "selectors keep the six" '(.due | length) == 6'
renew "plan --profile device-ldevid" 0 plan --within 9d --profile device-ldevid --json
jqt "another profile: none" '(.due | length) == 0'
renew "run --profile device-idevid (no rotation section)" 0 run --profile device-idevid --within 9d --out "$T/never"
check "run says the profile has no rotation section" "grep -q 'no rotation: section' '$T/err' && [ ! -e '$T/never' ]"

# Revoked and decommissioned devices cannot be renewed.
"$CA" --home "$H" revoke --device F-5 --reason keyCompromise >/dev/null
"$DECOM" --home "$H" --device F-6 --passphrase-file "$PASS_FILE" >/dev/null
renew "plan after revoke/decommission" 0 plan --within 9d --json
jqt "four due, two refused" '(.due | length) == 4 and (.refused | length) == 2 and .groups[0].refused == 2'
jqt "F-5 refused: revoked (keyCompromise)" \
  '.refused[] | select(.device_id == "F-5") | .state == "revoked" and (.reason | test("keyCompromise"))'
jqt "F-6 refused: decommissioned" '.refused[] | select(.device_id == "F-6") | .state == "decommissioned"'
renew "plan text" 0 plan --within 9d
check "plan text lists the due and the refused" \
  "grep -q '^due (4)' '$T/out' && grep -q '^cannot be renewed (2)' '$T/out' && grep -q 'factory / fleet: 4 due, 2 cannot be renewed' '$T/out'"

# ---- run --dry-run writes nothing ---------------------------------------------------------
before=$(store_snapshot "$H"; files_snapshot "$H")
renew "dry run" 0 run --within 9d --dry-run --json
jqt "dry run: 4 kept-key renewals, 2 refusals" \
  '([.items[] | select(.action == "renew-kept-key")] | length) == 4 and ([.items[] | select(.action == "refuse")] | length) == 2 and .target_ca == "factory"'
renew "dry run (text)" 0 run --within 9d --dry-run
check "dry run text" "grep -q 'would renew 4 of 6' '$T/out'"
check "dry run changed nothing" "[ \"\$(store_snapshot '$H'; files_snapshot '$H')\" = \"\$before\" ]"

# ---- run: kept keys -------------------------------------------------------------------------
renew "nothing due now" 0 run --out "$T/none"
check "nothing due: no batch, no output dir" "grep -q 'nothing is due' '$T/out' && [ ! -e '$T/none' ]"
renew "run --within 9d" 3 run --within 9d --out "$T/r1" --format pem --batch-id r1 --passphrase-file "$PASS_FILE" --json
jqt "run: 4 issued, 2 rejected" '.issued == 4 and .rejected == 2 and .state == "complete" and .batch_id == "r1"'
check "rejects.jsonl names both reasons" \
  "[ \$(wc -l <'$T/r1/rejects.jsonl') -eq 2 ] && grep -q keyCompromise '$T/r1/rejects.jsonl' && grep -q decommissioned '$T/r1/rejects.jsonl'"
check "nothing issued for F-5 and F-6" "[ ! -e '$T/r1/F-5' ] && [ ! -e '$T/r1/F-6' ]"
for i in 1 2 3 4; do
  new=$T/r1/F-$i/cert.pem old=$(F $i)
  check "F-$i renewed cert verifies (openssl -x509_strict)" "verify_strict '$ROOT' '$CHAIN' '$new'"
  check "F-$i kept its key" "[ \"\$(spki '$new')\" = \"\$(spki '$old')\" ]"
  check "F-$i kept its subject" "[ \"\$(subj '$new')\" = \"\$(subj '$old')\" ]"
  check "F-$i kept its SANs" "[ \"\$(sans '$new')\" = \"\$(sans '$old')\" ]"
  check "F-$i has a new serial" "[ \"\$(cert_serial '$new')\" != \"\$(cert_serial '$old')\" ]"
  check "F-$i old certificate superseded then revoked (revoke_superseded)" \
    "[ \"\$(status_of factory \"\$(cert_serial '$old')\")\" = revoked ] && [ \"\$(sql \"SELECT reason || prior_status FROM revocations WHERE serial_hex = '\$(cert_serial '$old')'\")\" = 4superseded ]"
  check "F-$i new certificate issued" "[ \"\$(status_of factory \"\$(cert_serial '$new')\")\" = issued ]"
  check "F-$i has no key.pem in the output (kept key)" "[ ! -e '$T/r1/F-$i/key.pem' ]"
done
if out=$(certtool --verify --load-ca-certificate "$ROOT" --infile <(cat "$T/r1/F-1/cert.pem" "$T/ca/chain.pem") 2>&1) &&
  grep -q 'Chain verification output: Verified' <<<"$out"; then ok; else fail "certtool --verify: $(tail -3 <<<"$out")"; fi
check "manifest lists the four" "[ \$(wc -l <'$T/r1/manifest.jsonl') -eq 4 ]"
# The superseded certificates are on the next CRL; the renewed ones verify with it.
"$CA" --home "$H" crl --ca root --passphrase-file "$PASS_FILE" >/dev/null
"$CA" --home "$H" crl --ca factory --passphrase-file "$PASS_FILE" >/dev/null
BUNDLE=$H/crl/factory-chain.crl.pem
check "old F-1 is revoked on the CRL" "[ \"\$(crl_verdict '$(F 1)' '$ROOT' '$CHAIN' '$BUNDLE')\" = revoked ]"
check "new F-1 passes -crl_check_all" "[ \"\$(crl_verdict '$T/r1/F-1/cert.pem' '$ROOT' '$CHAIN' '$BUNDLE')\" = OK ]"
check "the CRL says superseded" "crl_entries '$H/crl/factory.crl.pem' | grep -q \"^\$(cert_serial '$(F 1)') Superseded\""
renew "plan after the run" 0 plan --within 5d --json
jqt "nothing due after renewal" '(.due | length) == 0'
renew "plan --within 9d after the run" 0 plan --within 9d --json
jqt "the renewed certificates come due again, the old ones not" \
  '(.due | length) == 4 and ([.due[].serial] | all(. as $s | ["'"$(cert_serial "$(F 1)")"'"] | index($s) | not))'
renew "resume a complete batch" 3 run --resume r1 --json
jqt "resume issues nothing" '.issued == 0 and .already == 4'

# ---- run: re-keying from CSRs --------------------------------------------------------------
mint fleet-rekey 'K-{seq}' 6 m2
C=$T/csrs
mkdir -p "$C"
csr_openssl "$C/K-1.csr" ec:P-256 -subj "/O=Acme/OU=Devices/CN=K-1"
csr_openssl "$C/K-2.csr" ec:P-256 -subj "/O=Acme/OU=Devices/CN=K-2"
openssl req -new -key "$T/m2/K-2/key.pem" -subj "/O=Acme/OU=Devices/CN=K-2" -out "$C/K-2.csr" # the old key
csr_openssl "$C/K-4.csr" ec:P-256 -subj "/O=Acme/OU=Devices/CN=someone-else"
csr_openssl "$C/K-5.csr" ec:P-384 -subj "/" -addext "subjectAltName=DNS:K-5.devices.acme.example"
csr_openssl "$C/K-6.csr" ec:P-256 -subj "/" -addext "subjectAltName=DNS:K-1.devices.acme.example"
csr_openssl "$C/X-9.csr" ec:P-256 -subj "/CN=X-9"
renew "rekey dry run" 0 run --profile fleet-rekey --within 9d --csrs "$C" --dry-run --json
jqt "rekey dry run: K-1 K-2 K-4 K-5 K-6 new key, K-3 refused, X-9 refused" \
  '([.items[] | select(.action == "renew-new-key")] | length) == 5 and ([.items[] | select(.action == "refuse")] | map(.device_id) | sort) == ["K-3","X-9"]'
renew "rekey run" 3 run --profile fleet-rekey --within 9d --csrs "$C" --out "$T/r2" --batch-id r2 --passphrase-file "$PASS_FILE" --json
jqt "rekey run: K-1 and K-5 issued, 5 refused" '.issued == 2 and .rejected == 5'
R2=$T/r2/devices.jsonl
rej() { jq -r "select(.device_id == \"$1\") | .reason" "$T/r2/rejects.jsonl"; }
jq -r 'select(.device_id == "K-1") | .cert' "$R2" >"$T/k1.pem"
jq -r 'select(.device_id == "K-5") | .cert' "$R2" >"$T/k5.pem"
check "K-1 has the CSR's key" "[ \"\$(spki '$T/k1.pem')\" = \"\$(openssl req -in '$C/K-1.csr' -noout -pubkey | openssl pkey -pubin -outform DER | sha256sum | cut -c1-64)\" ]"
check "K-1 verifies" "verify_strict '$ROOT' '$CHAIN' '$T/k1.pem'"
check "K-5 (P-384, empty subject, an allowed SAN) keeps the device's subject" \
  "[ \"\$(subj '$T/k5.pem')\" = \"\$(subj '$T/m2/K-5/cert.pem')\" ] && verify_strict '$ROOT' '$CHAIN' '$T/k5.pem'"
check "K-5 gets the SAN its CSR asks for and the profile allows" \
  "sans '$T/k5.pem' | grep -q 'DNS:K-5.devices.acme.example'"
check "K-6 refused: another device's name" "rej K-6 | grep -q 'K-1.devices.acme.example'"
check "K-2 refused: the old key" "rej K-2 | grep -q 'key of the certificate being renewed'"
check "K-3 refused: no CSR" "rej K-3 | grep -q 'no new CSR'"
check "K-4 refused: the subject differs" "rej K-4 | grep -q 'differs from the device'"
check "X-9 refused: not due / unknown" "rej X-9 | grep -q 'no certificate due'"
check "K-1's old certificate superseded (not revoked: revoke_superseded false)" \
  "[ \"\$(status_of factory \"\$(cert_serial '$T/m2/K-1/cert.pem')\")\" = superseded ]"
check "K-2's old certificate still issued" "[ \"\$(status_of factory \"\$(cert_serial '$T/m2/K-2/cert.pem')\")\" = issued ]"

# ---- past grace -------------------------------------------------------------------------------
mint blink 'B-{seq}' 2 m3
sleep 3
renew "plan: blink past grace" 0 plan --profile blink --json
jqt "blink certificates past grace (grace 0)" '[.refused[] | select(.state == "past_grace")] | length == 2'
renew "run: nothing renewable" 0 run --profile blink --out "$T/r3" --passphrase-file "$PASS_FILE"
check "run says they cannot be renewed" "grep -q 'cannot be renewed' '$T/err' && [ ! -e '$T/r3' ]"

# ---- rollover: renewals come from the successor -------------------------------------------
mint fleet 'G-{seq}' 3 m4
"$CA" --home "$H" rollover --ca factory --name factory-g2 --passphrase-file "$PASS_FILE" >/dev/null
renew "plan after rollover" 0 plan --within 9d --ca factory --profile fleet --json
jqt "renewals of factory's certificates target factory-g2" \
  '[.due[] | select((.device_id | startswith("G-")) and .issuer == "factory" and .target_ca == "factory-g2")] | length == 3'
renew "plan --ca factory-g2 (the lineage)" 0 plan --within 9d --ca factory-g2 --profile fleet --json
jqt "the successor's lineage selects the old CA's certificates too" '[.due[] | select(.device_id | startswith("G-"))] | length == 3'
renew "run after rollover" 3 run --within 9d --profile fleet --out "$T/r4" --format pem --batch-id r4 --threads 2 --passphrase-file "$PASS_FILE" --json
jqt "run after rollover: G-1..3 and F-1..4 (again) renewed, F-5 and F-6 refused" '.issued == 7 and .rejected == 2'
"$CA" --home "$H" chain --ca factory-g2 --out "$T/g2-chain.pem" --force >/dev/null
g2_subject=$(openssl x509 -in "$T/g2-chain.pem" -noout -subject -nameopt RFC2253 | sed 's/^subject=//')
for i in 1 2 3; do
  check "G-$i renewed by factory-g2" \
    "[ \"\$(openssl x509 -in '$T/r4/G-$i/cert.pem' -noout -issuer -nameopt RFC2253 | sed 's/^issuer=//')\" = \"\$g2_subject\" ]"
  check "G-$i verifies against the successor chain (-x509_strict)" "verify_strict '$ROOT' '$T/g2-chain.pem' '$T/r4/G-$i/cert.pem'"
  check "G-$i old certificate (factory) still verifies during the overlap" "verify_strict '$ROOT' '$T/g2-chain.pem' '$T/m4/G-$i/cert.pem'"
done
# New issuance under the old name goes to the successor, with a warning.
"$MINT" --home "$H" --passphrase-file "$PASS_FILE" --ca factory --profile fleet --count 1 \
  --id-pattern 'N-{seq}' --format pem --out "$T/m5" --batch-id m5 >/dev/null 2>"$T/err"
check "devpki-mint --ca factory after the rollover: warns" "grep -q 'rolled over' '$T/err'"
check "devpki-mint --ca factory after the rollover: factory-g2 issues" \
  "[ \"\$(sql \"SELECT ca FROM batches WHERE id = 'm5'\")\" = factory-g2 ] && verify_strict '$ROOT' '$T/g2-chain.pem' '$T/m5/N-1/cert.pem'"
check "the store says factory-g2 issued G-1" \
  "[ \"\$(sql \"SELECT issuer FROM certificates WHERE device_id = 'G-1' AND status = 'issued'\")\" = factory-g2 ]"
finish
