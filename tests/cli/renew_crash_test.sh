#!/usr/bin/env bash
# devpki-renew crash safety: a renewal run killed with SIGKILL at random
# moments, then `run --resume ID` killed in turn, round after round, and a
# last resume that finishes. Afterwards, checked with sqlite3, jq and openssl:
# every due device holds exactly one new certificate from the batch, every
# old certificate is superseded (none left issued, none superseded without
# its renewal), every line of devices.jsonl is a store row's DER and every
# issued row has its line, no serial is used twice; a re-run of the complete
# batch issues nothing and changes nothing.
#
# DEVPKI_CRASH_SEED=N replays the same sleeps (timing still varies).
source "$(dirname "$0")/lib.sh"
: "${MINT:?run through ctest (DEVPKI_MINT unset)}"
RENEW=${DEVPKI_RENEW:?run through ctest (DEVPKI_RENEW unset)}

N=3000
[ "${DEVPKI_SANITIZE:-OFF}" = ON ] && N=1000
SEED=${DEVPKI_CRASH_SEED:-$(($(date +%s) % 32768))}
RANDOM=$SEED
echo "seed $SEED (DEVPKI_CRASH_SEED=$SEED replays the sleeps)"

H=$T/h
new_home "$H" ec-p256 ec-p256
ca_files "$H" factory "$T/ca"
"$MINT" --home "$H" --passphrase-file "$PASS_FILE" --ca factory --profile device-ldevid --count $N \
  --id-pattern 'C-{seq:05}' --out "$T/m" --batch-id m >/dev/null
sql() { sqlite3 -readonly "$H/store.db" "$1"; }
OUT=$T/r
RUN=("$RENEW" --home "$H" run --passphrase-file "$PASS_FILE")

# An uninterrupted run of the same shape on a copy gives the time scale.
cp -a "$H" "$T/h-timing"
t0=$(date +%s%N)
"$RENEW" --home "$T/h-timing" run --within 366d --out "$T/r-timing" --chunk 25 \
  --passphrase-file "$PASS_FILE" >/dev/null
full_ms=$((($(date +%s%N) - t0) / 1000000))
rm -rf "$T/h-timing" "$T/r-timing"
echo "an uninterrupted run takes ${full_ms} ms"

# kill_after MS CMD...: runs CMD, SIGKILLs it after MS milliseconds (if still running).
kill_after() {
  local ms=$1
  shift
  "$@" >/dev/null 2>&1 &
  local pid=$!
  sleep "$(awk -v m="$ms" 'BEGIN { printf "%.3f", m / 1000 }')"
  kill -9 $pid 2>/dev/null || true
  wait $pid 2>/dev/null || true
}

# kill_when_issued COUNT CMD...: runs CMD and SIGKILLs it once the store shows
# COUNT rows of batch r issued (plus 0-20 ms), or when it ends by itself.
kill_when_issued() {
  local want=$1
  shift
  "$@" >/dev/null 2>&1 &
  local pid=$!
  while kill -0 $pid 2>/dev/null; do
    local n
    n=$(sql "SELECT count(*) FROM certificates WHERE batch_id = 'r' AND status = 'issued'" 2>/dev/null || echo 0)
    [ "${n:-0}" -ge "$want" ] && break
    sleep 0.005
  done
  sleep "0.0$((RANDOM % 20))"
  kill -9 $pid 2>/dev/null || true
  wait $pid 2>/dev/null || true
}

# The first kill lands anywhere in the run (planning included) or once the
# store shows a random number issued; the first resume is killed in the
# middle of what is left, by the store's progress; the others anywhere.
if [ $((RANDOM % 2)) -eq 0 ]; then
  kill_after $((RANDOM % (full_ms * 9 / 10 + 1) + 5)) "${RUN[@]}" --within 366d --out "$OUT" --chunk 25 --batch-id r
else
  kill_when_issued $((RANDOM % (N / 2) + 1)) "${RUN[@]}" --within 366d --out "$OUT" --chunk 25 --batch-id r
fi
if [ -z "$(sql "SELECT id FROM batches WHERE id = 'r'")" ]; then
  # Killed before the batch existed: nothing may have been written.
  [ ! -e "$OUT" ] || [ -z "$(ls -A "$OUT")" ] && ok || fail "killed before the batch existed, yet $OUT has files"
  "${RUN[@]}" --within 366d --out "$OUT" --chunk 25 --batch-id r >/dev/null 2>&1 || true
