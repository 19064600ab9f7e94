#!/usr/bin/env bash
# devpki-mint behaviours (the batch issue): the three formats, verified by
# openssl and GnuTLS; manifest, checksums and store rows; batch ids, `batches`
# and resuming a complete batch; ids mode with per-device subject variables;
# CSR mode with per-device rejects (exit 3); --threads; --reissue; kill -9 and
# --resume; summary, JSON and progress output.
source "$(dirname "$0")/lib.sh"
: "${MINT:?run through ctest (DEVPKI_MINT unset)}"

H=$T/h
new_home "$H"
ca_files "$H" factory "$T/ca"
ROOT=$T/ca/root.pem
CHAIN=$T/ca/chain.pem
P12_PASS=$T/p12pass
printf 'p12 test password\n' >"$P12_PASS"
N=50

# mint ARGS...: devpki-mint on $H with the CA passphrase; stdout to $T/mint.out,
# stderr to $T/mint.err; returns its exit code.
mint() { "$MINT" --home "$H" --passphrase-file "$PASS_FILE" "$@" >"$T/mint.out" 2>"$T/mint.err"; }

# check NAME EXPECTED_EXIT ARGS...: mint must exit with EXPECTED_EXIT.
check_mint() {
  local name=$1 code=$2 rc=0
  shift 2
  mint "$@" || rc=$?
  if [ "$rc" -eq "$code" ]; then ok; else fail "$name: exit $rc, expected $code: $(cat "$T/mint.err")"; fi
  return 0
}

sql() { sqlite3 "$H/store.db" "$1"; }
mode() { stat -c '%a' "$1"; }

# verify_certs LABEL CERT...: every certificate chains to the root through the
# factory CA under openssl -x509_strict (one check).
verify_certs() {
  local label=$1 err
  shift
  if err=$(openssl verify -x509_strict -CAfile "$ROOT" -untrusted "$CHAIN" "$@" 2>&1); then ok; else
    fail "$label: openssl verify: $(grep -v ': OK$' <<<"$err" | head -5)"
  fi
}

# certtool_verify LABEL CERT: GnuTLS verifies CERT + the factory chain against the root.
certtool_verify() {
  local label=$1 err
  cat "$2" "$CHAIN" >"$T/certtool-in.pem"
  if err=$(certtool --verify --load-ca-certificate "$ROOT" --infile "$T/certtool-in.pem" 2>&1) &&
    grep -q 'Chain verification output: Verified' <<<"$err"; then ok; else
    fail "$label: certtool --verify: $(tail -3 <<<"$err")"
  fi
}

# key_matches LABEL KEY CERT [PASSIN]: the key file holds the certificate's key.
key_matches() {
  local pk pc
  pk=$(openssl pkey -in "$2" ${4:+-passin "$4"} -pubout 2>&1)
  pc=$(openssl x509 -in "$3" -noout -pubkey 2>&1)
  [ -n "$pk" ] && [ "$pk" = "$pc" ] && ok || fail "$1: key $2 does not match certificate $3"
}

