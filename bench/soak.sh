#!/bin/bash
# bench/soak.sh: custodyd under a long mixed load, its memory and
# descriptors sampled every second.
#
# One custodyd with TCP, UDP and unix listeners (input.idle_timeout 10s,
# segments rotated every 3 minutes, SIGHUP every minute) takes, for
# DURATION seconds at once:
#   - custody-loadgen over TCP (4 connections), UDP and the unix socket, at
#     a steady rate each, with manifests;
#   - hostile senders: connections that send a byte a second (cut by the
#     idle timeout, then back), idle connections, connections that send
#     random bytes and digit-leading LF lines, and connections opened and
#     closed in a loop.
# VmRSS and the number of open descriptors are sampled every second into
# WORK/samples.csv (kept as BENCH_WORK/soak-samples.csv).  At the end
# custodyd is stopped (SIGTERM), check_store proves that every TCP and
# unix message the kernel accepted is in the store exactly once (UDP:
# counted losses only), and custody-verify checks the store.  Prints the
# figures: RSS and descriptors over the first and last tenth of the run,
# their extremes, and the totals.
#
#   bench/soak.sh [-d DURATION_S] [-r TCP_EVENTS_PER_S]
#
# Environment: CUSTODY_BUILD_DIR (default ./build), BENCH_WORK (default
# /tmp/custody-bench), KEEP=1 keeps the store.
set -euo pipefail
# shellcheck source=bench/common.sh
. "$(dirname "$0")/common.sh"

duration=1800
rate=20000
while getopts d:r:h opt; do
	case $opt in
	d) duration=$OPTARG ;;
	r) rate=$OPTARG ;;
	*) sed -n '2,25s/^# \{0,1\}//p' "$0"; exit 2 ;;
	esac
done

bench_init
dir=$BENCH_TMP/soak
mkdir -p -m 0700 "$dir"
UPORT=$(bench_free_port)
sock=$dir/log.sock
custodyd_start "$dir" --listen "udp://127.0.0.1:$UPORT" \
	--listen "unix://$sock" \
	--set input.idle_timeout=10s --set store.segment_max_age=3m
bench_log "custodyd pid $CD_PID: tcp $CD_PORT, udp $UPORT, unix $sock; $duration s"

bench_bg "$dir/tcp.out" "$LOADGEN" -t "tcp://127.0.0.1:$CD_PORT" -c 4 \
	-d "$duration" -r "$rate" -g soaktcp -m "$dir/tcp.manifest" \
	-T $((duration + 120))
tcp_pid=$BENCH_PID
bench_bg "$dir/udp.out" "$LOADGEN" -t "udp://127.0.0.1:$UPORT" -c 1 \
	-d "$duration" -r $((rate / 4)) -g soakudp -m "$dir/udp.manifest" \
	-T $((duration + 120))
udp_pid=$BENCH_PID
bench_bg "$dir/unix.out" "$LOADGEN" -t "unix://$sock" -c 1 \
	-d "$duration" -r $((rate / 10)) -g soakunix -m "$dir/unix.manifest" \
	-T $((duration + 120))
unix_pid=$BENCH_PID

cat >"$dir/hostile.py" <<'EOF'
import os, random, socket, sys, threading, time
port, duration = int(sys.argv[1]), float(sys.argv[2])
end = time.monotonic() + duration
rng = random.Random(1)
counts = {"slow": 0, "idle": 0, "garbage": 0, "churn": 0, "cut": 0}

def conn():
    s = socket.socket()
    s.settimeout(5)
    s.connect(("127.0.0.1", port))
    return s

def slow():
    while time.monotonic() < end:
        try:
            s = conn()
            counts["slow"] += 1
            for b in b"<13>1 - slow app - - - never finished " * 100:
                if time.monotonic() >= end:
                    break
                s.send(bytes([b]))
                time.sleep(1)
        except OSError:
            counts["cut"] += 1
            time.sleep(0.5)

def idle():
    held = []
    for _ in range(8):
        try:
            held.append(conn())
            counts["idle"] += 1
        except OSError:
            pass
    while time.monotonic() < end:
        time.sleep(1)

def garbage():
    while time.monotonic() < end:
        try:
            s = conn()
            counts["garbage"] += 1
            for _ in range(20):
                s.sendall(os.urandom(rng.randrange(1, 2000)))
                s.sendall(b"192.0.2.%d - - \"GET /x HTTP/1.1\" 200 %d\n" %
                          (rng.randrange(256), rng.randrange(9999)))
            s.close()
        except OSError:
            pass
        time.sleep(0.2)

