#!/usr/bin/env bash
# devpki-provision (issue 6): compare in every format (the markdown one is the
# table in docs/provisioning.md, byte for byte), assess for the guide's
# archetypes (text and JSON), guide with the answers as flags when there is
# no terminal, and the refusals: unknown values name the allowed ones, a
# malformed data file is refused with file, line and key.
source "$(dirname "$0")/lib.sh"
PROV=${DEVPKI_PROVISION:?run through ctest (DEVPKI_PROVISION unset)}
DOC=$DEVPKI_SOURCE_DIR/docs/provisioning.md
DATA=$DEVPKI_SOURCE_DIR/data/provisioning.yaml

run() {  # run NAME EXPECTED_EXIT ARGS...: stdout to $T/out, stderr to $T/err
  local name=$1 code=$2 rc=0
  shift 2
  "$PROV" "$@" >"$T/out" 2>"$T/err" </dev/null || rc=$?
  if [ "$rc" -eq "$code" ]; then ok; else fail "$name: exit $rc, expected $code: $(cat "$T/err")"; fi
  return 0
}
check() { if eval "$2"; then ok; else fail "$1"; fi; }
jqt() { jq -e "$2" "$T/out" >/dev/null 2>&1 && ok || fail "$1: $(head -c 1500 "$T/out")"; }

# ---- compare --------------------------------------------------------------------
run "compare" 0 compare
check "the table has a row per method" \
  "[ \$(grep -cE '^(Zero-Touch|X.509|QR code|Just-in-Time|Token-based|Manufacturer)' '$T/out') -eq 6 ]"
run "compare --format markdown" 0 compare --format markdown
cp "$T/out" "$T/compare.md"
awk '/<!-- BEGIN devpki-provision compare --format markdown -->/{f=1; next}
     /<!-- END devpki-provision compare --format markdown -->/{f=0} f' "$DOC" >"$T/doc-table.md"
if diff -u "$T/doc-table.md" "$T/compare.md" >"$T/diff"; then ok; else
  fail "docs/provisioning.md's table differs from 'devpki-provision compare --format markdown' (paste the command's output between the markers): $(head -20 "$T/diff")"
fi
run "compare --format csv" 0 compare --format csv
check "csv: header and six rows" "[ \$(wc -l <'$T/out') -eq 7 ] && head -1 '$T/out' | grep -q '^id,Method,Complexity,Security'"
run "compare --format json" 0 compare --format json
jqt "json: six methods with every rating's reason" 'length == 6 and all(.[]; (.ratings | length) == 8 and all(.ratings[]; .reason != "") and (.devpki | length) > 0)'
run "compare --json" 0 compare --json
jqt "--json is --format json" 'length == 6'

# ---- assess -----------------------------------------------------------------------
A=(assess --json)
run "assess consumer" 0 "${A[@]}" --scale 50000 --security medium --audience consumer
jqt "consumer: QR/app first" '.ranking[0].id == "qr-app" and .guide.recommend == ["qr-app"]'
run "assess enterprise" 0 "${A[@]}" --scale 50000 --security high --audience enterprise --secure-element yes
jqt "enterprise: ZTP or X.509 first" '(.ranking[0].id | IN("ztp", "x509")) and .guide.recommend == ["ztp", "x509"]'
run "assess industrial" 0 "${A[@]}" --scale 50000 --security high --audience industrial --connectivity intermittent
jqt "industrial: ZTP or X.509 first" '.ranking[0].id | IN("ztp", "x509")'
run "assess prototype 50" 0 "${A[@]}" --scale 50 --security low --audience prototype
jqt "prototype at 50: token/PSK first" '.ranking[0].id == "token-psk" and .guide.recommend == ["token-psk"]'
p50=$(jq '.ranking[] | select(.id == "token-psk") | .score' "$T/out")
run "assess prototype 500000" 0 "${A[@]}" --scale 500000 --security low --audience prototype
jqt "prototype at 500,000: token/PSK not first" '.ranking[0].id != "token-psk"'
p500k=$(jq '.ranking[] | select(.id == "token-psk") | .score' "$T/out")
check "token/PSK scores lower at 500,000 than at 50" "awk -v a=$p500k -v b=$p50 'BEGIN { exit !(a < b) }'"
run "assess cloud-native" 0 "${A[@]}" --scale 50000 --security medium --audience enterprise --cloud-native yes
jqt "cloud-native: JITP or manufacturer certificate first" '.ranking[0].id | IN("jitp", "manufacturer-cert")'
jqt "the top choice lists its devpki commands" '(.top.devpki | length) > 0 and all(.ranking[]; .explanation != "")'
run "assess (text)" 0 assess --scale 50000 --security medium --audience consumer
check "text: ranking, explanation, top choice and commands" \
  "grep -q '^ranking:' '$T/out' && grep -q 'scores' '$T/out' && grep -q '^top choice: QR code' '$T/out' && grep -q '^with devpki:' '$T/out' && grep -q '^decision guide' '$T/out'"