# common_outputs LABEL OUT BATCH COUNT [TOTAL]: what every format writes: chain.pem,
# SHA256SUMS that checks, a manifest of COUNT lines without private keys,
# COUNT issued store rows with distinct serials, and the batch of TOTAL
# devices (default COUNT) complete.
common_outputs() {
  local label=$1 out=$2 batch=$3 count=$4 total=${5:-$4} err
  cmp -s "$out/chain.pem" "$CHAIN" && ok || fail "$label: chain.pem is not the factory CA's chain"
  if err=$(cd "$out" && sha256sum -c --quiet SHA256SUMS 2>&1); then ok; else fail "$label: sha256sum -c: $err"; fi
  for f in chain.pem manifest.jsonl rejects.jsonl; do
    grep -q " \*\?$f\$" "$out/SHA256SUMS" && ok || fail "$label: SHA256SUMS does not cover $f"
  done
  [ "$(wc -l <"$out/manifest.jsonl")" -eq "$count" ] && ok ||
    fail "$label: manifest has $(wc -l <"$out/manifest.jsonl") lines, expected $count"
  grep -q 'PRIVATE KEY' "$out/manifest.jsonl" && fail "$label: manifest holds a private key" || ok
  jq -e -s 'all(.[]; has("device_id") and has("serial") and has("spki_sha256") and has("not_after")
    and has("files") and (has("key") | not))' "$out/manifest.jsonl" >/dev/null && ok ||
    fail "$label: manifest lines lack fields: $(head -1 "$out/manifest.jsonl")"
  [ "$(jq -s 'map(.device_id) | unique | length' "$out/manifest.jsonl")" -eq "$count" ] && ok ||
    fail "$label: manifest device ids are not distinct"
  [ "$(sql "SELECT count(*) FROM certificates WHERE batch_id='$batch' AND status='issued'")" -eq "$count" ] && ok ||
    fail "$label: store has $(sql "SELECT count(*) FROM certificates WHERE batch_id='$batch' AND status='issued'") issued rows"
  [ "$(sql "SELECT count(*) FROM certificates WHERE batch_id='$batch' AND status='reserved'")" -eq 0 ] && ok ||
    fail "$label: reserved rows left in the store"
  [ "$(sql "SELECT count(*) - count(DISTINCT serial_hex) FROM certificates WHERE issuer='factory'")" -eq 0 ] && ok ||
    fail "$label: duplicate serials in the store"
  # The manifest's serials are the store's.
  diff <(jq -r .serial "$out/manifest.jsonl" | sort) \
    <(sql "SELECT serial_hex FROM certificates WHERE batch_id='$batch' AND status='issued'" | sort) >/dev/null && ok ||
    fail "$label: manifest serials differ from the store's"
  [ "$("$MINT" --home "$H" batches --json | jq -r --arg b "$batch" '.[] | select(.id == $b) | "\(.state) \(.count) \(.ca) \(.profile)"')" \
    = "complete $total factory $(sql "SELECT profile FROM batches WHERE id='$batch'")" ] && ok ||
    fail "$label: batches --json does not show $batch complete with $total devices"
}

# --- jsonl --------------------------------------------------------------------
check_mint "mint jsonl" 0 --ca factory --profile device-idevid --count $N --id-pattern 'JS-{seq:04}' \
  --out "$T/out-jsonl" --format jsonl --batch-id b-jsonl
grep -Eq '^devpki-mint: batch b-jsonl complete: 50 issued, 0 rejected in [0-9.]+ s \([0-9.,]+/s\) -> .*out-jsonl/?$' "$T/mint.out" &&
  ok || fail "summary line: '$(cat "$T/mint.out")'"
[ ! -s "$T/mint.err" ] && ok || fail "stderr not empty without a terminal: '$(cat "$T/mint.err")'"
O=$T/out-jsonl
[ "$(mode "$O/devices.jsonl")" = 600 ] && ok || fail "devices.jsonl mode $(mode "$O/devices.jsonl"), expected 600"
[ "$(wc -l <"$O/devices.jsonl")" -eq $N ] && ok || fail "devices.jsonl has $(wc -l <"$O/devices.jsonl") lines"
# Keys in the documented order, no spaces.
head -1 "$O/devices.jsonl" | grep -Eq '^\{"device_id":"JS-0001","serial":"[0-9a-f]+","cert":"-----BEGIN CERTIFICATE-----\\n[^"]*","chain":"chain.pem","key":"-----BEGIN PRIVATE KEY-----\\n[^"]*"\}$' &&
  ok || fail "devices.jsonl line format: $(head -c 200 "$O/devices.jsonl")"
