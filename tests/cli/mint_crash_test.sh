#!/usr/bin/env bash
# devpki-mint crash safety: `kill -9` at any moment, then `--resume ID`,
# finishes the batch with every device holding exactly one issued
# certificate, no serial used twice, every output file matching a store row
# and no store row without its output; running a finished batch again issues
# nothing and changes nothing.
#
# For jsonl and pem (--threads 1 and 2) and p12 (once, small), a batch with
# small chunks (many commit points) is started with a fixed --batch-id and
# killed with SIGKILL, then `--resume ID` is run and killed in turn, round
# after round. The moment of each kill is random: within the time to the
# first commit (early), up to the expected remaining run time (timed; both
# measured first with an uninterrupted run of the same shape), once the store
# shows a random number of devices issued plus a random part of a chunk's
# time (progress), once a file of the finish appears (late: manifest.jsonl,
# or the temporary files of the manifest or SHA256SUMS), or any moment of a
# resume that has only the finish left. A last `--resume` finishes the batch;
# then the store (sqlite3) and the outputs (jq, openssl, sha256sum, and a DER
# comparison of every certificate with the store's copy) are checked with
# tools independent of devpki, and a re-run of the complete batch must issue
# and change nothing. The log shows each kill and the store's progress then.
#
# The birth probes kill a new batch as its output directory or chain.pem
# appears (before its batch row is committed): the batch must then be
# finishable, by --resume ID or, when no batch row exists, by the same command.
#
# DEVPKI_CRASH_SEED=N replays the same sleeps (timing still varies).
source "$(dirname "$0")/lib.sh"
# set -e ends the script silently where a command fails; say where (functions
# included: -E), so a failure that is not a check of ours can be told apart.
set -E
trap 'echo "mint_crash_test.sh: line $LINENO: \"$BASH_COMMAND\" failed (exit $?); stopping" >&2' ERR

: "${DEVPKI_MINT:?run through ctest (DEVPKI_MINT unset)}"
MINT=$DEVPKI_MINT
for tool in sqlite3 jq openssl sha256sum awk; do
  command -v $tool >/dev/null || {
    echo "mint_crash_test: needs $tool" >&2
    exit 1
  }
done

# Counts: the ASan+UBSan build is several times slower.
DIV=1
[ "${DEVPKI_SANITIZE:-OFF}" = ON ] && DIV=2
N_JSONL=$((2000 / DIV))
N_PEM=$((300 / DIV))
N_P12=$((60 / DIV))

SEED=${DEVPKI_CRASH_SEED:-$(($(date +%s) % 32768))}
RANDOM=$SEED
echo "seed $SEED (DEVPKI_CRASH_SEED=$SEED replays the sleeps)"

H=$T/h
new_home "$H" ec-p256 ec-p256
DB=$H/store.db
P12_PASS=$T/p12-passphrase
printf 'p12 test password\n' >"$P12_PASS"
BASE=(--home "$H" --passphrase-file "$PASS_FILE")

# ---- helpers ----------------------------------------------------------------

# sql QUERY: tab-separated rows. Read-only, so that looking at the store
# between a kill and the resume never checkpoints or repairs anything for the
# next run (falls back to a normal open if a read-only one is refused).
sql() {
  sqlite3 -readonly -batch -separator $'\t' -cmd '.timeout 10000' "$DB" "$1" 2>/dev/null ||
    sqlite3 -batch -separator $'\t' -cmd '.timeout 10000' "$DB" "$1"
}

now_ms() { echo $((${EPOCHREALTIME/[.,]/} / 1000)); }
rand_upto() { echo $(((RANDOM * 32768 + RANDOM) % ($1 + 1))); }

# progress ID: "issued reserved abandoned state" (state "none": no batch row).
progress() {
  sql "SELECT (SELECT COUNT(*) FROM certificates WHERE batch_id = '$1' AND status = 'issued'),
              (SELECT COUNT(*) FROM certificates WHERE batch_id = '$1' AND status = 'reserved'),
              (SELECT COUNT(*) FROM certificates WHERE batch_id = '$1' AND status = 'abandoned'),
              COALESCE((SELECT state FROM batches WHERE id = '$1'), 'none')" | tr '\t' ' '
}

# normserial HEX: lowercase, leading zeros dropped (DER may carry a 00 sign byte).
normserial() { tr 'A-F' 'a-f' | sed -E 's/^0+([0-9a-f])/\1/'; }

