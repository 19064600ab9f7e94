#!/usr/bin/env bash
# devpki-decommission and CRL generation, against `openssl ca -gencrl` and the
# crypto floor, in one run (machines here are noisy: only figures taken in the
# same run compare).
#
# Usage: bench/decommission_bench.sh [N] [--no-build]
#   N           devices (default 100000)
#   --no-build  use the build directory as it is
# Environment: BENCH_BUILD (build directory, default build/bench), BENCH_JOBS
# (ninja -j, default 1), ROUNDS (CRL rounds, default 3), TMPDIR (local disk).
#
# Steps, in a fresh home (root and issuing CA "factory", ec-p256, plaintext keys):
#   mint N devices (devpki-mint --threads 2, jsonl)          setup, not timed
#   devpki-ca crl --ca root                                  setup (the bundle needs it)
#   devpki-decommission --devices ids.txt (all N)            TIMED: revoke + mark + publish
#   then ROUNDS times, alternating:
#     devpki-ca crl --ca factory                             TIMED: N-entry CRL, whole process
#     openssl ca -gencrl over the same N serials, same key   TIMED: the peer
#   floor: `openssl dgst -sha256 -sign` over the CRL's DER   TIMED: hash + one signature
# Times are wall-clock seconds of whole processes (start-up, store, fsyncs
# included); the best of ROUNDS is reported for each CRL generator.
set -euo pipefail

N=100000
BUILD=1
for a in "$@"; do
  case "$a" in
    --no-build) BUILD=0 ;;
    -h | --help)
      sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
      exit 0
      ;;
    *)
      [[ "$a" =~ ^[0-9]+$ ]] && [ "$a" -gt 0 ] || {
        echo "decommission_bench.sh: '$a' is not a positive number" >&2
        exit 2
      }
      N=$a
      ;;
  esac
done
ROUNDS=${ROUNDS:-3}

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
B=${BENCH_BUILD:-$repo/build/bench}
for tool in jq sqlite3 openssl python3; do
  command -v $tool >/dev/null || {
    echo "decommission_bench.sh: needs $tool" >&2
    exit 2
  }
done

if [ $BUILD -eq 1 ]; then
  if [ ! -f "$B/build.ninja" ]; then
    cmake -S "$repo" -B "$B" -G Ninja -DCMAKE_BUILD_TYPE=Release -DDEVPKI_BUILD_TESTS=OFF >/dev/null
  fi
  cmake --build "$B" -j "${BENCH_JOBS:-1}" --target devpki-ca devpki-mint devpki-decommission >/dev/null
fi
CA=$B/devpki-ca
MINT=$B/devpki-mint
DECOM=$B/devpki-decommission

W=$(mktemp -d "${TMPDIR:-/tmp}/devpki-decom-bench.XXXXXX")
trap 'rm -rf "$W"' EXIT
H=$W/pki
export DEVPKI_PROFILES=$repo/profiles

now() { date +%s.%N; }
elapsed() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.3f}')" "$1" "$2"; }
ratio() { python3 -c "import sys; print(f'{float(sys.argv[1]) / float(sys.argv[2]):.2f}')" "$1" "$2"; }
best() { printf '%s\n' "$@" | sort -g | head -1; }

echo "== setup: $N devices"
"$CA" --home "$H" init --name root --subject "/O=Bench/CN=Bench Root" --key ec-p256 \
  --no-passphrase >/dev/null
"$CA" --home "$H" issue-ca --parent root --name factory --subject "/O=Bench/CN=Bench Factory" \
  --key ec-p256 --no-passphrase >/dev/null
"$CA" --home "$H" crl --ca root >/dev/null
"$MINT" --home "$H" --ca factory --profile device-idevid --count "$N" \
  --id-pattern 'DEV-{seq:08}' --out "$W/out" --threads 2 --batch-id bench --json >/dev/null
python3 -c "
import sys
n = int(sys.argv[1])
with open(sys.argv[2], 'w') as f:
    for i in range(1, n + 1):
        f.write(f'DEV-{i:08d}\n')" "$N" "$W/ids.txt"

