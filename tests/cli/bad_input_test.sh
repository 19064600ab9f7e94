#!/usr/bin/env bash
# Bad input (issue 2, "Done when"): every malformed or hostile input is refused
# with exit 2 (1 for a command-line usage error) and a message naming the
# problem, and leaves the store, the rest of the home and the output directory
# exactly as they were. The malformed CSRs come from devpki-testgen
# (tests/cli/testgen.cpp); positive controls first, so that the harness is seen
# to pass what it should.
source "$(dirname "$0")/lib.sh"
: "${TESTGEN:?run through ctest (DEVPKI_TESTGEN unset)}"

H=$T/home
OUT=$T/out
C=$T/csr
mkdir -p "$OUT" "$C"
new_home "$H"
P=$H/profiles

# gen KIND [ARGS...]: $C/KIND.csr (or, with an argument, $C/KIND-ARG1.csr); prints the path.
gen() {
  local kind=$1 file
  shift
  file=$C/$kind${1:+-${1//[^A-Za-z0-9.]/_}}.csr
  # On failure the check that reads the file fails ("cannot read CSR file").
  "$TESTGEN" "$kind" "$file" "$@" >&2 || { echo "FAIL: devpki-testgen $kind failed" >&2; rm -f "$file"; }
  echo "$file"
}

# issue NAME [sign flags...]: must succeed, writing $OUT/NAME.pem.
issue() {
  local name=$1 err
  shift
  if err=$("$CA" --home "$H" sign --passphrase-file "$PASS_FILE" --out "$OUT/$name.pem" "$@" 2>&1 >/dev/null); then
    ok
  else
    fail "$name: refused: $err"
  fi
}

# verify NAME CA: $OUT/NAME.pem chains to the root through CA under openssl -x509_strict.
verify() {
  local name=$1 ca=$2 err
  "$CA" --home "$H" chain --ca "$ca" --out "$T/$ca-chain.pem" --force 2>/dev/null
  last_cert "$T/$ca-chain.pem" >"$T/$ca-root.pem"
  if err=$(openssl verify -x509_strict -CAfile "$T/$ca-root.pem" -untrusted "$T/$ca-chain.pem" \
    "$OUT/$name.pem" 2>&1); then
    ok
  else
    fail "$name: openssl verify: $err"
  fi
}

# reject NAME REGEX [sign flags...]: `sign ... --out $OUT/NAME.pem` exits 2 with
# a message matching REGEX and changes nothing.
reject() {
  local name=$1 regex=$2
  shift 2
  expect_rejected "$H" "$OUT" "$name" 2 "$regex" -- \
    "$CA" --home "$H" sign --passphrase-file "$PASS_FILE" --out "$OUT/$name.pem" "$@"
}

# reject_csr NAME REGEX CSR: as reject, for CSR under factory / device-ldevid / dev1.
reject_csr() {
  reject "$1" "$2" --ca factory --profile device-ldevid --device-id dev1 --csr "$3"
}

# Profiles the checks below need, next to the shipped ones in the home.
cat >"$P/ec-only.yaml" <<'EOF'
name: ec-only
validity: 1y
keys: [ec-p256]
subject:
  - CN: "{device_id}"
key_usage: [digitalSignature]
EOF
# No subject template: the certificate is named by the CSR's SANs alone.
cat >"$P/san-only.yaml" <<'EOF'
name: san-only
validity: 1y
keys: [ec-p256]
san:
  allow:
    - {type: dns, pattern: "*.x.example"}
key_usage: [digitalSignature]
EOF
# A CA constrained to subdomains of acme.example, and a device profile whose
# SAN rules are wider than that (the constraints must still win).
cat >"$P/nc-ca.yaml" <<'EOF'
name: nc-ca
validity: 5y
keys: [ec-p256]
signature_digest: sha384
key_usage: [keyCertSign, cRLSign]
basic_constraints: {ca: true, path_len: 0}
name_constraints:
  permitted:
    - {type: dns, value: ".acme.example"}
EOF
cat >"$P/nc-device.yaml" <<'EOF'
name: nc-device
validity: 1y
keys: [ec-p256]
subject:
  - O: Acme
  - CN: "{device_id}"
san:
  allow:
    - {type: dns, pattern: "*.example"}
    - {type: dns, pattern: "*.acme.example"}
key_usage: [digitalSignature]
extended_key_usage: [clientAuth]
EOF
cat >"$P/unknown-key.yaml" <<'EOF'
name: unknown-key
validity: 1y
keys: [ec-p256]
subject:
  - CN: "{device_id}"
colour: blue
key_usage: [digitalSignature]
EOF
cat >"$P/zero-validity.yaml" <<'EOF'
name: zero-validity
validity: 0s
keys: [ec-p256]
subject:
  - CN: "{device_id}"
key_usage: [digitalSignature]
EOF

echo "== positive controls"
csr_openssl "$C/openssl.csr" ec:P-256 -subj /CN=ok-openssl
issue ok-openssl --ca factory --profile device-ldevid --device-id ok-openssl --csr "$C/openssl.csr"
verify ok-openssl factory
issue ok-testgen --ca factory --profile device-ldevid --device-id ok-testgen --csr "$(gen good)"
verify ok-testgen factory
issue ok-der --ca factory --profile device-ldevid --device-id ok-der --csr "$(gen der)"
issue ok-san --ca factory --profile device-ldevid --device-id ok-san \
  --csr "$(gen san dns:ok-san.devices.acme.example)"
verify ok-san factory
issue ok-san-only --ca factory --profile san-only --csr "$(gen san dns:a.x.example)"
verify ok-san-only factory

echo "== encoding"
: >"$C/empty-file.csr"
reject_csr empty-file 'CSR is empty' "$C/empty-file.csr"
reject_csr der-truncated 'not DER: truncated' "$(gen der-truncated)"
reject_csr der-trailing '2 trailing bytes' "$(gen der-trailing)"
reject_csr ber-indefinite 'indefinite length' "$(gen ber-indefinite)"
reject_csr two-pem 'more than one PEM block' "$(gen two-pem)"
reject_csr oversize 'over the limit of 32768' "$(gen oversize)"
reject_csr many-sans-3000 'over the limit of 32768' "$(gen many-sans 3000)"
reject_csr many-sans-1000 '1000 subject alternative names, over the limit of 64' "$(gen many-sans 1000)"

echo "== request content"
reject_csr bad-pop 'no proof of possession' "$(gen bad-pop)"
reject_csr version1 'version is 1' "$(gen version1)"
reject_csr ca-true 'CA:TRUE' "$(gen ca-true)"
reject_csr keycertsign 'keyCertSign' "$(gen keycertsign)"
reject_csr dup-ext 'extension 2\.5\.29\.17 twice' "$(gen dup-ext)"
reject_csr unknown-critical 'unknown critical extension 1\.3\.6\.1\.4\.1\.99999\.1' "$(gen unknown-critical)"
reject_csr sha1 'signed with ecdsa-with-SHA1' "$(gen sha1)"
reject_csr md5 'signed with md5WithRSAEncryption' "$(gen md5)"

echo "== names"
reject_csr nul-cn 'CN contains a control character \(U\+0000\)' "$(gen nul-cn)"
reject_csr newline-cn 'CN contains a control character \(U\+000A\)' "$(gen newline-cn)"
reject_csr bad-utf8 '[Uu][Tt][Ff]-?8' "$(gen bad-utf8)"
reject_csr long-cn 'CN is 65 characters; RFC 5280 allows at most 64' "$(gen long-cn)"
reject newline-device-id 'invalid device id' \
  --ca factory --profile device-ldevid --device-id $'dev\n1' --csr "$C/good.csr"
# The refused id must not be echoed raw, as names are (\x0A): a newline from
# the command line splits the message and can forge a log line.
err=$("$CA" --home "$H" sign --ca factory --profile device-ldevid --device-id $'dev\n1' \
  --csr "$C/good.csr" --out "$OUT/x.pem" --passphrase-file "$PASS_FILE" 2>&1 >/dev/null || true)
if [ "$(wc -l <<<"$err")" -eq 1 ]; then ok; else fail "newline-device-id: message echoes the raw newline: $err"; fi
long_cn=$(printf 'a%.0s' {1..65})
for subject in $'/O=Acme/CN=a\nb' 'CN=a\00b,O=Acme' "/O=Acme/CN=$long_cn"; do
  case "$subject" in
    *$'\n'*) label=newline regex='control character \(U\+000A\)' ;;
    *'\00'*) label=nul regex='control character \(U\+0000\)' ;;
    *) label=long-cn regex='65 characters; RFC 5280 allows at most 64' ;;
  esac
  expect_rejected "$H" "$OUT" "issue-ca-$label" 2 "$regex" -- \
    "$CA" --home "$H" issue-ca --parent root --name "bad-$label" --subject "$subject" \
    --passphrase-file "$PASS_FILE"
  expect_rejected "$H" "$OUT" "init-$label" 2 "$regex" -- \
    "$CA" --home "$H" init --name "root-$label" --subject "$subject" --passphrase-file "$PASS_FILE"
  # init into a new directory: no home may be left behind.
  expect_fail "init-new-home-$label" 2 "$regex" -- \
    "$CA" --home "$T/new-$label" init --subject "$subject" --passphrase-file "$PASS_FILE"
  if [ -e "$T/new-$label" ]; then fail "init-new-home-$label: left $T/new-$label behind"; else ok; fi