# Reads "id<TAB>base64 body" lines; prints "id<TAB>DER hex<TAB>serial hex"
# (the serial read from the DER: Certificate SEQUENCE, TBSCertificate
# SEQUENCE, [0] version, INTEGER serial), a decoder nobody in devpki wrote.
DER_AWK='
BEGIN {
  b = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
  for (i = 0; i < 64; i++) val[substr(b, i + 1, 1)] = i
  hx = "0123456789abcdef"
  for (i = 0; i < 256; i++) hex[i] = substr(hx, int(i / 16) + 1, 1) substr(hx, i % 16 + 1, 1)
  for (i = 0; i < 256; i++) num[hex[i]] = i
}
function dec(s,   n, i, c, acc, bits, byte, out) {
  n = length(s); acc = 0; bits = 0; out = ""
  for (i = 1; i <= n; i++) {
    c = substr(s, i, 1)
    if (c == "=") break
    acc = acc * 64 + val[c]; bits += 6
    if (bits >= 8) { bits -= 8; byte = int(acc / 2 ^ bits); acc -= byte * 2 ^ bits; out = out hex[byte] }
  }
  return out
}
# header length (in hex chars) of the TLV at hex offset p (1-based)
function hdr(h, p,   l) {
  l = num[substr(h, p + 2, 2)]
  return l < 128 ? 4 : 4 + 2 * (l - 128)
}
function serial(h,   p, l) {
  p = 1 + hdr(h, 1)                       # into Certificate
  p += hdr(h, p)                          # into TBSCertificate
  if (substr(h, p, 2) == "a0") p += 4 + 2 * num[substr(h, p + 2, 2)]   # skip [0] version
  if (substr(h, p, 2) != "02") return "?"
  l = num[substr(h, p + 2, 2)]
  return substr(h, p + 4, 2 * l)
}
{ d = dec($2); print $1 "\t" d "\t" serial(d) }'

