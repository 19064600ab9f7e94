#!/usr/bin/env bash
# devpki-renew against the signature floor, in one run (machines here are
# noisy: only ratios taken in the same run mean anything), and the plan over
# a large inventory.
#
# Usage: bench/renew_bench.sh [N] [N_PLAN] [--no-build]
#   N       certificates renewed with kept keys (default 100000)
#   N_PLAN  certificates in the inventory the plan reads (default 1000000;
#           0 skips it)
#   --no-build  use build/bench as it is
# Environment: FLOOR_N (iterations per floor, default 20000), BENCH_JOBS
# (ninja -j, default 1), BENCH_BUILD (build directory, default build/bench),
# TMPDIR (where the temporary homes go; local disk).
#
# Runs, on a home with root and issuing CA "factory" (ec-p256, plaintext
# keys) and N device-ldevid certificates minted by devpki-mint (P-256 keys;
# the profile renews when 33% of the year remains, jitter 24h):
#   floor                         bench/floor.cpp "sign": one ECDSA P-256 signature
#   renew run --threads 1         vs floor sign (target: at least 60%)
#   renew run --threads 2         vs 2 x floor sign
#   plan --within 30d over N_PLAN the minted rows copied in SQL to N_PLAN rows: a
#                                 fleet in steady state, half history (superseded,
#                                 expired) and half live with notAfter spread over
#                                 the year after their renewal window opens
#                                 (about 8% due within 30d; target: < 2 s)
# Each renewal run starts from a fresh copy of the minted home. Rates are
# certificates / wall-clock seconds of the whole devpki-renew process (start-up,
# plan, store commits and fsyncs included); the tool's own rate is beside it.
set -euo pipefail

N=100000
N_PLAN=1000000
BUILD=1
pos=0
for a in "$@"; do
  case "$a" in
    --no-build) BUILD=0 ;;
    -h | --help)
      sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
      exit 0
      ;;
    -*)
      echo "renew_bench.sh: unknown option $a" >&2
      exit 2
      ;;
    *)
      [[ "$a" =~ ^[0-9]+$ ]] || {
        echo "renew_bench.sh: '$a' is not a number" >&2
        exit 2
      }
      if [ $pos -eq 0 ]; then N=$a; else N_PLAN=$a; fi
      pos=$((pos + 1))
      ;;
  esac
done
[ "$N" -gt 0 ] || {
  echo "renew_bench.sh: N must be positive" >&2
  exit 2
}
FLOOR_N=${FLOOR_N:-20000}

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
B=${BENCH_BUILD:-$repo/build/bench}

for tool in jq awk sqlite3; do
  command -v $tool >/dev/null || {
    echo "renew_bench.sh: needs $tool" >&2
    exit 2
  }
done
[ -x /usr/bin/time ] || {
  echo "renew_bench.sh: needs /usr/bin/time (Debian package 'time')" >&2
  exit 2
}

if [ $BUILD -eq 1 ]; then
  if [ ! -f "$B/build.ninja" ]; then
    cmake -S "$repo" -B "$B" -G Ninja -DCMAKE_BUILD_TYPE=Release -DDEVPKI_BUILD_TESTS=OFF >/dev/null
  fi
  ninja -C "$B" -j"${BENCH_JOBS:-1}" devpki-ca devpki-mint devpki-renew floor >/dev/null
fi
CA=$B/devpki-ca
MINT=$B/devpki-mint
RENEW=$B/devpki-renew
FLOOR=$B/bench/floor
for f in "$CA" "$MINT" "$RENEW" "$FLOOR"; do
  [ -x "$f" ] || {
    echo "renew_bench.sh: $f is missing (build it, or drop --no-build)" >&2
    exit 2
  }
done

W=$(mktemp -d "${TMPDIR:-/tmp}/devpki-renew-bench.XXXXXX")
trap 'rm -rf "$W"' EXIT
calc() { awk "BEGIN { printf \"%s\", $* }"; }
fmt() { awk -v x="$1" -v p="${2:-0}" 'BEGIN { printf "%.*f", p, x }'; }
verdict() { if [ "$(calc "($1) ? 1 : 0")" = 1 ]; then echo PASS; else echo MISS; fi; }

echo "== devpki-renew benchmark: N=$N, N_PLAN=$N_PLAN, floor N=$FLOOR_N"
echo "   machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); build $B"

# ---- the inventory ------------------------------------------------------------------
unset DEVPKI_HOME DEVPKI_PASSPHRASE
"$CA" --home "$W/home" init --name root --subject "/O=Acme/CN=Acme Bench Root" --key ec-p256 \
  --no-passphrase >/dev/null 2>&1
"$CA" --home "$W/home" issue-ca --parent root --name factory --subject "/O=Acme/CN=Acme Bench Factory" \
  --key ec-p256 --no-passphrase >/dev/null 2>&1
echo "minting $N device-ldevid certificates (setup, not timed)..."
"$MINT" --home "$W/home" --ca factory --profile device-ldevid --count "$N" --id-pattern 'R-{seq:08}' \
  --threads "$(nproc)" --out "$W/minted" --json >/dev/null
rm -rf "$W/minted"

# ---- floor -----------------------------------------------------------------------------
"$FLOOR" "$FLOOR_N" | tee "$W/floor"
floor_of() { awk -v w="$1" '{ r=$NF; sub(/\/s$/, "", r); $1=""; $NF=""; gsub(/^ +| +$/, ""); if ($0 == w) print r }' "$W/floor"; }
FS=$(floor_of "sign")

