#!/usr/bin/env bash
# devpki-ca behaviours (issue 2): the home layout and how CA keys are kept,
# passphrase sources, home resolution, issue-ca limits (validity clamp, pathLen,
# name constraints), list/show/chain, help and usage errors, wrong passphrases,
# and the audit trail.
source "$(dirname "$0")/lib.sh"

H=$T/h
ROOT_SUBJECT="/O=Acme/CN=Acme Root CA"
FACTORY_SUBJECT="/O=Acme/CN=Acme Factory CA"

# check NAME COMMAND...: the command must succeed (its output is discarded).
check() {
  local name=$1 err rc=0
  shift
  err=$("$@" 2>&1 >/dev/null) || rc=$?
  [ "$rc" -eq 0 ] && ok || fail "$name: exit $rc: $err"
}

# pem_cert FILE: the first certificate of FILE, e.g. from `show --pem`.
pem_cert() { sed -n '/-----BEGIN CERTIFICATE-----/,/-----END CERTIFICATE-----/p' "$1" | openssl x509; }

# ca_cert HOME NAME > PEM
ca_cert() { "$CA" --home "$1" show "$2" --pem | sed -n '/-----BEGIN CERTIFICATE-----/,/-----END CERTIFICATE-----/p'; }

# mode PATH: the permission bits in octal.
mode() { stat -c '%a' "$1"; }