done
reject empty-subject 'subject is empty and there is no subjectAltName' \
  --ca factory --profile san-only --csr "$(gen empty)"

echo "== SANs: profile and name constraints"
reject_csr san-outside-profile 'evil\.example is not allowed by profile' "$(gen san dns:evil.example)"
"$CA" --home "$H" issue-ca --parent root --name ncca --subject "/O=Acme/CN=Acme NC CA" --profile nc-ca \
  --passphrase-file "$PASS_FILE" >/dev/null
issue nc-inside --ca ncca --profile nc-device --device-id nc-inside --csr "$(gen san dns:a.acme.example)"
verify nc-inside ncca
reject nc-outside 'outside the name constraints' \
  --ca ncca --profile nc-device --device-id nc-outside --csr "$(gen san dns:evil.example)"

echo "== keys"
reject_csr rsa1024 'RSA 1024 bits; RSA keys must be 2048 to 4096 bits' "$(gen rsa1024)"
reject_csr rsa4200 'RSA 4200 bits; RSA keys must be 2048 to 4096 bits' "$(gen rsa4200)"
reject_csr explicit-ec 'explicit EC parameters' "$(gen explicit-ec)"
reject_csr p521 'not allowed by profile .device-ldevid' "$(gen p521)"
reject ed25519-not-allowed 'ed25519 is not allowed by profile .ec-only' \
  --ca factory --profile ec-only --device-id dev1 --csr "$(gen ed25519)"
