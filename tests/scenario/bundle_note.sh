#!/bin/bash
# What the read side prints of untrusted text and of the collector's own
# account: a bundle's maker's note in UTF-8 shows as itself in the text
# report and round-trips through the JSON report (it was once printed
# byte by byte as \u00XX); the verify report says oversize messages are
# in the store, in pieces; both tools exit 2 on an unreadable store.
set -u

: "${CUSTODY_VERIFY:?}" "${CUSTODY_QUERY:?}" "${CUSTODY_BUILD_DIR:?}"
PY=/usr/bin/python3
MKSTORE=$CUSTODY_BUILD_DIR/custody-mkstore
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0

fail() {
	echo "FAIL: $*"
	fails=$((fails + 1))
}

"$MKSTORE" "$tmp/s" --events 200 --segments 2 --checkpoint-every 2 \
    --loss > /dev/null 2>&1 || { echo "FAIL: custody-mkstore"; exit 1; }

# The note is the query's command line, shell-quoted: put UTF-8 and a tab
# in it.
"$CUSTODY_QUERY" "$tmp/s" --regex "$(printf 'x|caf\xc3\xa9\t\xe2\x82\xac')" \
    --limit +2 --bundle "$tmp/b.bnd" 2> /dev/null ||
	fail "custody-query --bundle exited $?"

"$CUSTODY_VERIFY" --bundle "$tmp/b.bnd" --root "$tmp/s/keys/root.pub" \
    > "$tmp/text" 2> /dev/null || fail "verify --bundle (text) exited $?"
grep -q "^maker's note (not proven): \".*x|caf$(printf '\xc3\xa9')\\\\t$(printf '\xe2\x82\xac')" \
    "$tmp/text" || fail "the note is not shown as UTF-8: $(grep 'note' "$tmp/text" | head -1)"
grep -q '\\u00c3' "$tmp/text" && fail "the note is mojibake"

"$CUSTODY_VERIFY" --bundle "$tmp/b.bnd" --root "$tmp/s/keys/root.pub" \
    --json > "$tmp/json" 2> /dev/null || fail "verify --bundle --json exited $?"
"$PY" - "$tmp/json" <<'PYEOF' || fail "the JSON note does not round-trip"
import json, sys
j = json.load(open(sys.argv[1]))
sys.exit(0 if "'x|caf\u00e9\t\u20ac' --limit +2" in j["note"] and
         j["result"] == "valid" else 1)
PYEOF

"$CUSTODY_VERIFY" "$tmp/s" > "$tmp/report" 2> /dev/null
grep -q "longer than its maximum message size: those are in the store, split into pieces" \
    "$tmp/report" || fail "oversize messages are not said to be in the store"
grep -q "oversize): those messages are not in the store" "$tmp/report" &&
	fail "oversize messages are still said to be missing"

# The case an examiner names goes into the note, one line each, before the
# command; text that would garble a report is refused.
"$CUSTODY_QUERY" "$tmp/s" --limit +2 --case "C-2026/7" --exhibit "E 1" \
    --examiner "Ann O'Neil" --organisation "Unit 9" --bundle "$tmp/c.bnd" \
    2> /dev/null || fail "custody-query --bundle --case exited $?"
"$CUSTODY_VERIFY" --bundle "$tmp/c.bnd" --root "$tmp/s/keys/root.pub" \
    --json > "$tmp/cjson" 2> /dev/null || fail "verify --bundle (case) exited $?"
"$PY" - "$tmp/cjson" <<'PYEOF' || fail "the case is not in the bundle's note"
import json, sys
n = json.load(open(sys.argv[1]))["note"]
sys.exit(0 if n.startswith("case: C-2026/7\nexhibit: E 1\nexaminer: "
                           "Ann O'Neil\norganisation: Unit 9\ncommand: ")
         and "--examiner 'Ann O'\\''Neil'" in n else 1)
PYEOF
# The examiner checking the bundle names the case in that report too.
"$CUSTODY_VERIFY" --bundle "$tmp/c.bnd" --root "$tmp/s/keys/root.pub" \
    --case "K-2" --examiner "Bo" --json > "$tmp/kjson" 2> /dev/null ||
	fail "verify --bundle --case exited $?"
"$PY" - "$tmp/kjson" <<'PYEOF' || fail "the checker's case is not in the report"
import json, sys
c = json.load(open(sys.argv[1]))["case"]
sys.exit(0 if c == {"id": "K-2", "exhibit": None, "examiner": "Bo",
                    "organisation": None} else 1)
PYEOF
"$CUSTODY_QUERY" "$tmp/s" --limit +2 --case "$(printf 'a\033b')" \
    --bundle "$tmp/d.bnd" > /dev/null 2>&1
[ $? -eq 2 ] || fail "a case id with a control character: want exit 2"
"$CUSTODY_QUERY" "$tmp/s" --case "C-1" > /dev/null 2>&1
[ $? -eq 2 ] || fail "--case without --bundle: want exit 2"

"$CUSTODY_QUERY" "$tmp/nonexistent" > /dev/null 2>&1
[ $? -eq 2 ] || fail "custody-query on a missing store: want exit 2"
"$CUSTODY_QUERY" --no-such-option "$tmp/s" > /dev/null 2>&1
[ $? -eq 2 ] || fail "custody-query usage error: want exit 2"
"$CUSTODY_QUERY" --help | grep -q "same scheme as custody-verify" ||
	fail "custody-query --help does not state the shared exit statuses"
"$CUSTODY_VERIFY" --help | grep -q "same scheme as custody-query" ||
	fail "custody-verify --help does not state the shared exit statuses"

[ $fails -eq 0 ] && echo "PASS: bundle_note" && exit 0
echo "$fails failure(s)"
exit 1
