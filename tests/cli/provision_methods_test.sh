#!/usr/bin/env bash
# devpki-provision enroll, jitp, qr and token (the provisioning methods),
# through the real binaries, checked with verifiers nobody here wrote
# (openssl, GnuTLS certtool, zbarimg, sqlite3):
#   - bootstrap: IDevIDs minted under device-idevid from "factory", trusted
#     with `devpki-ca trust add --bootstrap --ca factory`, are exchanged for
#     LDevIDs from "operations" (proof of possession with dgst -sha256, and
#     pkeyutl -rawin for Ed25519); the LDevID verifies (openssl -x509_strict,
#     certtool), names the IDevID's serialNumber as CN and carries the CSR's
#     key; a revoked IDevID is refused and issues nothing; a manufacturer CA
#     of another home (same subject names as ours) is trusted from a file,
#     its devices are refused until known, registered by JITP with its CRL,
#     then enrolled;
#   - JITP: templates/fleet.yaml registers a device with its attributes,
#     again is "unchanged" (row and audit unchanged), failing conditions are
#     named, --dry-run writes nothing;
#   - QR: PNG and SVG labels scan back (zbarimg) to a payload that parses,
#     pins the root's SHA-256, redeems once; manual codes redeem; a manifest
#     gives one label per device; labels are 0600;
#   - tokens: single use, stdin, expired, revoked, list states, and the
#     token is nowhere in the store.
source "$(dirname "$0")/lib.sh"
: "${MINT:?run through ctest (DEVPKI_MINT unset)}"
PROV=${DEVPKI_PROVISION:?run through ctest (DEVPKI_PROVISION unset)}
# One passphrase for every CA key (lib.sh's new_home uses the same file).
DEVPKI_PASSPHRASE=$(head -1 "$PASS_FILE")
export DEVPKI_PASSPHRASE