mkdir -p "$T/js"
i=0
while IFS= read -r line; do
  i=$((i + 1))
  jq -r .cert <<<"$line" >"$T/js/$i.crt"
  jq -r .key <<<"$line" >"$T/js/$i.key"
  [ "$(jq -r .serial <<<"$line" | sed 's/^0*//')" = "$(openssl x509 -in "$T/js/$i.crt" -noout -serial | cut -d= -f2 | tr 'A-F' 'a-f' | sed 's/^0*//')" ] ||
    fail "jsonl line $i: serial does not match the certificate"
done <"$O/devices.jsonl"
verify_certs "jsonl" "$T"/js/*.crt
certtool_verify "jsonl sample" "$T/js/1.crt"
certtool_verify "jsonl sample" "$T/js/$N.crt"
key_matches "jsonl 1" "$T/js/1.key" "$T/js/1.crt"
key_matches "jsonl $N" "$T/js/$N.key" "$T/js/$N.crt"
openssl x509 -in "$T/js/7.crt" -noout -subject -nameopt RFC2253 | grep -q 'serialNumber=JS-0007,CN=JS-0007,O=Acme' && ok ||
  fail "jsonl: subject of device 7: $(openssl x509 -in "$T/js/7.crt" -noout -subject -nameopt RFC2253)"
openssl x509 -in "$T/js/7.crt" -noout -enddate | grep -q '9999 GMT' && ok || fail "device-idevid certificate expires"
common_outputs "jsonl" "$O" b-jsonl $N

# --- pem ----------------------------------------------------------------------
check_mint "mint pem" 0 --ca factory --profile device-idevid --count $N --id-pattern 'ACME-{seq:04}' \
  --out "$T/out-pem" --format pem --batch-id b-pem
O=$T/out-pem
[ "$(find "$O" -mindepth 1 -maxdepth 1 -type d | wc -l)" -eq $N ] && ok || fail "pem: not $N device directories"
bad_modes=0
for d in "$O"/ACME-*/; do
  [ "$(mode "$d/key.pem")" = 600 ] || bad_modes=$((bad_modes + 1))
  [ -f "$d/cert.pem" ] && [ -f "$d/chain.pem" ] || fail "pem: $d lacks cert.pem or chain.pem"
done
[ "$bad_modes" -eq 0 ] && ok || fail "pem: $bad_modes key.pem files are not 0600"
verify_certs "pem" "$O"/ACME-*/cert.pem
# Each device's chain.pem is enough to verify it.
openssl verify -x509_strict -CAfile "$ROOT" -untrusted "$O/ACME-0003/chain.pem" "$O/ACME-0003/cert.pem" >/dev/null 2>&1 &&
  ok || fail "pem: ACME-0003/chain.pem does not verify its certificate"
certtool_verify "pem sample" "$O/ACME-0001/cert.pem"
certtool_verify "pem sample" "$O/ACME-0050/cert.pem"
mismatch=0
for d in "$O"/ACME-*/; do
  [ "$(openssl pkey -in "$d/key.pem" -pubout)" = "$(openssl x509 -in "$d/cert.pem" -noout -pubkey)" ] ||
    mismatch=$((mismatch + 1))
done
[ "$mismatch" -eq 0 ] && ok || fail "pem: $mismatch key.pem files do not match their cert.pem"
jq -e -s '.[0].files | index("ACME-0001/cert.pem") != null' "$O/manifest.jsonl" >/dev/null && ok ||
  fail "pem: manifest files: $(head -1 "$O/manifest.jsonl")"
common_outputs "pem" "$O" b-pem $N

# --- p12 ----------------------------------------------------------------------
check_mint "mint p12" 0 --ca factory --profile device-idevid --count $N --id-pattern 'P12-{seq}' \
  --out "$T/out-p12" --format p12 --p12-passphrase-file "$P12_PASS" --batch-id b-p12
