#!/usr/bin/env bash
# devpki-provision enroll, jitp, qr and token, and devpki-ca trust: bad input
# is refused with exit 2 and a message that says what is wrong, and leaves
# the store, the home's files and the output directory exactly as they were.
# Refused enrollments and redemptions are recorded on purpose: for those the
# store may gain exactly one audit row (of the expected action, without the
# secret), and nothing else.
source "$(dirname "$0")/lib.sh"
: "${MINT:?run through ctest (DEVPKI_MINT unset)}"
PROV=${DEVPKI_PROVISION:?run through ctest (DEVPKI_PROVISION unset)}
DEVPKI_PASSPHRASE=$(head -1 "$PASS_FILE")
export DEVPKI_PASSPHRASE

H=$T/h
O=$T/out  # where every --out points
mkdir -p "$O"
new_home "$H"
"$CA" --home "$H" issue-ca --parent root --name operations --subject "/O=Acme/CN=Acme Operations CA" \
  --passphrase-file "$PASS_FILE" >/dev/null
"$MINT" --home "$H" --ca factory --profile device-idevid --count 2 --id-pattern 'ACME-{seq:08}' \
  --format pem --out "$T/idev" >/dev/null
"$CA" --home "$H" trust add --bootstrap --ca factory >/dev/null
"$CA" --home "$H" chain --ca operations --no-root --out "$T/operations.pem" >/dev/null 2>&1
D=$T/idev/ACME-00000001
csr_openssl "$T/ldevid.csr" ec:P-256 -subj /CN=ignored
openssl dgst -sha256 -sign "$D/key.pem" -out "$T/proof.sig" "$T/ldevid.csr"
EP=https://enroll.acme.example/v1

P=("$PROV" --home "$H")
sql() { sqlite3 "$H/store.db" "$1"; }
check() { if eval "$2"; then ok; else fail "$1"; fi; }