# run NAME EXPECTED_EXIT COMMAND...: stdout to $T/out, stderr to $T/err.
run() {
  local name=$1 code=$2 rc=0
  shift 2
  "$@" >"$T/out" 2>"$T/err" </dev/null || rc=$?
  if [ "$rc" -eq "$code" ]; then ok; else fail "$name: exit $rc, expected $code: $(head -c 1500 "$T/err")"; fi
  return 0
}
check() { if eval "$2"; then ok; else fail "$1"; fi; }
jqt() { jq -e "$2" "$T/out" >/dev/null 2>&1 && ok || fail "$1: $(head -c 1500 "$T/out")"; }
errhas() { grep -Eq -- "$2" "$T/err" && ok || fail "$1: stderr '$(head -c 1500 "$T/err")' does not match /$2/"; }
sql() { sqlite3 "$1" "$2"; }
# dn_attr CERT ATTR: the value of ATTR (CN, O, serialNumber, ...) in CERT's subject.
dn_attr() {
  openssl x509 -in "$1" -noout -subject -nameopt RFC2253 | sed 's/^subject=//' | tr ',' '\n' |
    sed -n "s/^$2=//p"
}
# The public key (PEM) of a certificate and of a CSR, as openssl pkey writes it.
cert_pub() { openssl x509 -in "$1" -noout -pubkey | openssl pkey -pubin -pubout; }
csr_pub() { openssl req -in "$1" -noout -pubkey | openssl pkey -pubin -pubout; }
# der_sha256 CERT_PEM: hex SHA-256 of the DER certificate (what devpki calls its fingerprint).
der_sha256() { openssl x509 -in "$1" -outform DER | openssl dgst -sha256 | awk '{print $NF}'; }
# verifies LABEL CERT ROOT CHAIN: openssl verify -x509_strict and certtool --verify (two checks).
verifies() {
  local label=$1 cert=$2 root=$3 chain=$4 out
  if out=$(openssl verify -x509_strict -CAfile "$root" -untrusted "$chain" "$cert" 2>&1); then ok; else
    fail "$label: openssl verify: $out"
  fi
  cat "$cert" "$chain" >"$T/certtool-in.pem"
  if out=$(certtool --verify --load-ca-certificate "$root" --infile "$T/certtool-in.pem" 2>&1) &&
    grep -q 'Chain verification output: Verified' <<<"$out"; then ok; else
    fail "$label: certtool --verify: $(tail -3 <<<"$out")"
  fi
}
# b64url_hex TEXT: base64url without padding -> lower-case hex.
b64url_hex() {
  local s=$1
  s=$(tr '_-' '/+' <<<"$s")
  while [ $((${#s} % 4)) -ne 0 ]; do s="$s="; done
  base64 -d <<<"$s" | xxd -p -c 256
}
mode_of() { stat -c %a "$1"; }
# nowhere_in_store HOME STRING...: no STRING occurs in the store's files (store.db, -wal, ...).
nowhere_in_store() {
  local h=$1 s
  shift
  for s in "$@"; do
    if cat "$h"/store.db* | grep -aqF -- "$s"; then return 1; fi
  done
}
certs_count() { sql "$1/store.db" 'SELECT count(*) FROM certificates'; }
# mint_idevids HOME OUT PATTERN COUNT [KEY [PROFILE]]: IDevIDs with keys generated here, PEM per device.
mint_idevids() {
  "$MINT" --home "$1" --ca factory --profile "${6:-device-idevid}" --count "$4" --id-pattern "$3" \
    --key "${5:-ec-p256}" --format pem --out "$2" >/dev/null
}
# ldevid_csr DIR: DIR/ldevid.key and DIR/ldevid.csr (a fresh EC key) and DIR/proof.sig
# (the IDevID key DIR/key.pem's signature over the CSR file, ECDSA with SHA-256).
ldevid_csr() {
  csr_openssl "$1/ldevid.csr" ec:P-256 -subj "/CN=ignored"
  openssl dgst -sha256 -sign "$1/key.pem" -out "$1/proof.sig" "$1/ldevid.csr"
}

# ================================ bootstrap ======================================
H=$T/boot
new_home "$H"
"$CA" --home "$H" issue-ca --parent root --name operations --subject "/O=Acme/CN=Acme Operations CA" \
  --passphrase-file "$PASS_FILE" >/dev/null
ca_files "$H" operations "$T/ops"
ROOT=$T/ops/root.pem
OPS_CHAIN=$T/ops/chain.pem
mint_idevids "$H" "$T/idev" 'ACME-{seq:08}' 3
E() { "$PROV" --home "$H" "$@"; }

run "trust add --bootstrap --ca factory" 0 "$CA" --home "$H" trust add --bootstrap --ca factory
check "trust add names the anchor" "grep -q '^trusted for bootstrap: factory' '$T/out'"
"$CA" --home "$H" chain --ca factory --no-root --out "$T/factory.pem" >/dev/null 2>&1
run "trust list --json" 0 "$CA" --home "$H" --json trust list
jqt "trust list: factory, bootstrap, its fingerprint, from the CA" \
  "length == 1 and .[0].name == \"factory\" and .[0].purpose == \"bootstrap\" and .[0].source == \"ca:factory\" and .[0].sha256 == \"$(der_sha256 "$T/factory.pem")\""

D1=$T/idev/ACME-00000001
ldevid_csr "$D1"
run "enroll ACME-00000001" 0 E enroll --bootstrap "$D1/cert.pem" --csr "$D1/ldevid.csr" \
  --proof "$D1/proof.sig" --ca operations --out "$D1/ldevid.pem"
check "enroll says where the device id came from" "grep -q 'device id   ACME-00000001 (subject serialNumber)' '$T/out'"
verifies "LDevID of ACME-00000001" "$D1/ldevid.pem" "$ROOT" "$OPS_CHAIN"
check "the LDevID's CN is the IDevID's serialNumber" \
  "[ \"\$(dn_attr '$D1/ldevid.pem' CN)\" = \"\$(dn_attr '$D1/cert.pem' serialNumber)\" ] && [ \"\$(dn_attr '$D1/ldevid.pem' CN)\" = ACME-00000001 ]"
check "the LDevID carries the CSR's key" "[ \"\$(cert_pub '$D1/ldevid.pem')\" = \"\$(csr_pub '$D1/ldevid.csr')\" ]"
check "... which is the new key, not the IDevID's" \
  "[ \"\$(cert_pub '$D1/ldevid.pem')\" = \"\$(openssl pkey -in '$D1/ldevid.key' -pubout)\" ] && [ \"\$(cert_pub '$D1/ldevid.pem')\" != \"\$(cert_pub '$D1/cert.pem')\" ]"
check "the LDevID is issued by operations under device-ldevid" \
  "[ \"\$(dn_attr '$D1/ldevid.pem' OU)\" = Devices ] && [ \"\$(sql '$H/store.db' \"SELECT issuer || ' ' || profile || ' ' || status FROM certificates WHERE serial_hex = '\$(cert_serial '$D1/ldevid.pem')'\")\" = 'operations device-ldevid issued' ]"
check "the store records the LDevID for the device" \
  "[ \"\$(sql '$H/store.db' \"SELECT count(*) FROM certificates WHERE device_id = 'ACME-00000001' AND profile = 'device-ldevid'\")\" -eq 1 ]"
check "audited as provision.enroll" \
  "[ \"\$(sql '$H/store.db' \"SELECT count(*) FROM audit WHERE action = 'provision.enroll' AND subject = 'device/ACME-00000001'\")\" -eq 1 ]"

# A revoked IDevID is refused, and nothing is issued.
D2=$T/idev/ACME-00000002
ldevid_csr "$D2"
run "revoke the IDevID of ACME-00000002" 0 "$CA" --home "$H" revoke --serial "$(cert_serial "$D2/cert.pem")" \
  --ca factory --reason keyCompromise
before=$(certs_count "$H")
run "enroll with a revoked IDevID is refused" 2 E enroll --bootstrap "$D2/cert.pem" --csr "$D2/ldevid.csr" \
  --proof "$D2/proof.sig" --ca operations --out "$D2/ldevid.pem"
errhas "the refusal says revoked" "bootstrap refused: .*revoked \(keyCompromise\)"
check "no certificate added for the revoked IDevID" "[ \"\$(certs_count '$H')\" -eq $before ] && [ ! -e '$D2/ldevid.pem' ]"
check "the refusal is audited" \
  "[ \"\$(sql '$H/store.db' \"SELECT count(*) FROM audit WHERE action = 'provision.enroll.refused' AND detail LIKE '%revoked%'\")\" -eq 1 ]"

# Ed25519: the proof is a pure Ed25519 signature over the CSR file.
mint_idevids "$H" "$T/idev-ed" 'EDGE-{seq:04}' 1 ed25519
DE=$T/idev-ed/EDGE-0001
check "the Ed25519 IDevID has an Ed25519 key" "openssl x509 -in '$DE/cert.pem' -noout -text | grep -q 'ED25519'"
csr_openssl "$DE/ldevid.csr" ed25519 -subj /CN=ignored
openssl pkeyutl -sign -rawin -inkey "$DE/key.pem" -in "$DE/ldevid.csr" -out "$DE/proof.sig"
run "enroll with an Ed25519 IDevID" 0 E enroll --bootstrap "$DE/cert.pem" --csr "$DE/ldevid.csr" \
  --proof "$DE/proof.sig" --ca operations --out "$DE/ldevid.pem"
verifies "LDevID of EDGE-0001" "$DE/ldevid.pem" "$ROOT" "$OPS_CHAIN"
check "EDGE-0001: CN and key" \
  "[ \"\$(dn_attr '$DE/ldevid.pem' CN)\" = EDGE-0001 ] && [ \"\$(cert_pub '$DE/ldevid.pem')\" = \"\$(csr_pub '$DE/ldevid.csr')\" ]"

# A manufacturer in another home, with the same CA names and subjects as ours:
# its factory CA is trusted from a file, its devices' revocation comes from its CRL.
M=$T/maker
new_home "$M"
mint_idevids "$M" "$T/mk" 'MAKER-{seq:04}' 2
"$CA" --home "$M" chain --ca factory --no-root --out "$T/other-factory.pem" >/dev/null 2>&1
run "trust add --bootstrap other-factory.pem" 0 "$CA" --home "$H" --json trust add --bootstrap "$T/other-factory.pem"
jqt "the anchor is named from its CN, with the file's fingerprint" \
  ".name == \"acme-factory-ca\" and .sha256 == \"$(der_sha256 "$T/other-factory.pem")\" and (.source | startswith(\"file:\"))"
run "trust list" 0 "$CA" --home "$H" trust list
check "trust list shows both anchors" "grep -q '^factory ' '$T/out' && grep -q '^acme-factory-ca ' '$T/out'"
run "publish the maker's CRL" 0 "$CA" --home "$M" crl --ca factory
MCRL=$M/crl/factory.crl
check "the CRL is written under the maker home's crl/" "[ -s '$MCRL' ] && grep -q '$MCRL' '$T/out'"
crl_verifies "maker CRL" "$MCRL" "$T/other-factory.pem"

DM=$T/mk/MAKER-0001
ldevid_csr "$DM"
before=$(certs_count "$H")
run "maker device without its CRL: refused" 2 E enroll --bootstrap "$DM/cert.pem" --csr "$DM/ldevid.csr" \
  --proof "$DM/proof.sig" --ca operations --out "$DM/ldevid.pem"
errhas "... naming the missing revocation information" "no revocation information.*--crl"
run "maker device not known here: refused" 2 E enroll --bootstrap "$DM/cert.pem" --csr "$DM/ldevid.csr" \
  --proof "$DM/proof.sig" --ca operations --out "$DM/ldevid.pem" --crl "$MCRL"
errhas "... saying it is not known" "device MAKER-0001 is not known to this home"
check "nothing issued for the unknown maker device" "[ \"\$(certs_count '$H')\" -eq $before ] && [ ! -e '$DM/ldevid.pem' ]"

cat >"$T/maker.yaml" <<'EOF'
name: maker
description: "devices of the contract manufacturer"
trust: [acme-factory-ca]
conditions:
  - {field: subject.CN, matches: "MAKER-[0-9]{4}"}
  - {field: eku, contains: clientAuth}
attributes:
  device_id: "{subject.serialNumber}"
  vendor: maker
EOF
run "jitp registers the maker device (with its CRL)" 0 E --json jitp --template "$T/maker.yaml" \
  --cert "$DM/cert.pem" --crl "$MCRL"
jqt "jitp: registered through the other home's anchor, revocation from its CRL" \
  ".outcome == \"registered\" and .device_id == \"MAKER-0001\" and .attributes.vendor == \"maker\" and (.revocation_checked_in | startswith(\"CRL 1 \"))"
run "the known maker device enrolls with --crl" 0 E --json enroll --bootstrap "$DM/cert.pem" \
  --csr "$DM/ldevid.csr" --proof "$DM/proof.sig" --ca operations --out "$DM/ldevid.pem" --crl "$MCRL"
jqt "enroll --json: chained to the other home's factory (not ours), CRL checked" \
  ".device_id == \"MAKER-0001\" and .issuer == \"operations\" and .bootstrap.anchor_sha256 == \"$(der_sha256 "$T/other-factory.pem")\" and (.bootstrap.revocation_checked_in | startswith(\"CRL 1 \")) and .device_id_from == \"serialNumber\""
verifies "LDevID of MAKER-0001" "$DM/ldevid.pem" "$ROOT" "$OPS_CHAIN"
check "MAKER-0001: CN and key" \
  "[ \"\$(dn_attr '$DM/ldevid.pem' CN)\" = MAKER-0001 ] && [ \"\$(cert_pub '$DM/ldevid.pem')\" = \"\$(csr_pub '$DM/ldevid.csr')\" ]"

# A trusted maker cannot claim a device of this home by putting its id in a
# certificate of its own: ACME-00000003 was minted here (and never enrolled).
"$MINT" --home "$M" --ca factory --profile device-idevid --count 1 --start 3 --id-pattern 'ACME-{seq:08}' \
  --format pem --out "$T/mk-claim3" >/dev/null
DC=$T/mk-claim3/ACME-00000003
ldevid_csr "$DC"
before=$(certs_count "$H")
run "a maker certificate naming a device of this home: refused" 2 E enroll --bootstrap "$DC/cert.pem" \
  --csr "$DC/ldevid.csr" --proof "$DC/proof.sig" --ca operations --out "$DC/ldevid.pem" --crl "$MCRL"
errhas "... saying the device is not known from that certificate" \
  "device ACME-00000003 is not known to this home from this certificate"
check "nothing issued for the claimed device" "[ \"\$(certs_count '$H')\" -eq $before ] && [ ! -e '$DC/ldevid.pem' ]"

# The maker revokes its second device; its next CRL makes this home refuse it.
DM2=$T/mk/MAKER-0002
ldevid_csr "$DM2"
run "jitp registers MAKER-0002" 0 E jitp --template "$T/maker.yaml" --cert "$DM2/cert.pem" --crl "$MCRL"
"$CA" --home "$M" revoke --serial "$(cert_serial "$DM2/cert.pem")" --ca factory --reason keyCompromise >/dev/null 2>&1
run "the maker publishes CRL 2" 0 "$CA" --home "$M" crl --ca factory
before=$(certs_count "$H")
run "MAKER-0002 with the CRL listing it: refused" 2 E enroll --bootstrap "$DM2/cert.pem" \
  --csr "$DM2/ldevid.csr" --proof "$DM2/proof.sig" --ca operations --out "$DM2/ldevid.pem" --crl "$MCRL"
errhas "... as revoked" "revoked"
check "nothing issued for MAKER-0002" "[ \"\$(certs_count '$H')\" -eq $before ] && [ ! -e '$DM2/ldevid.pem' ]"

# Trust removed: the maker's IDevIDs no longer chain to anything this home trusts.
run "trust remove the maker's CA" 0 "$CA" --home "$H" trust remove acme-factory-ca
check "trust remove says so" "grep -q '^no longer trusted: acme-factory-ca' '$T/out'"
run "trust list --json after the removal" 0 "$CA" --home "$H" --json trust list
jqt "... only factory is left" '[.[].name] == ["factory"]'
csr_openssl "$DM/ldevid2.csr" ec:P-256 -subj /CN=ignored
openssl dgst -sha256 -sign "$DM/key.pem" -out "$DM/proof2.sig" "$DM/ldevid2.csr"
before=$(certs_count "$H")
run "a maker device after its CA was removed: refused" 2 E enroll --bootstrap "$DM/cert.pem" \
  --csr "$DM/ldevid2.csr" --proof "$DM/proof2.sig" --ca operations --out "$DM/ldevid2.pem" --crl "$MCRL"
errhas "... as not chaining to a trusted CA" "does not chain to a trusted CA"
check "... nothing issued" "[ \"\$(certs_count '$H')\" -eq $before ] && [ ! -e '$DM/ldevid2.pem' ]"

# ================================== JITP =========================================
J=$T/jitp
new_home "$J"
mint_idevids "$J" "$T/jd" 'ACME-{seq:08}' 2
cp "$DEVPKI_SOURCE_DIR/templates/fleet.yaml" "$T/fleet.yaml"
JD1=$T/jd/ACME-00000001/cert.pem
JD2=$T/jd/ACME-00000002/cert.pem
devrow() { sql "$J/store.db" "SELECT * FROM devices WHERE device_id = '$1'"; }
jaudit() { sql "$J/store.db" "SELECT count(*) FROM audit WHERE action = '$1'"; }

snap=$(store_snapshot "$J"; files_snapshot "$J")
run "jitp --dry-run" 0 "$PROV" --home "$J" jitp --template "$T/fleet.yaml" --cert "$JD1" --dry-run
check "--dry-run says what it would do" "grep -q '^would register: device ACME-00000001 (model=ACME, tenant=acme)' '$T/out'"
check "--dry-run writes nothing (store and home)" "[ \"\$(store_snapshot '$J'; files_snapshot '$J')\" = \"\$snap\" ]"

run "jitp --json" 0 "$PROV" --home "$J" --json jitp --template "$T/fleet.yaml" --cert "$JD1"
jqt "jitp: registered with the template's attributes" \
  '.outcome == "registered" and .dry_run == false and .device_id == "ACME-00000001" and .attributes == {"model": "ACME", "tenant": "acme"} and .template == "fleet" and (.conditions | length) == 3 and .revocation_checked_in == "store" and .anchor_subject == "CN=Acme Factory CA,O=Acme"'
jqt "jitp: the certificate's fingerprint" ".certificate_sha256 == \"$(der_sha256 "$JD1")\""
jrow=$(sql "$J/store.db" "SELECT status, json_extract(attributes, '$.model'), json_extract(attributes, '$.tenant'), registered_by, registered_cert FROM devices WHERE device_id = 'ACME-00000001'")
check "the devices row: active, attributes, template and certificate ($jrow)" \
  "[ '$jrow' = 'active|ACME|acme|fleet|$(der_sha256 "$JD1")' ]"
row=$(devrow ACME-00000001)
regs=$(jaudit jitp.register)
check "one jitp.register audit row" "[ '$regs' -eq 1 ]"

run "jitp again" 0 "$PROV" --home "$J" jitp --template "$T/fleet.yaml" --cert "$JD1"
check "again: unchanged" "grep -q '^unchanged: device ACME-00000001' '$T/out' && grep -q 'nothing written' '$T/out'"
check "again: the devices row is unchanged" "[ \"\$(devrow ACME-00000001)\" = \"\$row\" ]"
check "again: no new jitp.register audit row" "[ \"\$(jaudit jitp.register)\" -eq $regs ]"
run "jitp --json again" 0 "$PROV" --home "$J" --json jitp --template "$T/fleet.yaml" --cert "$JD1"
jqt "--json again: outcome unchanged" '.outcome == "unchanged" and .device_id == "ACME-00000001"'

# The same device with other attributes: a conflict, nothing overwritten.
sed 's/^  tenant: acme$/  tenant: globex/' "$T/fleet.yaml" >"$T/fleet-globex.yaml"
run "jitp with other attributes for a registered device" 2 "$PROV" --home "$J" jitp \
  --template "$T/fleet-globex.yaml" --cert "$JD1"
errhas "... names the attribute that differs" "tenant"
check "... and the row is unchanged" "[ \"\$(devrow ACME-00000001)\" = \"\$row\" ]"

# A certificate under another id pattern fails condition 2.
mint_idevids "$J" "$T/jbeta" 'BETA-{seq:04}' 1
refused=$(jaudit jitp.refused)
run "jitp of BETA-0001" 2 "$PROV" --home "$J" jitp --template "$T/fleet.yaml" --cert "$T/jbeta/BETA-0001/cert.pem"
errhas "... refused naming condition 2" 'condition 2 \(subject\.CN matches "ACME-\[0-9\]\{8\}"\) failed: subject\.CN is "BETA-0001"'
check "... not registered, refusal audited" \
  "[ -z \"\$(devrow BETA-0001)\" ] && [ \"\$(jaudit jitp.refused)\" -eq $((refused + 1)) ]"

# A certificate with another O (a test profile in the home) fails condition 1.
sed -e 's/^name: device-idevid$/name: idevid-globex/' -e 's/^  - O: Acme$/  - O: Globex/' \
  "$J/profiles/device-idevid.yaml" >"$J/profiles/idevid-globex.yaml"
"$MINT" --home "$J" --ca factory --profile idevid-globex --count 1 --id-pattern 'ACME-{seq:08}' --start 900 \
  --format pem --out "$T/jglobex" >/dev/null
GX=$T/jglobex/ACME-00000900/cert.pem
check "the test profile gives O=Globex" "[ \"\$(dn_attr '$GX' O)\" = Globex ]"
snap=$(store_snapshot "$J"; files_snapshot "$J")
run "jitp --dry-run of the Globex certificate" 2 "$PROV" --home "$J" jitp --template "$T/fleet.yaml" --cert "$GX" --dry-run
errhas "... refused naming condition 1" 'condition 1 \(subject\.O equals "Acme"\) failed: subject\.O is "Globex"'
check "... a refused --dry-run writes nothing, not even the audit" "[ \"\$(store_snapshot '$J'; files_snapshot '$J')\" = \"\$snap\" ]"
run "jitp of the Globex certificate" 2 "$PROV" --home "$J" jitp --template "$T/fleet.yaml" --cert "$GX"
errhas "... refused naming condition 1" 'condition 1 \(subject\.O equals "Acme"\) failed'
check "... not registered" "[ -z \"\$(devrow ACME-00000900)\" ]"

snap=$(store_snapshot "$J"; files_snapshot "$J")
run "jitp --dry-run --json of a new device" 0 "$PROV" --home "$J" --json jitp --template "$T/fleet.yaml" --cert "$JD2" --dry-run
jqt "--dry-run --json: would be registered" '.outcome == "registered" and .dry_run == true and .device_id == "ACME-00000002"'
check "--dry-run --json writes nothing" "[ \"\$(store_snapshot '$J'; files_snapshot '$J')\" = \"\$snap\" ] && [ -z \"\$(devrow ACME-00000002)\" ]"

# =================================== QR ==========================================
Q=$T/qr
new_home "$Q"
ca_files "$Q" factory "$T/qca"
QROOT=$T/qca/root.pem
QCHAIN=$T/qca/chain.pem
EP=https://enroll.acme.example/v1
mkdir -p "$T/labels"
ROOT_SHA=$(openssl x509 -in "$QROOT" -outform DER | openssl dgst -sha256 | awk '{print $NF}')
scan() { zbarimg --raw -q "$1" 2>/dev/null | tr -d '\n'; }
PAYLOAD_RE='^DP1\|[A-Za-z0-9._:-]+\|[0-9A-HJKMNP-TV-Z]{12}\|[A-Za-z0-9_-]{43}\|[^|]+\|[0-9a-f]{2}$'

run "qr --device PNG" 0 "$PROV" --home "$Q" qr --device QR-0001 --out "$T/labels/QR-0001.png" --endpoint "$EP"
check "the PNG label is a PNG, mode 0600" \
  "[ \"\$(head -c 8 '$T/labels/QR-0001.png' | xxd -p)\" = 89504e470d0a1a0a ] && [ \"\$(mode_of '$T/labels/QR-0001.png')\" = 600 ]"
PA=$(scan "$T/labels/QR-0001.png")
check "zbarimg reads a DP1 payload for QR-0001 from the PNG" \
  "grep -Eq '$PAYLOAD_RE' <<<\"\$PA\" && [ \"\$(cut -d'|' -f2 <<<\"\$PA\")\" = QR-0001 ] && [ \"\$(cut -d'|' -f5 <<<\"\$PA\")\" = '$EP' ]"
check "the payload's anchor is the root's SHA-256 (base64url)" "[ \"\$(b64url_hex \"\$(cut -d'|' -f4 <<<\"\$PA\")\")\" = '$ROOT_SHA' ]"
run "qr --parse of the scanned payload" 0 "$PROV" --home "$Q" qr --parse "$PA"
check "qr --parse shows the device and the check" \
  "grep -q 'check ok' '$T/out' && grep -q 'device id    QR-0001' '$T/out' && grep -q '(CA root of this home)' '$T/out' && grep -Eq 'setup code   active' '$T/out'"
run "qr --parse --json" 0 "$PROV" --home "$Q" --json qr --parse "$PA"
jqt "qr --parse --json: device, endpoint, the root's fingerprint, an active code" \
  ".device_id == \"QR-0001\" and .endpoint == \"$EP\" and .anchor_sha256 == \"$ROOT_SHA\" and .anchor_ca == \"root\" and .check == \"ok\" and .setup_code.state == \"active\" and .version == 1"

run "qr --device SVG" 0 "$PROV" --home "$Q" qr --device QR-0002 --format svg --out "$T/labels/QR-0002.svg" --endpoint "$EP"
check "the SVG label is an SVG document, mode 0600" \
  "grep -q '<svg' '$T/labels/QR-0002.svg' && tail -c 10 '$T/labels/QR-0002.svg' | grep -q '</svg>' && [ \"\$(mode_of '$T/labels/QR-0002.svg')\" = 600 ]"
PB=$(scan "$T/labels/QR-0002.svg")
check "zbarimg reads QR-0002's payload from the SVG" "grep -Eq '$PAYLOAD_RE' <<<\"\$PB\" && [ \"\$(cut -d'|' -f2 <<<\"\$PB\")\" = QR-0002 ]"
run "qr --parse --json of the SVG's payload" 0 "$PROV" --home "$Q" --json qr --parse "$PB"
MANUAL_B=$(jq -r .manual_code "$T/out")
check "the SVG prints the caption and the manual code of its payload" \
  "grep -q '>QR-0002<' '$T/labels/QR-0002.svg' && grep -qF '$MANUAL_B' '$T/labels/QR-0002.svg'"
check "the manual code is the payload's setup code, grouped, with a check character" \
  "[ \"\$(tr -d '-' <<<'$MANUAL_B' | cut -c1-12)\" = \"\$(cut -d'|' -f3 <<<\"\$PB\")\" ]"

# The setup code in the scanned payload redeems once.
csr_openssl "$T/qa.csr" ec:P-256 -subj /CN=ignored
run "redeem the scanned payload" 0 "$PROV" --home "$Q" token redeem --token "$PA" --csr "$T/qa.csr" --out "$T/qa.pem"
verifies "certificate from QR-0001's payload" "$T/qa.pem" "$QROOT" "$QCHAIN"
check "... for QR-0001, with the CSR's key" \
  "[ \"\$(dn_attr '$T/qa.pem' CN)\" = QR-0001 ] && [ \"\$(cert_pub '$T/qa.pem')\" = \"\$(csr_pub '$T/qa.csr')\" ]"
run "redeem the payload a second time" 2 "$PROV" --home "$Q" token redeem --token "$PA" --csr "$T/qa.csr" --out "$T/qa2.pem"
errhas "... refused as replayed" "already redeemed.*single use"
check "... nothing written" "[ ! -e '$T/qa2.pem' ]"
run "qr --parse after the redemption" 0 "$PROV" --home "$Q" --json qr --parse "$PA"
jqt "... shows the setup code redeemed" '.setup_code.state == "redeemed"'

# The manual code of another label redeems (from qr --parse: the SVG label's).
csr_openssl "$T/qb.csr" ec:P-256 -subj /CN=ignored
run "redeem QR-0002's manual code" 0 "$PROV" --home "$Q" token redeem --token "$MANUAL_B" --csr "$T/qb.csr" --out "$T/qb.pem"
verifies "certificate from QR-0002's manual code" "$T/qb.pem" "$QROOT" "$QCHAIN"
check "... for QR-0002" "[ \"\$(dn_attr '$T/qb.pem' CN)\" = QR-0002 ]"

# A text label: payload, manual code, the code drawn; its manual code typed in
# lower case without dashes redeems.
run "qr --device text" 0 "$PROV" --home "$Q" qr --device QR-0003 --out "$T/labels/QR-0003.txt" --endpoint "$EP"
check "the text label: payload line, manual code, mode 0600" \
  "head -1 '$T/labels/QR-0003.txt' | grep -Eq '$PAYLOAD_RE' && grep -Eq '^manual code: [0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}-.$' '$T/labels/QR-0003.txt' && [ \"\$(mode_of '$T/labels/QR-0003.txt')\" = 600 ]"
MANUAL_C=$(sed -n 's/^manual code: //p' "$T/labels/QR-0003.txt")
typed=$(tr -d '-' <<<"$MANUAL_C" | tr 'A-Z' 'a-z')
csr_openssl "$T/qc.csr" ec:P-256 -subj /CN=ignored
run "redeem QR-0003's manual code, typed in lower case without dashes" 0 "$PROV" --home "$Q" token redeem \
  --token "$typed" --csr "$T/qc.csr" --out "$T/qc.pem"
check "... for QR-0003" "[ \"\$(dn_attr '$T/qc.pem' CN)\" = QR-0003 ]"
codes=("$(cut -d'|' -f3 <<<"$PA")" "$(cut -d'|' -f3 <<<"$PB")" "$(tr -d '-' <<<"$MANUAL_C" | cut -c1-12)")
check "no setup code is in the store (${codes[*]})" "nowhere_in_store '$Q' ${codes[*]}"

# A manifest from devpki-mint: one PNG per device, each scanning back to its device.
"$MINT" --home "$Q" --ca factory --profile device-ldevid --count 3 --id-pattern 'LINE-{seq:03}' \
  --format pem --out "$T/line" >/dev/null
run "qr --manifest" 0 "$PROV" --home "$Q" qr --manifest "$T/line/manifest.jsonl" --out "$T/mlabels" --endpoint "$EP"
ids=$(jq -r .device_id "$T/line/manifest.jsonl" | sort)
check "one PNG per device of the manifest" \
  "[ \"\$(cd '$T/mlabels' && ls | sort)\" = \"\$(sed 's/\$/.png/' <<<\"\$ids\")\" ] && [ \$(wc -l <<<\"\$ids\") -eq 3 ]"
for id in $ids; do
  f=$T/mlabels/$id.png
  p=$(scan "$f")
  check "$id's label scans back to a payload naming $id, mode 0600" \
    "grep -Eq '$PAYLOAD_RE' <<<'$p' && [ \"\$(cut -d'|' -f2 <<<'$p')\" = '$id' ] && [ \"\$(mode_of '$f')\" = 600 ]"
done
run "token list --kind setup_code --json" 0 "$PROV" --home "$Q" --json token list --kind setup_code
jqt "setup codes: 3 redeemed, the manifest's 3 active" \
  '([.[] | select(.state == "redeemed")] | length) == 3 and ([.[] | select(.device_id | startswith("LINE-")) | .state] == ["active", "active", "active"])'

# ================================= tokens ========================================
K=$T/tok
new_home "$K"
ca_files "$K" factory "$T/kca"
KROOT=$T/kca/root.pem
KCHAIN=$T/kca/chain.pem
ksql() { sql "$K/store.db" "$1"; }

run "token issue" 0 "$PROV" --home "$K" token issue --device TK-0001
TOK1=$(cat "$T/out")
check "the token is dpt_ + 30 base32 characters, on stdout alone" "grep -Eqx 'dpt_[a-z2-7]{30}' '$T/out'"
check "stderr: details, shown once" "grep -q 'for device TK-0001' '$T/err' && grep -q 'shown only now' '$T/err'"
csr_openssl "$T/k1.csr" ec:P-256 -subj /CN=ignored
run "token redeem" 0 "$PROV" --home "$K" token redeem --token "$TOK1" --csr "$T/k1.csr" --out "$T/k1.pem"
verifies "certificate from the token" "$T/k1.pem" "$KROOT" "$KCHAIN"
check "its CN is the device id, its key the CSR's" \
  "[ \"\$(dn_attr '$T/k1.pem' CN)\" = TK-0001 ] && [ \"\$(cert_pub '$T/k1.pem')\" = \"\$(csr_pub '$T/k1.csr')\" ]"
before=$(certs_count "$K")
run "token redeem again" 2 "$PROV" --home "$K" token redeem --token "$TOK1" --csr "$T/k1.csr" --out "$T/k1b.pem"
errhas "... refused: already redeemed" "already redeemed"
check "... nothing issued" "[ \"\$(certs_count '$K')\" -eq $before ] && [ ! -e '$T/k1b.pem' ]"

run "token issue --json" 0 "$PROV" --home "$K" --json token issue --device TK-0002 --ttl 2h
TOK2=$(jq -r .token "$T/out")
jqt "--json: the token, its state and 2h expiry" \
  '(.token | test("^dpt_[a-z2-7]{30}$")) and .state == "active" and .device_id == "TK-0002" and .ca == "factory" and .profile == "device-ldevid" and ((.expires_at | fromdateiso8601) - (.created_at | fromdateiso8601)) == 7200'
csr_openssl "$T/k2.csr" ec:P-256 -subj /CN=ignored
rc=0
printf '%s\n' "$TOK2" | "$PROV" --home "$K" token redeem --token - --csr "$T/k2.csr" --out "$T/k2.pem" >"$T/out" 2>"$T/err" || rc=$?
check "token redeem --token - (stdin)" "[ $rc -eq 0 ] && [ \"\$(dn_attr '$T/k2.pem' CN)\" = TK-0002 ]"

# Expired: the row's expiry moved into the past (waiting a minute is too slow).
run "token issue TK-0003" 0 "$PROV" --home "$K" token issue --device TK-0003 --ttl 1min
TOK3=$(cat "$T/out")
now=$(date +%s)
ksql "UPDATE enrollment_secrets SET created_at = $((now - 7200)), expires_at = $((now - 3600)) WHERE device_id = 'TK-0003'"
csr_openssl "$T/k3.csr" ec:P-256 -subj /CN=ignored
run "redeem an expired token" 2 "$PROV" --home "$K" token redeem --token "$TOK3" --csr "$T/k3.csr" --out "$T/k3.pem"
errhas "... refused: expired" "token [0-9a-f]+ for device TK-0003 expired at .*issue a new one"
check "... nothing written" "[ ! -e '$T/k3.pem' ]"

run "token issue TK-0004" 0 "$PROV" --home "$K" token issue --device TK-0004
TOK4=$(cat "$T/out")
run "token revoke" 0 "$PROV" --home "$K" token revoke --device TK-0004
check "token revoke names the token" "grep -q '^revoked token [0-9a-f]* of device TK-0004' '$T/out'"
csr_openssl "$T/k4.csr" ec:P-256 -subj /CN=ignored
run "redeem a revoked token" 2 "$PROV" --home "$K" token redeem --token "$TOK4" --csr "$T/k4.csr" --out "$T/k4.pem"
errhas "... refused: revoked" "for device TK-0004 was revoked at"

# Single use against concurrent redeemers: four at once, one certificate.
run "token issue TK-0006" 0 "$PROV" --home "$K" token issue --device TK-0006
TOK6=$(cat "$T/out")
csr_openssl "$T/k6.csr" ec:P-256 -subj /CN=ignored
for i in 1 2 3 4; do
  (
    rc=0
    "$PROV" --home "$K" token redeem --token "$TOK6" --csr "$T/k6.csr" --out "$T/k6-$i.pem" >/dev/null 2>"$T/k6-$i.err" || rc=$?
    echo "$rc" >"$T/k6-$i.rc"
  ) &
done
wait
wins=0
losers_ok=0
for i in 1 2 3 4; do
  if [ "$(cat "$T/k6-$i.rc")" = 0 ]; then
    wins=$((wins + 1))
  elif [ "$(cat "$T/k6-$i.rc")" = 2 ] && grep -q 'single use' "$T/k6-$i.err"; then
    losers_ok=$((losers_ok + 1))
  fi
done
check "four concurrent redemptions: one certificate, three refused as single use ($(cat "$T"/k6-*.err | tr '\n' ' '))" \
  "[ $wins -eq 1 ] && [ $losers_ok -eq 3 ] && [ \$(ls '$T'/k6-*.pem | wc -l) -eq 1 ] && [ \"\$(ksql \"SELECT count(*) FROM certificates WHERE device_id = 'TK-0006'\")\" -eq 1 ]"

run "token issue TK-0005" 0 "$PROV" --home "$K" token issue --device TK-0005
TOK5=$(cat "$T/out")
run "token list --json" 0 "$PROV" --home "$K" --json token list
k1serial=$(cert_serial "$T/k1.pem")
jqt "token list: the states" \
  '(map({(.device_id): .state}) | add) == {"TK-0001": "redeemed", "TK-0002": "redeemed", "TK-0003": "expired", "TK-0004": "revoked", "TK-0005": "active", "TK-0006": "redeemed"}'
jqt "token list: the certificate a token was redeemed for" \
  ".[] | select(.device_id == \"TK-0001\") | .certificate.issuer == \"factory\" and .certificate.serial == \"$k1serial\" and has(\"redeemed_at\")"
jqt "token list: revoked_at for the revoked one" '.[] | select(.device_id == "TK-0004") | has("revoked_at")'
run "token list (text)" 0 "$PROV" --home "$K" token list
check "token list text: a row per token with its state" \
  "[ \$(grep -cE '^[0-9a-f]{16} +token +TK-000[1-6] +(active|redeemed|expired|revoked) ' '$T/out') -eq 6 ]"

for t in "$TOK1" "$TOK2" "$TOK3" "$TOK4" "$TOK5" "$TOK6"; do
  body=${t#dpt_}
  check "token ${t:0:8}... is nowhere in store.db" \
    "[ \"\$(grep -ac -e '$t' -e '$body' '$K/store.db' || true)\" -eq 0 ] && nowhere_in_store '$K' '$t' '$body'"
  check "... nor in the audit table" \
    "[ \"\$(ksql \"SELECT count(*) FROM audit WHERE instr(detail, '$body') > 0 OR instr(subject, '$body') > 0 OR instr(action, '$body') > 0\")\" -eq 0 ]"
done
check "the refusals are audited without the token" \
  "[ \"\$(ksql \"SELECT count(*) FROM audit WHERE action = 'token.redeem.refused'\")\" -eq 6 ]"

finish