O=$T/out-p12
[ "$(find "$O" -name '*.p12' | wc -l)" -eq $N ] && ok || fail "p12: not $N .p12 files"
[ -f "$O/P12-1.p12" ] && [ -f "$O/P12-50.p12" ] && ok || fail "p12: {seq} without a width: $(ls "$O" | head -3)"
[ "$(mode "$O/P12-1.p12")" = 600 ] && ok || fail "p12: mode $(mode "$O/P12-1.p12")"
mkdir -p "$T/p12"
bad=0
for f in "$O"/*.p12; do
  b=$(basename "$f" .p12)
  openssl pkcs12 -in "$f" -passin "file:$P12_PASS" -nokeys -clcerts 2>/dev/null | openssl x509 >"$T/p12/$b.crt" 2>/dev/null || bad=$((bad + 1))
done
[ "$bad" -eq 0 ] && ok || fail "p12: $bad files do not open with the password"
verify_certs "p12" "$T"/p12/*.crt
certtool_verify "p12 sample" "$T/p12/P12-1.crt"
openssl pkcs12 -in "$O/P12-2.p12" -passin "file:$P12_PASS" -nocerts -nodes 2>/dev/null >"$T/p12/P12-2.key"
key_matches "p12 2" "$T/p12/P12-2.key" "$T/p12/P12-2.crt"
# The chain is in the bundle.
[ "$(openssl pkcs12 -in "$O/P12-2.p12" -passin "file:$P12_PASS" -nokeys -cacerts 2>/dev/null | grep -c 'BEGIN CERTIFICATE')" -ge 1 ] &&
  ok || fail "p12: no CA certificates in the bundle"
info=$(openssl pkcs12 -in "$O/P12-2.p12" -passin "file:$P12_PASS" -info -noout 2>&1)
grep -q 'Shrouded Keybag: PBES2, PBKDF2, AES-256-CBC' <<<"$info" && ok || fail "p12: key bag not AES-256: $info"
grep -q 'MAC: sha256' <<<"$info" && ok || fail "p12: MAC not SHA-256: $info"
openssl pkcs12 -in "$O/P12-2.p12" -passin pass:wrong -noout 2>/dev/null && fail "p12 opens with a wrong password" || ok
grep -rq 'PRIVATE KEY' "$O/manifest.jsonl" && fail "p12: manifest holds a key" || ok
common_outputs "p12" "$O" b-p12 $N

# --- batches, resuming a complete batch -----------------------------------------
out=$("$MINT" --home "$H" batches)
grep -Eq '^b-pem +factory +device-idevid +complete +50 +[0-9T:-]+Z +.*out-pem' <<<"$out" && ok ||
  fail "batches: $out"
[ "$("$MINT" --home "$H" batches --json | jq 'length')" -eq 3 ] && ok || fail "batches --json: not 3 batches"
"$MINT" --home "$H" batches --json | jq -e 'all(.[]; .created | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z$"))' >/dev/null &&
  ok || fail "batches --json: created is not UTC ISO 8601"

before=$(store_snapshot "$H"; files_snapshot "$H"; files_snapshot "$T/out-pem")
check_mint "resume a complete batch" 0 --json --resume b-pem
jq -e '.batch_id == "b-pem" and .state == "complete" and .issued == 0 and .rejected == 0
  and .already == 50 and .total == 50' "$T/mint.out" >/dev/null && ok ||
  fail "resume complete batch: $(cat "$T/mint.out")"
[ "$(store_snapshot "$H"; files_snapshot "$H"; files_snapshot "$T/out-pem")" = "$before" ] && ok ||
  fail "resuming a complete batch changed the store, the home or the outputs"
check_mint "resume a complete jsonl batch" 0 --resume b-jsonl
grep -q ': 0 issued' "$T/mint.out" && ok || fail "resume complete jsonl: $(cat "$T/mint.out")"
(cd "$T/out-jsonl" && sha256sum -c --quiet SHA256SUMS >/dev/null 2>&1) && ok || fail "resume complete jsonl: checksums"

# --- generated batch id, --json summary --------------------------------------------
check_mint "generated batch id" 0 --json --ca factory --profile device-idevid --count 3 \
  --id-pattern 'GEN-{seq:02}' --out "$T/out-gen"
jq -e '(.batch_id | test("^factory-[0-9]{8}T[0-9]{6}-[0-9a-f]{4}$")) and .state == "complete"
  and .total == 3 and .issued == 3 and .rejected == 0 and .already == 0 and .recovered == 0
  and .abandoned == 0 and (.seconds | type) == "number" and (.rate | type) == "number"
  and (.warnings | type) == "array" and (.out | endswith("out-gen"))' "$T/mint.out" >/dev/null && ok ||
  fail "--json summary: $(cat "$T/mint.out")"
[ "$(wc -l <"$T/mint.out")" -eq 1 ] && ok || fail "--json printed more than one line"
[ -f "$T/out-gen/devices.jsonl" ] && ok || fail "default format is not jsonl"

# --out DIR/ (a trailing slash) is the directory DIR: it once failed with
# "File exists" after creating DIR, and left the batch running.
check_mint "--out DIR/" 0 --ca factory --profile device-idevid --count 2 --id-pattern 'SLASH-{seq}' \
  --format pem --out "$T/out-slash/"
[ -f "$T/out-slash/SLASH-1/cert.pem" ] && [ -f "$T/out-slash/SHA256SUMS" ] && ok ||
  fail "--out DIR/: no SLASH-1/cert.pem or SHA256SUMS in DIR"

# --- ids mode: CSV columns are subject variables ------------------------------------
cat >"$H/profiles/device-model.yaml" <<'EOF'
name: device-model
validity: 1y
keys: [ec-p256, ec-p384]
subject:
  - O: Acme
  - OU: "{model}"
  - CN: "{device_id}"
key_usage: [digitalSignature]
extended_key_usage: [clientAuth]
basic_constraints: {ca: false}
EOF
{
  echo 'device_id,model'
  for i in 1 2 3 4 5; do echo "CSV-$i,Model-$i"; done
  echo 'CSV-6,"Model 6, rev B"'
} >"$T/devices.csv"
check_mint "ids mode" 0 --ca factory --profile device-model --ids "$T/devices.csv" --out "$T/out-ids" \
  --format pem --key ec-p384 --batch-id b-ids
O=$T/out-ids
[ "$(find "$O" -mindepth 1 -maxdepth 1 -type d | wc -l)" -eq 6 ] && ok || fail "ids: not 6 device directories"
for i in 2 6; do
  want="CN=CSV-$i,OU=Model-$i,O=Acme"
  [ $i -eq 6 ] && want='CN=CSV-6,OU=Model 6\, rev B,O=Acme'
  got=$(openssl x509 -in "$O/CSV-$i/cert.pem" -noout -subject -nameopt RFC2253 | sed 's/^subject=//')
  [ "$got" = "$want" ] && ok || fail "ids: CSV-$i subject '$got', expected '$want'"
done
openssl x509 -in "$O/CSV-1/cert.pem" -noout -text | grep -q 'NIST CURVE: P-384' && ok || fail "ids: --key ec-p384 not used"
verify_certs "ids" "$O"/CSV-*/cert.pem
common_outputs "ids" "$O" b-ids 6

