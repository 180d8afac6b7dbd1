#!/bin/bash
# bench/ingest.sh: custodyd's ingest rate, counted on disk.
#
# For each connection count, starts a fresh custodyd (default settings:
# durable, with group-commit fdatasync every 100 ms, sealed, signed, zstd)
# on loopback, sends COUNT messages of SIZE bytes with custody-loadgen as
# fast as custodyd takes them, and waits until custodyd reports every one
# durable.  Then it stops custodyd (SIGTERM) and counts, with check_store,
# what is in the store: the rate printed is what landed on disk, checked
# message by message, not what the sender sent.  Prints one Markdown table:
# events/s, MB/s, collector CPU seconds (/proc/PID/stat), peak RSS (VmHWM),
# bytes on disk per event and the ratio to the raw bytes; then how fast
# custody-verify checks the largest store.
#
#   bench/ingest.sh [-n COUNT] [-s SIZE] [-c "1 16"]
#
# Environment: CUSTODY_BUILD_DIR (default ./build), BENCH_WORK (default
# /tmp/custody-bench), KEEP=1 keeps the stores.
set -euo pipefail
# shellcheck source=bench/common.sh
. "$(dirname "$0")/common.sh"

count=2000000
size=200
conns_list="1 16"
while getopts n:s:c:h opt; do
	case $opt in
	n) count=$OPTARG ;;
	s) size=$OPTARG ;;
	c) conns_list=$OPTARG ;;
	*) sed -n '2,18s/^# \{0,1\}//p' "$0"; exit 2 ;;
	esac
done

bench_init

rows=()
last_store=
last_events=0
for conns in $conns_list; do
	dir=$BENCH_TMP/c$conns
	custodyd_start "$dir"
	gen=ingest$conns
	t0=$(bench_now)
	"$LOADGEN" -t "tcp://127.0.0.1:$CD_PORT" -c "$conns" -s "$size" \
		-n "$count" -g "$gen" -m "$dir/manifest" -T 300 \
		>"$dir/loadgen.out" || bench_die "loadgen failed: $(cat "$dir/loadgen.out")"
	sent=$(bench_kv sent "$dir/loadgen.out")
	t1=$(custodyd_wait_durable "$sent" 300) ||
		bench_die "custodyd did not make $sent events durable in 300 s"
	cpu=$(bench_cpu_s "$CD_PID")
	hwm=$(bench_hwm_kib "$CD_PID")
	bench_stop "$CD_PID" 60 || bench_die "custodyd exited $? on SIGTERM"
	"$CHECK_STORE" -m "$dir/manifest" "$dir/data" >"$dir/check.out" ||
		bench_die "check_store: $(grep -v '^audit' "$dir/check.out")"
	found=$(grep '^run ' "$dir/check.out" | sed 's/.* found=\([0-9]*\).*/\1/')
	disk=$(grep '^store ' "$dir/check.out" | sed 's/.* bytes=\([0-9]*\).*/\1/')
	raw=$(grep '^events ' "$dir/check.out" | sed 's/.* raw_bytes=\([0-9]*\).*/\1/')
	rows+=("$(awk -v c="$conns" -v s="$size" -v n="$found" -v sent="$sent" \
		-v t0="$t0" -v t1="$t1" -v cpu="$cpu" -v hwm="$hwm" \
		-v disk="$disk" -v raw="$raw" 'BEGIN {
		el = t1 - t0
		printf "| %d | %d | %d / %d | %.2f | %.0f | %.1f | %.2f | %.2f | %.1f | %.1f | %.3f |",
		    c, s, n, sent, el, n / el, raw / el / 1e6, cpu,
		    cpu / (n / 1e6), hwm / 1024, disk / n, disk / raw }')")
	last_store=$dir/data
	last_events=$found
done

echo
echo "custodyd ingest, $(date -u +%Y-%m-%dT%H:%MZ), $(bench_machine)"
echo
echo "| conns | msg bytes | events on disk / sent | seconds | events/s | MB/s | collector CPU s | CPU s per M events | peak RSS MiB | disk bytes/event | disk/raw |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
printf '%s\n' "${rows[@]}"

t0=$(bench_now)
"$CUSTODY_VERIFY" "$last_store" >"$BENCH_TMP/verify.out" 2>&1 ||
	bench_die "custody-verify failed: $(tail -5 "$BENCH_TMP/verify.out")"
t1=$(bench_now)
awk -v n="$last_events" -v t0="$t0" -v t1="$t1" 'BEGIN {
	printf "\ncustody-verify: %d events in %.2f s, %.0f events/s\n",
	    n, t1 - t0, n / (t1 - t0) }'