echo "== devpki-decommission --devices (N=$N): revoke, mark, publish the CRL"
t0=$(now)
"$DECOM" --home "$H" --devices "$W/ids.txt" --json >"$W/decom.json"
t1=$(now)
decom_s=$(elapsed "$t0" "$t1")
revoked=$(jq .revoked "$W/decom.json")
entries=$(jq '.crls[0].entries' "$W/decom.json")
[ "$revoked" = "$N" ] && [ "$entries" = "$N" ] || {
  echo "decommission_bench.sh: expected $N revoked and $N CRL entries, got $revoked / $entries" >&2
  exit 1
}
openssl crl -in "$H/crl/factory.crl.pem" -CAfile <("$CA" --home "$H" chain --ca factory --no-root) \
  -noout 2>&1 | grep -q 'verify OK' || {
  echo "decommission_bench.sh: the published CRL does not verify" >&2
  exit 1
}

# The peer over the same serials, revocation times and reasons, with the same CA key.
P=$W/peer
mkdir -p "$P"
"$CA" --home "$H" chain --ca factory --no-root >"$P/ca.pem"
cp "$H/keys/factory.key.pem" "$P/ca.key"
sqlite3 -separator ' ' "$H/store.db" \
  "SELECT upper(serial_hex), substr(strftime('%Y%m%d%H%M%SZ', revoked_at, 'unixepoch'), 3),
          substr(strftime('%Y%m%d%H%M%SZ', not_after, 'unixepoch'), 3)
   FROM revocations WHERE issuer = 'factory'" |
  awk '{ printf "R\t%s\t%s,cessationOfOperation\t%s\tunknown\t/CN=d%d\n", $3, $2, $1, NR }' \
    >"$P/index.txt"
cat >"$P/ca.cnf" <<C
[ca]
default_ca=d
[d]
database=$P/index.txt
crlnumber=$P/crlnumber
default_md=sha256
default_crl_days=7
certificate=$P/ca.pem
private_key=$P/ca.key
C
echo 01 >"$P/crlnumber"

echo "== CRL generation over $N entries, $ROUNDS rounds"
ours=()
peer=()
for r in $(seq "$ROUNDS"); do
  t0=$(now)
  "$CA" --home "$H" crl --ca factory >/dev/null 2>&1
  t1=$(now)
  ours+=("$(elapsed "$t0" "$t1")")
  t0=$(now)
  openssl ca -config "$P/ca.cnf" -gencrl -out "$P/crl.pem" 2>/dev/null
  t1=$(now)
  peer+=("$(elapsed "$t0" "$t1")")
  echo "   round $r: devpki-ca crl ${ours[-1]} s, openssl ca -gencrl ${peer[-1]} s"
done
peer_entries=$(openssl crl -in "$P/crl.pem" -noout -text | grep -c 'Serial Number:')
[ "$peer_entries" = "$N" ] || {
  echo "decommission_bench.sh: openssl ca listed $peer_entries entries, not $N" >&2
  exit 1
}

# The floor: what any CRL signer must do at least (hash the to-be-signed list
# and sign once), over our CRL's own bytes.
openssl crl -in "$H/crl/factory.crl.pem" -outform DER -out "$W/crl.der"
floor=()
for r in $(seq "$ROUNDS"); do
  t0=$(now)
  openssl dgst -sha256 -sign "$P/ca.key" -out "$W/sig" "$W/crl.der"
  t1=$(now)
  floor+=("$(elapsed "$t0" "$t1")")
done

ours_b=$(best "${ours[@]}")
peer_b=$(best "${peer[@]}")
floor_b=$(best "${floor[@]}")
crl_bytes=$(stat -c %s "$H/crl/factory.crl")
echo
echo "devpki-decommission, $N devices (revoke + mark + publish CRL + bundle): ${decom_s} s" \
  "($(python3 -c "print(f'{$N / $decom_s:,.0f}')") devices/s; target < 3 s)"
echo "CRL generation, $N entries ($crl_bytes bytes DER), best of $ROUNDS:"
echo "  devpki-ca crl              ${ours_b} s  ($(python3 -c "print(f'{$N / $ours_b:,.0f}')") entries/s)"
echo "  openssl ca -gencrl         ${peer_b} s  (peer; devpki-ca crl is $(ratio "$peer_b" "$ours_b")x its speed)"
echo "  floor: hash + 1 signature  ${floor_b} s  (devpki-ca crl takes $(ratio "$ours_b" "$floor_b")x the floor)"
