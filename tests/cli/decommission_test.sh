#!/usr/bin/env bash
# devpki-decommission (issue 4): from a list with unknown ids (exit 3, the
# unknown ones listed, the rest goes through), --dry-run writes nothing, a
# second run changes nothing, --publish DIR copies, --batch, --device, --json;
# the published CRLs verify (openssl, certtool) and shut out exactly the
# decommissioned devices; certificates revoked earlier are reported, not an
# error, and their unpublished CRL is published; devpki-mint and devpki-ca
# sign refuse decommissioned ids unless --allow-decommissioned; bad lists
# refuse the whole run and change nothing.
source "$(dirname "$0")/lib.sh"
: "${MINT:?run through ctest (DEVPKI_MINT unset)}"
: "${DECOM:?run through ctest (DEVPKI_DECOMMISSION unset)}"

H=$T/h
new_home "$H"
ca_files "$H" factory "$T/ca"
ROOT=$T/ca/root.pem
"$CA" --home "$H" chain --ca factory --no-root --out "$T/ca/factory.pem" >/dev/null
FACTORY=$T/ca/factory.pem
CRLD=$H/crl
BUNDLE=$CRLD/factory-chain.crl.pem
WWW=$T/www
mkdir -p "$WWW"
W=$T/work
mkdir -p "$W"

sql() { sqlite3 "$H/store.db" "$1"; }
# decom NAME EXPECTED_EXIT ARGS...: devpki-decommission on $H; stdout to $T/out, stderr to $T/err.
decom() {
  local name=$1 code=$2 rc=0
  shift 2
  "$DECOM" --home "$H" "$@" >"$T/out" 2>"$T/err" || rc=$?
  if [ "$rc" -eq "$code" ]; then ok; else fail "$name: exit $rc, expected $code: $(cat "$T/err")"; fi
  return 0
}
jqt() { jq -e "$2" "$T/out" >/dev/null 2>&1 && ok || fail "$1: $(cat "$T/out")"; }
crl_count() { sql "SELECT count(*) FROM crls WHERE issuer = 'factory'"; }
dev_status() { sql "SELECT coalesce((SELECT status FROM devices WHERE device_id = '$1'), 'none')"; }
# verdicts WANT LABEL CERT...: openssl verify -crl_check_all with the chain bundle says WANT of each.
verdicts() {
  local want=$1 label=$2 c v bad=""
  shift 2
  for c in "$@"; do
    v=$(crl_verdict "$c" "$ROOT" "$FACTORY" "$BUNDLE")
    [ "$v" = "$want" ] || bad+="$(basename "$(dirname "$c")"): $v; "
  done
  [ -z "$bad" ] && ok || fail "$label: expected $want: $bad"
}
N=20
[ "${DEVPKI_SANITIZE:-OFF}" = ON ] && N=12
"$MINT" --home "$H" --passphrase-file "$PASS_FILE" --ca factory --profile device-idevid --count $N \
  --id-pattern 'D-{seq:03}' --out "$T/b1" --format pem --batch-id b1 >/dev/null
"$MINT" --home "$H" --passphrase-file "$PASS_FILE" --ca factory --profile device-idevid --count 4 \
  --id-pattern 'B2-{seq}' --out "$T/b2" --format pem --batch-id b2 >/dev/null
d() { echo "$T/b1/D-$1/cert.pem"; }
# D-002 also holds an operational certificate (device-ldevid) signed from a CSR.
csr_openssl "$T/d2-ldevid.csr" ec:P-256 -subj /CN=x
"$CA" --home "$H" sign --ca factory --profile device-ldevid --csr "$T/d2-ldevid.csr" --device-id D-002 \
  --out "$T/d2-ldevid.pem" --passphrase-file "$PASS_FILE" >/dev/null
# A device whose only certificate was revoked (and published) before.
"$CA" --home "$H" revoke --device D-006 --reason keyCompromise >/dev/null 2>&1
"$CA" --home "$H" crl --ca root --passphrase-file "$PASS_FILE" >/dev/null
"$CA" --home "$H" crl --ca factory --passphrase-file "$PASS_FILE" >/dev/null
[ "$(crl_count)" -eq 1 ] && ok || fail "setup: $(crl_count) factory CRLs"

# The list: comments, blank lines, spaces, CRLF, two unknown ids.
printf '# retired in the field\nD-001\n\n  D-002  \r\nNOPE-1\r\n# more\nD-003\nD-004\nNOPE-2\nD-005\nD-006\n' >"$W/list.txt"