# --var: the same variable for every device.
check_mint "--var" 0 --ca factory --profile device-model --count 3 --id-pattern 'VAR-{seq}' \
  --var model=Gateway-X --out "$T/out-var" --format pem
got=$(openssl x509 -in "$T/out-var/VAR-2/cert.pem" -noout -subject -nameopt RFC2253 | sed 's/^subject=//')
[ "$got" = "CN=VAR-2,OU=Gateway-X,O=Acme" ] && ok || fail "--var: subject '$got'"

# --- CSR mode: a directory, one bad signature, one key type the profile refuses ---------
C=$T/csrs
mkdir -p "$C"
for d in dev-a dev-b dev-c dev-d; do
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=x" \
    -keyout "$T/$d.key" -out "$C/$d.csr" 2>/dev/null
done
# dev-e: the signature corrupted (last byte of the DER flipped).
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=x" \
  -keyout "$T/dev-e.key" -outform DER -out "$C/dev-e.der" 2>/dev/null
flip_last_byte "$C/dev-e.der"
# (openssl req -verify exits 0 either way; its message tells.)
openssl req -in "$C/dev-e.der" -inform DER -noout -verify 2>&1 | grep -q 'verify failure' && ok ||
  fail "test setup: the corrupted CSR still verifies"
# dev-f: RSA-1024, not among device-ldevid's keys.
openssl req -new -newkey rsa:1024 -nodes -subj "/CN=x" -keyout "$T/dev-f.key" -out "$C/dev-f.pem" 2>/dev/null
# dev-g: not a CSR at all.
echo 'not a certificate request' >"$C/dev-g.csr"
check_mint "csr directory with bad CSRs" 3 --ca factory --profile device-ldevid --csrs "$C" \
  --out "$T/out-csr" --format pem --batch-id b-csr
