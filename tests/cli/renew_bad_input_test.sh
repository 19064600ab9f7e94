#!/usr/bin/env bash
# devpki-renew refusals: each bad input is refused with a clear message and
# the exit code for it, and leaves the store, every file of the home and the
# work directory (where --out would go) exactly as they were.
source "$(dirname "$0")/lib.sh"
: "${MINT:?run through ctest (DEVPKI_MINT unset)}"
RENEW=${DEVPKI_RENEW:?run through ctest (DEVPKI_RENEW unset)}

H=$T/h
new_home "$H"
W=$T/work
mkdir -p "$W"
# Two profiles with due certificates (one run renews one CA/profile pair).
for p in fleet fleet-forbid; do
  rekey=allowed
  [ $p = fleet-forbid ] && rekey=forbidden
  sed -e "s/^name: device-ldevid/name: $p/" -e 's/^validity: 1y/validity: 10d/' \
    -e 's/^  renew_before: 33%/  renew_before: 2d/' -e "s/^  rekey: allowed/  rekey: $rekey/" \
    "$H/profiles/device-ldevid.yaml" >"$H/profiles/$p.yaml"
done
"$MINT" --home "$H" --passphrase-file "$PASS_FILE" --ca factory --profile fleet --count 3 \
  --id-pattern 'F-{seq}' --out "$T/m1" --batch-id m1 >/dev/null
"$MINT" --home "$H" --passphrase-file "$PASS_FILE" --ca factory --profile fleet-forbid --count 2 \
  --id-pattern 'G-{seq}' --out "$T/m2" --batch-id m2 >/dev/null
mkdir -p "$W/full" && echo x >"$W/full/file"
csr_openssl "$T/F-1.csr" ec:P-256 -subj "/O=Acme/OU=Devices/CN=F-1"
mkdir -p "$T/csrs" && cp "$T/F-1.csr" "$T/csrs/"
printf '{"device_id": "F-1"\n' >"$T/bad.jsonl"
{ csr_jsonl_line F-1 "$T/F-1.csr"; csr_jsonl_line F-1 "$T/F-1.csr"; } >"$T/twice.jsonl"
printf 'wrong\n' >"$T/wrong-pass"

r() { expect_rejected "$H" "$W" "$@"; }
R=("$RENEW" --home "$H")
RUN=(run --within 9d --profile fleet --passphrase-file "$PASS_FILE")

# Usage (exit 1).
r "no subcommand" 1 'subcommand' -- "${R[@]}"
r "run without --out" 1 '--out DIR is required' -- "${R[@]}" run --within 9d
r "run --resume with selectors" 1 'excludes' -- "${R[@]}" run --resume x --profile fleet
r "unknown option" 1 'unknown|not expected|extras' -- "${R[@]}" plan --bogus
r "threads out of range" 1 'threads' -- "${R[@]}" run --threads 0 --out "$W/o"

# Refused input (exit 2).
r "bad --within" 2 '--within: .*duration|--within' -- "${R[@]}" plan --within 30days
r "negative-looking --within" 2 '--within' -- "${R[@]}" plan --within -3d
r "bad --at" 2 '--at' -- "${R[@]}" plan --at yesterday
r "unknown CA" 2 "nope" -- "${R[@]}" plan --ca nope
r "unknown profile" 2 "nope" -- "${R[@]}" plan --profile nope
r "CA profile" 2 'devpki-ca rollover' -- "${R[@]}" plan --profile issuing-ca
r "unknown batch" 2 'no batch b-404' -- "${R[@]}" plan --batch b-404
r "no home" 2 'no devpki home at' -- "$RENEW" --home "$T/none" plan
r "two CA/profile pairs" 2 'span 2 CA/profile pairs.*--profile fleet.*--profile fleet-forbid' -- \
  "${R[@]}" run --within 9d --out "$W/o" --passphrase-file "$PASS_FILE"
r "two pairs (dry run too)" 2 'span 2' -- "${R[@]}" run --within 9d --dry-run
r "p12" 2 'p12 bundles a private key' -- "${R[@]}" "${RUN[@]}" --out "$W/o" --format p12
r "unknown format" 2 'format' -- "${R[@]}" "${RUN[@]}" --out "$W/o" --format der
r "output directory not empty" 2 'not empty|exists' -- "${R[@]}" "${RUN[@]}" --out "$W/full"
r "malformed CSR jsonl" 2 'bad.jsonl' -- "${R[@]}" "${RUN[@]}" --out "$W/o" --csrs "$T/bad.jsonl"
r "a device with two CSRs" 2 'F-1 has two CSRs' -- "${R[@]}" "${RUN[@]}" --out "$W/o" --csrs "$T/twice.jsonl"
r "missing CSR input" 2 'expected a directory of CSR files or a .jsonl file' -- "${R[@]}" "${RUN[@]}" --out "$W/o" --csrs "$T/nothing"
r "CSRs for rekey: forbidden" 2 'rekey: forbidden' -- \
  "${R[@]}" run --within 9d --profile fleet-forbid --out "$W/o" --csrs "$T/csrs" --passphrase-file "$PASS_FILE"
r "bad --batch-id" 2 'batch id|batch-id' -- "${R[@]}" "${RUN[@]}" --out "$W/o" --batch-id 'a b'
r "batch id taken" 2 'already exists' -- "${R[@]}" "${RUN[@]}" --out "$W/o" --batch-id m1
r "wrong CA passphrase" 2 'factory' -- "${R[@]}" run --within 9d --profile fleet --out "$W/o" --passphrase-file "$T/wrong-pass"
r "resume an unknown batch" 2 'no batch' -- "${R[@]}" run --resume nope --passphrase-file "$PASS_FILE"
r "resume a mint batch" 2 'not a renewal batch.*devpki-mint --resume m1' -- "${R[@]}" run --resume m1 --passphrase-file "$PASS_FILE"

# Nothing was renewed by any of them.
if [ "$(sqlite3 "$H/store.db" "SELECT count(*) FROM certificates WHERE status = 'superseded'")" = 0 ]; then ok; else
  fail "something was superseded"
fi
finish
