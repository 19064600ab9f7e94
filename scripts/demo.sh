#!/usr/bin/env bash
# The devpki demo: builds the tools, then in a fresh home on the embedded
# SQLite store creates a root CA, an issuing CA and a few signed device
# certificates, mints a factory batch of 10,000 device identities with
# devpki-mint, checks certificates with `openssl verify -x509_strict`, then
# decommissions two devices with devpki-decommission and shows that
# `openssl verify -crl_check_all` refuses them with the published CRLs; then
# rolls the issuing CA over and renews a batch of operational identities
# with devpki-renew (kept keys), checked against the successor's chain; last,
# carries out provisioning methods with devpki-provision: a factory identity
# exchanged for an operational one (enroll), a device registered from its
# certificate (jitp), a one-time token redeemed, and a QR onboarding label.
# Installs the Debian packages it needs when they are missing.
# Usage: scripts/demo.sh [HOME_DIR]   (default: ./demo-home, replaced if it exists)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/scripts/deps.sh" build
cmake -S "$here" -B "$here/build/release" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DDEVPKI_BUILD_TESTS=OFF -DDEVPKI_BUILD_BENCH=OFF >/dev/null
cmake --build "$here/build/release" -j "$(nproc)"
ca="$here/build/release/devpki-ca"
mint="$here/build/release/devpki-mint"
decommission="$here/build/release/devpki-decommission"
renew="$here/build/release/devpki-renew"
provision="$here/build/release/devpki-provision"

home=$(realpath -m "${1:-demo-home}")
rm -rf "$home"
work="$home/demo"
mkdir -p "$work"
export DEVPKI_HOME="$home/pki"
# A demo passphrase; a real home takes it from a file only its operator can read.
umask 077
printf 'demo passphrase - change me\n' > "$work/passphrase"
umask 022
step() { printf '\n\033[1m$ %s\033[0m\n' "$*"; "$@"; }

step "$ca" init --name root --subject "/O=Acme/CN=Acme Root CA" --key ec-p384 --passphrase-file "$work/passphrase"
step "$ca" issue-ca --parent root --name factory --subject "/O=Acme/CN=Acme Factory CA" --passphrase-file "$work/passphrase"
step "$ca" chain --ca factory --out "$work/chain.pem"

for i in 1 2 3; do
  id=$(printf 'ACME-%06d' "$i")
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$id" \
    -keyout "$work/$id.key" -out "$work/$id.csr" 2>/dev/null
  step "$ca" sign --ca factory --profile device-ldevid --csr "$work/$id.csr" --device-id "$id" \
    --out "$work/$id.pem" --passphrase-file "$work/passphrase"
done
step "$ca" list
step "$ca" list --certs

# The factory line: 10,000 IDevIDs (keys generated here), streamed as JSONL.
step "$mint" --ca factory --profile device-idevid --count 10000 --id-pattern 'ACME-F{seq:06}' \
  --out "$work/batch" --batch-id demo-batch --threads "$(nproc)" --passphrase-file "$work/passphrase"
step "$mint" batches
(cd "$work/batch" && step sha256sum --quiet -c SHA256SUMS && echo "SHA256SUMS: OK")

printf '\n\033[1mverifying with openssl verify -x509_strict\033[0m\n'
awk '/BEGIN/{n++} n==2' "$work/chain.pem" > "$work/root.pem"
for f in "$work"/ACME-*.pem; do
  openssl verify -x509_strict -CAfile "$work/root.pem" -untrusted "$work/chain.pem" "$f"
done
# The first, a middle and the last device of the batch (by device id: with
# several threads, devices.jsonl is in the order the chunks finished).
for n in 1 5000 10000; do
  id=$(printf 'ACME-F%06d' "$n")
  jq -r "select(.device_id == \"$id\") | .cert" "$work/batch/devices.jsonl" > "$work/batch-$n.pem"
  printf 'device %s: ' "$id"
  openssl verify -x509_strict -CAfile "$work/root.pem" -untrusted "$work/chain.pem" "$work/batch-$n.pem"
