#!/usr/bin/env bash
# The devpki demo: builds the tools, then in a fresh home on the embedded
# SQLite store creates a root CA, an issuing CA and a few signed device
# certificates, and checks each with `openssl verify -x509_strict`.
# Installs the Debian packages it needs when they are missing.
# Usage: scripts/demo.sh [HOME_DIR]   (default: ./demo-home, replaced if it exists)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/scripts/deps.sh" build
cmake -S "$here" -B "$here/build/release" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DDEVPKI_BUILD_TESTS=OFF -DDEVPKI_BUILD_BENCH=OFF >/dev/null
cmake --build "$here/build/release" -j "$(nproc)"
ca="$here/build/release/devpki-ca"

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

printf '\n\033[1mverifying with openssl verify -x509_strict\033[0m\n'
awk '/BEGIN/{n++} n==2' "$work/chain.pem" > "$work/root.pem"
for f in "$work"/ACME-*.pem; do
  openssl verify -x509_strict -CAfile "$work/root.pem" -untrusted "$work/chain.pem" "$f"
done
printf '\ndemo home: %s (CA keys encrypted in %s/keys)\n' "$home" "$DEVPKI_HOME"