# check_encrypted_key LABEL KEYFILE CERT PASSPHRASE_SOURCE: encrypted PKCS#8 with
# PBES2 / PBKDF2-HMAC-SHA256 (>= 600,000 iterations) / AES-256, mode 0600, and
# it holds the key of CERT.
check_encrypted_key() {
  local label=$1 key=$2 cert=$3 passin=$4 asn iter
  [ "$(mode "$key")" = 600 ] && ok || fail "$label: key file mode $(mode "$key"), expected 600"
  [ "$(head -1 "$key")" = "-----BEGIN ENCRYPTED PRIVATE KEY-----" ] && ok ||
    fail "$label: key file starts with '$(head -1 "$key")'"
  asn=$(openssl asn1parse -in "$key" 2>&1) || { fail "$label: asn1parse: $asn"; return; }
  grep -q ':PBES2' <<<"$asn" && ok || fail "$label: not PBES2"
  grep -q ':PBKDF2' <<<"$asn" && ok || fail "$label: not PBKDF2"
  grep -q ':hmacWithSHA256' <<<"$asn" && ok || fail "$label: PBKDF2 PRF is not hmacWithSHA256"
  grep -Eq ':aes-256-(cbc|gcm|ccm|ctr)' <<<"$asn" && ok || fail "$label: cipher is not AES-256"
  # The iteration count is the first INTEGER (after the salt) of the PBKDF2 parameters.
  iter=$(grep -m1 'prim: INTEGER' <<<"$asn" | sed -E 's/.*INTEGER +://')
  if [[ "$iter" =~ ^[0-9A-F]+$ ]] && [ $((16#$iter)) -ge 600000 ]; then ok; else
    fail "$label: PBKDF2 iterations '$iter' (< 600000?)"
  fi
  # The passphrase opens it, and it is the certificate's key.
  local pub_key pub_cert
  pub_key=$(openssl pkey -in "$key" -passin "$passin" -pubout 2>&1) || { fail "$label: cannot decrypt: $pub_key"; return; }
  pub_cert=$(openssl x509 -in "$cert" -noout -pubkey)
  [ "$pub_key" = "$pub_cert" ] && ok || fail "$label: the key file does not hold the certificate's key"
  openssl pkey -in "$key" -passin pass:wrong-passphrase -noout 2>/dev/null &&
    fail "$label: key opens with a wrong passphrase" || ok
}

# --- init: layout and key at rest -------------------------------------------
out=$("$CA" --home "$H" init --name root --subject "$ROOT_SUBJECT" --key ec-p384 \
  --passphrase-file "$PASS_FILE" 2>"$T/init.err") && ok || fail "init: $(cat "$T/init.err")"
grep -q "created root CA 'root'" <<<"$out" && ok || fail "init: output '$out'"
[ -f "$H/devpki.yaml" ] && ok || fail "init: no devpki.yaml"
[ -f "$H/store.db" ] && ok || fail "init: no store.db"
[ -d "$H/keys" ] && [ "$(mode "$H/keys")" = 700 ] && ok || fail "init: keys/ missing or not 0700"
[ -d "$H/crl" ] && ok || fail "init: no crl/"
for p in root-ca issuing-ca device-idevid device-ldevid server-tls; do
  cmp -s "$H/profiles/$p.yaml" "$DEVPKI_PROFILES/$p.yaml" && ok || fail "init: profiles/$p.yaml not copied"
done
[ "$(sqlite3 "$H/store.db" 'PRAGMA journal_mode')" = wal ] && ok || fail "store is not in WAL mode"
ca_cert "$H" root >"$T/root.pem"
check_encrypted_key "root key" "$H/keys/root.key.pem" "$T/root.pem" "file:$PASS_FILE"

check "issue-ca factory" "$CA" --home "$H" issue-ca --parent root --name factory --subject "$FACTORY_SUBJECT" \
  --key ec-p256 --passphrase-file "$PASS_FILE"
ca_cert "$H" factory >"$T/factory.pem"
check_encrypted_key "factory key" "$H/keys/factory.key.pem" "$T/factory.pem" "file:$PASS_FILE"
openssl x509 -in "$T/factory.pem" -noout -ext basicConstraints | grep -q 'CA:TRUE, pathlen:0' && ok ||
  fail "issuing-ca: not CA:TRUE pathlen:0"

# --- passphrase sources --------------------------------------------------------
rc=0
err=$("$CA" --home "$T/plain" init --name root --subject "$ROOT_SUBJECT" --key ec-p256 --no-passphrase 2>&1 >/dev/null) || rc=$?
[ "$rc" -eq 0 ] && ok || fail "init --no-passphrase: exit $rc: $err"
[ "$(head -1 "$T/plain/keys/root.key.pem" 2>/dev/null)" = "-----BEGIN PRIVATE KEY-----" ] && ok ||
  fail "init --no-passphrase: key is not plaintext PKCS#8"
[ "$(mode "$T/plain/keys/root.key.pem")" = 600 ] && ok || fail "init --no-passphrase: key mode $(mode "$T/plain/keys/root.key.pem")"
grep -qi 'warning' <<<"$err" && grep -Eqi 'unencrypted|plaintext|no-passphrase' <<<"$err" && ok ||
  fail "init --no-passphrase: no warning on stderr: '$err'"
ca_cert "$T/plain" root >"$T/plain-root.pem"
[ "$(openssl pkey -in "$T/plain/keys/root.key.pem" -pubout)" = "$(openssl x509 -in "$T/plain-root.pem" -noout -pubkey)" ] &&
  ok || fail "init --no-passphrase: key does not match the certificate"

expect_fail "init without a passphrase source" 2 'passphrase' -- \
  "$CA" --home "$T/nopass" init --name root --subject "$ROOT_SUBJECT" --key ec-p256
[ ! -e "$T/nopass" ] && ok || fail "init without a passphrase left $T/nopass behind"
expect_fail "init --no-passphrase with --passphrase-file" 2 'no-passphrase' -- \
  "$CA" --home "$T/both" init --name root --subject "$ROOT_SUBJECT" --no-passphrase --passphrase-file "$PASS_FILE"
[ ! -e "$T/both" ] && ok || fail "init with contradictory passphrase options left a home behind"
expect_fail "init with an empty passphrase file" 2 'empty' -- \
  "$CA" --home "$T/empty" init --name root --subject "$ROOT_SUBJECT" --passphrase-file /dev/null
[ ! -e "$T/empty" ] && ok || fail "init with an empty passphrase file left a home behind"

# init over an existing CA: refused, the key and the store untouched.
before=$(store_snapshot "$H")
cp "$H/keys/root.key.pem" "$T/root.key.before"
expect_fail "init over an existing root" 2 'already exists' -- \
  "$CA" --home "$H" init --name root --subject "$ROOT_SUBJECT" --passphrase-file "$PASS_FILE"
[ "$(store_snapshot "$H")" = "$before" ] && ok || fail "init over an existing root changed the store"
cmp -s "$H/keys/root.key.pem" "$T/root.key.before" && ok || fail "init over an existing root replaced its key"

# DEVPKI_HOME and DEVPKI_PASSPHRASE.
rc=0
err=$(DEVPKI_HOME=$T/envhome DEVPKI_PASSPHRASE='env passphrase' "$CA" init --name root --subject "$ROOT_SUBJECT" \
  --key ec-p256 2>&1 >/dev/null) || rc=$?
[ "$rc" -eq 0 ] && [ -f "$T/envhome/store.db" ] && ok || fail "init with DEVPKI_HOME/DEVPKI_PASSPHRASE: exit $rc: $err"
ca_cert "$T/envhome" root >"$T/env-root.pem"
check_encrypted_key "DEVPKI_PASSPHRASE key" "$T/envhome/keys/root.key.pem" "$T/env-root.pem" "pass:env passphrase"
check "issue-ca with DEVPKI_HOME/DEVPKI_PASSPHRASE" env DEVPKI_HOME="$T/envhome" DEVPKI_PASSPHRASE='env passphrase' \
  "$CA" issue-ca --parent root --name factory --subject "$FACTORY_SUBJECT"
[ "$(DEVPKI_HOME=$T/envhome "$CA" list --json | jq -r 'map(.name) | sort | join(",")')" = "factory,root" ] && ok ||
  fail "list with DEVPKI_HOME does not show the env home's CAs"
# --home wins over DEVPKI_HOME.
[ "$(DEVPKI_HOME=$T/envhome "$CA" --home "$T/plain" list --json | jq -r 'map(.name) | join(",")')" = "root" ] && ok ||
  fail "--home does not override DEVPKI_HOME"
expect_fail "issue-ca with a wrong DEVPKI_PASSPHRASE" 2 'passphrase' -- \
  env DEVPKI_HOME="$T/envhome" DEVPKI_PASSPHRASE=wrong "$CA" issue-ca --parent root --name f2 --subject "/O=Acme/CN=F2"

# Default home: ./pki.
mkdir "$T/cwd"
rc=0
err=$(cd "$T/cwd" && "$CA" init --name root --subject "$ROOT_SUBJECT" --key ec-p256 --passphrase-file "$PASS_FILE" 2>&1 >/dev/null) || rc=$?
[ "$rc" -eq 0 ] && [ -f "$T/cwd/pki/store.db" ] && [ -f "$T/cwd/pki/keys/root.key.pem" ] && ok ||
  fail "init without --home did not create ./pki (exit $rc: $err)"
[ "$(cd "$T/cwd" && "$CA" list --json | jq -r '.[0].name')" = root ] && ok || fail "list without --home does not read ./pki"

# --- issue-ca: validity clamp, pathLen, name constraints ---------------------
rc=0
err=$("$CA" --home "$H" issue-ca --parent root --name long --subject "/O=Acme/CN=Acme Long CA" --validity 50y \
  --passphrase-file "$PASS_FILE" 2>&1 >/dev/null) || rc=$?
[ "$rc" -eq 0 ] && ok || fail "issue-ca --validity 50y: exit $rc: $err"
ca_cert "$H" long >"$T/long.pem"
[ "$(openssl x509 -in "$T/long.pem" -noout -enddate)" = "$(openssl x509 -in "$T/root.pem" -noout -enddate)" ] && ok ||
  fail "issue-ca --validity 50y under a 20y root: $(openssl x509 -in "$T/long.pem" -noout -enddate), root $(openssl x509 -in "$T/root.pem" -noout -enddate)"
[ "$("$CA" --home "$H" show long --json | jq -r .ca.not_after)" = "$("$CA" --home "$H" show root --json | jq -r .ca.not_after)" ] &&
  ok || fail "store: the clamped CA's not_after differs from the root's"

before=$(store_snapshot "$H")
ls "$H/keys" >"$T/keys.before"
expect_fail "issue-ca under a path_len 0 CA" 2 '[Pp]ath[Ll]en' -- \
  "$CA" --home "$H" issue-ca --parent factory --name sub --subject "/O=Acme/CN=Acme Sub CA" --passphrase-file "$PASS_FILE"
[ "$(store_snapshot "$H")" = "$before" ] && ok || fail "refused issue-ca (pathLen) changed the store"
ls "$H/keys" | cmp -s - "$T/keys.before" && ok || fail "refused issue-ca (pathLen) left a key file: $(ls "$H/keys")"

# A CA profile limited to .acme.example (docs/profiles.md, name_constraints),
# and an end-entity profile that itself allows names outside it.
cat >"$H/profiles/acme-only-ca.yaml" <<'EOF'
name: acme-only-ca
description: "Issuing CA for names under acme.example only"
validity: 5y
keys: [ec-p256, ec-p384, ed25519, rsa-2048, rsa-3072, rsa-4096]
key_usage: [keyCertSign, cRLSign]
basic_constraints: {ca: true, path_len: 0}
name_constraints:
  permitted:
    - {type: dns, value: .acme.example}
EOF
cat >"$H/profiles/any-tls.yaml" <<'EOF'
name: any-tls
description: "TLS server under acme.example or example.org (name-constraints test)"
validity: 30d
keys: [ec-p256]
subject:
  - O: Acme
san:
  allow:
    - {type: dns, pattern: "*.acme.example"}
    - {type: dns, pattern: "*.example.org"}
key_usage: [digitalSignature]
extended_key_usage: [serverAuth]
EOF
check "issue-ca --profile acme-only-ca" "$CA" --home "$H" issue-ca --parent root --name acme-only \
  --subject "/O=Acme/CN=Acme Constrained CA" --profile acme-only-ca --passphrase-file "$PASS_FILE"
ca_cert "$H" acme-only >"$T/acme-only.pem"
nc=$(openssl x509 -in "$T/acme-only.pem" -noout -ext nameConstraints | tr -s ' ')
grep -q 'Name Constraints: critical' <<<"$nc" && grep -q 'DNS:.acme.example' <<<"$nc" && ok ||
  fail "acme-only CA: nameConstraints not critical / not DNS:.acme.example: $nc"
"$CA" --home "$H" chain --ca acme-only --out "$T/acme-only-chain.pem" 2>/dev/null
csr_openssl "$T/in.csr" ec:P-256 -subj /CN=x -addext subjectAltName=DNS:www.acme.example
openssl req -new -key "$T/in.key" -subj /CN=x -addext subjectAltName=DNS:www.example.org -out "$T/out.csr" 2>/dev/null
check "sign inside the name constraints" "$CA" --home "$H" sign --ca acme-only --profile any-tls --csr "$T/in.csr" \
  --out "$T/in.pem" --passphrase-file "$PASS_FILE"
verify_out=$(openssl verify -x509_strict -CAfile "$T/root.pem" -untrusted "$T/acme-only-chain.pem" "$T/in.pem" 2>&1) &&
  ok || fail "openssl verify of a leaf inside the name constraints: $verify_out"
check "sign server-tls under the constrained CA" "$CA" --home "$H" sign --ca acme-only --profile server-tls \
  --csr "$T/in.csr" --device-id mqtt --out "$T/in-tls.pem" --passphrase-file "$PASS_FILE"
# The profile alone allows www.example.org (the unconstrained factory signs it) ...
check "sign outside the constraints, unconstrained CA" "$CA" --home "$H" sign --ca factory --profile any-tls \
  --csr "$T/out.csr" --out "$T/out-factory.pem" --passphrase-file "$PASS_FILE"
# ... the constrained CA must refuse it (issue 2: "SANs outside ... the issuer's name constraints").
before=$(store_snapshot "$H")
expect_fail "sign a SAN outside the issuer's name constraints" 2 '[Nn]ame.?[Cc]onstraint|permitted|outside' -- \
  "$CA" --home "$H" sign --ca acme-only --profile any-tls --csr "$T/out.csr" --out "$T/out.pem" --passphrase-file "$PASS_FILE"
[ "$(store_snapshot "$H")" = "$before" ] && ok || fail "sign outside the name constraints changed the store"
[ ! -e "$T/out.pem" ] && ok || fail "sign outside the name constraints wrote $T/out.pem (openssl verify: $(
  openssl verify -x509_strict -CAfile "$T/root.pem" -untrusted "$T/acme-only-chain.pem" "$T/out.pem" 2>&1 | grep -m1 "^error"))"

# --- sign (for list/show), wrong passphrases --------------------------------
csr_openssl "$T/dev.csr" ec:P-256 -subj /CN=ignored
sign_out=$("$CA" --home "$H" sign --ca factory --profile device-ldevid --csr "$T/dev.csr" --device-id SN123 \
  --out "$T/dev.pem" --passphrase-file "$PASS_FILE" 2>"$T/sign.err") && ok || fail "sign: $(cat "$T/sign.err")"
SERIAL=$(openssl x509 -in "$T/dev.pem" -noout -serial | sed 's/^serial=//' | tr A-F a-f)
grep -q "$SERIAL" <<<"$sign_out" && ok || fail "sign: output '$sign_out' does not name serial $SERIAL"

printf 'not the passphrase\n' >"$T/wrong"
before=$(store_snapshot "$H")
ls "$H/keys" >"$T/keys.before"
expect_fail "issue-ca with a wrong passphrase" 2 '[Pp]assphrase' -- \
  "$CA" --home "$H" issue-ca --parent root --name wrongpass --subject "/O=Acme/CN=W" --passphrase-file "$T/wrong"
[ "$(store_snapshot "$H")" = "$before" ] && ok || fail "issue-ca with a wrong passphrase changed the store"
ls "$H/keys" | cmp -s - "$T/keys.before" && ok || fail "issue-ca with a wrong passphrase left a key file"
expect_fail "sign with a wrong passphrase" 2 '[Pp]assphrase' -- \
  "$CA" --home "$H" sign --ca factory --profile device-ldevid --csr "$T/dev.csr" --device-id SN124 \
  --out "$T/dev2.pem" --passphrase-file "$T/wrong"
[ "$(store_snapshot "$H")" = "$before" ] && ok || fail "sign with a wrong passphrase changed the store"
[ ! -e "$T/dev2.pem" ] && ok || fail "sign with a wrong passphrase wrote its output"
expect_fail "sign without a passphrase" 2 '[Pp]assphrase' -- \
  "$CA" --home "$H" sign --ca factory --profile device-ldevid --csr "$T/dev.csr" --device-id SN124 --out "$T/dev2.pem"

# --- list ----------------------------------------------------------------------
out=$("$CA" --home "$H" list)
for n in root factory long acme-only; do
  grep -Eq "^${n}[[:space:]]" <<<"$out" && ok || fail "list: no line for CA $n"
done
grep -q 'CN=Acme Factory CA,O=Acme' <<<"$out" && ok || fail "list: factory's subject missing"
json=$("$CA" --home "$H" list --json)
jq -e . <<<"$json" >/dev/null && ok || fail "list --json is not JSON: $json"
[ "$(jq -r 'map(.name) | sort | join(",")' <<<"$json")" = "acme-only,factory,long,root" ] && ok ||
  fail "list --json names: $(jq -c 'map(.name)' <<<"$json")"
[ "$(jq -r '.[] | select(.name == "factory") | "\(.parent) \(.profile) \(.status)"' <<<"$json")" = "root issuing-ca active" ] &&
  ok || fail "list --json: factory record $(jq -c '.[] | select(.name == "factory")' <<<"$json")"
[ "$(jq -r '.[] | select(.name == "root") | .parent' <<<"$json")" = "" ] && ok || fail "list --json: root has a parent"
[ "$(jq -r '.[] | select(.name == "factory") | .serial' <<<"$json")" = \
  "$(openssl x509 -in "$T/factory.pem" -noout -serial | sed 's/^serial=//' | tr A-F a-f)" ] && ok ||
  fail "list --json: factory serial differs from its certificate's"
# --json also works after the subcommand (a global flag).
"$CA" --home "$H" list --json | jq -e 'length == 4' >/dev/null && ok || fail "list --json after the subcommand"

out=$("$CA" --home "$H" list --certs)
grep -q "$SERIAL" <<<"$out" && grep -q 'SN123' <<<"$out" && ok || fail "list --certs: no line for $SERIAL / SN123"
json=$("$CA" --home "$H" list --certs --json)
jq -e . <<<"$json" >/dev/null && ok || fail "list --certs --json is not JSON"
[ "$(jq -r --arg s "$SERIAL" '.[] | select(.serial == $s) | "\(.issuer) \(.device_id) \(.profile) \(.status)"' <<<"$json")" = \
  "factory SN123 device-ldevid issued" ] && ok || fail "list --certs --json: record of $SERIAL"
[ "$("$CA" --home "$H" list --certs --json --ca factory --profile device-ldevid | jq -r 'map(.device_id) | join(",")')" = SN123 ] &&
  ok || fail "list --certs --ca factory --profile device-ldevid"

# --- show ------------------------------------------------------------------------
out=$("$CA" --home "$H" show factory)
grep -q 'CA factory (under root)' <<<"$out" && grep -q 'CN=Acme Factory CA,O=Acme' <<<"$out" && ok ||
  fail "show factory: $out"
json=$("$CA" --home "$H" show root --json)
[ "$(jq -r '"\(.ca.name) \(.certificate.is_ca)"' <<<"$json")" = "root true" ] && ok || fail "show root --json: $json"
[ "$(jq -r .certificate.pem <<<"$json" | openssl x509 -noout -fingerprint -sha256)" = \
  "$(openssl x509 -in "$T/root.pem" -noout -fingerprint -sha256)" ] && ok || fail "show root --json: pem is not the root's"
colons=$(sed 's/../&:/g; s/:$//' <<<"$SERIAL" | tr a-f A-F)
for form in "$SERIAL" "$(tr a-f A-F <<<"$SERIAL")" "$colons"; do
  out=$("$CA" --home "$H" show "$form" 2>&1) && grep -q "certificate $SERIAL from CA factory" <<<"$out" &&
    grep -q 'SN123' <<<"$out" && ok || fail "show $form: $out"
done
json=$("$CA" --home "$H" show "$colons" --json)
[ "$(jq -r '.[0].record | "\(.serial) \(.device_id)"' <<<"$json")" = "$SERIAL SN123" ] && ok ||
  fail "show SERIAL --json: $json"
[ "$(jq -r '.[0].certificate.pem' <<<"$json" | openssl x509 -noout -serial)" = "$(openssl x509 -in "$T/dev.pem" -noout -serial)" ] &&
  ok || fail "show SERIAL --json: pem is not the certificate"
expect_fail "show an unknown name" 2 'nosuchca' -- "$CA" --home "$H" show nosuchca
expect_fail "show an unknown serial" 2 '0123456789abcdef|no CA or certificate' -- "$CA" --home "$H" show 0123456789abcdef

# --- chain ---------------------------------------------------------------------
check "chain --ca factory" "$CA" --home "$H" chain --ca factory --out "$T/chain.pem"
[ "$(grep -c 'BEGIN CERTIFICATE' "$T/chain.pem")" -eq 2 ] && ok || fail "chain: not 2 certificates"
[ "$(openssl x509 -in "$T/chain.pem" -noout -subject)" = "$(openssl x509 -in "$T/factory.pem" -noout -subject)" ] && ok ||
  fail "chain: first certificate is not the issuing CA"
[ "$(last_cert "$T/chain.pem" | openssl x509 -noout -fingerprint -sha256)" = \
  "$(openssl x509 -in "$T/root.pem" -noout -fingerprint -sha256)" ] && ok || fail "chain: last certificate is not the root"
[ "$("$CA" --home "$H" chain --ca factory)" = "$(cat "$T/chain.pem")" ] && ok || fail "chain to stdout differs from --out"
printf 'keep me\n' >"$T/existing.pem"
expect_fail "chain over an existing file" 2 'force' -- "$CA" --home "$H" chain --ca factory --out "$T/existing.pem"
[ "$(cat "$T/existing.pem")" = "keep me" ] && ok || fail "chain without --force replaced the file"
check "chain --force" "$CA" --home "$H" chain --ca factory --out "$T/existing.pem" --force
cmp -s "$T/existing.pem" "$T/chain.pem" && ok || fail "chain --force did not replace the file with the chain"
expect_fail "chain of an unknown CA" 2 'nosuchca' -- "$CA" --home "$H" chain --ca nosuchca --out "$T/none.pem"
[ ! -e "$T/none.pem" ] && ok || fail "chain of an unknown CA wrote a file"

# --- help and usage errors ---------------------------------------------------
help_mentions() {
  local sub=$1 out rc=0 opt
  shift
  out=$("$CA" "$sub" --help 2>&1) || rc=$?
  [ "$rc" -eq 0 ] && ok || fail "$sub --help: exit $rc"
  for opt in "$@"; do grep -q -- "$opt" <<<"$out" && ok || fail "$sub --help does not mention $opt"; done
}
help_mentions init --name --subject --key --validity --passphrase-file --no-passphrase
help_mentions issue-ca --parent --name --subject --key --validity --profile --passphrase-file
help_mentions sign --ca --profile --csr --device-id --out --force --passphrase-file
help_mentions list --certs
help_mentions show --pem
help_mentions chain --ca --out --force
out=$("$CA" --help 2>&1) && ok || fail "devpki-ca --help: exit non-zero"
for sub in init issue-ca sign list show chain; do grep -q "$sub" <<<"$out" && ok || fail "--help does not list $sub"; done

expect_fail "unknown subcommand" 1 'frobnicate|subcommand|extraneous' -- "$CA" --home "$H" frobnicate
expect_fail "no subcommand" 1 'subcommand' -- "$CA" --home "$H"
expect_fail "issue-ca without --parent" 1 'parent' -- \
  "$CA" --home "$H" issue-ca --name x --subject /CN=x --passphrase-file "$PASS_FILE"
expect_fail "init without --subject" 1 'subject' -- "$CA" --home "$T/nosubject" init --passphrase-file "$PASS_FILE"
[ ! -e "$T/nosubject" ] && ok || fail "init without --subject left a home behind"
expect_fail "sign without --csr" 1 'csr' -- \
  "$CA" --home "$H" sign --ca factory --profile device-ldevid --out "$T/x.pem"
expect_fail "chain without --ca" 1 'ca' -- "$CA" --home "$H" chain
expect_fail "list in a home that does not exist" 2 'nohome' -- "$CA" --home "$T/nohome" list
[ ! -e "$T/nohome" ] && ok || fail "list created a home"

# --- audit ---------------------------------------------------------------------
audit() { sqlite3 "$H/store.db" "SELECT action || ' ' || subject || ' ' || actor FROM audit ORDER BY id"; }
a=$(audit)
grep -qx 'ca.init root devpki-ca' <<<"$a" && ok || fail "audit: no ca.init for root: $a"
grep -qx 'ca.issue factory devpki-ca' <<<"$a" && ok || fail "audit: no ca.issue for factory: $a"
grep -qx "cert.issue factory/$SERIAL devpki-ca" <<<"$a" && ok || fail "audit: no cert.issue for factory/$SERIAL: $a"
# One cert.issue per end-entity certificate in the store, none for the refusals.
n=$(grep -c '^cert.issue ' <<<"$a" || true)
m=$(sqlite3 "$H/store.db" "SELECT COUNT(*) FROM certificates WHERE status = 'issued' AND serial_hex NOT IN (SELECT serial_hex FROM cas)")
[ "$n" -eq "$m" ] && [ "$n" -ge 4 ] && ok || fail "audit: $n cert.issue records for $m issued certificates"
n=$(grep -c '^ca.issue ' <<<"$a" || true)
[ "$n" -eq 3 ] && ok || fail "audit: $n ca.issue records, expected 3 (factory, long, acme-only)"
[ "$(sqlite3 "$H/store.db" "SELECT COUNT(*) FROM audit WHERE at < strftime('%s','now') - 3600 OR at > strftime('%s','now') + 60")" = 0 ] &&
  ok || fail "audit: records with implausible times"

# --- init --base-url: devpki.yaml variables.base_url for {base_url} URL templates
BU=$T/bu-home
expect_fail "init --base-url ftp://" 2 "base URL 'ftp://pki.example.test': not an http" -- \
  "$CA" --home "$BU" init --subject "/CN=BU Root" --no-passphrase --base-url ftp://pki.example.test
[ ! -e "$BU" ] && ok || fail "a refused --base-url left a home behind"
"$CA" --home "$BU" init --subject "/CN=BU Root" --passphrase-file "$PASS_FILE" \
  --base-url http://pki.example.test >/dev/null
grep -q "base_url: http://pki.example.test" "$BU/devpki.yaml" && ok || fail "devpki.yaml lacks base_url"
"$CA" --home "$BU" issue-ca --parent root --name factory --subject "/CN=BU Factory" \
  --passphrase-file "$PASS_FILE" >/dev/null
sed -e 's/^name: device-ldevid/name: bu-device/' \
    -e 's|crl_distribution_points: .*|crl_distribution_points: ["{base_url}/crl/{ca}.crl"]|' \
  "$BU/profiles/device-ldevid.yaml" > "$BU/profiles/bu-device.yaml"
csr_openssl "$T/bu.csr" ec:P-256 -subj /CN=bu
"$CA" --home "$BU" sign --ca factory --profile bu-device --csr "$T/bu.csr" --device-id BU-1 \
  --out "$T/bu.pem" --passphrase-file "$PASS_FILE" >/dev/null
openssl x509 -in "$T/bu.pem" -noout -ext crlDistributionPoints 2>/dev/null |
  grep -q "URI:http://pki.example.test/crl/factory.crl" && ok || fail "CRL DP not built from base_url"
expect_fail "init --base-url on an existing home" 2 "applies when init creates a home" -- \
  "$CA" --home "$BU" init --name root2 --subject "/CN=R2" --passphrase-file "$PASS_FILE" --base-url http://x.example

finish
