#!/usr/bin/env bash
# The chain matrix: root -> issuing CA -> device, built with devpki-ca, for every
# shipped end-entity profile and every key algorithm, checked by verifiers
# nobody here wrote (openssl verify -x509_strict, GnuTLS certtool --verify-chain),
# and every certificate (CA and leaf) parsed with openssl for the RFC 5280 rules
# of issue 2: serial positive, <= 20 octets, >= 64 bits, unique; SKI present and
# AKI = issuer's SKI; basicConstraints critical on CAs; keyUsage critical;
# UTCTime through 2049, GeneralizedTime from 2050.
source "$(dirname "$0")/lib.sh"

ALGS=(ec-p256 ec-p384 ed25519 rsa-2048 rsa-3072 rsa-4096)
SERIALS=$T/serials
: >"$SERIALS"

# genkey ALG OUT: a private key of a devpki key algorithm, made by openssl.
genkey() {
  case "$1" in
    ec-p256) openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$2" ;;
    ec-p384) openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out "$2" ;;
    ed25519) openssl genpkey -algorithm ED25519 -out "$2" ;;
    rsa-*) openssl genpkey -algorithm RSA -pkeyopt "rsa_keygen_bits:${1#rsa-}" -out "$2" ;;
  esac 2>/dev/null
}

# key_alg CERT: the devpki name of the certificate's public key algorithm.
key_alg() {
  local text
  text=$(openssl x509 -in "$1" -noout -text)
  if grep -q 'Public Key Algorithm: ED25519' <<<"$text"; then
    echo ed25519
  elif grep -q 'Public Key Algorithm: rsaEncryption' <<<"$text"; then
    echo "rsa-$(sed -nE 's/.*Public-Key: \(([0-9]+) bit\).*/\1/p' <<<"$text" | head -1)"
  elif grep -q 'ASN1 OID: prime256v1' <<<"$text"; then
    echo ec-p256
  elif grep -q 'ASN1 OID: secp384r1' <<<"$text"; then
    echo ec-p384
  else
    echo unknown
  fi
}

# sig_regex ALG: the signature algorithms (as openssl names them) a key of ALG makes.
sig_regex() {
  case "$1" in
    ec-*) echo '^ecdsa-with-SHA(256|384|512)$' ;;
    ed25519) echo '^ED25519$' ;;
    rsa-*) echo '^sha(256|384|512)WithRSAEncryption$' ;;
  esac
}

# ext_keyid CERT EXT: the key identifier of subjectKeyIdentifier or
# authorityKeyIdentifier (upper-case hex with colons), empty when absent.
ext_keyid() {
  openssl x509 -in "$1" -noout -ext "$2" 2>/dev/null | sed -n '2,$p' | tr -d ' ' |
    grep -m1 -E '^(keyid:)?[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2})*$' | sed 's/^keyid://' | tr a-f A-F || true
}