done
# Retiring devices: revoke, mark decommissioned, publish the CRLs. The root's
# CRL is published once (its key comes out of the safe rarely): servers that
# check the whole chain (nginx ssl_crl) need a CRL for every CA.
step "$ca" crl --ca root --passphrase-file "$work/passphrase"
printf 'ACME-F000001\nACME-000002\n' > "$work/retired.txt"
step "$decommission" --devices "$work/retired.txt" --reason cessationOfOperation \
  --passphrase-file "$work/passphrase"
step "$ca" crl-status
printf '\n\033[1mverifying with openssl verify -crl_check_all (the chain bundle of CRLs)\033[0m\n'
# Expected: the two decommissioned devices refused, the others still accepted.
for pair in batch-1:refused ACME-000002:refused batch-5000:accepted ACME-000001:accepted; do
  f="$work/${pair%%:*}.pem" want=${pair##*:}
  got=accepted
  openssl verify -x509_strict -crl_check_all -CAfile "$work/root.pem" -untrusted "$work/chain.pem" \
    -CRLfile "$DEVPKI_HOME/crl/factory-chain.crl.pem" "$f" >"$work/verify.out" 2>&1 || got=refused
  printf '%s: %s %s\n' "${pair%%:*}" "$got" "$(grep -o 'certificate revoked' "$work/verify.out" | head -1)"
  [ "$got" = "$want" ] || { echo "demo: expected ${pair%%:*} to be $want" >&2; exit 1; }
done
# Rotation: 1,000 operational identities (device-ldevid: 1 year, renewed when a
# third of it remains), the issuing CA rolled over, then the renewal that is
# due in ~245 days run now with a look-ahead: the successor issues, same keys.
step "$mint" --ca factory --profile device-ldevid --count 1000 --id-pattern 'ACME-L{seq:06}' \
  --out "$work/ldevids" --batch-id demo-ldevid --passphrase-file "$work/passphrase"
step "$ca" rollover --ca factory --name factory-g2 --passphrase-file "$work/passphrase"
printf '\n\033[1m$ %s\033[0m\n' "$renew plan --within 250d --batch demo-ldevid --json | jq '{due: (.due | length), groups}'"
"$renew" plan --within 250d --batch demo-ldevid --json > "$work/plan.json"
jq -c '{due: (.due | length), groups}' "$work/plan.json"
step "$renew" run --within 250d --batch demo-ldevid --out "$work/renewed" --batch-id demo-renew \
  --passphrase-file "$work/passphrase"
step "$ca" chain --ca factory-g2 --out "$work/chain-g2.pem"
printf '\n\033[1mverifying renewed identities against the successor chain\033[0m\n'
for n in 1 1000; do
  line=$(sed -n "${n}p" "$work/renewed/devices.jsonl")
  jq -r .cert <<<"$line" > "$work/renewed-$n.pem"
  id=$(jq -r .device_id <<<"$line")
  jq -r "select(.device_id == \"$id\") | .cert" "$work/ldevids/devices.jsonl" > "$work/old-$n.pem"
  printf 'device %s: ' "$id"
  openssl verify -x509_strict -CAfile "$work/root.pem" -untrusted "$work/chain-g2.pem" "$work/renewed-$n.pem"
  old_key=$(openssl x509 -in "$work/old-$n.pem" -noout -pubkey)
  new_key=$(openssl x509 -in "$work/renewed-$n.pem" -noout -pubkey)
  [ "$old_key" = "$new_key" ] || { echo "demo: device $id did not keep its key" >&2; exit 1; }
  printf '  issuer: %s, same key as before\n' "$(openssl x509 -in "$work/renewed-$n.pem" -noout -issuer -nameopt RFC2253 | sed 's/^issuer=//')"
done

# Provisioning. An operations CA issues operational identities (LDevIDs); the
# factory CA's IDevIDs (the 10k batch, issued before the rollover) are
# accepted as bootstrap credentials.
step "$ca" issue-ca --parent root --name operations --subject "/O=Acme/CN=Acme Operations CA" \
  --passphrase-file "$work/passphrase"
step "$ca" chain --ca operations --out "$work/chain-ops.pem"
step "$ca" trust add --bootstrap --ca factory
prov="$work/provision"
mkdir -p "$prov"
for id in ACME-F000002 ACME-F000001; do
  jq -r "select(.device_id == \"$id\") | .cert" "$work/batch/devices.jsonl" > "$prov/$id-idevid.pem"
  (umask 077; jq -r "select(.device_id == \"$id\") | .key" "$work/batch/devices.jsonl" > "$prov/$id-idevid.key")
  # On the device: a new key for the operational identity, its CSR, and the
  # CSR signed with the IDevID key (the proof that it holds the IDevID).
  openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$id" \
    -keyout "$prov/$id-ldevid.key" -out "$prov/$id-ldevid.csr" 2>/dev/null
  openssl dgst -sha256 -sign "$prov/$id-idevid.key" -out "$prov/$id.sig" "$prov/$id-ldevid.csr"
done
step "$provision" enroll --bootstrap "$prov/ACME-F000002-idevid.pem" --csr "$prov/ACME-F000002-ldevid.csr" \
  --proof "$prov/ACME-F000002.sig" --ca operations --profile device-ldevid \
  --out "$prov/ACME-F000002-ldevid.pem" --passphrase-file "$work/passphrase"
printf 'LDevID: '
openssl verify -x509_strict -CAfile "$work/root.pem" -untrusted "$work/chain-ops.pem" "$prov/ACME-F000002-ldevid.pem"
# ACME-F000001 was decommissioned above: its IDevID is refused.
printf '\n\033[1m$ %s\033[0m\n' "$provision enroll --bootstrap ACME-F000001-idevid.pem ...   (decommissioned: refused)"
if "$provision" enroll --bootstrap "$prov/ACME-F000001-idevid.pem" --csr "$prov/ACME-F000001-ldevid.csr" \
    --proof "$prov/ACME-F000001.sig" --ca operations --out "$prov/ACME-F000001-ldevid.pem" \
    --passphrase-file "$work/passphrase"; then
  echo "demo: a decommissioned device's IDevID was accepted" >&2; exit 1
fi
# Just-in-time provisioning: a template for this batch's identities.
cat > "$prov/demo-fleet.yaml" <<'YAML'
name: demo-fleet
trust: [factory]
conditions:
  - {field: subject.O, equals: Acme}
  - {field: subject.CN, matches: "ACME-F[0-9]{6}"}
  - {field: eku, contains: clientAuth}
attributes:
  device_id: "{subject.serialNumber}"
  line: {field: subject.CN, pattern: "ACME-([A-Z])[0-9]+"}
  tenant: acme
YAML
jq -r 'select(.device_id == "ACME-F000003") | .cert' "$work/batch/devices.jsonl" > "$prov/ACME-F000003.pem"
step "$provision" jitp --template "$prov/demo-fleet.yaml" --cert "$prov/ACME-F000003.pem"
step "$provision" jitp --template "$prov/demo-fleet.yaml" --cert "$prov/ACME-F000003.pem"
# Token/PSK for a prototype: a one-time token, redeemed once for a certificate.
printf '\n\033[1m$ %s\033[0m\n' "$provision token issue --device PROTO-0001 --ttl 24h --ca operations > token.txt"
"$provision" token issue --device PROTO-0001 --ttl 24h --ca operations > "$prov/token.txt"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=PROTO-0001 \
  -keyout "$prov/proto.key" -out "$prov/proto.csr" 2>/dev/null
step "$provision" token redeem --token - --csr "$prov/proto.csr" --out "$prov/PROTO-0001.pem" \
  --passphrase-file "$work/passphrase" < "$prov/token.txt"
printf '\n\033[1m$ %s\033[0m\n' "$provision token redeem --token - ...   (the same token again: refused)"
if "$provision" token redeem --token - --csr "$prov/proto.csr" --out "$prov/PROTO-0001-again.pem" \
    --passphrase-file "$work/passphrase" < "$prov/token.txt"; then
  echo "demo: a token was redeemed twice" >&2; exit 1
fi
# QR onboarding: a label for device ACME-F000004, as text for this terminal.
step "$provision" qr --device ACME-F000004 --ca operations --endpoint https://enroll.acme.example/v1 \
  --format text --out "$prov/ACME-F000004-label.txt"
cat "$prov/ACME-F000004-label.txt"
step "$provision" token list --kind all

printf '\ndemo home: %s (CA keys encrypted in %s/keys)\n' "$home" "$DEVPKI_HOME"