# ---- guide ------------------------------------------------------------------------
run "guide with flags, no terminal" 0 guide --audience prototype --scale 20 --security low
check "guide: token/PSK with its trade-offs and commands" \
  "grep -q '^Recommended: Token-based / PSK' '$T/out' && grep -q '^Trade-offs: ' '$T/out' && grep -q '^With devpki' '$T/out'"
run "guide --json" 0 guide --audience consumer --scale 1000 --security medium --json
jqt "guide --json: the guide's rule" '.guide.recommend == ["qr-app"]'
run "guide without a terminal and without answers" 1 guide --audience consumer
check "names the missing flags" "grep -q 'missing: --scale --security' '$T/err'"
# On a terminal the questions are asked (script(1) gives the tool a terminal).
if command -v script >/dev/null; then
  printf 'industrial\n25000\nhigh\nintermittent\nyes\nno\n' >"$T/answers"
  if script -qec "$PROV guide" /dev/null <"$T/answers" >"$T/tty.out" 2>&1 &&
    grep -q 'Who sets the devices up' "$T/tty.out" && grep -q 'Recommended: Zero-Touch' "$T/tty.out"; then
    ok
  else
    fail "guide on a terminal: $(tail -5 "$T/tty.out")"
  fi
fi

# ---- refusals ---------------------------------------------------------------------
expect_fail "unknown audience" 2 "unknown audience 'hobbyist' \(allowed: consumer, enterprise, industrial, prototype\)" -- \
  "$PROV" assess --scale 10 --security low --audience hobbyist
expect_fail "unknown security" 2 "allowed: high, medium, low" -- "$PROV" assess --scale 10 --security max --audience consumer
expect_fail "unknown connectivity" 2 "allowed: always, intermittent" -- \
  "$PROV" assess --scale 10 --security low --audience consumer --connectivity never
expect_fail "bad yes/no" 2 "--secure-element 'maybe' \(allowed: yes, no\)" -- \
  "$PROV" assess --scale 10 --security low --audience consumer --secure-element maybe
expect_fail "bad scale" 2 "--scale 'lots' is not a number" -- "$PROV" assess --scale lots --security low --audience consumer
expect_fail "zero scale" 2 "--scale '0'" -- "$PROV" assess --scale 0 --security low --audience consumer
expect_fail "unknown format" 2 "allowed: table, markdown, csv, json" -- "$PROV" compare --format html
expect_fail "missing required flag" 1 "--audience is required" -- "$PROV" assess --scale 10 --security low
expect_fail "no subcommand" 1 "subcommand" -- "$PROV"
expect_fail "missing data file" 2 "cannot read the provisioning data file" -- "$PROV" --data "$T/none.yaml" compare
sed '0,/score: 2/s//score: 9/' "$DATA" >"$T/bad-score.yaml"
line=$(grep -n 'score: 9' "$T/bad-score.yaml" | head -1 | cut -d: -f1)
expect_fail "data: score out of range" 2 "bad-score.yaml:$line: methods\[0\]\.ratings\.[a-z_]+\.score: 9 is not 1\.\.5" -- \
  "$PROV" --data "$T/bad-score.yaml" compare
sed '0,/best_for:/s//best_four:/' "$DATA" >"$T/bad-key.yaml"
expect_fail "data: unknown key" 2 "bad-key.yaml:[0-9]+: methods\[0\]\.best_four: unknown key" -- \
  "$PROV" --data "$T/bad-key.yaml" compare
printf 'version: 1\ndimensions: [\n' >"$T/bad-yaml.yaml"
expect_fail "data: YAML syntax" 2 "bad-yaml.yaml:[0-9]+: YAML syntax error" -- "$PROV" --data "$T/bad-yaml.yaml" compare
expect_fail "guide reports a bad data file before asking" 2 "bad-key.yaml" -- \
  "$PROV" --data "$T/bad-key.yaml" guide
finish