# check_cert LABEL CERT ISSUER_CERT ca|leaf: the RFC 5280 rules on one certificate.
# Leaves NB_TYPE NB_VALUE NA_TYPE NA_VALUE (the validity times as asn1parse shows
# them) for the caller's own checks.
check_cert() {
  local label=$1 cert=$2 issuer=$3 kind=$4
  local asn line len value
  asn=$(openssl asn1parse -in "$cert")

  # RFC 5280 4.1.2.2: the serial is the first INTEGER of the TBSCertificate
  # after the [0] version: positive, at most 20 octets; issue 2: >= 64 bits.
  line=$(grep -m1 -E 'd=2 +hl=[0-9]+ +l= *[0-9]+ +prim: +INTEGER' <<<"$asn")
  len=$(sed -E 's/.* l= *([0-9]+) +prim.*/\1/' <<<"$line")
  value=$(sed -E 's/.*INTEGER +://' <<<"$line")
  if [[ "$value" == -* ]]; then
    fail "$label: serial $value is negative"
  elif [[ ! "$value" =~ [1-9A-Fa-f] ]]; then
    fail "$label: serial is zero"
  else
    ok
  fi
  if [ "$len" -gt 20 ]; then fail "$label: serial is $len octets (> 20)"; else ok; fi
  if [ "$len" -lt 8 ]; then fail "$label: serial is $len octets (< 64 bits)"; else ok; fi
  echo "$value $label" >>"$SERIALS"

  # RFC 5280 4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050. The first
  # two times of a certificate are its validity (extensions stay OCTET STRINGs).
  local times type v i=0
  times=$(grep -E 'prim: +(UTCTIME|GENERALIZEDTIME)' <<<"$asn" | head -2 |
    sed -E 's/.*prim: +(UTCTIME|GENERALIZEDTIME) *:(.*)$/\1 \2/')
  NB_TYPE="" NB_VALUE="" NA_TYPE="" NA_VALUE=""
  while read -r type v; do
    i=$((i + 1))
    if [ "$i" -eq 1 ]; then NB_TYPE=$type NB_VALUE=$v; else NA_TYPE=$type NA_VALUE=$v; fi
    case "$type" in
      UTCTIME)
        # A UTCTime year 50..99 means 1950..1999: nothing here is that old.
        if [ "${v:0:2}" -ge 50 ]; then fail "$label: UTCTime $v (year 19${v:0:2}?)"; else ok; fi ;;
      GENERALIZEDTIME)
        if [ "${v:0:4}" -lt 2050 ]; then fail "$label: GeneralizedTime $v for a year before 2050"; else ok; fi ;;
    esac
  done <<<"$times"
  [ "$i" -eq 2 ] && ok || fail "$label: expected 2 validity times, found $i"

  # RFC 5280 4.2.1.2 / 4.2.1.1: SKI present, AKI keyIdentifier = the issuer's SKI.
  local ski aki issuer_ski
  ski=$(ext_keyid "$cert" subjectKeyIdentifier)
  aki=$(ext_keyid "$cert" authorityKeyIdentifier)
  issuer_ski=$(ext_keyid "$issuer" subjectKeyIdentifier)
  [ -n "$ski" ] && ok || fail "$label: no subjectKeyIdentifier"
  if [ -z "$aki" ] && [ "$cert" != "$issuer" ]; then
    # Only a self-signed certificate may leave the AKI out (RFC 5280 4.2.1.1).
    fail "$label: no authorityKeyIdentifier keyid"
  elif [ -n "$aki" ] && [ "$aki" != "$issuer_ski" ]; then
    fail "$label: AKI $aki != issuer's SKI $issuer_ski"
  else
    ok
  fi

  # RFC 5280 4.2.1.9: basicConstraints critical (and cA) on CAs; 4.2.1.3 keyUsage critical.
  local bc ku
  bc=$(openssl x509 -in "$cert" -noout -ext basicConstraints 2>/dev/null || true)
  ku=$(openssl x509 -in "$cert" -noout -ext keyUsage 2>/dev/null || true)
  if [ "$kind" = ca ]; then
    if grep -q 'Basic Constraints: critical' <<<"$bc" && grep -q 'CA:TRUE' <<<"$bc"; then ok; else
      fail "$label: CA without critical basicConstraints CA:TRUE: $bc"
    fi
    grep -q 'Certificate Sign' <<<"$ku" && ok || fail "$label: CA keyUsage lacks keyCertSign: $ku"
  else
    grep -q 'CA:TRUE' <<<"$bc" && fail "$label: end-entity with CA:TRUE" || ok
  fi
  grep -q 'Key Usage: critical' <<<"$ku" && ok || fail "$label: keyUsage missing or not critical: ${ku:-none}"
}

# expect_key LABEL CERT ALG: the certificate's key is of algorithm ALG.
expect_key() {
  local got
  got=$(key_alg "$2")
  [ "$got" = "$3" ] && ok || fail "$1: key is $got, expected $3"
}

# expect_signed_by LABEL CERT ALG: the certificate's signature is one a key of ALG makes.
expect_signed_by() {
  local sig
  sig=$(openssl x509 -in "$2" -noout -text | sed -nE 's/^ *Signature Algorithm: *//p' | head -1)
  grep -Eq "$(sig_regex "$3")" <<<"$sig" && ok || fail "$1: signature $sig, expected one by a $3 key"
}

# verify_leaf LABEL HOME LEAF PURPOSE: both verifiers accept root -> issuing -> leaf.
verify_leaf() {
  local label=$1 home=$2 leaf=$3 purpose=$4 out rc=0
  out=$(openssl verify -x509_strict -purpose "$purpose" -CAfile "$home/root.pem" \
    -untrusted "$home/chain.pem" "$leaf" 2>&1) || rc=$?
  if [ "$rc" -eq 0 ] && [ "$out" = "$leaf: OK" ]; then ok; else
    fail "$label: openssl verify -x509_strict (exit $rc): $out"
  fi
  cat "$leaf" "$home/issuing.pem" "$home/root.pem" >"$leaf.full"
  rc=0
  out=$(certtool --verify-chain --infile "$leaf.full" 2>&1) || rc=$?
  if [ "$rc" -eq 0 ] && grep -q 'Chain verification output: Verified' <<<"$out" &&
    ! grep -q 'Not verified' <<<"$out"; then
    ok
  else
    fail "$label: certtool --verify-chain (exit $rc): $(grep -E 'verification output|Not verified' <<<"$out")"
  fi
}