O=$T/out-csr
grep -q 'batch b-csr complete: 4 issued, 3 rejected' "$T/mint.out" && ok || fail "csr summary: $(cat "$T/mint.out")"
grep -q 'rejects.jsonl' "$T/mint.err" && ok || fail "csr: stderr does not point at rejects.jsonl: $(cat "$T/mint.err")"
[ "$(wc -l <"$O/rejects.jsonl")" -eq 3 ] && ok || fail "csr: rejects.jsonl: $(cat "$O/rejects.jsonl")"
[ "$(jq -r .device_id "$O/rejects.jsonl" | sort | tr '\n' ' ')" = "dev-e dev-f dev-g " ] && ok ||
  fail "csr: rejected ids: $(jq -r .device_id "$O/rejects.jsonl" | tr '\n' ' ')"
jq -e -s 'all(.[]; (.index | type) == "number" and (.reason | length) > 0)' "$O/rejects.jsonl" >/dev/null && ok ||
  fail "csr: reject lines: $(cat "$O/rejects.jsonl")"
head -1 "$O/rejects.jsonl" | grep -Eq '^\{"index":[0-9]+,"device_id":"[^"]+","reason":"[^"]+"\}$' && ok ||
  fail "csr: rejects line format: $(head -1 "$O/rejects.jsonl")"
jq -r 'select(.device_id == "dev-e") | .reason' "$O/rejects.jsonl" | grep -Eqi 'signature|proof' && ok ||
  fail "csr: dev-e reason: $(jq -r 'select(.device_id == "dev-e") | .reason' "$O/rejects.jsonl")"
jq -r 'select(.device_id == "dev-f") | .reason' "$O/rejects.jsonl" | grep -Eqi 'rsa-1024|key' && ok ||
  fail "csr: dev-f reason: $(jq -r 'select(.device_id == "dev-f") | .reason' "$O/rejects.jsonl")"
[ ! -e "$O/dev-e" ] && [ ! -e "$O/dev-f" ] && [ ! -e "$O/dev-g" ] && ok || fail "csr: outputs for rejected devices"
[ "$(sql "SELECT count(*) FROM certificates WHERE batch_id='b-csr' AND device_id IN ('dev-e','dev-f','dev-g')")" -eq 0 ] &&
  ok || fail "csr: store rows for rejected devices"
[ "$(sql "SELECT count(*) FROM batch_rejects WHERE batch_id='b-csr'")" -eq 3 ] && ok || fail "csr: batch_rejects rows"
for d in dev-a dev-b dev-c dev-d; do
  [ ! -e "$O/$d/key.pem" ] || fail "csr: $d has a key.pem (the key stays on the device)"
  key_matches "csr $d" "$T/$d.key" "$O/$d/cert.pem"
