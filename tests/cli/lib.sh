# Shared helpers for the end-to-end tests. Sourced by tests/cli/*_test.sh.
# Environment (set by CTest): DEVPKI_CA, DEVPKI_TESTGEN, DEVPKI_SOURCE_DIR, DEVPKI_PROFILES.
set -euo pipefail

: "${DEVPKI_CA:?run through ctest (DEVPKI_CA unset)}"
CA=$DEVPKI_CA
TESTGEN=${DEVPKI_TESTGEN:-}
T=$(mktemp -d "${TMPDIR:-/tmp}/devpki-cli.XXXXXX")
trap 'rm -rf "$T"' EXIT
unset DEVPKI_HOME DEVPKI_PASSPHRASE
PASS_FILE=$T/passphrase
printf 'test passphrase\n' > "$PASS_FILE"

failures=0
passes=0
ok() { passes=$((passes + 1)); }
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
# Prints "N passed, N failed" (the closing line CI reads) and exits non-zero on failure.
finish() {
  echo "$passes passed, $failures failed"
  [ "$failures" -eq 0 ]
}

# new_home DIR [root key] [issuing key]: root "root" and issuing CA "factory".
new_home() {
  local home=$1 rk=${2:-ec-p384} ik=${3:-ec-p256}
  "$CA" --home "$home" init --name root --subject "/O=Acme/CN=Acme Root CA" --key "$rk" \
    --passphrase-file "$PASS_FILE" >/dev/null
  "$CA" --home "$home" issue-ca --parent root --name factory --subject "/O=Acme/CN=Acme Factory CA" \
    --key "$ik" --passphrase-file "$PASS_FILE" >/dev/null
}

# root_of CHAIN_PEM > ROOT_PEM: the last certificate of a chain file.
last_cert() { awk '/-----BEGIN/{buf=""} {buf=buf $0 "\n"} /-----END/{last=buf} END{printf "%s", last}' "$1"; }

# store_snapshot HOME: a text dump of everything in the store, to compare before/after.
store_snapshot() {
  sqlite3 "$1/store.db" '.dump' | grep -v '^PRAGMA' | sort
}

# csr_openssl OUT KEYSPEC [extra req args...]: a CSR with a fresh key, e.g.
#   csr_openssl $T/a.csr ec:P-256 -subj /CN=a
csr_openssl() {
  local out=$1 spec=$2; shift 2
  local key=${out%.csr}.key
  case "$spec" in
    ec:*) openssl genpkey -algorithm EC -pkeyopt "ec_paramgen_curve:${spec#ec:}" -out "$key" 2>/dev/null ;;
    rsa:*) openssl genpkey -algorithm RSA -pkeyopt "rsa_keygen_bits:${spec#rsa:}" -out "$key" 2>/dev/null ;;
    ed25519) openssl genpkey -algorithm ED25519 -out "$key" 2>/dev/null ;;
    *) echo "csr_openssl: unknown key spec $spec" >&2; return 2 ;;
  esac
  openssl req -new -key "$key" -out "$out" "$@" 2>/dev/null
}

# expect_fail NAME EXPECTED_EXIT MESSAGE_REGEX -- command...: the command must exit
# with EXPECTED_EXIT and print a message matching MESSAGE_REGEX on stderr.
expect_fail() {
  local name=$1 code=$2 regex=$3; shift 4
  local err rc=0
  err=$("$@" 2>&1 >/dev/null) || rc=$?
  if [ "$rc" -ne "$code" ]; then
    fail "$name: exit $rc, expected $code; stderr: $err"
  elif ! grep -Eq -- "$regex" <<<"$err"; then
    fail "$name: message '$err' does not match /$regex/"
  else
    ok
  fi
}

# files_snapshot DIR: path and SHA-256 of every file under DIR, the store's
# own files left out (store_snapshot compares their contents).
files_snapshot() {
  (cd "$1" && find . -type f ! -name 'store.db*' -print0 | sort -z | xargs -0r sha256sum)
}

# expect_rejected HOME OUTDIR NAME EXPECTED_EXIT MESSAGE_REGEX -- command...: as
# expect_fail, and the command must leave the store, every other file of HOME
# and everything in OUTDIR exactly as they were. Counts as one check.
expect_rejected() {
  local home=$1 outdir=$2 name=$3 code=$4 regex=$5; shift 6
  local before out_before err rc=0 problems=()
  before=$(store_snapshot "$home"; files_snapshot "$home")
  out_before=$(files_snapshot "$outdir")
  err=$("$@" 2>&1 >/dev/null) || rc=$?
  [ "$rc" -eq "$code" ] || problems+=("exit $rc, expected $code")
  grep -Eq -- "$regex" <<<"$err" || problems+=("message does not match /$regex/")
  [ "$(store_snapshot "$home"; files_snapshot "$home")" = "$before" ] || problems+=("the home changed")
  [ "$(files_snapshot "$outdir")" = "$out_before" ] || problems+=("the output directory changed")
  if [ ${#problems[@]} -eq 0 ]; then
    ok
  else
    local IFS=';'
    fail "$name: ${problems[*]}; stderr: $err"
  fi
}

# --- devpki-mint (tests/cli/mint_*_test.sh) ----------------------------------
MINT=${DEVPKI_MINT:-}

# ca_files HOME CA DIR: DIR/chain.pem (CA's chain, issuing CA first, root last)
# and DIR/root.pem (its last certificate).
ca_files() {
  mkdir -p "$3"
  "$CA" --home "$1" chain --ca "$2" --out "$3/chain.pem" --force >/dev/null
  last_cert "$3/chain.pem" >"$3/root.pem"
}

# flip_last_byte FILE: XOR the last byte with 1 (in a DER CSR: the signature's last byte).
flip_last_byte() {
  local f=$1 n b
  n=$(stat -c %s "$f")
  b=$(xxd -s $((n - 1)) -l 1 -p "$f")
  printf "$(printf '\\x%02x' $((16#$b ^ 1)))" | dd of="$f" bs=1 seek=$((n - 1)) conv=notrunc status=none
}

# csr_jsonl_line DEVICE_ID CSR_PEM_FILE: one {"device_id":..,"csr":..} line for --csrs FILE.jsonl.
csr_jsonl_line() { jq -cn --arg id "$1" --rawfile csr "$2" '{device_id: $id, csr: $csr}'; }
