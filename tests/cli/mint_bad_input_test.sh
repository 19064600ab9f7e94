#!/usr/bin/env bash
# devpki-mint bad input: every refused batch exits 1 (a usage error) or 2 (a
# refused request) with a message naming the problem, and leaves the store,
# the rest of the home and the output directory exactly as they were (an --out
# that did not exist is not created). Positive controls first.
source "$(dirname "$0")/lib.sh"
: "${MINT:?run through ctest (DEVPKI_MINT unset)}"

H=$T/home
new_home "$H"
P12_PASS=$T/p12pass
printf 'p12 test password\n' >"$P12_PASS"
W=$T/work  # inputs and the parent of every --out
mkdir -p "$W"

# refuse NAME EXIT REGEX ARGS...: `devpki-mint --home $H ARGS... --out $W/out-NAME`
# is refused, changes nothing, and does not create its --out directory.
n=0
refuse() {
  local name=$1 code=$2 regex=$3
  shift 3
  n=$((n + 1))
  local out=$W/out-$n
  expect_rejected "$H" "$W" "$name" "$code" "$regex" -- \
    "$MINT" --home "$H" --passphrase-file "$PASS_FILE" "$@" --out "$out"
  [ ! -e "$out" ] && ok || fail "$name: created $out"
}
# refuse_noout NAME EXIT REGEX ARGS...: the same without an --out of its own.
refuse_noout() {
  local name=$1 code=$2 regex=$3
  shift 3
  expect_rejected "$H" "$W" "$name" "$code" "$regex" -- \
    "$MINT" --home "$H" --passphrase-file "$PASS_FILE" "$@"
}

# A profile that allows one key type.
cat >"$H/profiles/ec-only.yaml" <<'EOF'
name: ec-only
validity: 1y
keys: [ec-p256]
subject:
  - CN: "{device_id}"
key_usage: [digitalSignature]
EOF

# --- positive controls --------------------------------------------------------
if "$MINT" --home "$H" --passphrase-file "$PASS_FILE" --ca factory --profile device-idevid --count 3 \
  --id-pattern 'LIVE-{seq}' --out "$T/live" --batch-id existing >/dev/null 2>"$T/err"; then ok; else
  fail "control: a good batch was refused: $(cat "$T/err")"
fi
printf 'device_id\nGOOD-1\nGOOD-2\n' >"$W/good.csv"
if "$MINT" --home "$H" --passphrase-file "$PASS_FILE" --ca factory --profile device-idevid --ids "$W/good.csv" \
  --out "$T/good-ids" >/dev/null 2>"$T/err"; then ok; else
  fail "control: a good CSV was refused: $(cat "$T/err")"
fi

# --- what the batch is for -------------------------------------------------------
COUNT=(--count 5 --id-pattern 'DEV-{seq:03}')
refuse "unknown CA" 2 "no CA named 'nosuch'" --ca nosuch --profile device-idevid "${COUNT[@]}"
refuse "unknown profile" 2 "no profile 'nosuch'" --ca factory --profile nosuch "${COUNT[@]}"
refuse "CA profile for devices" 2 "issues CA certificates" --ca factory --profile issuing-ca "${COUNT[@]}"
refuse "--count 0" 2 "--count must be at least 1" --ca factory --profile device-idevid --count 0 --id-pattern 'DEV-{seq}'
refuse "pattern without {seq}" 2 "has no \{seq\}" --ca factory --profile device-idevid --count 5 --id-pattern 'DEV-1'
refuse "pattern with two {seq}" 2 "only one \{seq\}" --ca factory --profile device-idevid --count 5 --id-pattern '{seq}-{seq}'
refuse "pattern making invalid ids" 2 "invalid device id 'DEV/1'" --ca factory --profile device-idevid --count 5 --id-pattern 'DEV/{seq}'
refuse "pattern making too long ids" 2 "invalid device id" --ca factory --profile device-idevid --count 5 \
  --id-pattern "$(printf 'A%.0s' $(seq 1 70))-{seq}"