# ext_text CERT: the extensions as openssl prints them, one line each.
ext_text() { openssl x509 -in "$1" -noout -text | tr -s ' '; }

# setup_home LABEL ROOT_ALG ISSUING_ALG [root validity] [issuing validity]: a home
# with root "root" and issuing CA "factory"; writes chain.pem, root.pem, issuing.pem
# and checks both CA certificates.
setup_home() {
  local label=$1 home=$T/$1 rk=$2 ik=$3 rv=${4:-} iv=${5:-} err
  local rvo=() ivo=()
  [ -n "$rv" ] && rvo=(--validity "$rv")
  [ -n "$iv" ] && ivo=(--validity "$iv")
  if ! err=$("$CA" --home "$home" init --name root --subject "/O=Acme/CN=Acme Root CA $label" --key "$rk" \
    "${rvo[@]}" --passphrase-file "$PASS_FILE" 2>&1 >/dev/null); then
    fail "$label: init --key $rk: $err"
    return 1
  fi
  if ! err=$("$CA" --home "$home" issue-ca --parent root --name factory \
    --subject "/O=Acme/CN=Acme Factory CA $label" --key "$ik" "${ivo[@]}" --passphrase-file "$PASS_FILE" 2>&1 >/dev/null); then
    fail "$label: issue-ca --key $ik: $err"
    return 1
  fi
  if ! err=$("$CA" --home "$home" chain --ca factory --out "$home/chain.pem" 2>&1 >/dev/null); then
    fail "$label: chain: $err"
    return 1
  fi
  last_cert "$home/chain.pem" >"$home/root.pem"
  openssl x509 -in "$home/chain.pem" -out "$home/issuing.pem"
  [ "$(grep -c 'BEGIN CERTIFICATE' "$home/chain.pem")" -eq 2 ] && ok || fail "$label: chain.pem is not 2 certificates"

  expect_key "$label root" "$home/root.pem" "$rk"
  expect_key "$label issuing" "$home/issuing.pem" "$ik"
  expect_signed_by "$label root" "$home/root.pem" "$rk"
  expect_signed_by "$label issuing" "$home/issuing.pem" "$rk"
  check_cert "$label root" "$home/root.pem" "$home/root.pem" ca
  check_cert "$label issuing" "$home/issuing.pem" "$home/root.pem" ca
  # The root trusts itself: openssl and certtool both accept the CA pair alone.
  local out rc=0
  out=$(openssl verify -x509_strict -CAfile "$home/root.pem" "$home/issuing.pem" 2>&1) || rc=$?
  [ "$rc" -eq 0 ] && ok || fail "$label: openssl verify issuing CA: $out"
}

# sign_leaf LABEL PROFILE DEVICE_ALG DEVICE_ID: CSR (key DEVICE_ALG) signed by
# the home's factory under PROFILE, then verified and checked.
sign_leaf() {
  local label=$1 profile=$2 alg=$3 id=$4 home=$T/$1
  local base=$home/$profile-$alg csr_args=() purpose=sslclient err
  case "$profile" in
    device-ldevid) csr_args=(-addext "subjectAltName=DNS:$id.devices.acme.example") ;;
    server-tls) csr_args=(-addext "subjectAltName=DNS:alt-$id.acme.example") purpose=sslserver ;;
  esac
  if ! openssl req -new -key "$T/keys/$alg.key" -subj "/CN=ignored-$id" "${csr_args[@]}" \
    -out "$base.csr" 2>/dev/null; then
    fail "$label $profile $alg: openssl req"
    return
  fi
  if ! err=$("$CA" --home "$home" sign --ca factory --profile "$profile" --csr "$base.csr" \
    --device-id "$id" --out "$base.pem" --passphrase-file "$PASS_FILE" 2>&1 >/dev/null); then
    fail "$label $profile $alg: sign: $err"
    return
  fi
  local l="$label $profile $alg"
  expect_key "$l" "$base.pem" "$alg"
  expect_signed_by "$l" "$base.pem" "$(key_alg "$home/issuing.pem")"
  verify_leaf "$l" "$home" "$base.pem" "$purpose"
  check_cert "$l" "$base.pem" "$home/issuing.pem" leaf

  # What each profile promises (profiles/*.yaml).
  local text subj
  text=$(ext_text "$base.pem")
  subj=$(openssl x509 -in "$base.pem" -noout -subject -nameopt RFC2253)
  case "$profile" in
    device-idevid)
      # IEEE 802.1AR: the device serial in serialNumber, no expiry (RFC 5280
      # 4.1.2.5: notAfter 99991231235959Z, a GeneralizedTime).
      [ "$subj" = "subject=serialNumber=$id,CN=$id,O=Acme" ] && ok || fail "$l: subject $subj"
      if [ "$NA_TYPE $NA_VALUE" = "GENERALIZEDTIME 99991231235959Z" ]; then ok; else
        fail "$l: notAfter is $NA_TYPE $NA_VALUE, expected GENERALIZEDTIME 99991231235959Z (validity: forever)"
      fi
      grep -q 'TLS Web Client Authentication' <<<"$text" && ok || fail "$l: no clientAuth EKU"
      ;;
    device-ldevid)
      [ "$subj" = "subject=CN=$id,OU=Devices,O=Acme" ] && ok || fail "$l: subject $subj"
      grep -q "URI:urn:acme:device:$id" <<<"$text" && ok || fail "$l: no SAN URI urn:acme:device:$id"
      grep -q "DNS:$id.devices.acme.example" <<<"$text" && ok || fail "$l: the CSR's allowed DNS SAN is missing"
      [ "$NA_TYPE" = UTCTIME ] && ok || fail "$l: 1y notAfter is $NA_TYPE"
      grep -q 'TLS Web Client Authentication' <<<"$text" && ok || fail "$l: no clientAuth EKU"
      ;;
    server-tls)
      [ "$subj" = "subject=CN=$id.acme.example,O=Acme" ] && ok || fail "$l: subject $subj"
      grep -q "DNS:$id.acme.example" <<<"$text" && ok || fail "$l: no SAN DNS:$id.acme.example"
      grep -q "DNS:alt-$id.acme.example" <<<"$text" && ok || fail "$l: the CSR's allowed DNS SAN is missing"
      grep -q 'TLS Web Server Authentication' <<<"$text" && ok || fail "$l: no serverAuth EKU"
      ;;
  esac
  grep -q "ignored-$id" <<<"$subj" && fail "$l: the CSR's subject was copied" || ok
}

