#!/bin/bash
# custody-verify as an investigator runs it: every committed vector gives
# its expected verdict, exit status and rule, in text and in JSON (which
# must parse); usage errors exit 2; --root-fpr, --report, --quiet and
# --live behave as documented; a fresh store from custody-mkstore is
# intact with and without worker threads.
set -u

: "${CUSTODY_VERIFY:?}" "${CUSTODY_SOURCE_DIR:?}" "${CUSTODY_BUILD_DIR:?}"
PY=/usr/bin/python3
MKSTORE=$CUSTODY_BUILD_DIR/custody-mkstore
VEC=$CUSTODY_SOURCE_DIR/tests/vectors
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0

fail() {
	echo "FAIL: $*"
	fails=$((fails + 1))
}

# Checks the JSON in $1: verdict $2, and a failure citing each rule in $3.
check_json() {
	"$PY" -m json.tool < "$1" > /dev/null || { fail "$1: not JSON"; return; }
	"$PY" - "$1" "$2" "$3" <<'EOF' || fail "$1: $(cat "$1.why" 2>/dev/null)"
import json, sys
path, verdict = sys.argv[1], sys.argv[2]
rules = [r for r in sys.argv[3].split() if r != "-"]
j = json.load(open(path))
why = []
if j.get("verdict") != verdict:
    why.append("verdict %s, want %s" % (j.get("verdict"), verdict))
for k in ("rule", "file", "offset", "block_no"):
    for f in j["findings"]:
        if k not in f:
            why.append("finding without " + k)
cited = {f["rule"] for f in j["findings"] if f["severity"] == "failure"}
for r in rules:
    if r not in cited:
        why.append("no failure cites %s (cited: %s)" % (r, sorted(cited)))
if verdict == "intact" and cited:
    why.append("failures in an intact vector: %s" % sorted(cited))
for k in ("inputs", "statements", "chain_id", "root", "verified_at"):
    if k not in j:
        why.append("no " + k)
# Without a walk (e.g. the root key refused) there is no segment table.
if j.get("error") is None and "segments" not in j:
    why.append("no segments")
open(path + ".why", "w").write("; ".join(why))
sys.exit(1 if why else 0)
EOF
}