# cert_bodies FORMAT OUT: "device_id<TAB>base64" for every certificate output.
cert_bodies() {
  local fmt=$1 out=$2
  case "$fmt" in
    jsonl)
      jq -r '.device_id + "\t" + (.cert | gsub("-----[^-]+-----|\\s"; ""))' "$out/devices.jsonl"
      ;;
    pem)
      local files=("$out"/*/cert.pem)
      [ -e "${files[0]}" ] || return 0
      awk -v out="$out/" '
        FNR == 1 { if (id != "") print id "\t" body; id = FILENAME; sub("^" out, "", id); sub("/cert.pem$", "", id); body = "" }
        /-----BEGIN/ { begins[id]++; if (begins[id] > 1) print "FAIL: " FILENAME " holds more than one certificate" > "/dev/stderr" }
        !/-----/ { body = body $0 }
        END { if (id != "") print id "\t" body }' "${files[@]}"
      ;;
    p12)
      local f id
      for f in "$out"/*.p12; do
        [ -e "$f" ] || continue
        id=$(basename "$f" .p12)
        printf '%s\t%s\n' "$id" "$(openssl pkcs12 -in "$f" -passin "file:$P12_PASS" -nokeys -clcerts 2>/dev/null |
          sed -n '/-----BEGIN CERTIFICATE-----/,/-----END CERTIFICATE-----/p' | sed '/-----/d' | tr -d '\n')"
      done
      ;;
  esac
}

# sample_files FORMAT OUT ID DIR: writes DIR/cert.pem and DIR/key.pem of one device.
sample_files() {
  local fmt=$1 out=$2 id=$3 dir=$4
  case "$fmt" in
    jsonl)
      jq -r --arg id "$id" 'select(.device_id == $id) | .cert' "$out/devices.jsonl" >"$dir/cert.pem"
      jq -r --arg id "$id" 'select(.device_id == $id) | .key' "$out/devices.jsonl" >"$dir/key.pem"
      ;;
    pem)
      cp "$out/$id/cert.pem" "$dir/cert.pem"
      cp "$out/$id/key.pem" "$dir/key.pem"
      ;;
    p12)
      openssl pkcs12 -in "$out/$id.p12" -passin "file:$P12_PASS" -nokeys -clcerts -out "$dir/cert.pem" 2>/dev/null
      openssl pkcs12 -in "$out/$id.p12" -passin "file:$P12_PASS" -nocerts -noenc -out "$dir/key.pem" 2>/dev/null
      ;;
  esac
}

# store_tables: the batch-related tables, to compare before/after a re-run.
store_tables() {
  sqlite3 -readonly "$DB" '.dump certificates' 2>/dev/null | grep -v '^PRAGMA' | sort
  sqlite3 -readonly "$DB" '.dump batches' 2>/dev/null | grep -v '^PRAGMA' | sort
  sqlite3 -readonly "$DB" '.dump batch_rejects' 2>/dev/null | grep -v '^PRAGMA' | sort
}

# check_batch NAME ID FORMAT COUNT OUT PREFIX: the invariants, from the store and the outputs.
check_batch() {
  local name=$1 id=$2 fmt=$3 count=$4 out=$5 prefix=$6
  local w=$T/check-$name
  mkdir -p "$w"
  local before=$failures

  # -- the store
  local v
  v=$(sql "SELECT state FROM batches WHERE id = '$id'")
  [ "$v" = complete ] && ok || fail "$name: batch state '$v', expected complete"
  v=$(sql "SELECT COUNT(*) FROM certificates WHERE batch_id = '$id' AND status = 'reserved'")
  [ "$v" = 0 ] && ok || fail "$name: $v rows left reserved"
  v=$(sql "SELECT COUNT(*), COUNT(DISTINCT batch_index), MIN(batch_index), MAX(batch_index),
                  COUNT(DISTINCT device_id), SUM(der IS NULL), COUNT(DISTINCT serial_hex)
           FROM certificates WHERE batch_id = '$id' AND status = 'issued'")
  [ "$v" = "$count"$'\t'"$count"$'\t0\t'"$((count - 1))"$'\t'"$count"$'\t0\t'"$count" ] && ok ||
    fail "$name: issued rows (count, distinct index, min, max, distinct device, no DER, distinct serial) = '$v', expected $count each, indexes 0..$((count - 1))"
  v=$(sql "SELECT batch_index, device_id, status FROM certificates WHERE batch_id = '$id'
           AND status NOT IN ('issued', 'abandoned') LIMIT 5")
  [ -z "$v" ] && ok || fail "$name: rows neither issued nor abandoned: $v"
  v=$(sql "SELECT batch_index, device_id FROM certificates WHERE batch_id = '$id' AND status = 'issued'
           AND device_id <> printf('%s%06d', '$prefix', batch_index + 1) LIMIT 5")
  [ -z "$v" ] && ok || fail "$name: device ids not at their batch index: $v"
  v=$(sql "SELECT issuer, serial_hex, COUNT(*) FROM certificates GROUP BY issuer, serial_hex HAVING COUNT(*) > 1 LIMIT 5")
  [ -z "$v" ] && ok || fail "$name: serials used twice: $v"
  v=$(sql "SELECT COUNT(*) FROM (SELECT lower(ltrim(serial_hex, '0')) s FROM certificates WHERE issuer = 'factory'
           GROUP BY s HAVING COUNT(*) > 1)")
  [ "$v" = 0 ] && ok || fail "$name: $v serials appear twice once leading zeros are dropped"
  v=$(sql "SELECT COUNT(*) FROM batch_rejects WHERE batch_id = '$id'")
  [ "$v" = 0 ] && ok || fail "$name: $v rejects recorded (none expected)"

  sql "SELECT device_id, serial_hex FROM certificates WHERE batch_id = '$id' AND status = 'issued'" |
    LC_ALL=C sort >"$w/store.pairs"
  sql "SELECT device_id, lower(hex(der)), serial_hex FROM certificates WHERE batch_id = '$id' AND status = 'issued'" |
    awk -F'\t' '{ s = $3; sub(/^0+/, "", s); print $1 "\t" $2 "\t" s }' | LC_ALL=C sort >"$w/store.der"
  sql "SELECT device_id, serial_hex, spki_sha256 FROM certificates WHERE batch_id = '$id' AND status = 'issued'" |
    LC_ALL=C sort >"$w/store.manifest"
  sql "SELECT serial_hex FROM certificates WHERE batch_id = '$id' AND status = 'abandoned'" |
    normserial | LC_ALL=C sort -u >"$w/abandoned"

  # -- every certificate output is byte for byte the store's issued row
  cert_bodies "$fmt" "$out" | awk -F'\t' "$DER_AWK" |
    awk -F'\t' '{ s = $3; sub(/^0+/, "", s); print $1 "\t" $2 "\t" s }' | LC_ALL=C sort >"$w/out.der"
  v=$(wc -l <"$w/out.der")
  [ "$v" -eq "$count" ] && ok || fail "$name: $v certificate outputs, expected $count"
  if cmp -s "$w/out.der" "$w/store.der"; then ok; else
    fail "$name: certificate outputs differ from the store's issued rows (< outputs, > store):
$(diff <(cut -f1,3 "$w/out.der") <(cut -f1,3 "$w/store.der") | head -10)"
  fi
  v=$(cut -f1 "$w/out.der" | uniq -d | sed -n 1,3p)
  [ -z "$v" ] && ok || fail "$name: devices with more than one output: $v"
  v=$(cut -f3 "$w/out.der" | LC_ALL=C sort | uniq -d | sed -n 1,3p)
  [ -z "$v" ] && ok || fail "$name: serials in more than one output: $v"
  v=$(cut -f3 "$w/out.der" | LC_ALL=C sort -u | LC_ALL=C comm -12 - "$w/abandoned" | sed -n 1,3p)
  [ -z "$v" ] && ok || fail "$name: abandoned serials present in the outputs: $v"

  # -- per format
  local files_expected=$w/files.expected
  printf '%s\n' chain.pem manifest.jsonl >"$files_expected"
  [ -f "$out/rejects.jsonl" ] && echo rejects.jsonl >>"$files_expected"
  case "$fmt" in
    jsonl)
      echo devices.jsonl >>"$files_expected"
      local lines
      lines=$(wc -l <"$out/devices.jsonl")
      [ "$lines" -eq "$count" ] && ok || fail "$name: devices.jsonl has $lines lines, expected $count"
      [ "$(tail -c1 "$out/devices.jsonl" | od -An -c | tr -d ' ')" = '\n' ] && ok ||
        fail "$name: devices.jsonl does not end with a newline (torn last line)"
      if v=$(jq -c . "$out/devices.jsonl" 2>&1 >/dev/null); then ok; else
        fail "$name: devices.jsonl is not valid JSONL (torn line?): $v"
      fi
      jq -r '[.device_id, .serial] | @tsv' "$out/devices.jsonl" | LC_ALL=C sort >"$w/jsonl.pairs"
      if cmp -s "$w/jsonl.pairs" "$w/store.pairs"; then ok; else
        fail "$name: devices.jsonl (device_id, serial) differ from the store's issued rows:
$(diff "$w/jsonl.pairs" "$w/store.pairs" | head -10)"
      fi
      v=$(jq -r 'select((.key // "") | startswith("-----BEGIN PRIVATE KEY-----") | not) | .device_id' \
        "$out/devices.jsonl" | sed -n 1,3p)
      [ -z "$v" ] && ok || fail "$name: lines without a PKCS#8 key: $v"
      ;;
    pem)
      local d
      find "$out" -mindepth 1 -type d -printf '%P\n' | LC_ALL=C sort >"$w/dirs"
      if cmp -s "$w/dirs" <(cut -f1 "$w/store.pairs"); then ok; else
        fail "$name: device directories differ from the store's issued rows:
$(diff "$w/dirs" <(cut -f1 "$w/store.pairs") | head -10)"
      fi
      while IFS= read -r d; do printf '%s\n' "$d/cert.pem" "$d/chain.pem" "$d/key.pem"; done \
        <"$w/dirs" >>"$files_expected"
      v=$(find "$out" -mindepth 2 -name key.pem ! -perm 600 | sed -n 1,3p)
      [ -z "$v" ] && ok || fail "$name: key.pem not 0600: $v"
      ;;
    p12)
      cut -f1 "$w/store.pairs" | sed 's/$/.p12/' >>"$files_expected"
      ;;
  esac

  # -- no stray file (temporary, partial, of an abandoned row), nothing missing
  echo SHA256SUMS >>"$files_expected"
  (cd "$out" && find . -type f -printf '%P\n') | LC_ALL=C sort >"$w/files"
  LC_ALL=C sort -o "$files_expected" "$files_expected"
  if cmp -s "$w/files" "$files_expected"; then ok; else
    fail "$name: files in the output directory (< found, > expected):
$(diff "$w/files" "$files_expected" | head -10)"
  fi
  if v=$(cd "$out" && sha256sum -c --strict --quiet SHA256SUMS 2>&1); then ok; else
    fail "$name: sha256sum -c SHA256SUMS: $v"
  fi
  sed -E 's/^[0-9a-f]{64} [ *]//' "$out/SHA256SUMS" | LC_ALL=C sort >"$w/summed"
  if cmp -s "$w/summed" <(grep -vx SHA256SUMS "$files_expected"); then ok; else
    fail "$name: SHA256SUMS does not cover exactly the output files:
$(diff "$w/summed" <(grep -vx SHA256SUMS "$files_expected") | head -10)"
  fi
  if [ -f "$out/rejects.jsonl" ]; then
    [ ! -s "$out/rejects.jsonl" ] && ok || fail "$name: rejects.jsonl is not empty"
  fi

  # -- the manifest
  lines=$(wc -l <"$out/manifest.jsonl")
  [ "$lines" -eq "$count" ] && ok || fail "$name: manifest.jsonl has $lines lines, expected $count"
  if v=$(jq -c . "$out/manifest.jsonl" 2>&1 >/dev/null); then ok; else
    fail "$name: manifest.jsonl is not valid JSONL: $v"
  fi
  jq -r '[.device_id, .serial, .spki_sha256] | @tsv' "$out/manifest.jsonl" | LC_ALL=C sort >"$w/manifest"
  if cmp -s "$w/manifest" "$w/store.manifest"; then ok; else
    fail "$name: manifest (device_id, serial, spki_sha256) differs from the store:
$(diff "$w/manifest" "$w/store.manifest" | head -10)"
  fi
  v=$(grep -c 'PRIVATE KEY' "$out/manifest.jsonl" || true)
  [ "$v" = 0 ] && ok || fail "$name: the manifest holds private keys"

  # -- a sample checked whole by openssl: serial, key pair, chain (-x509_strict)
  last_cert "$out/chain.pem" >"$w/root.pem"
  local picks=(1 "$count") i
  for i in 1 2 3 4 5 6; do picks+=($((1 + RANDOM % count))); done
  for i in "${picks[@]}"; do
    local dev s want got pk pc vr
    dev=$(printf '%s%06d' "$prefix" "$i")
    s=$w/s-$i
    mkdir -p "$s"
    sample_files "$fmt" "$out" "$dev" "$s"
    want=$(awk -F'\t' -v d="$dev" '$1 == d { print $2 }' "$w/store.pairs" | normserial)
    got=$(openssl x509 -in "$s/cert.pem" -noout -serial 2>&1 | sed 's/^serial=//' | normserial)
    [ -n "$want" ] && [ "$got" = "$want" ] && ok ||
      fail "$name: $dev: certificate serial '$got', store has '$want'"
    pk=$(openssl pkey -in "$s/key.pem" -pubout 2>&1)
    pc=$(openssl x509 -in "$s/cert.pem" -noout -pubkey 2>&1)
    [ "$pk" = "$pc" ] && ok || fail "$name: $dev: the key does not match the certificate"
    vr=$(openssl verify -x509_strict -CAfile "$w/root.pem" -untrusted "$out/chain.pem" "$s/cert.pem" 2>&1)
    [ "$vr" = "$s/cert.pem: OK" ] && ok || fail "$name: $dev: openssl verify -x509_strict: $vr"
    if [ "$fmt" = pem ]; then
      cmp -s "$out/$dev/chain.pem" "$out/chain.pem" && ok || fail "$name: $dev/chain.pem differs from chain.pem"
    fi
  done

  [ "$failures" -eq "$before" ] && echo "  [$name] invariants hold: $count devices, $(wc -l <"$w/abandoned") abandoned serials, none in the outputs"
  return 0
}

# ---- the kill loop ------------------------------------------------------------

# committed_delivered NAME ID FORMAT OUT: right after a kill, before any
# resume: every row the store holds as issued already has its output on disk
# (delivery is made durable before the commit), whatever else is there.
committed_delivered() {
  local name=$1 id=$2 fmt=$3 out=$4 missing
  case "$fmt" in
    jsonl)
      missing=$(LC_ALL=C comm -23 \
        <(sql "SELECT serial_hex FROM certificates WHERE batch_id = '$id' AND status = 'issued'" | LC_ALL=C sort) \
        <(grep -o '"serial":"[0-9a-f]*"' "$out/devices.jsonl" 2>/dev/null | cut -d'"' -f4 | LC_ALL=C sort -u) | sed -n 1,3p)
      ;;
    pem)
      missing=$(LC_ALL=C comm -23 \
        <(sql "SELECT device_id FROM certificates WHERE batch_id = '$id' AND status = 'issued'" | LC_ALL=C sort) \
        <(find "$out" -mindepth 2 -maxdepth 2 -name cert.pem -printf '%h\n' 2>/dev/null | sed 's|.*/||' | LC_ALL=C sort) | sed -n 1,3p)
      ;;
    p12)
      missing=$(LC_ALL=C comm -23 \
        <(sql "SELECT device_id FROM certificates WHERE batch_id = '$id' AND status = 'issued'" | LC_ALL=C sort) \
        <(find "$out" -maxdepth 1 -name '*.p12' -printf '%f\n' 2>/dev/null | sed 's|\.p12$||' | LC_ALL=C sort) | sed -n 1,3p)
      ;;
  esac
  [ -z "$missing" ] && ok || fail "$name: after a kill, rows issued in the store without their output: $missing"
}