refuse "unknown key algorithm" 2 "unknown key algorithm 'dsa-1024'" --ca factory --profile device-idevid "${COUNT[@]}" --key dsa-1024
refuse "key the profile refuses" 2 "ec-p384 is not allowed by profile 'ec-only'" --ca factory --profile ec-only "${COUNT[@]}" --key ec-p384
refuse "unknown format" 2 "unknown format 'der'" --ca factory --profile device-idevid "${COUNT[@]}" --format der
refuse "bad --var" 2 "--var 'novalue': expected NAME=VALUE" --ca factory --profile device-idevid "${COUNT[@]}" --var novalue
echo wrong >"$T/wrong-pass"
expect_rejected "$H" "$W" "wrong CA passphrase" 2 "wrong passphrase" -- \
  "$MINT" --home "$H" --passphrase-file "$T/wrong-pass" --ca factory --profile device-idevid "${COUNT[@]}" --out "$W/out-wrong"
[ ! -e "$W/out-wrong" ] && ok || fail "wrong CA passphrase: created the output directory"
expect_rejected "$H" "$W" "wrong CA passphrase (env)" 2 "wrong passphrase" -- \
  env DEVPKI_PASSPHRASE=wrong "$MINT" --home "$H" --ca factory --profile device-idevid "${COUNT[@]}" --out "$W/out-wrong"
[ ! -e "$W/out-wrong" ] && ok || fail "wrong CA passphrase (env): created the output directory"
expect_rejected "$H" "$W" "no CA passphrase" 2 "passphrase" -- \
  "$MINT" --home "$H" --ca factory --profile device-idevid "${COUNT[@]}" --out "$W/out-nopass"
[ ! -e "$W/out-nopass" ] && ok || fail "no CA passphrase: created the output directory"
expect_rejected "$H" "$W" "no home" 2 "no devpki home" -- \
  "$MINT" --home "$T/nohome" --passphrase-file "$PASS_FILE" --ca factory --profile device-idevid "${COUNT[@]}" --out "$W/out-nohome"
[ ! -e "$W/out-nohome" ] && [ ! -e "$T/nohome" ] && ok || fail "no home: created the home or the output directory"

# --- ids: live, duplicates, the batch id -------------------------------------------
refuse "ids already live" 2 "already hold a live certificate.*LIVE-1.*--reissue" --ca factory --profile device-idevid --count 3 --id-pattern 'LIVE-{seq}'
refuse "existing --batch-id" 2 "a batch with id existing already exists" --ca factory --profile device-idevid "${COUNT[@]}" --batch-id existing
refuse "invalid --batch-id" 2 "invalid batch id" --ca factory --profile device-idevid "${COUNT[@]}" --batch-id 'a b/c'

# --- CSV input --------------------------------------------------------------------
printf 'serial,model\nA1,m\n' >"$W/nocol.csv"
refuse "CSV without device_id" 2 "nocol.csv:1: no device_id column" --ca factory --profile device-idevid --ids "$W/nocol.csv"
printf 'device_id\nDUP-1\nDUP-2\nDUP-1\n' >"$W/dup.csv"
refuse "CSV with a duplicate id" 2 "device id DUP-1 appears twice" --ca factory --profile device-idevid --ids "$W/dup.csv"
printf 'device_id\nOK-1\nBAD/ID\n' >"$W/badid.csv"
refuse "CSV with an invalid id" 2 "badid.csv:3: invalid device id 'BAD/ID'" --ca factory --profile device-idevid --ids "$W/badid.csv"
printf 'device_id\nGOOD-1\n' >"$W/live.csv"
refuse "CSV with a live id" 2 "live certificate.*GOOD-1" --ca factory --profile device-idevid --ids "$W/live.csv"
printf 'device_id,model\nX-1,a,b\n' >"$W/ragged.csv"
refuse "CSV with a ragged row" 2 "ragged.csv:2: expected 2 fields, found 3" --ca factory --profile device-idevid --ids "$W/ragged.csv"
: >"$W/empty.csv"
refuse "empty CSV" 2 "empty.csv: empty" --ca factory --profile device-idevid --ids "$W/empty.csv"
refuse "missing CSV" 2 "missing.csv is not a readable file" --ca factory --profile device-idevid --ids "$W/missing.csv"