# renew LABEL THREADS: one run on a fresh copy; sets ELAPSED, RATE, TOOL_RATE.
renew() {
  local label=$1 threads=$2 h=$W/home-$1 out=$W/out-$1 rc=0
  rm -rf "$h" "$out"
  cp -a "$W/home" "$h"
  sync
  # 33% of a year before notAfter is 120 days after issuance: everything
  # minted now is due within 366 days.
  /usr/bin/time -f '%e %M' -o "$W/time-$label" \
    "$RENEW" --home "$h" run --within 366d --profile device-ldevid --threads "$threads" \
    --out "$out" --json >"$W/json-$label" 2>"$W/err-$label" || rc=$?
  if [ $rc -ne 0 ]; then
    echo "renew_bench.sh: $label: devpki-renew exited $rc:" >&2
    tail -5 "$W/err-$label" >&2
    exit 1
  fi
  read -r ELAPSED RSS_KB < <(tail -1 "$W/time-$label")
  TOOL_RATE=$(jq -r '.rate // 0' "$W/json-$label")
  local issued superseded
  issued=$(jq -r '.issued' "$W/json-$label")
  superseded=$(sqlite3 "$h/store.db" "SELECT count(*) FROM certificates WHERE status = 'superseded'")
  if [ "$issued" != "$N" ] || [ "$superseded" != "$N" ]; then
    echo "renew_bench.sh: $label: issued $issued, superseded $superseded, expected $N" >&2
    exit 1
  fi
  RATE=$(calc "$N / ($ELAPSED > 0 ? $ELAPSED : 0.01)")
  rm -rf "$h" "$out"
}

row() { printf '%-24s %9s certs %8ss %10s/s (tool %s/s) %s  peak RSS %s MiB\n' "$@"; }
renew t1 1
R1=$RATE
row "renew --threads 1" "$N" "$ELAPSED" "$(fmt "$R1")" "$(fmt "$TOOL_RATE")" \
  "= $(fmt "$(calc "$R1 / $FS")" 3) x floor sign" "$(fmt "$(calc "$RSS_KB / 1024")" 1)"
renew t2 2
R2=$RATE
row "renew --threads 2" "$N" "$ELAPSED" "$(fmt "$R2")" "$(fmt "$TOOL_RATE")" \
  "= $(fmt "$(calc "$R2 / (2 * $FS)")" 3) x 2 x floor sign" "$(fmt "$(calc "$RSS_KB / 1024")" 1)"

# ---- plan over a large inventory ------------------------------------------------------
PLAN_S=0
if [ "$N_PLAN" -gt 0 ]; then
  h=$W/home-plan
  cp -a "$W/home" "$h"
  copies=$(((N_PLAN + N - 1) / N))
  echo "building a $N_PLAN-certificate inventory ($copies copies of the minted rows)..."
  now=$(date +%s)
  sqlite3 "$h/store.db" >/dev/null <<SQL
PRAGMA journal_mode = WAL;
CREATE TEMP TABLE k (n INTEGER PRIMARY KEY);
WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < $copies - 1) INSERT INTO k SELECT n FROM c;
INSERT INTO certificates (issuer, serial_hex, device_id, profile, batch_id, subject, not_before,
                          not_after, spki_sha256, status, output, der, created_at, updated_at,
                          batch_index)
  SELECT issuer, serial_hex || printf('%06x', k.n), device_id || '-' || (k.n / 2), profile, NULL,
         subject,
         CASE WHEN k.n % 2 = 0 THEN $now - (1 + (k.n * 7919 + batch_index) % 365) * 86400
              ELSE $now + (120 + (k.n * 7919 + batch_index) % 365) * 86400 END - 31536000 - 300,
         CASE WHEN k.n % 2 = 0 THEN $now - (1 + (k.n * 7919 + batch_index) % 365) * 86400
              ELSE $now + (120 + (k.n * 7919 + batch_index) % 365) * 86400 END,
         spki_sha256, CASE WHEN k.n % 2 = 0 THEN 'superseded' ELSE 'issued' END,
         output, der, created_at, updated_at, NULL
  FROM certificates, k
  WHERE certificates.batch_id IS NOT NULL
  LIMIT $N_PLAN - $N;
ANALYZE;
SQL
  rows=$(sqlite3 "$h/store.db" "SELECT count(*) FROM certificates")
  best=999
  for i in 1 2 3; do
    /usr/bin/time -f '%e' -o "$W/time-plan" "$RENEW" --home "$h" plan --within 30d --json >"$W/plan.json"
    s=$(tail -1 "$W/time-plan")
    best=$(calc "$s < $best ? $s : $best")
  done
  PLAN_S=$best
  due=$(jq '.due | length' "$W/plan.json")
  echo "plan --within 30d over $rows certificates: best of 3 $(fmt "$PLAN_S" 2) s, $due due"
fi

echo
echo "| target | measured | result |"
echo "| --- | --- | --- |"
echo "| renew $N kept keys, 1 thread >= 60% of floor sign (one core) | $(fmt "$R1")/s vs $(fmt "$FS")/s = $(fmt "$(calc "100 * $R1 / $FS")" 1)% | $(verdict "$R1 >= 0.6 * $FS") |"
echo "| renew $N kept keys, 2 threads >= 60% of floor sign (one core) | $(fmt "$R2")/s vs $(fmt "$FS")/s = $(fmt "$(calc "100 * $R2 / $FS")" 1)% | $(verdict "$R2 >= 0.6 * $FS") |"
echo "| (for reference) 2 threads vs 2 x floor sign | $(fmt "$R2")/s vs $(fmt "$(calc "2 * $FS")")/s = $(fmt "$(calc "50 * $R2 / $FS")" 1)% | - |"
if [ "$N_PLAN" -gt 0 ]; then
  echo "| plan over $rows certificates < 2 s | $(fmt "$PLAN_S" 2) s | $(verdict "$PLAN_S < 2") |"
fi
echo "load after the runs: $(cut -d' ' -f1-3 /proc/loadavg)"
