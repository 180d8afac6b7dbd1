# shellcheck shell=bash
# Shared by bench/ingest.sh and bench/compare.sh (sourced, not run).
#
# Conventions: every process a benchmark starts is recorded with bench_bg
# and ended by pid at exit (trap), never by name; every wait polls a
# condition with a bound; the work dir is removed at exit unless KEEP=1.

bench_repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_PIDS=()
BENCH_TMP=

bench_die() {
	echo "${0##*/}: $*" >&2
	exit 1
}

bench_log() {
	echo "${0##*/}: $*" >&2
}

# Finds the build's programs (the same environment the tests use).
bench_init() {
	local b
	b=${CUSTODY_BUILD_DIR:-$bench_repo/build}
	CUSTODY_BUILD_DIR=$b
	CUSTODYD=${CUSTODYD:-$b/custodyd}
	CUSTODY_VERIFY=${CUSTODY_VERIFY:-$b/custody-verify}
	LOADGEN=${LOADGEN:-$b/bench/custody-loadgen}
	CHECK_STORE=${CHECK_STORE:-$b/check_store}
	for p in "$CUSTODYD" "$CUSTODY_VERIFY" "$LOADGEN" "$CHECK_STORE"; do
		[ -x "$p" ] || bench_die "$p is not built (make build, or set" \
			"CUSTODY_BUILD_DIR)"
	done
	BENCH_ROOT=${BENCH_WORK:-/tmp/custody-bench}
	mkdir -p "$BENCH_ROOT"
	BENCH_TMP=$(mktemp -d "$BENCH_ROOT/run.XXXXXX")
	chmod 700 "$BENCH_TMP"
	trap bench_cleanup EXIT
	trap 'exit 130' INT TERM
	CLK_TCK=$(getconf CLK_TCK)
}

bench_cleanup() {
	local pid
	for pid in "${BENCH_PIDS[@]}"; do
		bench_stop "$pid" 5 2>/dev/null || true
	done
	if [ -n "$BENCH_TMP" ] && [ "${KEEP:-0}" != 1 ]; then
		rm -rf "$BENCH_TMP"
	elif [ -n "$BENCH_TMP" ]; then
		bench_log "kept $BENCH_TMP"
	fi
}

# bench_bg LOG CMD...: starts CMD in the background, output to LOG; sets
# BENCH_PID.
bench_bg() {
	local log=$1
	shift
	"$@" >"$log" 2>&1 &
	BENCH_PID=$!
	BENCH_PIDS+=("$BENCH_PID")
}

# Alive and not yet a zombie: a child that exited answers kill -0 until
# it is reaped.
bench_running() {
	local st
	st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1)
	[ -n "$st" ] && [ "$st" != Z ]
}

# bench_stop PID BOUND_S: SIGTERM, then SIGKILL if it has not exited
# within the bound.  Returns the process's exit status (it is our child).
bench_stop() {
	local pid=$1 bound=$2 i
	if bench_running "$pid"; then
		kill -TERM "$pid" 2>/dev/null || true
		for ((i = 0; i < bound * 50; i++)); do
			bench_running "$pid" || break
			sleep 0.02
		done
		if bench_running "$pid"; then
			bench_log "pid $pid did not stop within ${bound}s: SIGKILL"
			kill -KILL "$pid" 2>/dev/null || true
		fi
	fi
	wait "$pid" 2>/dev/null
}

bench_free_port() {
	/usr/bin/python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# bench_wait_port PORT BOUND_S
bench_wait_port() {
	local port=$1 bound=$2 i
	for ((i = 0; i < bound * 50; i++)); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
			return 0
		fi
		sleep 0.02
	done
	return 1
}

# Seconds since the epoch, microseconds, without a process per call.
bench_now() {
	echo "$EPOCHREALTIME"
}

# User + system CPU seconds of a live process.
bench_cpu_s() {
	sed 's/.*) //' "/proc/$1/stat" |
		awk -v hz="$CLK_TCK" '{ printf "%.2f", ($12 + $13) / hz }'
}

# Peak resident set (VmHWM), KiB.
bench_hwm_kib() {
	awk '/^VmHWM:/ { print $2 }' "/proc/$1/status"
}

# bench_metric PORT NAME: the sum of NAME's series from custodyd's
# Prometheus endpoint (no curl needed), or nothing.
bench_metric() {
	local port=$1 name=$2
	{
		exec 3<>"/dev/tcp/127.0.0.1/$port" || return 0
		printf 'GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
		cat <&3
		exec 3<&-
	} 2>/dev/null | awk -v n="$name" '
		{ sub(/\r$/, "") }
		$1 == n || index($1, n "{") == 1 { s += $2; found = 1 }
		END { if (found) printf "%.0f\n", s }'
}

# kv KEY FILE: the value of KEY=... in the last line of FILE that has it.
bench_kv() {
	grep -o "\(^\| \)$1=[^ ]*" "$2" | tail -1 | sed "s/^ *$1=//"
}

# custodyd_start DIR [ARGS...]: starts custodyd on free ports with the
# store DIR/data; sets CD_PID, CD_PORT, CD_MPORT.
custodyd_start() {
	local dir=$1
	shift
	mkdir -p -m 0700 "$dir"
	CD_PORT=$(bench_free_port)
	CD_MPORT=$(bench_free_port)
	bench_bg "$dir/custodyd.log" "$CUSTODYD" --data-dir "$dir/data" \
		--listen "tcp://127.0.0.1:$CD_PORT" \
		--metrics "tcp://127.0.0.1:$CD_MPORT" \
		--set server.allow_root=yes "$@"
	CD_PID=$BENCH_PID
	if ! bench_wait_port "$CD_PORT" 20 || ! bench_wait_port "$CD_MPORT" 20
	then
		bench_die "custodyd did not start: $(tail -5 "$dir/custodyd.log")"
	fi
}

# custodyd_wait_durable N BOUND_S: waits until N events are durable;
# prints the time it saw them (empty on timeout).
custodyd_wait_durable() {
	local n=$1 bound=$2 i v
	for ((i = 0; i < bound * 100; i++)); do
		v=$(bench_metric "$CD_MPORT" custody_events_durable_total)
		if [ -n "$v" ] && [ "$v" -ge "$n" ]; then
			bench_now
			return 0
		fi
		sleep 0.01
	done
	return 1
}

bench_machine() {
	local cpu
	cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
	echo "$(nproc) cores ($cpu), $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo) RAM, $(uname -sr), $(df -T "$BENCH_TMP" | awk 'NR == 2 { print $2 }') on the store's disk"
}
