#!/bin/bash
# bench/replicate.sh: RELP ingest with replication to NATS JetStream, and
# custody-restore's throughput (SPEC section 17).
#
# A 3-node nats-server JetStream cluster on loopback (file storage), and
# for each mode, in one run, a fresh custodyd with a RELP listener taking
# COUNT messages of SIZE bytes from custody-loadgen over CONNS
# connections (WINDOW unanswered each):
#   none        no [replicate]: answered once durable here (R-RELP-1);
#   local       replicate.ack = local: the same answers, blocks published
#               by a thread beside; timed until the backlog is empty too;
#   replicated  replicate.ack = replicated: answered once durable here
#               and acknowledged by JetStream (R-REP-5).
# Each store is checked message by message (check_store, the manifest's
# SENT is what was acknowledged).  Then the replicated chain is restored
# from the stream with custody-restore (MB/s of segment bytes written)
# and verified.  Prints one Markdown table: events/s, answer latency p50
# and p99 (custody-loadgen, from writing a command to its answer),
# receiver CPU s per million events, peak RSS; and the restore's figures.
#
#   bench/replicate.sh [-n COUNT] [-s SIZE] [-c CONNS] [-w WINDOW]
#
# Needs nats-server (Makefile DEBIAN_PACKAGES).  Environment:
# CUSTODY_BUILD_DIR (default ./build), BENCH_WORK (default
# /tmp/custody-bench), KEEP=1 keeps the stores.
set -euo pipefail
# shellcheck source=bench/common.sh
. "$(dirname "$0")/common.sh"

count=1000000
size=200
conns=16
window=1024
while getopts n:s:c:w:h opt; do
	case $opt in
	n) count=$OPTARG ;;
	s) size=$OPTARG ;;
	c) conns=$OPTARG ;;
	w) window=$OPTARG ;;
	*) sed -n '2,27s/^# \{0,1\}//p' "$0"; exit 2 ;;
	esac
done

bench_init
NATS_SERVER=/usr/sbin/nats-server
RESTORE=$CUSTODY_BUILD_DIR/custody-restore
[ -x "$NATS_SERVER" ] || bench_die "nats-server is not installed"
[ -x "$RESTORE" ] || bench_die "$RESTORE is not built"

# The cluster: three servers, each its own config and store directory.
ports=() cports=() urls=()
for i in 0 1 2; do
	ports[i]=$(bench_free_port)
	cports[i]=$(bench_free_port)
	urls[i]=nats://127.0.0.1:${ports[i]}
done
servers=$(IFS=,; echo "${urls[*]}")
for i in 0 1 2; do
	d=$BENCH_TMP/nats$i
	mkdir -p "$d"
	routes=
	for j in 0 1 2; do
		[ "$j" = "$i" ] && continue
		routes="$routes${routes:+, }nats-route://127.0.0.1:${cports[j]}"
	done
	cat >"$d/server.conf" <<-EOF
	server_name: n$i
	listen: 127.0.0.1:${ports[i]}
	max_payload: 8MB
	jetstream { store_dir: "$d/js", max_file_store: 16GB }
	cluster { name: bench, listen: 127.0.0.1:${cports[i]}, routes: [$routes] }
	EOF
	bench_bg "$d/nats.log" "$NATS_SERVER" -c "$d/server.conf"
done
for i in 0 1 2; do
	bench_wait_port "${ports[i]}" 20 || bench_die "nats-server $i did not start"
done
# JetStream has a meta leader once a stream can be made: custodyd makes
# it; wait for the leader with a bound first.
for ((k = 0; k < 300; k++)); do
	grep -q "JetStream cluster new metadata leader\|Self is new JetStream cluster metadata leader" \
		"$BENCH_TMP"/nats*/nats.log 2>/dev/null && break
	sleep 0.1
done

rows=()
# row NAME N_STORED N_SENT T0 T1 CPU HWM_KIB P50 P99
row() {
	rows+=("$(awk -v name="$1" -v n="$2" -v sent="$3" -v t0="$4" \
		-v t1="$5" -v cpu="$6" -v hwm="$7" -v p50="$8" -v p99="$9" 'BEGIN {
		el = t1 - t0
		printf "| %s | %d / %d | %.2f | %.0f | %.2f | %.2f | %.2f | %.1f |",
		    name, n, sent, el, n / el, p50, p99, cpu / (n / 1e6),
		    hwm / 1024 }')")
}

