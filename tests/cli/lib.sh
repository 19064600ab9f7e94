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

# --- revocation, CRLs, devpki-decommission (tests/cli/revoke_*_test.sh,
# decommission_test.sh, tls_nginx_test.sh) -------------------------------------
DECOM=${DEVPKI_DECOMMISSION:-}

# norm_serial HEX: lower case, no ':' or spaces, no leading zeros: how the
# tests compare serials from openssl, the store and devpki's output.
norm_serial() {
  local s
  s=$(printf '%s' "$1" | tr -d ': \r\n' | tr 'A-F' 'a-f' | sed 's/^0*//')
  printf '%s\n' "${s:-0}"
}
# cert_serial CERT_PEM: the certificate's serial, normalized.
cert_serial() { norm_serial "$(openssl x509 -in "$1" -noout -serial | cut -d= -f2)"; }
# crl_number CRL_PEM: the CRL number, in decimal.
crl_number() {
  local n
  n=$(openssl crl -in "$1" -noout -crlnumber | cut -d= -f2)
  n=${n#0x}
  echo $((16#$n))
}
# crl_entries CRL_PEM: one line per revoked certificate, as openssl reads it:
# "SERIAL REASON INVALIDITY" with the serial normalized, spaces in the reason
# and the date as '_' ("Key_Compromise", "Nov_27_05:10:18_2026_GMT"), '-' when
# the entry has no such extension. Sorted by serial.
crl_entries() {
  openssl crl -in "$1" -noout -text | awk '
    function out() { if (s != "") print s, r, inv }
    /^ *Serial Number:/ { out(); s = tolower($3); sub(/^0+/, "", s); r = "-"; inv = "-"; want = ""; next }
    want != "" { v = $0; gsub(/^ +| +$/, "", v); gsub(/ +/, "_", v); if (want == "r") r = v; else inv = v; want = ""; next }
    s != "" && /X509v3 CRL Reason Code:/ { want = "r"; next }
    s != "" && /Invalidity Date:/ { want = "i"; next }
    END { out() }' | sort
}
# crl_serials CRL_PEM: the serials it lists, normalized and sorted.
crl_serials() { crl_entries "$1" | cut -d' ' -f1; }
# crl_verifies LABEL CRL_PEM ISSUER_PEM: `openssl crl -verify` and GnuTLS
# `certtool --verify-crl` both accept the CRL's signature by ISSUER (two checks).
# CRL_PEM may be DER.
crl_verifies() {
  local label=$1 crl=$2 issuer=$3 out form=PEM der=()
  head -c 10 "$crl" | grep -q -- '-----BEGIN' || { form=DER; der=(--inder); }
  if out=$(openssl crl -inform "$form" -in "$crl" -CAfile "$issuer" -noout 2>&1) && grep -q 'verify OK' <<<"$out"; then ok; else
    fail "$label: openssl crl -verify: $out"
  fi
  # certtool's --inder is for every input: the issuer goes in DER too.
  local ca_in=$issuer
  if [ $form = DER ]; then
    ca_in=$T/crl-verifies-issuer.der
    openssl x509 -in "$issuer" -outform DER -out "$ca_in"
  fi
  if out=$(certtool --verify-crl "${der[@]}" --load-ca-certificate "$ca_in" --infile "$crl" 2>&1) &&
    grep -q 'Verification output: Verified' <<<"$out"; then ok; else
    fail "$label: certtool --verify-crl: $(tail -3 <<<"$out")"
  fi
}
# crl_verdict CERT ROOT_PEM UNTRUSTED_PEM CRL_FILE... : what `openssl verify
# -x509_strict -crl_check_all` says of CERT with those CRLs: "OK", "revoked",
# or its output on one line. Extra verify options in $VERIFY_OPTS (e.g. -use_deltas).
crl_verdict() {
  local cert=$1 root=$2 untrusted=$3 out c args=()
  shift 3
  for c in "$@"; do args+=(-CRLfile "$c"); done
  # shellcheck disable=SC2086
  if out=$(openssl verify -x509_strict -crl_check_all ${VERIFY_OPTS:-} -CAfile "$root" \
    -untrusted "$untrusted" "${args[@]}" "$cert" 2>&1); then
    echo OK
  elif grep -q 'certificate revoked' <<<"$out"; then
    echo revoked
  else
    tr '\n' ' ' <<<"$out"
    echo
  fi
}
# split_pem FILE PREFIX: each PEM block of FILE to PREFIX-1.pem, PREFIX-2.pem, ...;
# prints how many.
split_pem() {
  awk -v p="$2" '/-----BEGIN/ { n++ } n { print > (p "-" n ".pem") } END { print n + 0 }' "$1"
}
# epoch_of TIME: seconds since 1970 of "2026-01-02T03:04:05Z" or openssl's "Jan  2 03:04:05 2026 GMT".
epoch_of() { date -u -d "$1" +%s; }
# wait_until EPOCH: sleeps until the clock has reached EPOCH.
wait_until() {
  while [ "$(date +%s)" -lt "$1" ]; do sleep 0.2; done
}
# certtool_crl_verdict CERT CHAIN_PEM ROOT_PEM CRL_PEM: what GnuTLS says of CERT
# (sent with the untrusted CHAIN_PEM) given the CRLs in CRL_PEM: "Verified",
# "revoked" or its last lines.
certtool_crl_verdict() {
  local out
  cat "$1" "$2" >"$T/certtool-crl-in.pem"
  out=$(certtool --verify --load-ca-certificate "$3" --load-crl "$4" --infile "$T/certtool-crl-in.pem" 2>&1) || true
  if grep -q 'Chain verification output: Verified' <<<"$out"; then
    echo Verified
  elif grep -q 'Chain verification output: Not verified.*revoked' <<<"$out"; then
    echo revoked
  else
    tail -2 <<<"$out" | tr '\n' ' '
    echo
  fi
}