reject rsa2048-not-allowed 'rsa-2048 is not allowed by profile .ec-only' \
  --ca factory --profile ec-only --device-id dev1 --csr "$(gen rsa2048)"

echo "== issuance state"
issue dup-first --ca factory --profile device-ldevid --device-id dup1 --csr "$(gen good)"
reject dup-second 'device dup1 already holds a live certificate' \
  --ca factory --profile device-ldevid --device-id dup1 --csr "$(gen cn dup1)"
printf 'not the passphrase\n' >"$T/wrong-passphrase"
expect_rejected "$H" "$OUT" wrong-passphrase 2 'passphrase' -- \
  "$CA" --home "$H" sign --ca factory --profile device-ldevid --device-id dev1 --csr "$C/good.csr" \
  --out "$OUT/wrong-passphrase.pem" --passphrase-file "$T/wrong-passphrase"
reject unknown-profile-key 'unknown-key\.yaml:6: .*colour' \
  --ca factory --profile unknown-key --device-id dev1 --csr "$C/good.csr"
reject zero-validity 'zero-validity\.yaml:2: .*validity' \
  --ca factory --profile zero-validity --device-id dev1 --csr "$C/good.csr"

echo "== command line"
# The existing file is part of $OUT: expect_rejected compares its SHA-256.
printf 'keep me\n' >"$OUT/exists.pem"
reject exists 'exists; use --force' --ca factory --profile device-ldevid --device-id dev1 --csr "$C/good.csr"
reject unknown-ca "no CA named 'nope'" --ca nope --profile device-ldevid --device-id dev1 --csr "$C/good.csr"
reject unknown-profile "no profile 'nope'" --ca factory --profile nope --device-id dev1 --csr "$C/good.csr"
reject missing-csr "cannot read CSR file" --ca factory --profile device-ldevid --device-id dev1 \
  --csr "$C/missing.csr"
reject bad-var "--var 'novalue': expected NAME=VALUE" --ca factory --profile device-ldevid --device-id dev1 \
  --csr "$C/good.csr" --var novalue
reject bad-var-name "--var '=x': expected NAME=VALUE" --ca factory --profile device-ldevid --device-id dev1 \
  --csr "$C/good.csr" --var =x
expect_rejected "$H" "$OUT" usage-no-out 1 '--out' -- \
  "$CA" --home "$H" sign --ca factory --profile device-ldevid --device-id dev1 --csr "$C/good.csr"

finish