nvec=0
for d in "$VEC"/*/; do
	d=${d%/}
	[ -f "$d/expect.json" ] || continue
	name=$(basename "$d")
	nvec=$((nvec + 1))
	read -r verdict root rules ckps < <("$PY" -c '
import json, sys
e = json.load(open(sys.argv[1]))
print(e["verdict"], e["root"], ",".join(e["rules"]) or "-",
      ",".join(e["checkpoints"]) or "-")' "$d/expect.json")
	args=(--root "$d/$root")
	if [ "$ckps" != "-" ]; then
		IFS=, read -ra cs <<< "$ckps"
		for c in "${cs[@]}"; do args+=(--checkpoint "$d/$c"); done
	fi
	want=0
	[ "$verdict" = failed ] && want=1
	"$CUSTODY_VERIFY" "${args[@]}" --json "$d" > "$tmp/$name.json" \
	    2> "$tmp/$name.err"
	rc=$?
	[ $rc -eq $want ] || fail "$name: --json exit $rc, want $want"
	check_json "$tmp/$name.json" "$verdict" "${rules//,/ }"
	"$CUSTODY_VERIFY" "${args[@]}" "$d" > "$tmp/$name.txt" 2>&1
	rc=$?
	[ $rc -eq $want ] || fail "$name: text exit $rc, want $want"
	# INTACT only when nothing present went unverified (R-VER-2): a
	# partial frame outside --live is a warning on the verdict line.
	vline=$( [ $want -eq 0 ] && echo INTACT || echo FAILED)
	if [ "$name" = good_unsealed ]; then
		vline="WARNING: no check failed, but the last 100 bytes of the newest segment"
		grep -q '"warning":"the last 100 bytes' "$tmp/$name.json" ||
		    fail "$name: --json warning"
		"$CUSTODY_VERIFY" "${args[@]}" --live "$d" 2>&1 |
		    grep -q "^VERDICT: INTACT" || fail "$name: --live verdict line"
	fi
	grep -q "^VERDICT: $vline" "$tmp/$name.txt" ||
	    fail "$name: text verdict line (want $vline)"
	# One thread or none: the same findings, in the same order.
	"$CUSTODY_VERIFY" "${args[@]}" --json --threads 0 "$d" \
	    > "$tmp/$name.0.json" 2> /dev/null
	"$PY" - "$tmp/$name.json" "$tmp/$name.0.json" <<'EOF' || fail "$name: findings differ with --threads 0"
import json, sys
a, b = (json.load(open(p))["findings"] for p in sys.argv[1:3])
sys.exit(0 if a == b else 1)
EOF
done
[ $nvec -ge 20 ] || fail "only $nvec vectors found in $VEC"

# Usage errors: exit 2.
"$CUSTODY_VERIFY" > /dev/null 2>&1
[ $? -eq 2 ] || fail "no argument: want exit 2"
"$CUSTODY_VERIFY" "$tmp/nonexistent" > /dev/null 2>&1
[ $? -eq 2 ] || fail "missing path: want exit 2"
"$CUSTODY_VERIFY" "$VEC/good_single/segments/seg-0000000000.cst" \
    > /dev/null 2>&1
[ $? -eq 2 ] || fail "segment file without --root: want exit 2"
"$CUSTODY_VERIFY" --bogus "$VEC/good_single" > /dev/null 2>&1
[ $? -eq 2 ] || fail "unknown option: want exit 2"
"$CUSTODY_VERIFY" --help | grep -q "exit status" || fail "--help"

# A segment file given alone, with --root.
"$CUSTODY_VERIFY" --root "$VEC/good_single/keys/root.pub" \
    "$VEC/good_single/segments/seg-0000000000.cst" > /dev/null 2>&1
[ $? -eq 0 ] || fail "segment file with --root: want exit 0"

# The root key found in the store is trusted only with a loud warning.
"$CUSTODY_VERIFY" "$VEC/good_multi" > /dev/null 2> "$tmp/warn"
grep -q WARNING "$tmp/warn" || fail "no warning for the store's own root key"

# --root-fpr: the store's key file must have the fingerprint given.
fpr=$("$PY" -c '
import json, sys
print(json.load(open(sys.argv[1]))["root"]["fingerprint"])' \
    "$tmp/good_multi.json")
"$CUSTODY_VERIFY" --root-fpr "$fpr" "$VEC/good_multi" > /dev/null 2> "$tmp/warn"
[ $? -eq 0 ] || fail "--root-fpr matching: want exit 0"
grep -q WARNING "$tmp/warn" && fail "warning despite --root-fpr"
"$CUSTODY_VERIFY" --json --root-fpr 00112233445566778899aabbccddeeff \
    "$VEC/good_multi" > "$tmp/fpr.json" 2> /dev/null
[ $? -eq 1 ] || fail "--root-fpr mismatch: want exit 1"
check_json "$tmp/fpr.json" failed "R-KEY-1"
"$CUSTODY_VERIFY" --root-fpr 0011 "$VEC/good_multi" > /dev/null 2>&1
[ $? -eq 2 ] || fail "--root-fpr malformed: want exit 2"

# --report and --quiet.
"$CUSTODY_VERIFY" --root "$VEC/bad_payload_flip/keys/root.pub" \
    --report "$tmp/r.json" "$VEC/bad_payload_flip" > "$tmp/line" 2> /dev/null
[ $? -eq 1 ] || fail "--report: want exit 1"
grep -q "FAILED" "$tmp/line" || fail "--report: no verdict line"
check_json "$tmp/r.json" failed "R-BLK-4"
out=$("$CUSTODY_VERIFY" --quiet --root "$VEC/good_multi/keys/root.pub" \
    "$VEC/good_multi" 2> /dev/null)
[ $? -eq 0 ] && [ -z "$out" ] || fail "--quiet"

# A fresh store, larger than the vectors, with and without threads.
if [ -x "$MKSTORE" ]; then
	"$MKSTORE" "$tmp/fresh" --events 20000 --segments 4 --epochs 3 \
	    --block-records 512 --seed 5 --recovery --loss \
	    --checkpoint-every 7 > /dev/null || fail "mkstore"
	for t in 0 1 2; do
		"$CUSTODY_VERIFY" --json --threads $t --root \
		    "$tmp/fresh/keys/root.pub" --checkpoint \
		    "$tmp/fresh/checkpoints/latest.ckpt" "$tmp/fresh" \
		    > "$tmp/fresh.$t.json" 2> /dev/null
		[ $? -eq 0 ] || fail "fresh store, --threads $t: want exit 0"
		check_json "$tmp/fresh.$t.json" intact ""
	done
	# The report's digest of every input is what coreutils computes.
	"$PY" - "$tmp/fresh.0.json" <<'EOF' || fail "input digests differ from sha256sum/b2sum"
import json, subprocess, sys
j = json.load(open(sys.argv[1]))
n = 0
for i in j["inputs"]:
    for tool, key in ((["sha256sum"], "sha256"), (["b2sum", "-l", "256"], "blake2b")):
        want = subprocess.run(tool + [i["file"]], check=True, capture_output=True,
                              text=True).stdout.split()[0]
        if i[key] != want:
            sys.exit("%s: %s %s, want %s" % (i["file"], key, i[key], want))
    n += 1
segs = [i for i in j["inputs"] if i["role"] == "segment"]
sys.exit(0 if len(segs) >= 4 else "%d segments among the inputs" % len(segs))
EOF
	# A store being written: the partial frame is a note under --live.
	"$MKSTORE" "$tmp/live" --events 3000 --segments 2 --unsealed \
	    --partial-tail 300 --seed 6 > /dev/null || fail "mkstore live"
	"$CUSTODY_VERIFY" --json --live --root "$tmp/live/keys/root.pub" \
	    "$tmp/live" > "$tmp/live.json" 2> /dev/null
	[ $? -eq 0 ] || fail "--live store: want exit 0"
	"$PY" - "$tmp/live.json" <<'EOF' || fail "--live: partial tail not a note"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["verdict"] == "intact"
assert all(f["severity"] == "note" for f in j["findings"]), j["findings"]
assert j["chain"]["tail_partial_bytes"] == 300
EOF
	# R-CKP-4: the newest segment truncated and checkpoints/ left alone;
	# no checkpoint given, the store's own show the cut.
	cp -a "$tmp/fresh" "$tmp/cut"
	last=$(ls "$tmp/cut/segments/"*.cst | tail -n 1)
	truncate -s 128 "$last"
	"$CUSTODY_VERIFY" --json --root "$tmp/cut/keys/root.pub" "$tmp/cut" \
	    > "$tmp/cut.json" 2> /dev/null
	[ $? -eq 1 ] || fail "truncated, own checkpoints left: want exit 1"
	check_json "$tmp/cut.json" failed "R-CKP-2"
	"$PY" - "$tmp/cut.json" "$tmp/fresh.0.json" <<'EOF' || fail "store checkpoints not marked as such"
import json, sys
cut, fresh = (json.load(open(p)) for p in sys.argv[1:3])
assert cut["checkpoints"] and all(c["from_store"] for c in cut["checkpoints"])
given = [c for c in fresh["checkpoints"] if not c["from_store"]]
assert len(given) == 1 and given[0]["file"].endswith("latest.ckpt"), given
assert fresh["anchor"]["given"] is True
assert any("only in the store" in s for s in cut["statements"]["not_proven"])
EOF
	# R-CKP-5: under --live a checkpoint the store does not reach is
	# still a failure: it was read before the store.
	"$CUSTODY_VERIFY" --live --quiet --root "$tmp/cut/keys/root.pub" \
	    "$tmp/cut" 2> /dev/null
	[ $? -eq 1 ] || fail "--live, store checkpoint ahead: want exit 1"
	rm -rf "$tmp/cut/checkpoints"
	"$CUSTODY_VERIFY" --live --quiet --root "$tmp/cut/keys/root.pub" \
	    --checkpoint "$tmp/fresh/checkpoints/latest.ckpt" "$tmp/cut" \
	    2> /dev/null
	[ $? -eq 1 ] || fail "--live, given checkpoint ahead: want exit 1"
	# R-KEY-4: one key epoch over a simulated day is warned about, and
	# the window is stated; not a failure.
	"$CUSTODY_BUILD_DIR/custody-mkday" -n 2000 -b 100 "$tmp/day" \
	    > /dev/null || fail "custody-mkday"
	"$CUSTODY_VERIFY" --json --root "$tmp/day/keys/root.pub" "$tmp/day" \
	    > "$tmp/day.json" 2> /dev/null
	[ $? -eq 0 ] || fail "a day-long epoch: want exit 0"
	"$PY" - "$tmp/day.json" <<'EOF' || fail "a day-long epoch: no R-KEY-4 warning"
import json, sys
j = json.load(open(sys.argv[1]))
w = [f for f in j["findings"] if f["rule"] == "R-KEY-4"]
assert len(w) == 1 and w[0]["severity"] == "warning", j["findings"]
assert any("R-KEY-4" in s for s in j["statements"]["not_proven"])
EOF
else
	fail "no $MKSTORE"
fi

# A quarantine file that matches its recovery record is not thereby
# authenticated: nothing signed those bytes (R-REC-4).
"$CUSTODY_VERIFY" --json --root "$VEC/good_recovery/keys/root.pub" \
    "$VEC/good_recovery" > "$tmp/rec.json" 2> /dev/null
"$PY" - "$tmp/rec.json" <<'EOF' || fail "quarantine match called verified"
import json, sys
j = json.load(open(sys.argv[1]))
st = j["statements"]
assert not any("quarantine" in x and "verified" in x for x in st["proven"]), st
assert any("is not authenticated" in x for x in st["not_proven"]), st
assert all(r["quarantine_check"] == "matches-record" for r in j["recoveries"])
EOF

# One flipped payload byte after a checkpoint's head: the statement on the
# records after it must not call their integrity proven outright.
cp -a "$VEC/good_checkpoint" "$tmp/ckflip"
"$PY" - "$tmp/ckflip/segments/seg-0000000002.cst" <<'EOF'
import struct, sys
d = bytearray(open(sys.argv[1], "rb").read())
cl, pl = struct.unpack_from("<II", d, 128 + 60)
d[128 + 224 + cl + pl // 2] ^= 1
open(sys.argv[1], "wb").write(d)
EOF
"$CUSTODY_VERIFY" --json --root "$tmp/ckflip/keys/root.pub" --checkpoint \
    "$tmp/ckflip/checkpoints/ckpt-000004.ckpt" "$tmp/ckflip" \
    > "$tmp/ckflip.json" 2> /dev/null
[ $? -eq 1 ] || fail "checkpointed store with a flip: want exit 1"
"$PY" - "$tmp/ckflip.json" <<'EOF' || fail "statements contradict the failures"
import json, sys
j = json.load(open(sys.argv[1]))
st = j["statements"]
# The store's own newest checkpoint covers the flipped block: it must not
# say that nothing up to it was replaced.
inside = [x for x in st["proven"] + st["not_proven"]
          if "checkpoint" in x and "reaches block 12" in x]
assert inside and not any("nothing up to that block" in x for x in inside), inside
EOF
# Without the store's own checkpoints, the records after the given one.
cp -a "$tmp/ckflip/checkpoints/ckpt-000004.ckpt" "$tmp/ckpt4"
rm -f "$tmp/ckflip/checkpoints/"*.ckpt
"$CUSTODY_VERIFY" --json --root "$tmp/ckflip/keys/root.pub" --checkpoint \
    "$tmp/ckpt4" "$tmp/ckflip" > "$tmp/ckflip2.json" 2> /dev/null
[ $? -eq 1 ] || fail "checkpointed store with a flip (given only): want exit 1"
"$PY" - "$tmp/ckflip2.json" <<'EOF' || fail "statements contradict the failures (given only)"
import json, sys
j = json.load(open(sys.argv[1]))
after = [x for x in j["statements"]["not_proven"] if x.startswith("Records after")]
assert after and all("only outside what is listed" in x for x in after), after
EOF

echo "verify_cli: $nvec vectors, $fails failure(s)"
[ $fails -eq 0 ]