done
verify_certs "csr" "$O"/dev-*/cert.pem
certtool_verify "csr sample" "$O/dev-a/cert.pem"
openssl x509 -in "$O/dev-b/cert.pem" -noout -subject -nameopt RFC2253 | grep -q 'CN=dev-b,OU=Devices,O=Acme' && ok ||
  fail "csr: subject does not come from the profile"
common_outputs "csr" "$O" b-csr 4 7
# Resuming it issues nothing and still reports the rejects (exit 3).
check_mint "resume complete csr batch" 3 --resume b-csr

# The same as a JSONL file; one line's CSR fails to parse, one has a bad signature.
J=$T/csrs.jsonl
for d in j1 j2 j3; do
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=x" \
    -keyout "$T/$d.key" -out "$T/$d.csr" 2>/dev/null
  csr_jsonl_line "$d" "$T/$d.csr" >>"$J"
done
openssl req -in "$C/dev-e.der" -inform DER -out "$T/j-bad.csr" 2>/dev/null
csr_jsonl_line j-badsig "$T/j-bad.csr" >>"$J"
jq -cn '{device_id: "j-garbage", csr: "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n"}' >>"$J"
check_mint "csr jsonl with bad CSRs" 3 --ca factory --profile device-ldevid --csrs "$J" --out "$T/out-csrj" \
  --batch-id b-csrj
O=$T/out-csrj
[ "$(jq -r .device_id "$O/rejects.jsonl" | sort | tr '\n' ' ')" = "j-badsig j-garbage " ] && ok ||
  fail "csr jsonl: rejects: $(cat "$O/rejects.jsonl")"
[ "$(jq -r .device_id "$O/devices.jsonl" | tr '\n' ' ')" = "j1 j2 j3 " ] && ok ||
  fail "csr jsonl: issued: $(jq -r .device_id "$O/devices.jsonl" | tr '\n' ' ')"
jq -e -s 'all(.[]; has("key") | not)' "$O/devices.jsonl" >/dev/null && ok || fail "csr jsonl: devices.jsonl has keys"
jq -r 'select(.device_id == "j2") | .cert' "$O/devices.jsonl" >"$T/j2.crt"
key_matches "csr jsonl j2" "$T/j2.key" "$T/j2.crt"
verify_certs "csr jsonl" "$T/j2.crt"
common_outputs "csr jsonl" "$O" b-csrj 3 5

# --- --threads 2: the same result shape -------------------------------------------
check_mint "--threads 2" 0 --ca factory --profile device-idevid --count $N --id-pattern 'TT-{seq:04}' \
  --out "$T/out-t2" --format pem --threads 2 --batch-id b-t2
shape() { (cd "$1" && find . -type f | sed "s/$2-/X-/" | sort); }
[ "$(shape "$T/out-t2" TT)" = "$(shape "$T/out-pem" ACME)" ] && ok || fail "--threads 2: file layout differs from --threads 1"
verify_certs "threads 2" "$T"/out-t2/TT-*/cert.pem
[ "$(jq -r .device_id "$T/out-t2/manifest.jsonl" | tr '\n' ' ')" = "$(seq -f 'TT-%04g' 1 $N | tr '\n' ' ')" ] && ok ||
  fail "--threads 2: manifest not in batch order"
common_outputs "threads 2" "$T/out-t2" b-t2 $N

# --- --reissue: ids that hold a live certificate ------------------------------------
check_mint "live ids without --reissue" 2 --ca factory --profile device-idevid --count 5 \
  --id-pattern 'ACME-{seq:04}' --out "$T/out-live"
[ ! -e "$T/out-live" ] && ok || fail "refused batch created its output directory"
check_mint "--reissue" 0 --ca factory --profile device-idevid --count 5 --id-pattern 'ACME-{seq:04}' \
  --out "$T/out-reissue" --reissue --batch-id b-reissue