# Device keys: one per algorithm, shared by the three profiles' CSRs (a CA
# signs whatever key a CSR proves; this keeps RSA-4096 key generation to one).
mkdir -p "$T/keys"
for alg in "${ALGS[@]}"; do genkey "$alg" "$T/keys/$alg.key" || fail "openssl genpkey $alg"; done

# One home per algorithm: root, issuing CA and devices all use it, so every
# algorithm both signs (CA certificates, leaves) and is signed.
for alg in "${ALGS[@]}"; do
  label=h-$alg
  setup_home "$label" "$alg" "$alg" || continue
  sign_leaf "$label" device-idevid "$alg" "SN-$alg"
  sign_leaf "$label" device-ldevid "$alg" "dev-$alg"
  sign_leaf "$label" server-tls "$alg" "mqtt-$alg"
done

# Mixed algorithms along the chain: RSA root, EC issuing CA, Ed25519 and RSA devices.
setup_home mixed rsa-4096 ec-p384 && for alg in ed25519 rsa-2048; do
  sign_leaf mixed device-idevid "$alg" "SN-mixed-$alg"
  sign_leaf mixed device-ldevid "$alg" "dev-mixed-$alg"
  sign_leaf mixed server-tls "$alg" "gw-$alg"
done

# A root whose notAfter crosses 2050: notBefore UTCTime, notAfter GeneralizedTime
# (RFC 5280 4.1.2.5), and the chain still verifies on both sides of the switch.
if setup_home y30 ec-p256 ec-p256 30y 25y; then
  check_cert "y30 root" "$T/y30/root.pem" "$T/y30/root.pem" ca
  [ "$NB_TYPE" = UTCTIME ] && ok || fail "y30 root: notBefore is $NB_TYPE $NB_VALUE, expected UTCTIME"
  [ "$NA_TYPE" = GENERALIZEDTIME ] && ok || fail "y30 root: notAfter is $NA_TYPE $NA_VALUE, expected GENERALIZEDTIME"
  check_cert "y30 issuing" "$T/y30/issuing.pem" "$T/y30/root.pem" ca
  [ "$NA_TYPE" = GENERALIZEDTIME ] && ok || fail "y30 issuing (25y): notAfter is $NA_TYPE $NA_VALUE"
  sign_leaf y30 server-tls ec-p256 mqtt
  sign_leaf y30 device-ldevid ec-p256 dev-y30
fi

# RFC 5280 4.1.2.2 / issue 2: serials unique across everything issued in this run
# (each CA certificate is checked once per extra check_cert call above, so count
# distinct certificates by serial and label).
dups=$(sort -u "$SERIALS" | awk '{print $1}' | sort | uniq -d)
if [ -z "$dups" ]; then ok; else fail "serials issued twice: $dups"; fi
echo "$(sort -u "$SERIALS" | wc -l) certificates checked" >&2

finish