TOTAL_KILLS=0
KILLS_BEFORE_COMMIT=0
KILLS_IN_FINISH=0
RECOVERED=0
SUMMARY=()

# wait_kill_point PID ID DEADLINE_MS TARGET: returns when the process is gone,
# the clock passes DEADLINE_MS (absolute), the store shows TARGET devices of
# batch ID issued, or the batch is complete: the moment to kill.
wait_kill_point() {
  local pid=$1 id=$2 deadline=$3 target=$4 p st
  while kill -0 "$pid" 2>/dev/null; do
    [ "$(now_ms)" -ge "$deadline" ] && return 0
    read -r p _ _ st < <(progress "$id")
    [ "$p" -ge "$target" ] && return 0
    [ "$st" = complete ] && return 0
  done
}

# next_chunk_end OUT PREFIX ISSUED CHUNK COUNT: the device id ending the next
# chunk not yet on disk (pem), or nothing.
next_chunk_end() {
  local out=$1 prefix=$2 issued=$3 chunk=$4 count=$5 k dev
  for k in $((issued + chunk)) $((issued + 2 * chunk)); do
    [ $k -lt "$count" ] || return 0
    dev=$(printf '%s%06d' "$prefix" $k)
    [ -e "$out/$dev" ] || {
      echo "$dev"
      return 0
    }
  done
}