fi
for round in 1 2 3 4 5; do
  state=$(sql "SELECT state FROM batches WHERE id = 'r'")
  [ "$state" = complete ] && break
  done_now=$(sql "SELECT count(*) FROM certificates WHERE batch_id = 'r' AND status = 'issued'")
  echo "round $round: $done_now issued so far, resuming and killing"
  if [ $round -eq 1 ]; then
    kill_when_issued $((done_now + (N - done_now) / 2)) "${RUN[@]}" --resume r
  else
    kill_after $((RANDOM % full_ms + 5)) "${RUN[@]}" --resume r
  fi
done
rc=0
"${RUN[@]}" --resume r --json >"$T/final.json" 2>"$T/final.err" || rc=$?
[ $rc -eq 0 ] && ok || fail "final resume: exit $rc: $(cat "$T/final.err")"
jq -e '.state == "complete"' "$T/final.json" >/dev/null && ok || fail "not complete: $(cat "$T/final.json")"
echo "final resume: $(jq -c '{issued, already, recovered, abandoned}' "$T/final.json")"

# ---- the store ------------------------------------------------------------------
check() { if eval "$2"; then ok; else fail "$1"; fi; }
check "every device renewed once" \
  "[ \"\$(sql \"SELECT count(*), count(DISTINCT device_id) FROM certificates WHERE batch_id = 'r' AND status = 'issued'\")\" = '$N|$N' ]"
check "every old certificate superseded" \
  "[ \"\$(sql \"SELECT count(*) FROM certificates WHERE batch_id = 'm' AND status = 'superseded'\")\" = $N ]"
check "no old certificate superseded without its renewal issued" \
  "[ \"\$(sql \"SELECT count(*) FROM renewal_items i JOIN certificates o ON o.issuer = i.old_issuer AND o.serial_hex = i.old_serial WHERE i.batch_id = 'r' AND o.status = 'superseded' AND NOT EXISTS (SELECT 1 FROM certificates n WHERE n.batch_id = 'r' AND n.batch_index = i.batch_index AND n.status = 'issued')\")\" = 0 ]"
check "nothing left reserved" "[ \"\$(sql \"SELECT count(*) FROM certificates WHERE status = 'reserved'\")\" = 0 ]"
abandoned=$(sql "SELECT count(*) FROM certificates WHERE batch_id = 'r' AND status = 'abandoned'")
echo "abandoned serials (burnt by the kills): $abandoned"

# ---- the outputs -----------------------------------------------------------------
check "devices.jsonl has one line per device" "[ \$(wc -l <'$OUT/devices.jsonl') -eq $N ] && [ \$(jq -r .device_id '$OUT/devices.jsonl' | sort -u | wc -l) -eq $N ]"
# Every line is an issued row of the batch (device and serial), and the other way round.
check "devices.jsonl lines = the batch's issued rows" \
  "[ \"\$(jq -r '[.device_id, .serial] | @tsv' '$OUT/devices.jsonl' | sort)\" = \"\$(sql \"SELECT device_id || char(9) || serial_hex FROM certificates WHERE batch_id = 'r' AND status = 'issued'\" | sort)\" ]"
# Every 50th line's certificate is byte for byte the store's DER.
bad=0
for ((i = 1; i <= N; i += 50)); do
  line=$(sed -n "${i}p" "$OUT/devices.jsonl")
  serial=$(jq -r .serial <<<"$line")
  der=$(jq -r .cert <<<"$line" | openssl x509 -outform DER | xxd -p | tr -d '\n')
  [ "$(sql "SELECT lower(hex(der)) FROM certificates WHERE issuer = 'factory' AND serial_hex = '$serial'")" = "$der" ] || bad=$((bad + 1))
done
[ $bad -eq 0 ] && ok || fail "$bad sampled lines of devices.jsonl differ from the store's DER"
check "manifest lists every device" "[ \$(wc -l <'$OUT/manifest.jsonl') -eq $N ]"
(cd "$OUT" && sha256sum --quiet -c SHA256SUMS) && ok || fail "SHA256SUMS"
jq -r .cert "$OUT/devices.jsonl" | awk 'BEGIN{n=0} /BEGIN/{n++} n==1' >"$T/first.pem"
openssl verify -x509_strict -CAfile "$T/ca/root.pem" -untrusted "$T/ca/chain.pem" "$T/first.pem" >/dev/null 2>&1 &&
  ok || fail "a renewed certificate does not verify"

# ---- a complete batch: nothing changes -------------------------------------------
before=$(store_snapshot "$H"; files_snapshot "$OUT")
"${RUN[@]}" --resume r --json >"$T/again.json" 2>/dev/null || true
jq -e '.issued == 0' "$T/again.json" >/dev/null && ok || fail "re-run issued: $(cat "$T/again.json")"
[ "$(store_snapshot "$H"; files_snapshot "$OUT")" = "$before" ] && ok || fail "re-run changed something"
finish