# --- CSR input: unreadable input refuses the batch ------------------------------------
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=x -keyout "$W/c.key" \
  -out "$W/c.csr" 2>/dev/null
{ csr_jsonl_line C-1 "$W/c.csr"; echo 'this is not json'; } >"$W/notjson.jsonl"
refuse "JSONL line that is not JSON" 2 "notjson.jsonl:2: not a JSON object" --ca factory --profile device-ldevid --csrs "$W/notjson.jsonl"
{ csr_jsonl_line C-1 "$W/c.csr"; echo '{"device_id":"C-2"}'; } >"$W/nocsr.jsonl"
refuse "JSONL line without csr" 2 "nocsr.jsonl:2: no \"csr\"" --ca factory --profile device-ldevid --csrs "$W/nocsr.jsonl"
{ csr_jsonl_line C-1 "$W/c.csr"; csr_jsonl_line C-1 "$W/c.csr"; } >"$W/dupcsr.jsonl"
refuse "JSONL with a duplicate id" 2 "device id C-1 appears twice" --ca factory --profile device-ldevid --csrs "$W/dupcsr.jsonl"
refuse "missing CSR directory" 2 "nosuchdir: expected a directory" --ca factory --profile device-ldevid --csrs "$W/nosuchdir"

# --- the output directory -------------------------------------------------------------
mkdir -p "$W/full" && echo keep >"$W/full/other.txt"
expect_rejected "$H" "$W" "non-empty --out" 2 "full is not empty" -- \
  "$MINT" --home "$H" --passphrase-file "$PASS_FILE" --ca factory --profile device-idevid "${COUNT[@]}" --out "$W/full"

# --- usage errors (exit 1) ----------------------------------------------------------
refuse_noout "missing --out" 1 "--out DIR is required" --ca factory --profile device-idevid "${COUNT[@]}"
refuse_noout "no mode" 1 "--count|--ids|--csrs" --ca factory --profile device-idevid --out "$W/o-1"
refuse_noout "nothing at all" 1 "--count|--resume"
refuse "--count with --csrs" 1 "excludes" --ca factory --profile device-idevid "${COUNT[@]}" --csrs "$W/c.csr"
refuse "--ids with --csrs" 1 "excludes" --ca factory --profile device-idevid --ids "$W/good.csv" --csrs "$W/c.csr"
refuse "--count without --id-pattern" 1 "id-pattern" --ca factory --profile device-idevid --count 5
refuse "--id-pattern without --count" 1 "count" --ca factory --profile device-idevid --ids "$W/good.csv" --id-pattern 'X{seq}'
refuse "missing --ca" 1 "--ca" --profile device-idevid "${COUNT[@]}"
refuse "missing --profile" 1 "--profile" --ca factory "${COUNT[@]}"
refuse "--format p12 without --p12-passphrase-file" 1 "p12-passphrase-file" --ca factory --profile device-idevid \
  "${COUNT[@]}" --format p12
refuse "--format p12 in CSR mode" 1 "csrs" --ca factory --profile device-ldevid --csrs "$W/notjson.jsonl" \
  --format p12 --p12-passphrase-file "$P12_PASS"
refuse "--p12-passphrase-file without p12" 1 "p12" --ca factory --profile device-idevid "${COUNT[@]}" \
  --p12-passphrase-file "$P12_PASS"
refuse "--threads 0" 1 "threads" --ca factory --profile device-idevid "${COUNT[@]}" --threads 0
refuse "--count not a number" 1 "count" --ca factory --profile device-idevid --count many --id-pattern 'X{seq}'
refuse "unknown option" 1 "nosuch" --ca factory --profile device-idevid "${COUNT[@]}" --nosuch

# --- --resume ------------------------------------------------------------------------
refuse_noout "--resume unknown id" 2 "no batch nosuchbatch" --resume nosuchbatch
refuse "--resume with --count" 1 "excludes" --resume existing "${COUNT[@]}"
refuse_noout "--resume with --ca" 1 "excludes" --resume existing --ca factory
expect_rejected "$H" "$W" "batches with batch options" 1 "--ca belongs to a batch run" -- "$MINT" --home "$H" batches --ca factory

finish
