#!/bin/bash
# The tools the other scenario tests rely on must fail when they should:
# fake_store writes a valid, signed store of one load generator run with one
# fault planted in what was "received" (a message dropped, stored twice,
# reordered, altered, or a connection's tail cut), and check_store must
# pass the faultless store and fail each faulty one, naming the fault.
# Also: custody-loadgen refuses targets that are not loopback.  Needs no
# daemon.
set -eu

build=${CUSTODY_BUILD_DIR:?CUSTODY_BUILD_DIR is not set}
fake=$build/fake_store
check=$build/check_store
for t in "$fake" "$check"; do
	[ -x "$t" ] || { echo "FAIL: $t is not built"; exit 1; }
done

work=$(mktemp -d /tmp/custody-selftest.XXXXXX)
trap 'rm -rf "$work"' EXIT

passed=0
failed=0
ok() { echo "ok: $*"; passed=$((passed + 1)); }
bad() { echo "FAIL: $*"; failed=$((failed + 1)); }

# expect NAME FAULT MODE RC FIELD=VALUE...: the checker's exit code and the
# counters of its run line.
expect() {
	local name=$1 fault=$2 mode=$3 want_rc=$4 rc=0 out field
	shift 4
	"$fake" -c 4 -n 1500 -F "$fault" "$work/$name.manifest" \
		"$work/$name" >/dev/null
	out=$("$check" ${mode:+"$mode"} -m "$work/$name.manifest" "$work/$name" \
		2>"$work/$name.err") || rc=$?
	if [ "$rc" != "$want_rc" ]; then
		bad "$name: check_store exited $rc, expected $want_rc"
		echo "$out"; cat "$work/$name.err"
		return
	fi
	for field in "$@"; do
		if ! grep -q "^run .* $field\( \|$\)" <<<"$out"; then
			bad "$name: expected $field in: $(grep '^run' <<<"$out")"
			return
		fi
	done
	ok "$name: exit $rc, $*"
}

expect clean none "" 0 found=6000 missing=0 duplicate=0 disorder=0 mismatch=0
expect drop drop "" 1 missing=1 holes=1
expect dup dup "" 1 duplicate=1
expect swap swap "" 1 disorder=1
expect flip flip "" 1 mismatch=1
expect tail tail "" 1 missing=750 holes=0
# A crash may cut a connection's tail, never its middle.
expect tail-prefix tail --prefix 0 missing=750 holes=0
expect drop-prefix drop --prefix 1 holes=1
# UDP may lose, but never duplicate, reorder or alter.
expect drop-loss drop --allow-loss 0 missing=1
expect flip-loss flip --allow-loss 1 mismatch=1

# The clean store's own checkpoint matches it (R-CKP-2); another chain's
# checkpoint is refused (R-CKP-1).
if "$check" -c "$work/clean/checkpoints/latest.ckpt" "$work/clean" |
	grep -q '^checkpoint .* found=1 match=1$'; then
	ok "checkpoint of the store matches"
else
	bad "checkpoint of the store does not match"
fi
if "$check" -c "$work/clean/checkpoints/latest.ckpt" "$work/drop" \
	>/dev/null 2>&1; then
	bad "another chain's checkpoint was accepted"
else
	ok "another chain's checkpoint is refused"
fi

# The load generator loads only this machine: any other target is refused
# before a socket is opened (exit 2, nothing sent).
loadgen=$build/bench/custody-loadgen
if [ -x "$loadgen" ]; then
	for target in tcp://10.0.0.1:514 tcp://192.0.2.1:6514 \
		udp://198.51.100.7:514 "tcp://[2001:db8::1]:514" \
		tcp://example.org:514; do
		rc=0
		"$loadgen" -t "$target" -n 1 -T 5 >/dev/null 2>"$work/lg.err" ||
			rc=$?
		if [ "$rc" = 2 ] && grep -q "refusing\|bad address" "$work/lg.err"
		then
			ok "loadgen refuses $target"
		else
			bad "loadgen did not refuse $target (exit $rc)"
		fi
	done
	# A collector that is not there is a failure, not a silent success.
	# The port stays bound, not listening, while loadgen runs: freed, a
	# test running beside this one could listen on it.
	rc=0
	/usr/bin/python3 - "$loadgen" "$work/refused.manifest" \
		>"$work/lg.out" 2>&1 <<'EOF' || rc=$?
import socket, subprocess, sys
s = socket.socket()
s.bind(("127.0.0.1", 0))
sys.exit(subprocess.run([sys.argv[1], "-t", "tcp://127.0.0.1:%d"
                         % s.getsockname()[1], "-n", "10", "-m",
                         sys.argv[2], "-T", "10"]).returncode)
EOF
	if [ "$rc" = 1 ] && grep -q "^conn 0 0 0 0$" "$work/refused.manifest"
	then
		ok "loadgen fails (exit 1) when nothing listens, and says 0 sent"
	else
		bad "loadgen with nothing listening: exit $rc"
		cat "$work/lg.out"
	fi
fi

# The verifier agrees that the fake store is a valid chain, so the faults
# above are faults of content only, which is what check_store is for.
if [ -n "${CUSTODY_VERIFY:-}" ] && [ -x "$CUSTODY_VERIFY" ]; then
	if "$CUSTODY_VERIFY" "$work/clean" >"$work/verify.out" 2>&1; then
		ok "custody-verify accepts the fake store"
	else
		bad "custody-verify rejects the fake store"
		cat "$work/verify.out"
	fi
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