# --- dry run: the plan, nothing written, no passphrase needed -----------------------------
before=$(store_snapshot "$H"; files_snapshot "$H"; files_snapshot "$WWW")
decom "dry run" 3 --devices "$W/list.txt" --dry-run --publish "$WWW"
grep -q '^plan: 8 device(s), 6 to decommission, 6 certificate(s) to revoke (cessationOfOperation), 1 already revoked, 2 unknown$' "$T/out" &&
  ok || fail "dry run summary: $(cat "$T/out")"
grep -q "^D-002: would revoke factory/0*$(cert_serial "$T/d2-ldevid.pem")\$" "$T/out" && ok || fail "dry run does not plan D-002's ldevid: $(cat "$T/out")"
grep -q "^D-006: already revoked factory/" "$T/out" && ok || fail "dry run: D-006 not reported already revoked"
grep -q '^would publish the CRL of factory$' "$T/out" && grep -q '^dry run: nothing was written$' "$T/out" && ok ||
  fail "dry run: $(cat "$T/out")"
grep -q '2 device id(s) unknown to this home (nothing done for them): NOPE-1, NOPE-2' "$T/err" && ok ||
  fail "dry run: unknown ids on stderr: $(cat "$T/err")"
[ "$(store_snapshot "$H"; files_snapshot "$H"; files_snapshot "$WWW")" = "$before" ] && ok ||
  fail "dry run changed the store, the home or the publish directory"
decom "dry run --json" 3 --json --devices "$W/list.txt" --dry-run
jqt "dry run --json" '.dry_run == true and .reason == "cessationOfOperation" and .devices == 8 and .decommissioned == 6
  and .revoked == 6 and .already_revoked == 1 and .unknown == ["NOPE-1", "NOPE-2"] and .crls == [{"ca": "factory"}]
  and ([.certificates[] | select(.outcome == "would_revoke")] | length) == 6
  and ([.certificates[] | select(.outcome == "already_revoked") | .device_id] == ["D-006"])'
[ "$(store_snapshot "$H"; files_snapshot "$H"; files_snapshot "$WWW")" = "$before" ] && ok ||
  fail "dry run --json changed the store or the home"

# --- the real run -------------------------------------------------------------------------
decom "decommission a list" 3 --devices "$W/list.txt" --publish "$WWW" --passphrase-file "$PASS_FILE"
grep -q '^8 device(s), 6 decommissioned now, 6 certificate(s) revoked (cessationOfOperation), 1 already revoked, 2 unknown$' "$T/out" &&
  ok || fail "summary: $(cat "$T/out")"
grep -Eq "^published CRL 2 of factory \([0-9]+ entries, next update [0-9T:-]+Z\): $CRLD/factory.crl\$" "$T/out" && ok ||
  fail "published line: $(cat "$T/out")"
grep -q "^  chain bundle: $BUNDLE\$" "$T/out" && ok || fail "chain bundle line: $(cat "$T/out")"
for f in factory.crl factory.crl.pem factory-chain.crl.pem; do
  grep -q "^  copied to $WWW/$f\$" "$T/out" || fail "not copied: $f: $(cat "$T/out")"
  cmp -s "$CRLD/$f" "$WWW/$f" && ok || fail "--publish: $WWW/$f differs from $CRLD/$f"
done
# stderr: the unknown ids, and nothing else.
[ "$(cat "$T/err")" = "devpki-decommission: 2 device id(s) unknown to this home (nothing done for them): NOPE-1, NOPE-2" ] &&
  ok || fail "stderr: '$(cat "$T/err")'"
for i in 001 002 003 004 005 006; do
  [ "$(dev_status D-$i)" = decommissioned ] || fail "D-$i: device status $(dev_status D-$i)"
done
[ "$(dev_status D-007)" != decommissioned ] && [ "$(dev_status NOPE-1)" = none ] && ok ||
  fail "D-007 or NOPE-1 marked decommissioned"
[ "$(sql "SELECT count(*) FROM devices WHERE status = 'decommissioned'")" -eq 6 ] && ok ||
  fail "store: $(sql "SELECT count(*) FROM devices WHERE status = 'decommissioned'") decommissioned devices, expected 6"
[ "$(sql "SELECT count(*) FROM certificates WHERE status = 'revoked'")" -eq 7 ] && ok ||
  fail "store: $(sql "SELECT count(*) FROM certificates WHERE status = 'revoked'") revoked certificates, expected 7"