def churn():
    while time.monotonic() < end:
        try:
            conn().close()
            counts["churn"] += 1
        except OSError:
            pass
        time.sleep(0.05)

ts = [threading.Thread(target=f, daemon=True)
      for f in (slow, slow, idle, garbage, churn)]
for t in ts:
    t.start()
while time.monotonic() < end:
    time.sleep(1)
print(" ".join(f"{k}={v}" for k, v in counts.items()), flush=True)
EOF
bench_bg "$dir/hostile.out" "${CUSTODY_PYTHON:-/usr/bin/python3}" \
	"$dir/hostile.py" "$CD_PORT" "$duration"
hostile_pid=$BENCH_PID

samples=$dir/samples.csv
echo "t,rss_kib,fds,durable" >"$samples"
t0=$(date +%s)
next_hup=$((t0 + 60))
hups=0
while :; do
	now=$(date +%s)
	[ $((now - t0)) -ge "$duration" ] && break
	bench_running "$CD_PID" || bench_die "custodyd died: $(tail -5 "$dir/custodyd.log")"
	rss=$(awk '/^VmRSS/ { print $2 }' "/proc/$CD_PID/status")
	fds=$(find "/proc/$CD_PID/fd" -mindepth 1 -maxdepth 1 | wc -l)
	dur=$(bench_metric "$CD_MPORT" custody_events_durable_total)
	echo "$((now - t0)),$rss,$fds,${dur:-}" >>"$samples"
	if [ "$now" -ge "$next_hup" ]; then
		kill -HUP "$CD_PID"
		hups=$((hups + 1))
		next_hup=$((now + 60))
	fi
	sleep 1
done

for p in $tcp_pid $udp_pid $unix_pid $hostile_pid; do
	for ((i = 0; i < 1200; i++)); do
		bench_running "$p" || break
		sleep 0.1
	done
done
idle_closed=$(bench_metric "$CD_MPORT" custody_connections_idle_closed_total)
framing=$(bench_metric "$CD_MPORT" custody_framing_errors_total)
bench_stop "$CD_PID" 120 || bench_die "custodyd exited $? on SIGTERM"

"$CHECK_STORE" -m "$dir/tcp.manifest" -m "$dir/unix.manifest" \
	"$dir/data" >"$dir/check.out" ||
	bench_die "check_store (tcp, unix): $(grep -v '^audit' "$dir/check.out" | tail -5)"
"$CHECK_STORE" --allow-loss -m "$dir/udp.manifest" "$dir/data" \
	>"$dir/check-udp.out" ||
	bench_die "check_store (udp): $(tail -5 "$dir/check-udp.out")"
"$CUSTODY_VERIFY" --quiet "$dir/data" ||
	bench_die "custody-verify: exit $?"

tenth=$((duration / 10))
awk -F, -v tenth="$tenth" -v d="$duration" 'NR > 1 {
	if ($1 < tenth) { r0 += $2; f0 += $3; n0++ }
	if ($1 >= d - tenth) { r1 += $2; f1 += $3; n1++ }
	if (rmin == "" || $2 < rmin) rmin = $2
	if ($2 > rmax) rmax = $2
	if (fmin == "" || $3 < fmin) fmin = $3
	if ($3 > fmax) fmax = $3
} END {
	printf "| samples | RSS first tenth (MiB) | RSS last tenth | RSS min..max | fds first tenth | fds last tenth | fds min..max |\n"
	printf "|---:|---:|---:|---:|---:|---:|---:|\n"
	printf "| %d | %.1f | %.1f | %.1f..%.1f | %.1f | %.1f | %d..%d |\n", NR - 1,
	    r0 / n0 / 1024, r1 / n1 / 1024, rmin / 1024, rmax / 1024,
	    f0 / n0, f1 / n1, fmin, fmax
}' "$samples"
echo
echo "tcp: $(tail -1 "$dir/tcp.out")"
echo "udp: $(tail -1 "$dir/udp.out")"
echo "unix: $(tail -1 "$dir/unix.out")"
echo "hostile: $(tail -1 "$dir/hostile.out")"
echo "store: $(grep '^store ' "$dir/check.out")"
grep '^run ' "$dir/check.out" "$dir/check-udp.out" | sed 's/^[^:]*://'
echo "SIGHUPs: $hups; idle cuts: ${idle_closed:-0}; framing errors: ${framing:-0}"
echo "custody-verify: intact"
# The series outlives the work dir: a flat line is best judged by eye.
cp "$samples" "$BENCH_ROOT/soak-samples.csv"
echo "samples: $BENCH_ROOT/soak-samples.csv"