# crash_config NAME FORMAT THREADS COUNT CHUNK KILLS EARLY(yes|no): batches of
# COUNT devices killed until KILLS kills have landed (a batch that completes
# first is checked, and the next batch of the same shape takes the remaining
# kills), each batch finished by a last --resume and checked.
crash_config() {
  local name=$1 fmt=$2 threads=$3 count=$4 chunk=$5 want=$6 early=$7
  local extra=()
  [ "$fmt" = p12 ] && extra=(--p12-passphrase-file "$P12_PASS")
  local shape=(--ca factory --profile device-idevid --count "$count" --format "$fmt"
    --threads "$threads" --chunk "$chunk")
  local rc t0 L S W pid issued reserved abandoned state p
  local up started=$SECONDS
  up=$(tr 'a-z' 'A-Z' <<<"$name")

  # An uninterrupted run of the same shape: how long a run takes (L) and how
  # long until its first chunk is committed (S: start-up, validation, the
  # CA key, the first chunk); then a re-run of the finished batch.
  t0=$(now_ms)
  rc=0
  "$MINT" "${BASE[@]}" "${extra[@]}" "${shape[@]}" --id-pattern "REF-$up-{seq:06}" \
    --batch-id "ref-$name" --out "$T/ref-$name" --json >"$T/ref.json" 2>"$T/ref.err" &
  pid=$!
  wait_kill_point "$pid" "ref-$name" $((t0 + 3600000)) 1
  S=$(($(now_ms) - t0))
  wait "$pid" || rc=$?
  L=$(($(now_ms) - t0))
  if [ $rc -ne 0 ]; then
    fail "$name: uninterrupted run exited $rc: $(tail -3 "$T/ref.err")"
    return
  fi
  rc=0
  "$MINT" "${BASE[@]}" "${extra[@]}" --resume "ref-$name" --json >"$T/ref2.json" 2>"$T/ref.err" || rc=$?
  [ $rc -eq 0 ] && [ "$(jq -r .issued "$T/ref2.json")" = 0 ] && ok ||
    fail "$name: re-running the finished reference batch: exit $rc, $(cat "$T/ref2.json") $(tail -3 "$T/ref.err")"
  rm -rf "$T/ref-$name"
  W=$((L > S + 100 ? L - S : 100))
  local chunk_ms=$((W * chunk / count + 1))
  echo "[$name] $count devices, --format $fmt --threads $threads --chunk $chunk: uninterrupted run ${L} ms, first commit after ${S} ms"

  local kills=0 mid=0 b=0 late_tries=0 log=()
  while [ $kills -lt "$want" ] && [ $b -lt 3 ]; do
    b=$((b + 1))
    local id=crash-$name-$b out=$T/out-$name-$b prefix=$up-$b-
    # Each round starts the batch (or resumes it) and kills it: early (within
    # the time to the first commit), timed (a random time up to the expected
    # remaining run time), at progress (once the store shows a random number
    # of devices issued, plus a random part of a chunk's time) or late (once
    # every chunk is committed, before the batch is complete: the finish).
    # Every wait also ends when the last chunk is committed, so a run that
    # goes faster than expected is killed in its finish rather than let complete.
    local rounds=0 finish_kills=0 mode target deadline slept
    while [ $kills -lt "$want" ] && [ $rounds -lt $((want * 2)) ]; do
      rounds=$((rounds + 1))
      read -r issued reserved abandoned state < <(progress "$id")
      [ "$state" = complete ] && break
      local cmd kind
      if [ "$state" = none ]; then
        cmd=("${shape[@]}" --id-pattern "$prefix{seq:06}" --batch-id "$id" --out "$out")
        kind=start
      else
        cmd=(--resume "$id")
        kind=resume
      fi
      # progress targets stop well short of the end (four chunks, or a tenth),
      # so that a fast run cannot get there between two looks at the store.
      local hi=$((count - (4 * chunk > count / 10 ? 4 * chunk : count / 10)))
      if [ "$early" = yes ] && [ $rounds -eq 1 ]; then
        mode=early
      elif [ "$issued" -ge "$count" ]; then
        # Only the finish is left: any moment of the resume, twice per batch
        # (then this batch completes and the next one takes the other kills).
        [ $finish_kills -ge 2 ] && break
        mode=finish
        finish_kills=$((finish_kills + 1))
      elif [ $kills -ge $((want - 1)) ] && [ $late_tries -lt 2 ]; then
        mode=late
        late_tries=$((late_tries + 1))
      elif [ "$fmt" = pem ] && [ $rounds -eq 3 ] && [ "$(next_chunk_end "$out" "$prefix" "$issued" "$chunk" "$count")" ] &&
        [ "$(sql "SELECT COALESCE(MAX(batch_index) + 1, 0) FROM certificates WHERE batch_id = '$id' AND status = 'issued'")" = "$issued" ]; then
        # Between a chunk's delivery and its commit: the next chunk to sign
        # is devices issued+1 .. issued+chunk (or the one after, when a
        # killed run left that one delivered); killed once its last device's
        # cert.pem is on disk (the reserved rows should then be recovered).
        mode=delivered
        target=$(next_chunk_end "$out" "$prefix" "$issued" "$chunk" "$count")
      elif [ $hi -gt $((issued + 1)) ] && { [ $((rounds % 2)) -eq 1 ] || [ "$early$rounds" = yes2 ]; }; then
        mode=progress
      else
        mode=timed
      fi

      local what_late=""
      "$MINT" "${BASE[@]}" "${extra[@]}" "${cmd[@]}" >"$T/run.out" 2>"$T/run.err" &
      pid=$!
      t0=$(now_ms)
      case $mode in
        early) wait_kill_point "$pid" "$id" $((t0 + $(rand_upto $((S * 2 / 3))))) 1 ;;
        timed) wait_kill_point "$pid" "$id" $((t0 + $(rand_upto $((S + W * (count - issued) / count))))) "$count" ;;
        delivered)
          while kill -0 "$pid" 2>/dev/null && [ ! -e "$out/$target/cert.pem" ]; do :; done
          ;;
        finish) wait_kill_point "$pid" "$id" $((t0 + $(rand_upto "$S"))) $((count + 1)) ;;
        progress)
          target=$((issued + 1 + RANDOM % (hi - issued - 1)))
          wait_kill_point "$pid" "$id" $((t0 + 20 * L + 10000)) $target
          wait_kill_point "$pid" "$id" $(($(now_ms) + $(rand_upto "$chunk_ms"))) "$count"
          ;;
        late)
          # Watched from the shell (no process per look, or the finish of a
          # small batch passes unseen): a file the finish writes appears.
          local trig
          case $((RANDOM % 3)) in
            0) trig=manifest-temp ;;
            1) trig=manifest ;;
            2) trig=sums-temp ;;
          esac
          [ $trig = manifest ] && [ -e "$out/manifest.jsonl" ] && trig=manifest-temp
          what_late=" on $trig"
          local seen=()
          while kill -0 "$pid" 2>/dev/null; do
            case $trig in
              manifest-temp) seen=("$out"/.manifest.jsonl.tmp-*) ;;
              manifest) seen=("$out"/manifest.jsonl) ;;
              sums-temp) seen=("$out"/.SHA256SUMS.tmp-*) ;;
            esac
            [ -e "${seen[0]}" ] && break
          done
          ;;
      esac
      kill -9 "$pid" 2>/dev/null || true
      rc=0
      wait "$pid" 2>/dev/null || rc=$?
      slept=$(($(now_ms) - t0))
      read -r issued reserved abandoned state < <(progress "$id")

      local where what="$id $kind, $mode$what_late"
      [ $mode = progress ] && what+=" >= $target"
      [ $mode = delivered ] && what+=" on $target/cert.pem"
      if [ $rc -eq 137 ]; then
        kills=$((kills + 1))
        TOTAL_KILLS=$((TOTAL_KILLS + 1))
        if [ "$state" = complete ]; then
          where="after completion"
        elif [ "$issued" -eq 0 ]; then
          where="before the first commit"
          KILLS_BEFORE_COMMIT=$((KILLS_BEFORE_COMMIT + 1))
        elif [ "$issued" -lt "$count" ]; then
          where="mid-batch"
          mid=$((mid + 1))
        else
          where="in the finish (all chunks committed)"
          KILLS_IN_FINISH=$((KILLS_IN_FINISH + 1))
        fi
        log+=("$issued")
        committed_delivered "$name" "$id" "$fmt" "$out"
        # Reserved rows whose whole output is on disk (pem): the resume must
        # find them delivered and mark them issued, not abandon them.
        if [ "$fmt" = pem ]; then
          local dev ser
          while IFS=$'\t' read -r dev ser; do
            [ -n "$dev" ] && [ -f "$out/$dev/key.pem" ] && [ -f "$out/$dev/cert.pem" ] && [ -f "$out/$dev/chain.pem" ] || continue
            [ "$(openssl x509 -in "$out/$dev/cert.pem" -noout -serial 2>/dev/null | sed 's/^serial=//' | normserial)" = "$(normserial <<<"$ser")" ] &&
              printf '%s\t%s\n' "$dev" "$ser" >>"$T/delivered-$id"
          done < <(sql "SELECT device_id, serial_hex FROM certificates WHERE batch_id = '$id' AND status = 'reserved'")
        fi
        echo "  [$name] kill $kills ($what, after ${slept} ms): issued $issued/$count, reserved $reserved, abandoned $abandoned, batch $state: $where"
      elif [ $rc -eq 0 ]; then
        echo "  [$name] round $rounds ($what) finished before the kill (${slept} ms): issued $issued/$count, batch $state"
      else
        fail "$name: round $rounds ($what) exited $rc before the kill: $(tail -5 "$T/run.err")"
        if [ "$state" = none ]; then
          echo "  [$name] (no batch row: --resume $id cannot finish it, and a re-run was refused)" >&2
        fi
        return
      fi
    done

    # The last resume finishes the batch (the same command again when the
    # last kill came before the batch row existed).
    local last=(--resume "$id") label=--resume
    read -r issued reserved abandoned state < <(progress "$id")
    if [ "$state" = none ]; then
      last=("${shape[@]}" --id-pattern "$prefix{seq:06}" --batch-id "$id" --out "$out")
      label="re-run of"
    fi
    rc=0
    "$MINT" "${BASE[@]}" "${extra[@]}" "${last[@]}" --json >"$T/final.json" 2>"$T/final.err" || rc=$?
    if [ $rc -ne 0 ]; then
      fail "$name: the final $label $id exited $rc: $(tail -5 "$T/final.err")"
      return
    fi
    echo "  [$name] final $label $id: $(jq -c '{state, total, issued, already, recovered, abandoned}' "$T/final.json")"
    [ "$(jq -r .state "$T/final.json")" = complete ] && ok || fail "$name: final state $(jq -r .state "$T/final.json")"

    check_batch "$name" "$id" "$fmt" "$count" "$out" "$prefix"
    if [ -s "$T/delivered-$id" ]; then
      local n_del n_rec
      n_del=$(LC_ALL=C sort -u "$T/delivered-$id" | wc -l)
      n_rec=$(LC_ALL=C sort -u "$T/delivered-$id" | while IFS=$'\t' read -r dev ser; do
        sql "SELECT status FROM certificates WHERE issuer = 'factory' AND serial_hex = '$ser'"
      done | grep -cx issued || true)
      echo "  [$name] $n_del reserved rows had their whole output on disk at a kill; $n_rec of them ended issued (recovered)"
      [ "$n_rec" -eq "$n_del" ] && ok ||
        fail "$name: $((n_del - n_rec)) reserved rows whose complete output was on disk at a kill were not recovered (abandoned instead): $(head -3 "$T/delivered-$id" | tr '\t\n' ' ')"
      RECOVERED=$((RECOVERED + n_rec))
    fi

    # Running the finished batch again issues nothing and changes nothing.
    local tables_before files_before audit_max audit_before
    tables_before=$(store_tables)
    files_before=$(files_snapshot "$out")
    audit_max=$(sql "SELECT COALESCE(MAX(id), 0) FROM audit")
    audit_before=$(sql "SELECT * FROM audit ORDER BY id")
    rc=0
    "$MINT" "${BASE[@]}" "${extra[@]}" --resume "$id" --json >"$T/again.json" 2>"$T/again.err" || rc=$?
    [ $rc -eq 0 ] && ok || fail "$name: re-running the complete batch exited $rc: $(tail -3 "$T/again.err")"
    [ "$(jq -r .issued "$T/again.json" 2>/dev/null)" = 0 ] && ok ||
      fail "$name: re-running the complete batch issued: $(cat "$T/again.json")"
    [ "$(store_tables)" = "$tables_before" ] && ok ||
      fail "$name: re-running the complete batch changed the store: $(diff <(echo "$tables_before") <(store_tables) | head -6)"
    [ "$(files_snapshot "$out")" = "$files_before" ] && ok ||
      fail "$name: re-running the complete batch changed $out: $(diff <(echo "$files_before") <(files_snapshot "$out") | head -6)"
    [ "$(sql "SELECT * FROM audit WHERE id <= $audit_max ORDER BY id")" = "$audit_before" ] && ok ||
      fail "$name: re-running the complete batch rewrote the audit log"
    rm -rf "$out" "$T/check-$name"
  done

  [ $kills -ge "$want" ] && ok || fail "$name: only $kills kills landed in $b batches (wanted $want)"
  [ $mid -ge 1 ] && ok || fail "$name: no kill landed mid-batch (0 < issued < $count)"
  SUMMARY+=("$name: $kills kills over $b batch(es), $mid mid-batch; issued at each kill: ${log[*]} ($((SECONDS - started)) s)")
}