[ "$(sql "SELECT count(*) FROM certificates WHERE device_id='ACME-0003' AND status='issued'")" -ge 2 ] && ok ||
  fail "--reissue: ACME-0003 does not have a second certificate"
common_outputs "reissue" "$T/out-reissue" b-reissue 5

# --- kill -9 and --resume --------------------------------------------------------
K=3000
"$MINT" --home "$H" --passphrase-file "$PASS_FILE" --ca factory --profile device-idevid --count $K \
  --id-pattern 'KILL-{seq:05}' --out "$T/out-kill" --chunk 100 --batch-id b-kill >/dev/null 2>&1 &
pid=$!
for _ in $(seq 1 600); do
  [ -s "$T/out-kill/devices.jsonl" ] && break
  kill -0 "$pid" 2>/dev/null || break
  sleep 0.05
done
kill -9 "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
state=$(sql "SELECT state FROM batches WHERE id='b-kill'")
echo "kill -9: batch state '$state', $(sql "SELECT count(*) FROM certificates WHERE batch_id='b-kill' AND status='issued'") issued before resume"
check_mint "resume after kill -9" 0 --json --resume b-kill
# `already` counts every device issued before this run's signing, the recovered ones included.
jq -e --argjson k $K '.state == "complete" and .total == $k and (.issued + .already) == $k
  and .recovered <= .already' "$T/mint.out" >/dev/null && ok ||
  fail "resume after kill: $(cat "$T/mint.out")"
O=$T/out-kill
[ "$(wc -l <"$O/devices.jsonl")" -eq $K ] && ok || fail "resume after kill: devices.jsonl has $(wc -l <"$O/devices.jsonl") lines"
[ "$(jq -r .device_id "$O/devices.jsonl" | sort -u | wc -l)" -eq $K ] && ok || fail "resume after kill: devices repeated in devices.jsonl"
diff <(jq -r .serial "$O/devices.jsonl" | sort) \
  <(sql "SELECT serial_hex FROM certificates WHERE batch_id='b-kill' AND status='issued'" | sort) >/dev/null && ok ||
  fail "resume after kill: devices.jsonl serials differ from the store's issued rows"
common_outputs "kill -9" "$O" b-kill $K
mkdir -p "$T/kill"
for i in 1 1500 $K; do jq -r "select(.device_id == \"KILL-$(printf %05d $i)\") | .cert" "$O/devices.jsonl" >"$T/kill/$i.crt"; done
verify_certs "kill -9 sample" "$T"/kill/*.crt

# --- output on a terminal, help ---------------------------------------------------
if command -v script >/dev/null; then
  script -qec "'$MINT' --home '$H' --passphrase-file '$PASS_FILE' --ca factory --profile device-idevid --count 200 --id-pattern 'TTY-{seq}' --out '$T/out-tty' --chunk 20 --batch-id b-tty" /dev/null >"$T/tty.out" 2>&1 || true
  grep -q $'\r' "$T/tty.out" && grep -q '/200' "$T/tty.out" && ok || fail "no progress bar on a terminal: $(cat -v "$T/tty.out" | head -3)"
  grep -q 'batch b-tty complete: 200 issued' "$T/tty.out" && ok || fail "terminal run: $(cat -v "$T/tty.out" | tail -2)"
  script -qec "'$MINT' --home '$H' --passphrase-file '$PASS_FILE' --json --ca factory --profile device-idevid --count 20 --id-pattern 'TTJ-{seq}' --out '$T/out-ttyj' --chunk 5" /dev/null >"$T/ttyj.out" 2>&1 || true
  grep -q '/20' "$T/ttyj.out" && fail "--json on a terminal drew a progress bar" || ok
fi
out=$("$MINT" --help) && ok || fail "--help exit"
for w in '--count' '--ids' '--csrs' '--resume' 'p12' 'Exit codes' '--threads' 'number of cores' 'batches'; do
  grep -q -- "$w" <<<"$out" && ok || fail "--help does not mention $w"
done

finish
