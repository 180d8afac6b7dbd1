#!/bin/bash
# bench/relp.sh: RELP ingest, beside plain TCP and beside rsyslog's imrelp.
#
# For each connection count, in one run, each with a fresh receiver and
# COUNT messages of SIZE bytes from custody-loadgen as fast as they are
# taken:
#   custodyd tcp   custodyd over tcp:// (RFC 6587), timed until custodyd
#                  reports every event durable;
#   custodyd relp  custodyd over relp://, timed until custody-loadgen has
#                  every message acknowledged (R-RELP-1: each answer only
#                  once its block is sealed, signed and fdatasync'ed);
#   rsyslog relp   rsyslogd's imrelp writing the raw messages to a plain
#                  file (omfile, no fsync: imrelp answers on enqueue),
#                  timed until custody-loadgen has every acknowledgement
#                  and the file has every line.
# custody-loadgen keeps WINDOW messages unanswered per connection.  The
# custodyd stores are checked message by message (check_store; for RELP
# the manifest's SENT is what was acknowledged).  Prints one Markdown
# table: events/s, receiver CPU seconds per million events, peak RSS.
#
#   bench/relp.sh [-n COUNT] [-s SIZE] [-c "1 16"] [-w WINDOW]
#
# Needs rsyslog and rsyslog-relp (Makefile DEBIAN_PACKAGES).  Environment:
# CUSTODY_BUILD_DIR (default ./build), BENCH_WORK (default
# /tmp/custody-bench), KEEP=1 keeps the stores.
set -euo pipefail
# shellcheck source=bench/common.sh
. "$(dirname "$0")/common.sh"

count=1000000
size=200
conns_list="1 16"
window=16384
while getopts n:s:c:w:h opt; do
	case $opt in
	n) count=$OPTARG ;;
	s) size=$OPTARG ;;
	c) conns_list=$OPTARG ;;
	w) window=$OPTARG ;;
	*) sed -n '2,26s/^# \{0,1\}//p' "$0"; exit 2 ;;
	esac
done

bench_init
RSYSLOGD=/usr/sbin/rsyslogd
RS_MODDIR=/usr/lib/$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null ||
	echo x86_64-linux-gnu)/rsyslog
[ -x "$RSYSLOGD" ] && [ -f "$RS_MODDIR/imrelp.so" ] ||
	bench_die "rsyslog with imrelp is not installed (rsyslog, rsyslog-relp)"

rows=()

# row NAME CONNS N_STORED N_SENT T0 T1 CPU HWM_KIB
row() {
	rows+=("$(awk -v name="$1" -v c="$2" -v n="$3" -v sent="$4" \
		-v t0="$5" -v t1="$6" -v cpu="$7" -v hwm="$8" 'BEGIN {
		el = t1 - t0
		printf "| %s | %d | %d / %d | %.2f | %.0f | %.2f | %.2f | %.1f |",
		    name, c, n, sent, el, n / el, cpu, cpu / (n / 1e6),
		    hwm / 1024 }')")
}

# check_custodyd DIR: the store holds the manifest's messages; prints
# how many.
check_custodyd() {
	local dir=$1
	"$CHECK_STORE" -m "$dir/manifest" "$dir/data" >"$dir/check.out" ||
		bench_die "check_store: $(grep -v '^audit' "$dir/check.out")"
	grep '^run ' "$dir/check.out" | sed 's/.* found=\([0-9]*\).*/\1/'
}

loadgen() {
	local out=$1
	shift
	"$LOADGEN" -s "$size" -n "$count" -T 600 "$@" >"$out" ||
		bench_die "loadgen failed: $(cat "$out")"
}