# birth_probe WHAT: kills a new batch the moment its output directory (WHAT
# dir) or its chain.pem (WHAT chain) appears, between the sink's first write
# and the batch row's commit. Then `--resume ID` (when the batch row exists)
# or the same command again (when it does not) must finish the batch.
birth_probe() {
  local what=$1 i
  for i in 1 2; do
    local name=birth-$what-$i
    local id=$name out=$T/out-$name prefix
    prefix=$(tr 'a-z' 'A-Z' <<<"$name")-
    local cmd=(--ca factory --profile device-idevid --count 100 --id-pattern "$prefix{seq:06}" --chunk 10
      --batch-id "$id" --out "$out")
    local watch=$out
    [ "$what" = chain ] && watch=$out/chain.pem
    "$MINT" "${BASE[@]}" "${cmd[@]}" >/dev/null 2>"$T/birth.err" &
    local pid=$! rc=0 issued state
    while [ ! -e "$watch" ] && kill -0 "$pid" 2>/dev/null; do :; done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || rc=$?
    read -r issued _ _ state < <(progress "$id")
    echo "  [$name] killed (exit $rc) as $watch appeared: batch row $state, issued $issued, $out holds: $(ls -A "$out" 2>/dev/null | tr '\n' ' ')"
    TOTAL_KILLS=$((TOTAL_KILLS + 1))
    [ $rc -eq 137 ] && [ "$issued" -eq 0 ] && KILLS_BEFORE_COMMIT=$((KILLS_BEFORE_COMMIT + 1))
    rc=0
    if [ "$state" = none ]; then
      "$MINT" "${BASE[@]}" "${cmd[@]}" >/dev/null 2>"$T/birth.err" || rc=$?
      [ $rc -eq 0 ] && ok || {
        fail "$name: killed after $watch appeared and before the batch row existed: --resume $id has no batch to finish, and running the same command again exits $rc: $(tail -2 "$T/birth.err")"
        rm -rf "$out"
        continue
      }
    else
      "$MINT" "${BASE[@]}" --resume "$id" >/dev/null 2>"$T/birth.err" || rc=$?
      [ $rc -eq 0 ] && ok || {
        fail "$name: --resume $id exited $rc: $(tail -2 "$T/birth.err")"
        continue
      }
    fi
    check_batch "$name" "$id" jsonl 100 "$out" "$prefix"
    rm -rf "$out" "$T/check-$name"
  done
}

birth_probe dir
birth_probe chain
crash_config jsonl-t1 jsonl 1 "$N_JSONL" 50 8 yes
crash_config jsonl-t2 jsonl 2 "$N_JSONL" 50 8 no
crash_config pem-t1 pem 1 "$N_PEM" 10 6 yes
crash_config pem-t2 pem 2 "$N_PEM" 10 6 no
crash_config p12-t2 p12 2 "$N_P12" 5 5 no

echo
echo "kills: $TOTAL_KILLS in all; $KILLS_BEFORE_COMMIT before the first commit, $KILLS_IN_FINISH in the finish; $RECOVERED delivered-but-uncommitted rows recovered"
printf '  %s\n' "${SUMMARY[@]}"
[ "$KILLS_BEFORE_COMMIT" -ge 1 ] && ok || fail "no kill landed before the first commit"
[ "$KILLS_IN_FINISH" -ge 1 ] && ok || fail "no kill landed in the finish (all chunks committed, batch not complete)"
finish