declare -A rate
for mode in none local replicated; do
	dir=$BENCH_TMP/$mode
	mkdir -p -m 0700 "$dir"
	args=()
	if [ "$mode" != none ]; then
		printf '[replicate]\nservers = %s\nack = %s\n' "$servers" \
			"$mode" >"$dir/custodyd.conf"
		args=(--config "$dir/custodyd.conf")
	fi
	rport=$(bench_free_port)
	custodyd_start "$dir" --listen "relp://127.0.0.1:$rport" "${args[@]}"
	bench_wait_port "$rport" 20 || bench_die "no RELP listener"
	t0=$(bench_now)
	"$LOADGEN" -s "$size" -n "$count" -T 600 -t "relp://127.0.0.1:$rport" \
		-c "$conns" -w "$window" -g "$mode" -m "$dir/manifest" \
		>"$dir/loadgen.out" || bench_die "loadgen: $(cat "$dir/loadgen.out")"
	t1=$(bench_now)
	if [ "$mode" = local ]; then
		# Replicated too, not only answered.
		for ((k = 0; k < 60000; k++)); do
			v=$(bench_metric "$CD_MPORT" custody_replicate_backlog_blocks)
			[ "$v" = 0 ] && break
			sleep 0.01
		done
		t1r=$(bench_now)
	fi
	acked=$(bench_kv acked "$dir/loadgen.out")
	cpu=$(bench_cpu_s "$CD_PID")
	hwm=$(bench_hwm_kib "$CD_PID")
	bench_stop "$CD_PID" 60 || bench_die "custodyd exited $? on SIGTERM"
	"$CHECK_STORE" -m "$dir/manifest" "$dir/data" >"$dir/check.out" ||
		bench_die "check_store: $(grep -v '^audit' "$dir/check.out")"
	stored=$(grep '^run ' "$dir/check.out" | sed 's/.* found=\([0-9]*\).*/\1/')
	row "custodyd relp, $mode" "$stored" "$acked" "$t0" "$t1" "$cpu" \
		"$hwm" "$(bench_kv ack_p50_ms "$dir/loadgen.out")" \
		"$(bench_kv ack_p99_ms "$dir/loadgen.out")"
	rate[$mode]=$(awk -v n="$stored" -v a="$t0" -v b="$t1" \
		'BEGIN { printf "%.0f", n / (b - a) }')
	if [ "$mode" = local ]; then
		rows+=("| (local: until the backlog is empty too) | | $(awk \
			-v a="$t0" -v b="$t1r" 'BEGIN { printf "%.2f", b - a }') | $(awk \
			-v n="$stored" -v a="$t0" -v b="$t1r" \
			'BEGIN { printf "%.0f", n / (b - a) }') | | | | |")
	fi
done

# Restore the replicated chain and verify it.
chain=$(awk '{ print $2 }' "$BENCH_TMP/replicated/data/keys/root.pub")
t0=$(bench_now)
"$RESTORE" --nats "$servers" --chain "$chain" "$BENCH_TMP/restored" \
	>"$BENCH_TMP/restore.out" 2>&1 ||
	bench_die "custody-restore: $(cat "$BENCH_TMP/restore.out")"
t1=$(bench_now)
"$CUSTODY_VERIFY" --root "$BENCH_TMP/replicated/data/keys/root.pub" \
	"$BENCH_TMP/restored" >"$BENCH_TMP/verify.out" 2>&1 ||
	bench_die "custody-verify of the restored store failed"
cmp -s <(cat "$BENCH_TMP"/replicated/data/segments/*.cst) \
	<(cat "$BENCH_TMP"/restored/segments/*.cst) ||
	bench_die "the restored segments differ from the collector's"
rbytes=$(sed -n 's/.* blocks, \([0-9]*\) bytes,.*/\1/p' "$BENCH_TMP/restore.out")
rblocks=$(sed -n 's/.* segments, \([0-9]*\) blocks,.*/\1/p' "$BENCH_TMP/restore.out")

echo
echo "Replication to NATS JetStream, $(date -u +%Y-%m-%dT%H:%MZ)," \
	"$(bench_machine); 3-node nats-server $("$NATS_SERVER" --version |
	awk '{ print $2 }') cluster on loopback, stream R3, file storage;" \
	"$size-byte events over $conns RELP connections, window $window"
echo
echo "| mode | events stored / acknowledged | seconds | events/s | answer p50 ms | answer p99 ms | CPU s per M events | peak RSS MiB |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
printf '%s\n' "${rows[@]}"
echo
awk -v r="${rate[replicated]}" -v l="${rate[local]}" 'BEGIN {
	printf "replicated / local: %.0f%% (target: at least 70%%)\n", 100 * r / l }'
awk -v b="$rbytes" -v n="$rblocks" -v a="$t0" -v c="$t1" 'BEGIN {
	printf "custody-restore: %d blocks, %.1f MB in %.2f s: %.1f MB/s, %.0f blocks/s; verified, byte for byte\n",
	    n, b / 1e6, c - a, b / 1e6 / (c - a), n / (c - a) }'