# store_minus_audit HOME: store_snapshot without the audit table's rows (and its sequence).
store_minus_audit() {
  sqlite3 "$1/store.db" '.dump' | grep -v '^PRAGMA' | grep -v '^INSERT INTO audit VALUES' |
    grep -v "^INSERT INTO sqlite_sequence VALUES('audit'," | sort
}
audit_max() { sqlite3 "$1/store.db" 'SELECT COALESCE(MAX(id), 0) FROM audit'; }
audit_upto() { sqlite3 "$1/store.db" "SELECT * FROM audit WHERE id <= $2 ORDER BY id"; }
# expect_refused_audited HOME OUTDIR NAME EXPECTED_EXIT MESSAGE_REGEX AUDIT_ACTION [SECRET] -- command...:
# as expect_rejected, except that the store gains exactly one audit row, of
# AUDIT_ACTION (not containing SECRET when given, dashes and case ignored), and nothing else changes:
# the rest of the store, the audit rows before it, the home's other files and OUTDIR.
expect_refused_audited() {
  local home=$1 outdir=$2 name=$3 code=$4 regex=$5 action=$6 secret=
  shift 6
  if [ "$1" != -- ]; then
    secret=$1
    shift
  fi
  shift
  local before files_before out_before max old err rc=0 problems=() added
  before=$(store_minus_audit "$home")
  files_before=$(files_snapshot "$home")
  out_before=$(files_snapshot "$outdir")
  max=$(audit_max "$home")
  old=$(audit_upto "$home" "$max")
  err=$("$@" 2>&1 >/dev/null </dev/null) || rc=$?
  [ "$rc" -eq "$code" ] || problems+=("exit $rc, expected $code")
  grep -Eq -- "$regex" <<<"$err" || problems+=("message does not match /$regex/")
  [ "$(store_minus_audit "$home")" = "$before" ] || problems+=("the store changed beyond the audit log")
  [ "$(audit_upto "$home" "$max")" = "$old" ] || problems+=("earlier audit rows changed")
  added=$(sqlite3 "$home/store.db" "SELECT action FROM audit WHERE id > $max")
  [ "$added" = "$action" ] || problems+=("audit rows added: '$(tr '\n' ' ' <<<"$added")', expected one '$action'")
  # The secret as typed may be grouped with dashes and in any case.
  local secret_key
  secret_key=$(tr -d '-' <<<"$secret" | tr 'a-z' 'A-Z')
  if [ -n "$secret" ] &&
    [ "$(sqlite3 "$home/store.db" "SELECT count(*) FROM audit WHERE id > $max AND (instr(replace(upper(detail), '-', ''), '$secret_key') > 0 OR instr(replace(upper(subject), '-', ''), '$secret_key') > 0)")" -ne 0 ]; then
    problems+=("the audit row records the secret")
  fi
  [ "$(files_snapshot "$home")" = "$files_before" ] || problems+=("the home's files changed")
  [ "$(files_snapshot "$outdir")" = "$out_before" ] || problems+=("the output directory changed")
  if [ ${#problems[@]} -eq 0 ]; then
    ok
  else
    local IFS=';'
    fail "$name: ${problems[*]}; stderr: $err"
  fi
}

# Secrets to work with, issued before any refusal is checked (the first one
# also makes the home's enrollment key).
TOK=$("${P[@]}" token issue --device TK-0001 --ca operations 2>/dev/null)
"${P[@]}" qr --device QR-0001 --ca operations --format text --out "$T/qr1.txt" --endpoint "$EP" >/dev/null
PAYLOAD=$(head -1 "$T/qr1.txt")
MANUAL=$(sed -n 's/^manual code: //p' "$T/qr1.txt")
CODE=$(cut -d'|' -f3 <<<"$PAYLOAD")

# ---- enroll -------------------------------------------------------------------------
expect_rejected "$H" "$O" "enroll without --proof" 2 "give --proof FILE" -- \
  "${P[@]}" enroll --bootstrap "$D/cert.pem" --csr "$T/ldevid.csr" --ca operations --out "$O/x.pem"
expect_rejected "$H" "$O" "enroll: missing bootstrap file" 2 "cannot read bootstrap certificate file '.*/nope.pem'" -- \
  "${P[@]}" enroll --bootstrap "$T/nope.pem" --csr "$T/ldevid.csr" --proof "$T/proof.sig" --ca operations --out "$O/x.pem"
expect_rejected "$H" "$O" "enroll: missing CSR file" 2 "cannot read CSR file '.*/nope.csr'" -- \
  "${P[@]}" enroll --bootstrap "$D/cert.pem" --csr "$T/nope.csr" --proof "$T/proof.sig" --ca operations --out "$O/x.pem"
expect_rejected "$H" "$O" "enroll: missing proof file" 2 "cannot read proof file '.*/nope.sig'" -- \
  "${P[@]}" enroll --bootstrap "$D/cert.pem" --csr "$T/ldevid.csr" --proof "$T/nope.sig" --ca operations --out "$O/x.pem"
# Deterministic garbage: text that is neither PEM nor DER.
for _ in 1 2 3 4 5 6 7 8; do echo "this is not a certificate, just text"; done >"$T/garbage.bin"
expect_refused_audited "$H" "$O" "enroll: garbage bootstrap certificate" 2 \
  "bootstrap refused: the bootstrap certificate: .*(DER|PEM)" provision.enroll.refused -- \
  "${P[@]}" enroll --bootstrap "$T/garbage.bin" --csr "$T/ldevid.csr" --proof "$T/proof.sig" --ca operations --out "$O/x.pem"
# A CSR that is not a CSR (here: the IDevID certificate), with a proof over it that verifies.
cp "$D/cert.pem" "$T/not-a-csr.csr"
openssl dgst -sha256 -sign "$D/key.pem" -out "$T/not-a-csr.sig" "$T/not-a-csr.csr"
expect_refused_audited "$H" "$O" "enroll: a certificate as the CSR" 2 \
  "bootstrap refused: the CSR: .*expected CERTIFICATE REQUEST" provision.enroll.refused -- \
  "${P[@]}" enroll --bootstrap "$D/cert.pem" --csr "$T/not-a-csr.csr" --proof "$T/not-a-csr.sig" --ca operations --out "$O/x.pem"
openssl dgst -sha256 -sign "$D/key.pem" -out "$T/garbage.sig" "$T/garbage.bin"
expect_refused_audited "$H" "$O" "enroll: text as the CSR" 2 "bootstrap refused: the CSR: " provision.enroll.refused -- \
  "${P[@]}" enroll --bootstrap "$D/cert.pem" --csr "$T/garbage.bin" --proof "$T/garbage.sig" --ca operations --out "$O/x.pem"
openssl req -new -key "$D/key.pem" -subj /CN=ignored -out "$T/same-key.csr"
openssl dgst -sha256 -sign "$D/key.pem" -out "$T/same-key.sig" "$T/same-key.csr"
expect_refused_audited "$H" "$O" "enroll: the bootstrap key in the CSR" 2 \
  "the CSR carries the bootstrap certificate's key.*new key" provision.enroll.refused -- \
  "${P[@]}" enroll --bootstrap "$D/cert.pem" --csr "$T/same-key.csr" --proof "$T/same-key.sig" --ca operations --out "$O/x.pem"
expect_refused_audited "$H" "$O" "enroll: a proof over another file" 2 \
  "proof of possession does not verify" provision.enroll.refused -- \
  "${P[@]}" enroll --bootstrap "$D/cert.pem" --csr "$T/ldevid.csr" --proof "$T/same-key.sig" --ca operations --out "$O/x.pem"
openssl dgst -sha256 -sign "$T/idev/ACME-00000002/key.pem" -out "$T/other-key.sig" "$T/ldevid.csr"
expect_refused_audited "$H" "$O" "enroll: a proof by another device's key" 2 \
  "proof of possession does not verify" provision.enroll.refused -- \
  "${P[@]}" enroll --bootstrap "$D/cert.pem" --csr "$T/ldevid.csr" --proof "$T/other-key.sig" --ca operations --out "$O/x.pem"
expect_refused_audited "$H" "$O" "enroll: a CA certificate as the bootstrap certificate" 2 \
  "is a CA certificate, not a device certificate" provision.enroll.refused -- \
  "${P[@]}" enroll --bootstrap "$T/operations.pem" --csr "$T/ldevid.csr" --proof "$T/proof.sig" --ca operations --out "$O/x.pem"
printf 'keep\n' >"$O/exists.pem"
expect_refused_audited "$H" "$O" "enroll: --out exists" 2 "exists" provision.enroll.refused -- \
  "${P[@]}" enroll --bootstrap "$D/cert.pem" --csr "$T/ldevid.csr" --proof "$T/proof.sig" --ca operations --out "$O/exists.pem"

# ---- jitp ---------------------------------------------------------------------------
FLEET=$DEVPKI_SOURCE_DIR/templates/fleet.yaml
# bad_template NAME SED_EXPR: the fleet template with one edit, as $T/NAME.yaml.
bad_template() { sed "$2" "$FLEET" >"$T/$1.yaml"; }
line_of() { grep -n -- "$2" "$T/$1.yaml" | head -1 | cut -d: -f1; }
bad_template unknown-key 's/^conditions:/conditons:/'
expect_rejected "$H" "$O" "jitp: unknown top-level key" 2 \
  "unknown-key.yaml:$(line_of unknown-key '^conditons:'): conditons: unknown key 'conditons'" -- \
  "${P[@]}" jitp --template "$T/unknown-key.yaml" --cert "$D/cert.pem"
bad_template unknown-op 's/{field: subject.CN, matches:/{field: subject.CN, matchez:/'
expect_rejected "$H" "$O" "jitp: unknown operator" 2 \
  "unknown-op.yaml:$(line_of unknown-op 'matchez'): conditions\[1\]\.matchez: unknown operator 'matchez'" -- \
  "${P[@]}" jitp --template "$T/unknown-op.yaml" --cert "$D/cert.pem"
bad_template bad-regex 's/ACME-\[0-9\]{8}/ACME-[0-9/'
expect_rejected "$H" "$O" "jitp: a regex that does not compile" 2 \
  "bad-regex.yaml:$(line_of bad-regex 'ACME-\[0-9"'): conditions\[1\]\.matches: regex \"ACME-\[0-9\" does not compile" -- \
  "${P[@]}" jitp --template "$T/bad-regex.yaml" --cert "$D/cert.pem"
bad_template unknown-field 's/{field: subject.O, equals: Acme}/{field: subjekt.O, equals: Acme}/'
expect_rejected "$H" "$O" "jitp: unknown field" 2 \
  "unknown-field.yaml:$(line_of unknown-field 'subjekt'): conditions\[0\]\.field: unknown field 'subjekt.O'" -- \
  "${P[@]}" jitp --template "$T/unknown-field.yaml" --cert "$D/cert.pem"
bad_template no-device-id 's/^  device_id: .*$//'
expect_rejected "$H" "$O" "jitp: no attributes.device_id" 2 "no-device-id.yaml:[0-9]+: attributes\.device_id: required key missing" -- \
  "${P[@]}" jitp --template "$T/no-device-id.yaml" --cert "$D/cert.pem"
printf 'name: fleet\ntrust: [factory\n' >"$T/yaml-syntax.yaml"
expect_rejected "$H" "$O" "jitp: YAML syntax error" 2 "yaml-syntax.yaml:[0-9]+: " -- \
  "${P[@]}" jitp --template "$T/yaml-syntax.yaml" --cert "$D/cert.pem"
bad_template unknown-trust 's/^trust: \[factory\]/trust: [nosuch]/'
expect_rejected "$H" "$O" "jitp: unknown trust name" 2 \
  "trust: 'nosuch' is neither a CA of this home nor a bootstrap anchor" -- \
  "${P[@]}" jitp --template "$T/unknown-trust.yaml" --cert "$D/cert.pem"
expect_rejected "$H" "$O" "jitp: a missing template" 2 "template '.*/nope.yaml' not found" -- \
  "${P[@]}" jitp --template "$T/nope.yaml" --cert "$D/cert.pem"
expect_rejected "$H" "$O" "jitp: text as the certificate" 2 "garbage.bin: certificate is neither PEM nor DER" -- \
  "${P[@]}" jitp --template "$FLEET" --cert "$T/garbage.bin"
expect_rejected "$H" "$O" "jitp: a CSR as the certificate" 2 "unexpected PEM block 'CERTIFICATE REQUEST' \(expected CERTIFICATE\)" -- \
  "${P[@]}" jitp --template "$FLEET" --cert "$T/ldevid.csr"
expect_rejected "$H" "$O" "jitp: a missing certificate file" 2 "cannot read certificate file '.*/nope.pem'" -- \
  "${P[@]}" jitp --template "$FLEET" --cert "$T/nope.pem"

# ---- qr -----------------------------------------------------------------------------
codes_before=$(sql "SELECT count(*) FROM enrollment_secrets WHERE kind = 'setup_code'")
expect_rejected "$H" "$O" "qr without --device, --manifest or --parse" 1 \
  "give one of --device ID, --manifest FILE or --parse PAYLOAD" -- "${P[@]}" qr --out "$O/l.png"
expect_rejected "$H" "$O" "qr: unknown --format" 2 "unknown QR format 'gif': use png, svg or text" -- \
  "${P[@]}" qr --device QR-0002 --ca operations --format gif --out "$O/l.gif" --endpoint "$EP"
printf 'old label\n' >"$O/taken.png"
expect_rejected "$H" "$O" "qr: --out exists" 2 "taken.png exists; use --force to replace it" -- \
  "${P[@]}" qr --device QR-0002 --ca operations --out "$O/taken.png" --endpoint "$EP"
expect_rejected "$H" "$O" "qr: an endpoint that is not a URL (space)" 2 "payload endpoint 'not a url': character ' '" -- \
  "${P[@]}" qr --device QR-0002 --ca operations --out "$O/l.png" --endpoint 'not a url'
expect_rejected "$H" "$O" "qr: an endpoint without https://" 2 "payload endpoint 'enroll.acme.example': must start with https://" -- \
  "${P[@]}" qr --device QR-0002 --ca operations --out "$O/l.png" --endpoint enroll.acme.example
expect_rejected "$H" "$O" "qr: an ftp:// endpoint" 2 "must start with https://" -- \
  "${P[@]}" qr --device QR-0002 --ca operations --out "$O/l.png" --endpoint ftp://enroll.acme.example
expect_rejected "$H" "$O" "qr: a bad device id" 2 "invalid device id 'bad id'" -- \
  "${P[@]}" qr --device 'bad id' --ca operations --out "$O/l.png" --endpoint "$EP"
check "no setup code row was added by the refused labels" \
  "[ \"\$(sql \"SELECT count(*) FROM enrollment_secrets WHERE kind = 'setup_code'\")\" -eq $codes_before ] && [ ! -e '$O/l.png' ]"
printf '{"device_id":"LINE-1"}\n{"serial":"x"}\n' >"$T/bad-manifest.jsonl"
expect_rejected "$H" "$O" "qr --manifest: a line without device_id" 2 'bad-manifest.jsonl:2: no "device_id"' -- \
  "${P[@]}" qr --manifest "$T/bad-manifest.jsonl" --ca operations --out "$O/labels" --endpoint "$EP"
check "... the label directory is not left behind" "[ ! -e '$O/labels' ]"

# --parse: a payload with one character changed is caught by its check.
expect_rejected "$H" "$O" "qr --parse: the original payload parses" 0 "^$" -- "${P[@]}" qr --parse "$PAYLOAD"
changed=${PAYLOAD/QR-0001/QR-0007}
expect_rejected "$H" "$O" "qr --parse: device id changed" 2 "check characters [0-9a-f]{2} do not match \(expected [0-9a-f]{2}\)" -- \
  "${P[@]}" qr --parse "$changed"
c=${CODE:5:1}
[ "$c" = Z ] && n=Y || n=Z
changed=${PAYLOAD/$CODE/${CODE:0:5}$n${CODE:6}}
expect_rejected "$H" "$O" "qr --parse: setup code changed" 2 "check characters [0-9a-f]{2} do not match .*changed or mistyped" -- \
  "${P[@]}" qr --parse "$changed"
expect_rejected "$H" "$O" "qr --parse: DP2" 2 "DP2 is not supported: this devpki reads DP1" -- \
  "${P[@]}" qr --parse "DP2|${PAYLOAD#DP1|}"
expect_rejected "$H" "$O" "qr --parse: too few fields" 2 "expected 6 '\|'-separated fields" -- \
  "${P[@]}" qr --parse "DP1|QR-0001"
expect_rejected "$H" "$O" "qr --parse: not a payload" 2 "not a devpki payload" -- "${P[@]}" qr --parse "hello"
# --parse is read-only ("decode and check a payload (nothing written)"), also
# in a home that has never issued a secret: looking the setup code up must not
# create the home's enrollment key (keys/enrollment.key).
F=$T/fresh
"$CA" --home "$F" init --name root --subject "/O=Acme/CN=Fresh Root CA" --passphrase-file "$PASS_FILE" >/dev/null
expect_rejected "$F" "$O" "qr --parse in a home without secrets writes nothing (not even keys/enrollment.key)" 0 "^$" -- \
  "$PROV" --home "$F" qr --parse "$PAYLOAD"

# ---- token issue ----------------------------------------------------------------------
expect_rejected "$H" "$O" "token issue: bad device id" 2 "invalid device id 'bad id!'" -- \
  "${P[@]}" token issue --device 'bad id!' --ca operations
expect_rejected "$H" "$O" "token issue: unknown profile" 2 "no profile 'nope' in .*\(available: .*device-ldevid" -- \
  "${P[@]}" token issue --device TK-0002 --ca operations --profile nope
expect_rejected "$H" "$O" "token issue: unknown CA" 2 "no CA named 'nosuch'" -- \
  "${P[@]}" token issue --device TK-0002 --ca nosuch
expect_rejected "$H" "$O" "token issue: which CA, when there are two" 2 "name the CA that issues on redemption \(--ca\): this home has factory, operations" -- \
  "${P[@]}" token issue --device TK-0002
expect_rejected "$H" "$O" "token issue: a second active token" 2 "device TK-0001 already holds an active token .*--replace" -- \
  "${P[@]}" token issue --device TK-0001 --ca operations
expect_rejected "$H" "$O" "token issue: --ttl with an unknown unit" 2 "invalid duration '5x'" -- \
  "${P[@]}" token issue --device TK-0002 --ca operations --ttl 5x
expect_rejected "$H" "$O" "token issue: --ttl under a minute" 2 "from 1 minute to 3650 days" -- \
  "${P[@]}" token issue --device TK-0002 --ca operations --ttl 30s
expect_rejected "$H" "$O" "token issue: --ttl over 3650 days" 2 "from 1 minute to 3650 days" -- \
  "${P[@]}" token issue --device TK-0002 --ca operations --ttl 3651d

# ---- token redeem ---------------------------------------------------------------------
R=(token redeem --csr "$T/ldevid.csr" --out "$O/r.pem")
expect_refused_audited "$H" "$O" "redeem: a token too short" 2 "malformed token: expected dpt_ followed by 30 base32" \
  enrollment.redeem.refused -- "${P[@]}" "${R[@]}" --token dpt_abc
expect_refused_audited "$H" "$O" "redeem: not a secret at all" 2 "not an enrollment secret: expected a token" \
  enrollment.redeem.refused -- "${P[@]}" "${R[@]}" --token hello
# The real token with its last character changed: its check characters catch it.
last=${TOK: -1}
[ "$last" = a ] && n=b || n=a
expect_refused_audited "$H" "$O" "redeem: a mistyped token" 2 "malformed token: its check characters do not match" \
  enrollment.redeem.refused "${TOK:4:26}" -- "${P[@]}" "${R[@]}" --token "${TOK%?}$n"
# A well-formed token (valid check characters) this home never issued.
body=$(head -c 16 /dev/urandom | tee "$T/tok.bin" | base32 | tr -d '=' | tr 'A-Z' 'a-z')
check4=$(openssl dgst -sha256 -binary "$T/tok.bin" | base32 | tr -d '=' | tr 'A-Z' 'a-z' | cut -c1-4)
UNKNOWN=dpt_$body$check4
expect_refused_audited "$H" "$O" "redeem: a well-formed unknown token" 2 "unknown token: this home did not issue it" \
  token.redeem.refused "$body" -- "${P[@]}" "${R[@]}" --token "$UNKNOWN"
expect_refused_audited "$H" "$O" "redeem: an unknown setup code" 2 "unknown setup code" \
  setup_code.redeem.refused -- "${P[@]}" "${R[@]}" --token 0000-0000-0000
# The label's real manual code with a wrong check character: refused as
# mistyped, and the audit row must not give the setup code away (the check
# character is what was mistyped, the 12 others are the live secret).
mc=${MANUAL: -1}
[ "$mc" = 0 ] && n=1 || n=0
expect_refused_audited "$H" "$O" "redeem: a manual code with a wrong check character" 2 "check character .* does not match" \
  enrollment.redeem.refused "$CODE" -- "${P[@]}" "${R[@]}" --token "${MANUAL%?}$n"
expect_refused_audited "$H" "$O" "redeem: a changed payload" 2 "check characters .* do not match" \
  enrollment.redeem.refused "$CODE" -- "${P[@]}" "${R[@]}" --token "${PAYLOAD/QR-0001/QR-0007}"
expect_refused_audited "$H" "$O" "redeem: a real token with a CSR that is not a CSR" 2 "the CSR: " \
  token.redeem.refused "${TOK:4:26}" -- "${P[@]}" token redeem --token "$TOK" --csr "$T/not-a-csr.csr" --out "$O/r.pem"
expect_rejected "$H" "$O" "redeem --token - with nothing on stdin" 2 "--token -: nothing on standard input" -- \
  "${P[@]}" "${R[@]}" --token -
expect_rejected "$H" "$O" "redeem: a missing CSR file" 2 "cannot read CSR file '.*/nope.csr'" -- \
  "${P[@]}" token redeem --token "$TOK" --csr "$T/nope.csr" --out "$O/r.pem"
# --out exists: the issuance fails after the claim, which is released (audited as failed).
expect_refused_audited "$H" "$O" "redeem: --out exists" 2 "exists; use --force" token.redeem.failed "${TOK:4:26}" -- \
  "${P[@]}" token redeem --token "$TOK" --csr "$T/ldevid.csr" --out "$O/exists.pem"
check "the token is still active after the refusals" \
  "[ \"\$(sql \"SELECT state FROM enrollment_secrets WHERE device_id = 'TK-0001' AND kind = 'token'\")\" = active ]"
rc=0
"${P[@]}" token redeem --token "$TOK" --csr "$T/ldevid.csr" --out "$O/tk1.pem" >/dev/null 2>"$T/err" || rc=$?
check "... and redeems: $(head -c 300 "$T/err")" "[ $rc -eq 0 ] && openssl x509 -in '$O/tk1.pem' -noout -subject | grep -q 'CN = TK-0001'"

# ---- token list / revoke --------------------------------------------------------------
expect_rejected "$H" "$O" "token list: unknown --kind" 2 "--kind 'bogus': expected token, setup_code or all" -- \
  "${P[@]}" token list --kind bogus
expect_rejected "$H" "$O" "token revoke: a device without an active token" 2 "device TK-0009 has no active token" -- \
  "${P[@]}" token revoke --device TK-0009
expect_rejected "$H" "$O" "token revoke: bad device id" 2 "invalid device id" -- \
  "${P[@]}" token revoke --device 'bad id'

# ---- devpki-ca trust -------------------------------------------------------------------
expect_rejected "$H" "$O" "trust add: a device certificate" 2 "is not a CA certificate \(basicConstraints cA is not TRUE\)" -- \
  "$CA" --home "$H" trust add --bootstrap "$D/cert.pem"
"$CA" --home "$H" chain --ca factory --no-root --out "$T/factory.pem" >/dev/null 2>&1
expect_rejected "$H" "$O" "trust add: the same CA again, under another name" 2 "already trusted as 'factory'" -- \
  "$CA" --home "$H" trust add --bootstrap "$T/factory.pem" --name factory-again
expect_rejected "$H" "$O" "trust add --ca: the same CA again" 2 "already trusted as 'factory'" -- \
  "$CA" --home "$H" trust add --bootstrap --ca factory --name factory-again
expect_rejected "$H" "$O" "trust add: a name that is taken" 2 "a trust anchor named 'factory' exists" -- \
  "$CA" --home "$H" trust add --bootstrap "$T/operations.pem" --name factory
expect_rejected "$H" "$O" "trust add: an unknown CA" 2 "no CA named 'nosuch'" -- \
  "$CA" --home "$H" trust add --bootstrap --ca nosuch
expect_rejected "$H" "$O" "trust add: text as the certificate" 2 "garbage.bin: certificate is neither PEM nor DER" -- \
  "$CA" --home "$H" trust add --bootstrap "$T/garbage.bin"
expect_rejected "$H" "$O" "trust add: a bad name" 2 "invalid CA name 'Bad Name'" -- \
  "$CA" --home "$H" trust add --bootstrap "$T/operations.pem" --name 'Bad Name'
expect_rejected "$H" "$O" "trust add without --bootstrap" 2 "--bootstrap" -- \
  "$CA" --home "$H" trust add "$T/operations.pem"
expect_rejected "$H" "$O" "trust add: both a file and --ca" 2 "give either a CA certificate file .* or a CA of this home" -- \
  "$CA" --home "$H" trust add --bootstrap "$T/operations.pem" --ca operations
expect_rejected "$H" "$O" "trust remove: an unknown name" 2 "no trust anchor named 'nosuch' \(there are: factory\)" -- \
  "$CA" --home "$H" trust remove nosuch

finish
