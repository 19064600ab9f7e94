#!/usr/bin/env bash
# devpki-mint against its crypto floors, in one run (machines here are noisy:
# only ratios taken in the same run mean anything).
#
# Usage: bench/mint_bench.sh [N] [N_BIG] [--peers] [--no-build]
#   N       devices per count-mode run (default 100000)
#   N_BIG   the big run (default 0 = skipped; the target is 1000000)
#   --peers afterwards, run ../shared/bench/mint_peers.sh (relative to the
#           repository) when it exists, for side-by-side figures
#   --no-build  use build/bench as it is
# Environment: N_CSR (CSR-mode devices, default min(N, 50000)), FLOOR_N
# (iterations per floor, default 20000), BENCH_JOBS (ninja -j, default 1),
# BENCH_BUILD (build directory, default build/bench), TMPDIR (where the
# temporary homes and outputs go; local disk).
#
# Runs, each in a fresh copy of the same home (root and issuing CA "factory",
# both ec-p256, plaintext keys), P-256 server-side keys, jsonl output:
#   floor                      bench/floor.cpp: keygen+sign, x2, csr-verify+sign
#   mint N --threads 1         vs floor keygen+sign
#   mint N --threads 2         vs --threads 1 (and vs floor x2)
#   mint --csrs (N_CSR)        vs floor csr-verify+sign, --threads 1
#   mint N_BIG --threads 2     elapsed and peak RSS (optional)
# Rates are devices / wall-clock seconds of the whole devpki-mint process
# (start-up, validation, store commits and fsyncs included); the rate the tool
# reports itself (--json "rate") is printed beside it. Peak RSS is
# /usr/bin/time's maximum resident set size (%M).
set -euo pipefail

N=100000
N_BIG=0
PEERS=0
BUILD=1
pos=0
for a in "$@"; do
  case "$a" in
    --peers) PEERS=1 ;;
    --no-build) BUILD=0 ;;
    -h | --help)
      sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
      exit 0
      ;;
    -*)
      echo "mint_bench.sh: unknown option $a" >&2
      exit 2
      ;;
    *)
      [[ "$a" =~ ^[0-9]+$ ]] || {
        echo "mint_bench.sh: '$a' is not a number" >&2
        exit 2
      }
      if [ $pos -eq 0 ]; then N=$a; else N_BIG=$a; fi
      pos=$((pos + 1))
      ;;
  esac
done
[ "$N" -gt 0 ] || {
  echo "mint_bench.sh: N must be positive" >&2
  exit 2
}
N_CSR=${N_CSR:-$((N < 50000 ? N : 50000))}
FLOOR_N=${FLOOR_N:-20000}

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
B=${BENCH_BUILD:-$repo/build/bench}

for tool in jq awk; do
  command -v $tool >/dev/null || {
    echo "mint_bench.sh: needs $tool" >&2
    exit 2
  }
done
[ -x /usr/bin/time ] || {
  echo "mint_bench.sh: needs /usr/bin/time (Debian package 'time') for elapsed time and peak RSS" >&2
  exit 2
}

if [ $BUILD -eq 1 ]; then
  if [ ! -f "$B/build.ninja" ]; then
    cmake -S "$repo" -B "$B" -G Ninja -DCMAKE_BUILD_TYPE=Release -DDEVPKI_BUILD_TESTS=OFF >/dev/null
  fi
  ninja -C "$B" -j"${BENCH_JOBS:-1}" devpki-ca devpki-mint floor >/dev/null
fi
CA=$B/devpki-ca
MINT=$B/devpki-mint
FLOOR=$B/bench/floor
for f in "$CA" "$MINT" "$FLOOR"; do
  [ -x "$f" ] || {
    echo "mint_bench.sh: $f is missing (build it, or drop --no-build)" >&2
    exit 2
  }
done

W=$(mktemp -d "${TMPDIR:-/tmp}/devpki-mint-bench.XXXXXX")
trap 'rm -rf "$W"' EXIT

