#!/bin/bash
# Forged evidence bundles (SPEC R-BND-12): with only the stolen current
# epoch key, a bundle can "prove" a record never sealed, at any block
# number from the start of that key's epoch, "anchored" by a checkpoint
# signed with the same key.  custody-verify --bundle must reject it once
# given a checkpoint kept off the machine that covers that block, must
# never call a run anchored by a checkpoint only the bundle carries, and
# must still accept a genuine bundle joined to the checkpoint given.
set -u

: "${CUSTODY_VERIFY:?}" "${CUSTODY_QUERY:?}" "${CUSTODY_BUILD_DIR:?}" \
    "${CUSTODY_SOURCE_DIR:?}"
PY=/usr/bin/python3
MKSTORE=$CUSTODY_BUILD_DIR/custody-mkstore
FORGE=$CUSTODY_SOURCE_DIR/tests/tools/forge_bundle.py
VB=$CUSTODY_SOURCE_DIR/tests/vectors/bundles/forged_epoch_key
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fails=0

fail() {
	echo "FAIL: $*"
	fails=$((fails + 1))
}

# verify_bundle WANT_EXIT NAME ARGS...: runs --bundle --json into NAME.json.
verify_bundle() {
	local want=$1 name=$2 rc
	shift 2
	"$CUSTODY_VERIFY" --json "$@" > "$tmp/$name.json" 2> "$tmp/$name.err"
	rc=$?
	[ $rc -eq "$want" ] || fail "$name: exit $rc, want $want"
}

# The committed forgery.
verify_bundle 0 vec-alone --bundle "$VB/forged.cbnd" --root "$VB/root.pub"
"$PY" - "$tmp/vec-alone.json" <<'PYEOF' || fail "forged bundle alone: its own checkpoint counted as an anchor"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["result"] == "valid" and j["anchored_runs"] == 0, j
assert j["carried_checkpoint_runs"] == 1 and j["given_checkpoints"] == 0, j
assert not any(b["anchored"] for b in j["blocks"]), j["blocks"]
PYEOF
"$CUSTODY_VERIFY" --bundle "$VB/forged.cbnd" --root "$VB/root.pub" \
    > "$tmp/vec-alone.txt" 2>&1
grep -q "Not an anchor: 1 run(s)" "$tmp/vec-alone.txt" &&
    grep -q "No checkpoint was given" "$tmp/vec-alone.txt" ||
	fail "forged bundle alone: the text report does not say what is not proven"
verify_bundle 1 vec-given --bundle "$VB/forged.cbnd" --root "$VB/root.pub" \
    --checkpoint "$VB/offsite.ckpt"
"$PY" - "$tmp/vec-given.json" <<'PYEOF' || fail "forged bundle with the off-machine checkpoint: not R-BND-12"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["result"] == "invalid" and j["rule"] == "R-BND-12", j
assert j["part"] == "block" and j["error"] == "CST_ECHAIN", j
PYEOF

# A fresh chain: a forgery at every block of the stolen key's epoch up to
# the checkpoint given is caught; a genuine bundle passes.
"$MKSTORE" "$tmp/s" --events 400 --block-records 16 --segments 3 \
    --epochs 3 --checkpoint-every 4 --seed 21 --secrets > /dev/null ||
	{ echo "FAIL: custody-mkstore"; exit 1; }
from=$("$PY" -c '
import base64, struct, sys
last = open(sys.argv[1]).read().splitlines()[-1].split()[1]
print(struct.unpack_from("<Q", base64.b64decode(last), 64)[0])' \
    "$tmp/s/keys/epoch.key")
off=$tmp/s/checkpoints/ckpt-000028.ckpt
for n in "$from" $((from + 3)) 27; do
	"$PY" "$FORGE" "$tmp/s" "$n" "$tmp/f$n.cbnd" ||
		{ fail "forge_bundle.py $n"; continue; }
	verify_bundle 0 "f$n-alone" --bundle "$tmp/f$n.cbnd" \
	    --root "$tmp/s/keys/root.pub"
	verify_bundle 1 "f$n-given" --bundle "$tmp/f$n.cbnd" \
	    --root "$tmp/s/keys/root.pub" --checkpoint "$off"
done
# Beyond the newest checkpoint given, a stolen key is not caught: the
# report says so.
"$PY" "$FORGE" "$tmp/s" 29 "$tmp/f29.cbnd" || fail "forge_bundle.py 29"
"$CUSTODY_VERIFY" --bundle "$tmp/f29.cbnd" --root "$tmp/s/keys/root.pub" \
    --checkpoint "$off" > "$tmp/f29.txt" 2>&1 ||
	fail "a forgery past the checkpoint given: exit $?"
grep -q "Blocks after block 27 .* rest on epoch key signatures only" \
    "$tmp/f29.txt" || fail "past the checkpoint given: not said"

"$CUSTODY_QUERY" "$tmp/s" --seq 100..105 --bundle "$tmp/g.cbnd" \
    > /dev/null 2>&1 || fail "custody-query --bundle exited $?"
verify_bundle 0 genuine --bundle "$tmp/g.cbnd" \
    --root "$tmp/s/keys/root.pub" --checkpoint "$off" \
    --checkpoint "$tmp/s/checkpoints/ckpt-000008.ckpt"
"$PY" - "$tmp/genuine.json" <<'PYEOF' || fail "genuine bundle: not anchored by the checkpoint given"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["result"] == "valid" and j["anchored_runs"] == 1, j
assert j["given_checkpoints"] == 2, j
PYEOF
# A bundle of the matching blocks alone cannot be joined to the head.
"$CUSTODY_QUERY" "$tmp/s" --seq 100..105 --bundle-minimal \
    --bundle "$tmp/m.cbnd" > /dev/null 2>&1 ||
	fail "custody-query --bundle-minimal exited $?"
verify_bundle 1 minimal --bundle "$tmp/m.cbnd" \
    --root "$tmp/s/keys/root.pub" --checkpoint "$off"

echo "bundle_forged: $fails failure(s)"
[ $fails -eq 0 ]