[ "$(crl_count)" -eq 2 ] && ok || fail "$(crl_count) factory CRLs, expected 2"
crl_verifies "decommission CRL" "$CRLD/factory.crl.pem" "$FACTORY"
crl_verifies "decommission CRL, published copy" "$WWW/factory.crl.pem" "$FACTORY"
want=$(for i in 001 002 003 004 005 006; do cert_serial "$(d $i)"; done; cert_serial "$T/d2-ldevid.pem")
[ "$(crl_serials "$CRLD/factory.crl.pem")" = "$(sort <<<"$want")" ] && ok ||
  fail "CRL lists $(crl_serials "$CRLD/factory.crl.pem" | tr '\n' ' '), expected $(sort <<<"$want" | tr '\n' ' ')"
crl_entries "$CRLD/factory.crl.pem" >"$T/entries"
[ "$(grep -c ' Cessation_Of_Operation ' "$T/entries")" -eq 6 ] &&
  [ "$(awk -v s="$(cert_serial "$(d 006)")" '$1 == s { print $2 }' "$T/entries")" = Key_Compromise ] && ok ||
  fail "reasons on the CRL: $(cat "$T/entries")"
verdicts revoked "decommissioned devices" "$(d 001)" "$(d 002)" "$(d 003)" "$(d 004)" "$(d 005)" "$(d 006)" "$T/d2-ldevid.pem"
verdicts OK "devices kept" "$(d 007)" "$(d 008)" "$T/b2/B2-1/cert.pem"
[ "$(certtool_crl_verdict "$(d 003)" "$FACTORY" "$ROOT" "$BUNDLE")" = revoked ] && ok ||
  fail "certtool --verify: D-003 not revoked: $(certtool_crl_verdict "$(d 003)" "$FACTORY" "$ROOT" "$BUNDLE")"
[ "$(sql "SELECT count(*) FROM audit WHERE action = 'device.decommission'")" -eq 1 ] && ok ||
  fail "audit: $(sql "SELECT count(*) FROM audit WHERE action = 'device.decommission'") device.decommission events"

# --- the second run changes nothing -----------------------------------------------------
before=$(store_snapshot "$H"; files_snapshot "$H"; files_snapshot "$WWW")
decom "second run" 3 --devices "$W/list.txt" --publish "$WWW" --passphrase-file "$PASS_FILE"
grep -q '^no change' "$T/out" && ok || fail "second run: no 'no change': $(cat "$T/out")"
grep -q '^8 device(s), 0 decommissioned now, 0 certificate(s) revoked (cessationOfOperation), 7 already revoked, 2 unknown$' "$T/out" &&
  ok || fail "second run summary: $(cat "$T/out")"
[ "$(store_snapshot "$H"; files_snapshot "$H"; files_snapshot "$WWW")" = "$before" ] && ok ||
  fail "second run changed the store, the home or the publish directory"
[ "$(crl_count)" -eq 2 ] && ok || fail "second run published a CRL"
decom "second run --json" 3 --json --devices "$W/list.txt" --passphrase-file "$PASS_FILE"
jqt "second run --json" '.dry_run == false and .decommissioned == 0 and .revoked == 0 and .already_revoked == 7 and .crls == []'
[ "$(store_snapshot "$H"; files_snapshot "$H"; files_snapshot "$WWW")" = "$before" ] && ok ||
  fail "second run --json changed something"