# ---- helpers ----------------------------------------------------------------
calc() { awk "BEGIN { printf \"%s\", $* }"; }
fmt() { awk -v x="$1" -v p="${2:-0}" 'BEGIN { printf "%.*f", p, x }'; }
# verdict OK_EXPR: PASS or MISS
verdict() { if [ "$(calc "($1) ? 1 : 0")" = 1 ]; then echo PASS; else echo MISS; fi; }

# Template home, copied fresh for every run so each run starts with an empty store.
unset DEVPKI_HOME DEVPKI_PASSPHRASE
"$CA" --home "$W/home" init --name root --subject "/O=Acme/CN=Acme Bench Root" --key ec-p256 \
  --no-passphrase >/dev/null 2>&1
"$CA" --home "$W/home" issue-ca --parent root --name factory --subject "/O=Acme/CN=Acme Bench Factory" \
  --key ec-p256 --no-passphrase >/dev/null 2>&1

# mint LABEL N ARGS...: one devpki-mint run in a fresh home; sets ELAPSED,
# RSS_KB, RATE (wall), TOOL_RATE (--json) and checks the outputs' line count.
mint() {
  local label=$1 n=$2
  shift 2
  local h=$W/home-$label out=$W/out-$label rc=0
  rm -rf "$h" "$out"
  cp -a "$W/home" "$h"
  sync
  /usr/bin/time -f '%e %M' -o "$W/time-$label" \
    "$MINT" --home "$h" --ca factory --out "$out" --format jsonl --json "$@" \
    >"$W/json-$label" 2>"$W/err-$label" || rc=$?
  if [ $rc -ne 0 ]; then
    echo "mint_bench.sh: $label: devpki-mint exited $rc:" >&2
    tail -5 "$W/err-$label" >&2
    exit 1
  fi
  read -r ELAPSED RSS_KB < <(tail -1 "$W/time-$label")
  TOOL_RATE=$(jq -r '.rate // 0' "$W/json-$label")
  local issued lines
  issued=$(jq -r '.issued' "$W/json-$label")
  lines=$(wc -l <"$out/devices.jsonl")
  if [ "$issued" != "$n" ] || [ "$lines" != "$n" ]; then
    echo "mint_bench.sh: $label: issued $issued, devices.jsonl has $lines lines, expected $n" >&2
    exit 1
  fi
  RATE=$(calc "$n / ($ELAPSED > 0 ? $ELAPSED : 0.01)")
  rm -rf "$h" "$out"
}

# ---- floors -----------------------------------------------------------------
echo "== devpki-mint benchmark: N=$N, N_CSR=$N_CSR, N_BIG=$N_BIG, floor N=$FLOOR_N"
echo "   machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); build $B"
"$FLOOR" "$FLOOR_N" | tee "$W/floor"
floor_of() { awk -v w="$1" '{ r=$NF; sub(/\/s$/, "", r); $1=""; $NF=""; gsub(/^ +| +$/, ""); if ($0 == w) print r }' "$W/floor"; }
F1=$(floor_of "keygen+sign")
F2=$(floor_of "keygen+sign x2")
FC=$(floor_of "csr-verify+sign")

echo "generating $N_CSR CSRs..."
"$FLOOR" --gen-csrs "$N_CSR" "$W/csrs.jsonl" CSR-

# ---- devpki-mint runs -----------------------------------------------------------
row() { printf '%-22s %9s devices %8ss %10s/s (tool %s/s) %s  peak RSS %s MiB\n' "$@"; }

mint t1 "$N" --profile device-idevid --count "$N" --id-pattern 'T1-{seq:08}' --threads 1
R1=$RATE E1=$ELAPSED M1=$RSS_KB T1=$TOOL_RATE
row "mint --threads 1" "$N" "$E1" "$(fmt "$R1")" "$(fmt "$T1")" \
  "= $(fmt "$(calc "$R1 / $F1")" 3) x floor keygen+sign" "$(fmt "$(calc "$M1 / 1024")" 1)"