for conns in $conns_list; do
	# custodyd, plain TCP.
	dir=$BENCH_TMP/tcp$conns
	custodyd_start "$dir"
	t0=$(bench_now)
	loadgen "$dir/loadgen.out" -t "tcp://127.0.0.1:$CD_PORT" -c "$conns" \
		-g "tcp$conns" -m "$dir/manifest"
	sent=$(bench_kv sent "$dir/loadgen.out")
	t1=$(custodyd_wait_durable "$sent" 600) ||
		bench_die "custodyd did not make $sent events durable"
	cpu=$(bench_cpu_s "$CD_PID")
	hwm=$(bench_hwm_kib "$CD_PID")
	bench_stop "$CD_PID" 60 || bench_die "custodyd exited $? on SIGTERM"
	row "custodyd tcp (durable)" "$conns" "$(check_custodyd "$dir")" \
		"$sent" "$t0" "$t1" "$cpu" "$hwm"

	# custodyd, RELP: acknowledged only once durable.
	dir=$BENCH_TMP/relp$conns
	rport=$(bench_free_port)
	custodyd_start "$dir" --listen "relp://127.0.0.1:$rport"
	bench_wait_port "$rport" 20 || bench_die "no RELP listener"
	t0=$(bench_now)
	loadgen "$dir/loadgen.out" -t "relp://127.0.0.1:$rport" -c "$conns" \
		-w "$window" -g "relp$conns" -m "$dir/manifest"
	t1=$(bench_now)
	acked=$(bench_kv acked "$dir/loadgen.out")
	cpu=$(bench_cpu_s "$CD_PID")
	hwm=$(bench_hwm_kib "$CD_PID")
	bench_stop "$CD_PID" 60 || bench_die "custodyd exited $? on SIGTERM"
	row "custodyd relp (acked when durable)" "$conns" \
		"$(check_custodyd "$dir")" "$acked" "$t0" "$t1" "$cpu" "$hwm"

	# rsyslog: imrelp -> omfile.
	dir=$BENCH_TMP/rsyslog$conns
	mkdir -p -m 0700 "$dir"
	rport=$(bench_free_port)
	cat >"$dir/rsyslog.conf" <<-EOF
	global(workDirectory="$dir" maxMessageSize="64k")
	module(load="$RS_MODDIR/imrelp.so")
	input(type="imrelp" address="127.0.0.1" port="$rport" ruleset="bench")
	template(name="raw" type="string" string="%rawmsg%\n")
	ruleset(name="bench") {
	    action(type="omfile" file="$dir/out.log" template="raw")
	}
	EOF
	bench_bg "$dir/rsyslog.log" "$RSYSLOGD" -n -M "$RS_MODDIR" \
		-f "$dir/rsyslog.conf" -i "$dir/rsyslog.pid"
	rs_pid=$BENCH_PID
	bench_wait_port "$rport" 20 ||
		bench_die "rsyslogd did not start: $(tail -5 "$dir/rsyslog.log")"
	t0=$(bench_now)
	loadgen "$dir/loadgen.out" -t "relp://127.0.0.1:$rport" -c "$conns" \
		-w "$window" -g "rsys$conns"
	acked=$(bench_kv acked "$dir/loadgen.out")
	lines=0
	for ((i = 0; i < 60000; i++)); do
		lines=$(wc -l <"$dir/out.log" 2>/dev/null || echo 0)
		[ "$lines" -ge "$acked" ] && break
		sleep 0.01
	done
	t1=$(bench_now)
	[ "$lines" -ge "$acked" ] ||
		bench_die "rsyslog wrote $lines of $acked lines"
	cpu=$(bench_cpu_s "$rs_pid")
	hwm=$(bench_hwm_kib "$rs_pid")
	bench_stop "$rs_pid" 30 || true
	row "rsyslog imrelp -> file (acked on enqueue)" "$conns" "$lines" \
		"$acked" "$t0" "$t1" "$cpu" "$hwm"
done

echo
echo "RELP ingest, $(date -u +%Y-%m-%dT%H:%MZ), $(bench_machine);" \
	"$size-byte events, custody-loadgen window $window," \
	"rsyslog $("$RSYSLOGD" -v | awk 'NR == 1 { print $2 }')"
echo
echo "| receiver | conns | events stored / acknowledged | seconds | events/s | receiver CPU s | CPU s per M events | peak RSS MiB |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
printf '%s\n' "${rows[@]}"