# --- --batch, another reason, --json ----------------------------------------------------------
decom "--batch" 0 --json --batch b2 --reason keyCompromise --publish "$WWW" --passphrase-file "$PASS_FILE"
jqt "--batch --json" ".dry_run == false and .reason == \"keyCompromise\" and .devices == 4 and .decommissioned == 4
  and .revoked == 4 and .unknown == [] and (.crls | length) == 1 and .crls[0].ca == \"factory\"
  and .crls[0].number == 3 and .crls[0].entries == 11 and .crls[0].file == \"$CRLD/factory.crl\"
  and .crls[0].bundle == \"$BUNDLE\" and .crls[0].bundle_problem == \"\"
  and (.crls[0].copies | sort) == ([\"$WWW/factory-chain.crl.pem\", \"$WWW/factory.crl\", \"$WWW/factory.crl.pem\"] | sort)
  and ([.certificates[].device_id] == [\"B2-1\", \"B2-2\", \"B2-3\", \"B2-4\"])"
[ "$(crl_number "$WWW/factory.crl.pem")" -eq 3 ] && ok || fail "--publish copy is not CRL 3"
[ ! -s "$T/err" ] && ok || fail "--batch: stderr '$(cat "$T/err")'"
crl_entries "$CRLD/factory.crl.pem" >"$T/entries"
[ "$(grep -c ' Key_Compromise ' "$T/entries")" -eq 5 ] && [ "$(grep -c ' Cessation_Of_Operation ' "$T/entries")" -eq 6 ] && ok ||
  fail "reasons after --batch: $(cat "$T/entries")"
verdicts revoked "batch b2" "$T"/b2/B2-*/cert.pem
crl_verifies "CRL 3" "$CRLD/factory.crl.pem" "$FACTORY"

# --- --device; a revocation not yet published is published by decommission -------------------
decom "--device" 0 --device D-007 --reason superseded --passphrase-file "$PASS_FILE"
grep -q "^D-007: revoked factory/0*$(cert_serial "$(d 007)")\$" "$T/out" && grep -q '^published CRL 4 of factory' "$T/out" && ok ||
  fail "--device: $(cat "$T/out")"
[ ! -s "$T/err" ] && ok || fail "--device: stderr '$(cat "$T/err")'"
"$CA" --home "$H" revoke --device D-008 --reason keyCompromise >/dev/null 2>&1
decom "revoked before, CRL not published" 0 --device D-008 --passphrase-file "$PASS_FILE"
grep -q "^D-008: already revoked factory/" "$T/out" && grep -q '^published CRL 5 of factory' "$T/out" && ok ||
  fail "revoked before, not published: $(cat "$T/out")"
[ "$(dev_status D-008)" = decommissioned ] && ok || fail "D-008 not marked decommissioned"
verdicts revoked "D-007, D-008" "$(d 007)" "$(d 008)"
# Decommissioning a device whose certificates are already on the CRL: marked, no new CRL.
"$CA" --home "$H" revoke --device D-009 --reason keyCompromise >/dev/null 2>&1
"$CA" --home "$H" crl --ca factory --passphrase-file "$PASS_FILE" >/dev/null
n=$(crl_count)
decom "revoked and published before" 0 --device D-009 --passphrase-file "$PASS_FILE"
[ "$(dev_status D-009)" = decommissioned ] && [ "$(crl_count)" -eq "$n" ] && grep -q '^no change' "$T/out" && ok ||
  fail "revoked and published before: status $(dev_status D-009), $(crl_count) CRLs (was $n): $(cat "$T/out")"
verdicts OK "untouched devices" "$(d 010)" "$(d 011)"

# --- a device with certificates from two CAs: both CRLs (and bundles) published --------------
"$CA" --home "$H" issue-ca --parent root --name line2 --subject "/O=Acme/CN=Acme Line 2 CA" --key ec-p256 \
  --passphrase-file "$PASS_FILE" >/dev/null
"$CA" --home "$H" chain --ca line2 --no-root --out "$T/ca/line2.pem" >/dev/null
"$MINT" --home "$H" --passphrase-file "$PASS_FILE" --ca line2 --profile device-idevid --count 2 \
  --id-pattern 'M-{seq}' --out "$T/m" --format pem --batch-id m >/dev/null
csr_openssl "$T/m1-ldevid.csr" ec:P-256 -subj /CN=x
"$CA" --home "$H" sign --ca factory --profile device-ldevid --csr "$T/m1-ldevid.csr" --device-id M-1 \
  --out "$T/m1-ldevid.pem" --passphrase-file "$PASS_FILE" >/dev/null
nf=$(crl_count)
decom "device under two CAs" 0 --json --device M-1 --publish "$WWW" --passphrase-file "$PASS_FILE"
jqt "device under two CAs" ".revoked == 2 and ([.crls[].ca] | sort) == [\"factory\", \"line2\"]
  and all(.crls[]; .bundle_problem == \"\" and (.copies | length) == 3)
  and (.crls[] | select(.ca == \"line2\") | .number == 1 and .entries == 1 and .bundle == \"$CRLD/line2-chain.crl.pem\")"
[ "$(crl_count)" -eq $((nf + 1)) ] && ok || fail "device under two CAs: factory published $(($(crl_count) - nf)) CRLs"
for f in line2.crl line2.crl.pem line2-chain.crl.pem; do
  cmp -s "$CRLD/$f" "$WWW/$f" && ok || fail "device under two CAs: $WWW/$f is not $CRLD/$f"
done
crl_verifies "line2 CRL" "$CRLD/line2.crl.pem" "$T/ca/line2.pem"
v=$(crl_verdict "$T/m/M-1/cert.pem" "$ROOT" "$T/ca/line2.pem" "$CRLD/line2-chain.crl.pem")
[ "$v" = revoked ] && ok || fail "M-1 (line2): $v"
v=$(crl_verdict "$T/m/M-2/cert.pem" "$ROOT" "$T/ca/line2.pem" "$CRLD/line2-chain.crl.pem")
[ "$v" = OK ] && ok || fail "M-2 (line2): $v"
verdicts revoked "M-1 (factory)" "$T/m1-ldevid.pem"

# --- devpki-mint and devpki-ca sign refuse decommissioned ids --------------------------------
expect_rejected "$H" "$W" "mint a decommissioned id" 2 "3 device id\(s\) were decommissioned \(D-001, D-002, D-003\); nothing was issued.*--allow-decommissioned" -- \
  "$MINT" --home "$H" --passphrase-file "$PASS_FILE" --ca factory --profile device-idevid --count 3 \
  --id-pattern 'D-{seq:03}' --out "$W/remint"
[ ! -e "$W/remint" ] && ok || fail "refused mint created its output directory"
printf 'device_id\nNEW-1\nD-004\n' >"$W/ids.csv"
expect_rejected "$H" "$W" "mint --ids with a decommissioned id" 2 "1 device id\(s\) were decommissioned \(D-004\)" -- \
  "$MINT" --home "$H" --passphrase-file "$PASS_FILE" --ca factory --profile device-idevid --ids "$W/ids.csv" \
  --out "$W/remint-ids"
csr_openssl "$W/s.csr" ec:P-256 -subj /CN=x
expect_rejected "$H" "$W" "sign for a decommissioned id" 2 "device 'D-005' was decommissioned; nothing was issued \(use --allow-decommissioned" -- \
  "$CA" --home "$H" sign --ca factory --profile device-ldevid --csr "$W/s.csr" --device-id D-005 \
  --out "$W/s.pem" --passphrase-file "$PASS_FILE"
[ ! -e "$W/s.pem" ] && ok || fail "refused sign wrote its output"
if "$MINT" --home "$H" --passphrase-file "$PASS_FILE" --ca factory --profile device-idevid --count 3 \
  --id-pattern 'D-{seq:03}' --out "$T/remint" --format pem --allow-decommissioned --batch-id remint >/dev/null 2>"$T/err"; then ok; else
  fail "mint --allow-decommissioned: $(cat "$T/err")"
fi
verdicts OK "re-minted D-001 (new certificate, not on the CRL)" "$T/remint/D-001/cert.pem"
if "$CA" --home "$H" sign --ca factory --profile device-ldevid --csr "$W/s.csr" --device-id D-005 \
  --out "$T/s.pem" --passphrase-file "$PASS_FILE" --allow-decommissioned >/dev/null 2>"$T/err"; then ok; else
  fail "sign --allow-decommissioned: $(cat "$T/err")"
fi
# Decommissioning D-001 again revokes what it was given since.
decom "decommission a re-minted device" 0 --json --device D-001 --passphrase-file "$PASS_FILE"
jqt "decommission a re-minted device" '.revoked == 1 and .already_revoked == 1 and .decommissioned == 0'
[ "$(norm_serial "$(jq -r '.certificates[] | select(.outcome == "revoked") | .serial' "$T/out")")" = \
  "$(cert_serial "$T/remint/D-001/cert.pem")" ] && ok || fail "decommission a re-minted device: revoked $(cat "$T/out")"
verdicts revoked "re-minted D-001 after decommissioning it again" "$T/remint/D-001/cert.pem"

# --- bad lists and other refusals: nothing changes --------------------------------------------
# refuse NAME EXIT REGEX ARGS...: devpki-decommission ARGS... is refused, changes nothing.
refuse() {
  local name=$1 code=$2 regex=$3
  shift 3
  expect_rejected "$H" "$W" "$name" "$code" "$regex" -- "$DECOM" --home "$H" --passphrase-file "$PASS_FILE" --publish "$WWW" "$@"
  # (--publish $WWW: the copies must not change either)
  [ "$(files_snapshot "$WWW")" = "$www_before" ] || fail "$name: the publish directory changed"
}
www_before=$(files_snapshot "$WWW")
: >"$W/empty.txt"
refuse "empty list" 2 "empty.txt: no device id in the file" --devices "$W/empty.txt"
printf '# nothing\n\n   \n' >"$W/comments.txt"
refuse "list of comments" 2 "comments.txt: no device id in the file" --devices "$W/comments.txt"
printf 'D-010\nD-011\nbad/id\nD-012\n' >"$W/malformed.txt"
refuse "malformed id" 2 "malformed.txt:3: .*invalid device id" --devices "$W/malformed.txt"
printf 'D-010\n# c\nD-011\nD-010\n' >"$W/repeated.txt"
refuse "repeated id" 2 "repeated.txt:4: device 'D-010' is listed twice \(first on line 1\)" --devices "$W/repeated.txt"
printf 'D-010\n%s\n' "$(printf 'X%.0s' $(seq 1 200))" >"$W/long.txt"
refuse "too long an id" 2 "long.txt:2: " --devices "$W/long.txt"
refuse "missing list" 2 "missing.txt" --devices "$W/missing.txt"
printf 'NOPE-8\nNOPE-9\n' >"$W/unknown.txt"
refuse "all ids unknown" 3 "2 device id\(s\) unknown to this home.*NOPE-8, NOPE-9" --devices "$W/unknown.txt"
refuse "unknown batch" 2 "no batch 'nosuch'" --batch nosuch
refuse "invalid --device" 2 "invalid device id" --device 'a b'
refuse "certificateHold" 2 "certificateHold is temporary" --device D-010 --reason certificateHold
refuse "certificateHold as 6" 2 "certificateHold is temporary" --device D-010 --reason 6
refuse "removeFromCRL" 2 "removeFromCRL is not a reason to revoke" --device D-010 --reason removeFromCRL
refuse "unknown reason" 2 "unknown revocation reason 'retired': use one of" --device D-010 --reason retired
expect_rejected "$H" "$W" "--publish to a missing directory" 2 "--publish $W/nodir: no such directory" -- \
  "$DECOM" --home "$H" --passphrase-file "$PASS_FILE" --device D-010 --publish "$W/nodir"
echo wrong >"$T/wrong-pass"
expect_rejected "$H" "$W" "wrong passphrase" 2 "wrong passphrase" -- \
  "$DECOM" --home "$H" --passphrase-file "$T/wrong-pass" --device D-010
expect_rejected "$H" "$W" "no passphrase" 2 "passphrase" -- "$DECOM" --home "$H" --device D-010
expect_rejected "$H" "$W" "no home" 2 "no devpki home" -- "$DECOM" --home "$T/nohome" --device D-010 --passphrase-file "$PASS_FILE"
# Usage (exit 1).
refuse "no selector" 1 "--devices, --device or --batch"
refuse "--devices with --device" 1 "excludes" --devices "$W/list.txt" --device D-010
refuse "--device with --batch" 1 "excludes" --device D-010 --batch b1
refuse "unknown option" 1 "nosuch" --device D-010 --nosuch
[ "$(dev_status D-010)" != decommissioned ] && ok || fail "D-010 decommissioned by a refused run"
# A crash between recording a CRL and writing its file: the store counts the new
# CRL, the file in crl/ is still the old one. crl-status says so (exit 2), and
# running devpki-decommission again for a device of that CA publishes it.
cp "$CRLD/factory.crl" "$W/older.crl"
"$CA" --home "$H" crl --ca factory --passphrase-file "$PASS_FILE" >/dev/null 2>&1 || fail "crl --ca factory"
cp "$W/older.crl" "$CRLD/factory.crl"
rc=0
"$CA" --home "$H" crl-status >"$T/status" 2>&1 || rc=$?
[ "$rc" = 2 ] && grep -q "^factory: .*the file in crl/ is not the CRL recorded last" "$T/status" && ok ||
  fail "crl-status after a lost CRL file: exit $rc, $(cat "$T/status")"
"$DECOM" --home "$H" --passphrase-file "$PASS_FILE" --device D-001 >"$T/out" 2>&1 || fail "rerun for D-001: $(cat "$T/out")"
grep -q '^published CRL [0-9]* of factory' "$T/out" && ok || fail "rerun did not publish: $(cat "$T/out")"
cmp -s "$W/older.crl" "$CRLD/factory.crl" && fail "factory.crl still the old file" || ok
grep -q "the file in crl/" <<<"$("$CA" --home "$H" crl-status 2>&1)" && fail "crl-status still flags the file" || ok

out=$("$DECOM" --help) && ok || fail "--help exit"
for w in --devices --device --batch --reason --dry-run --publish --json 'Exit codes'; do
  grep -q -- "$w" <<<"$out" && ok || fail "--help does not mention $w"
done

finish