mint t2 "$N" --profile device-idevid --count "$N" --id-pattern 'T2-{seq:08}' --threads 2
R2=$RATE E2=$ELAPSED M2=$RSS_KB T2=$TOOL_RATE
row "mint --threads 2" "$N" "$E2" "$(fmt "$R2")" "$(fmt "$T2")" \
  "= $(fmt "$(calc "$R2 / $R1")" 2) x threads 1, $(fmt "$(calc "$R2 / $F2")" 3) x floor x2" \
  "$(fmt "$(calc "$M2 / 1024")" 1)"

mint csr "$N_CSR" --profile device-ldevid --csrs "$W/csrs.jsonl" --threads 1
RC=$RATE EC=$ELAPSED MC=$RSS_KB TC=$TOOL_RATE
row "mint --csrs --threads 1" "$N_CSR" "$EC" "$(fmt "$RC")" "$(fmt "$TC")" \
  "= $(fmt "$(calc "$RC / $FC")" 3) x floor csr-verify+sign" "$(fmt "$(calc "$MC / 1024")" 1)"

if [ "$N_BIG" -gt 0 ]; then
  mint big "$N_BIG" --profile device-idevid --count "$N_BIG" --id-pattern 'BIG-{seq:08}' --threads 2
  RB=$RATE EB=$ELAPSED MB=$RSS_KB TB=$TOOL_RATE
  row "mint --threads 2 (big)" "$N_BIG" "$EB" "$(fmt "$RB")" "$(fmt "$TB")" \
    "= $(fmt "$(calc "$RB / $F2")" 3) x floor x2" "$(fmt "$(calc "$MB / 1024")" 1)"
fi

# ---- summary ----------------------------------------------------------------
echo
echo "| target | measured | result |"
echo "| --- | --- | --- |"
echo "| 1 thread >= 60% of floor keygen+sign | $(fmt "$R1")/s vs $(fmt "$F1")/s = $(fmt "$(calc "100 * $R1 / $F1")" 1)% | $(verdict "$R1 >= 0.6 * $F1") |"
echo "| 2 threads >= 1.7x 1 thread | $(fmt "$R2")/s vs $(fmt "$R1")/s = $(fmt "$(calc "$R2 / $R1")" 2)x | $(verdict "$R2 >= 1.7 * $R1") |"
echo "| CSR mode >= 60% of floor csr-verify+sign | $(fmt "$RC")/s vs $(fmt "$FC")/s = $(fmt "$(calc "100 * $RC / $FC")" 1)% | $(verdict "$RC >= 0.6 * $FC") |"
if [ "$N_BIG" -gt 0 ]; then
  limit=$(calc "60 * $N_BIG / 1000000")
  echo "| $N_BIG devices in < $(fmt "$limit" 1) s (60 s per 1,000,000) | $(fmt "$EB" 1) s | $(verdict "$EB < $limit") |"
  echo "| peak RSS < 256 MiB ($N_BIG devices) | $(fmt "$(calc "$MB / 1024")" 1) MiB | $(verdict "$MB < 256 * 1024") |"
else
  echo "| 1,000,000 devices in < 60 s, peak RSS < 256 MiB | skipped (N_BIG=0) | - |"
fi
echo
echo "peak RSS (MiB): threads 1 $(fmt "$(calc "$M1 / 1024")" 1), threads 2 $(fmt "$(calc "$M2 / 1024")" 1), csrs $(fmt "$(calc "$MC / 1024")" 1) (/usr/bin/time %M)"
echo "load after the runs: $(cut -d' ' -f1-3 /proc/loadavg) (a busy machine makes the ratios noisy)"

if [ $PEERS -eq 1 ]; then
  peers=$repo/../shared/bench/mint_peers.sh
  if [ -x "$peers" ] || [ -f "$peers" ]; then
    echo
    echo "== peers ($peers)"
    bash "$peers" || echo "--peers: $peers exited $? (its tools: see its README)" >&2
  else
    echo "--peers: $peers not found, skipped" >&2
  fi
fi
