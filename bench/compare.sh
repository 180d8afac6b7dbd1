#!/bin/bash
# bench/compare.sh: custodyd side by side with rsyslog and syslog-ng, in one
# run, on this machine (issue 6).
#
# The same load generator (custody-loadgen, RFC 5424 messages, octet-counted
# TCP, as fast as each receiver takes them) is run against, one after
# another:
#   custodyd      durable (fdatasync group commit), sealed, signed, zstd
#   rsyslog       8.x, imptcp -> omfile, the raw message per line
#   syslog-ng     syslog() source -> file, the raw message per line
#   syslog-ng+slog  the same with the secure logging template $(slog ...)
# for 200- and 1000-byte messages over 1 and 16 connections, and syslog-ng's
# own loggen as a second generator against custodyd and rsyslog.  What is
# counted is what landed on disk (check_store for custodyd, the lines that
# carry the run's tag for the files, the verified lines for slog), over the
# time from the first message sent to the last one landed.  Then
# custody-verify and slogverify check stores of the same events.
#
# Each peer runs as a child process with its own configuration in a temp
# dir, bound to 127.0.0.1, never as the system service.  rsyslog and
# syslog-ng-core conflict as Debian packages: the one not installed is
# unpacked with dpkg-deb -x under $BENCH_WORK/peers (libraries they need are
# installed with apt-get, only what is missing).  Every process started is
# ended by pid at exit.
#
#   bench/compare.sh [-q] [-r] [-R REPS]
#     -q  quick: a tenth of the messages (a smoke test of the plumbing)
#     -r  also write the table into bench/README.md
#     -R  run every row REPS times, interleaved, and keep each row's best
#         (least disturbed) run: on a shared machine; default 1
#
# Environment: CUSTODY_BUILD_DIR (default ./build), BENCH_WORK (default
# /tmp/custody-bench), KEEP=1 keeps the run's files; N200, N1000, NSLOG,
# NVERIFY: messages per run for 200-byte, 1000-byte and slog runs, and in
# the stores the two verifiers check.
set -euo pipefail
# shellcheck source=bench/common.sh
. "$(dirname "$0")/common.sh"

quick=0
readme=0
reps=1
while getopts qrR:h opt; do
	case $opt in
	q) quick=1 ;;
	r) readme=1 ;;
	R) reps=$OPTARG ;;
	*) sed -n '2,35s/^# \{0,1\}//p' "$0"; exit 2 ;;
	esac
done
n200=${N200:-1000000}
n1000=${N1000:-300000}
nslog=${NSLOG:-10000}
nverify=${NVERIFY:-30000}
loggen_s=${LOGGEN_SECONDS:-3}
if [ "$quick" = 1 ]; then
	n200=$((n200 / 10)) n1000=$((n1000 / 10)) nslog=$((nslog / 10))
	nverify=$((nverify / 10))
	loggen_s=1
fi
run_bound=240  # seconds one run may take to land everything

bench_init
started=$(bench_now)
PEERS=$BENCH_ROOT/peers
mkdir -p "$PEERS"

# ---------------------------------------------------------------- peers

apt_updated=0
apt_install() {
	local missing=() p
	for p in "$@"; do
		dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null |
			grep -qx installed || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	bench_log "apt-get install ${missing[*]}"
	if [ "$apt_updated" = 0 ]; then
		DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
		apt_updated=1
	fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
		--no-install-recommends "${missing[@]}" >&2
}

pkg_installed() {
	dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null |
		grep -qx installed
}

# unpack ROOT PKG...: dpkg-deb -x the packages into ROOT, after installing
# the libraries they depend on (not the packages themselves, which would
# conflict with what is installed).
unpack() {
	local root=$1 deps
	shift
	[ -e "$root/.done" ] && return 0
	deps=$(apt-cache depends --important "$@" 2>/dev/null |
		awk '$1 ~ /Depends:/ && $2 !~ /^</ { print $2 }' |
		grep -v -e '^syslog-ng' -e '^rsyslog' -e '^lsb-base$' \
			-e '^sysvinit-utils$' -e '^init-system-helpers$' |
		sort -u)
	# shellcheck disable=SC2086
	apt_install $deps
	rm -rf "$root" "$root.debs"
	mkdir -p "$root" "$root.debs"
	if ! (cd "$root.debs" && apt-get download "$@" >&2); then
		DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
		apt_updated=1
		(cd "$root.debs" && apt-get download "$@" >&2) ||
			bench_die "cannot download $*"
	fi
	for deb in "$root.debs"/*.deb; do
		dpkg-deb -x "$deb" "$root"
	done
	touch "$root/.done"
}

setup_peers() {
	local arch
	arch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null ||
		echo x86_64-linux-gnu)
	# rsyslog: the installed one, else installed now, unless syslog-ng
	# owns the system log slot; then unpacked.
	if pkg_installed rsyslog || ! pkg_installed syslog-ng-core; then
		apt_install rsyslog
		RSYSLOGD=/usr/sbin/rsyslogd
		RS_MODDIR=/usr/lib/$arch/rsyslog
	else
		unpack "$PEERS/rsyslog" rsyslog
		RSYSLOGD=$PEERS/rsyslog/usr/sbin/rsyslogd
		RS_MODDIR=$PEERS/rsyslog/usr/lib/$arch/rsyslog
	fi
	if pkg_installed syslog-ng-core && pkg_installed syslog-ng-mod-slog; then
		SNG_ROOT=
	else
		unpack "$PEERS/syslog-ng" syslog-ng-core syslog-ng-mod-slog
		SNG_ROOT=$PEERS/syslog-ng
	fi
	SNG_LIB=$(ls -d "$SNG_ROOT"/usr/lib/syslog-ng/3.* | tail -1)
	SYSLOG_NG=$SNG_ROOT/usr/sbin/syslog-ng
	SNG_ENV=(env "LD_LIBRARY_PATH=$SNG_ROOT/usr/lib/syslog-ng"
		"SYSLOGNG_PREFIX=$SNG_ROOT/usr")
	for p in "$RSYSLOGD" "$SYSLOG_NG" "$SNG_ROOT/usr/bin/loggen" \
		"$SNG_ROOT/usr/bin/slogkey" "$SNG_ROOT/usr/bin/slogverify"; do
		[ -x "$p" ] || bench_die "$p is missing"
	done
	RS_VERSION=$("$RSYSLOGD" -v | awk 'NR == 1 { print $2 }' | tr -d ,)
	SNG_VERSION=$("${SNG_ENV[@]}" "$SYSLOG_NG" --version |
		awk 'NR == 1 { print $3 }' | tr -d '()')
}

# ------------------------------------------------------------ collectors
#
# peer_start NAME DIR PORT: starts collector NAME listening on 127.0.0.1:PORT
# with its output under DIR; sets P_PID and P_OUT (the file it writes).

peer_start() {
	local name=$1 dir=$2 port=$3
	mkdir -p -m 0700 "$dir"
	case $name in
	rsyslog)
		P_OUT=$dir/rsyslog.log
		cat >"$dir/rsyslog.conf" <<-EOF
		global(workDirectory="$dir" maxMessageSize="64k")
		module(load="$RS_MODDIR/imptcp.so")
		input(type="imptcp" address="127.0.0.1" port="$port"
		      ruleset="bench")
		template(name="raw" type="string" string="%rawmsg%\n")
		ruleset(name="bench") {
		    action(type="omfile" file="$P_OUT" template="raw")
		}
		EOF
		bench_bg "$dir/peer.log" "$RSYSLOGD" -n -M "$RS_MODDIR" \
			-f "$dir/rsyslog.conf" -i "$dir/rsyslog.pid"
		;;
	syslog-ng | syslog-ng-slog)
		P_OUT=$dir/syslog-ng.log
		local tmpl='${RAWMSG}\n'
		if [ "$name" = syslog-ng-slog ]; then
			"${SNG_ENV[@]}" "$SNG_ROOT/usr/bin/slogkey" -m \
				"$dir/master.key" >/dev/null
			"${SNG_ENV[@]}" "$SNG_ROOT/usr/bin/slogkey" -d \
				"$dir/master.key" 02:00:00:00:00:01 bench \
				"$dir/host.key" >/dev/null
			# k0 stays with the verifier: the host key evolves.
			cp "$dir/host.key" "$dir/host.key.k0"
			tmpl="\$(slog -k $dir/host.key -m $dir/mac.dat \${RAWMSG})\\n"
		fi
		# flow-control: without it syslog-ng drops what its destination
		# queue cannot hold, and this is a race of lossless collectors.
		cat >"$dir/syslog-ng.conf" <<-EOF
		@version: ${SNG_VERSION%.*}
		options { stats-freq(0); keep-hostname(yes); };
		source s_bench { syslog(ip("127.0.0.1") port($port)
		    transport("tcp") max-connections(256) log-iw-size(100000)
		    flags(store-raw-message)); };
		destination d_bench { file("$P_OUT" template("$tmpl")); };
		log { source(s_bench); destination(d_bench); flags(flow-control); };
		EOF
		bench_bg "$dir/peer.log" "${SNG_ENV[@]}" "$SYSLOG_NG" -F \
			--no-caps -f "$dir/syslog-ng.conf" --module-path="$SNG_LIB" \
			--persist-file="$dir/persist" --pidfile="$dir/pid" \
			--control="$dir/ctl"
		;;
	*)
		bench_die "unknown peer $name"
		;;
	esac
	P_PID=$BENCH_PID
	bench_wait_port "$port" 20 ||
		bench_die "$name did not start: $(tail -5 "$dir/peer.log")"
}

# peer_lines FILE: lines written so far.
peer_lines() {
	[ -e "$1" ] && wc -l <"$1" || echo 0
}

peer_size() {
	stat -c %s "$1" 2>/dev/null || echo 0
}

# wait_file FILE MODE TARGET BOUND_S: waits until FILE has TARGET bytes
# (MODE size), TARGET lines (MODE lines), or (MODE stable) has not grown for
# a second; prints the time it last grew.
wait_file() {
	local f=$1 mode=$2 target=$3 bound=$4 i v last=-1 t_last
	t_last=$(bench_now)
	for ((i = 0; i < bound * 20; i++)); do
		case $mode in
		size) v=$(peer_size "$f") ;;
		lines) v=$(peer_lines "$f") ;;
		stable) v=$(peer_size "$f") ;;
		esac
		if [ "$v" != "$last" ]; then
			last=$v
			t_last=$(bench_now)
		fi
		case $mode in
		size | lines) [ "$v" -ge "$target" ] && break ;;
		stable) awk -v a="$(bench_now)" -v b="$t_last" \
			'BEGIN { exit !(a - b >= 1.0) }' && break ;;
		esac
		sleep 0.05
	done
	echo "$t_last"
}

# ----------------------------------------------------------------- runs
#
# Each run appends one tab-separated row to $ROWS:
#   collector generator size conns sent landed seconds cpu_s hwm_kib
#   disk_bytes raw_bytes_landed

ROWS=$BENCH_TMP/rows.tsv
: >"$ROWS"
record_rows=1

row() {
	[ "$record_rows" = 1 ] || return 0
	printf '%s\t' "$@" | sed 's/\t$//' >>"$ROWS"
	echo >>"$ROWS"
}

# loadgen_run PORT CONNS SIZE COUNT GEN DIR: sends; sets SENT and SENT_BYTES.
loadgen_run() {
	"$LOADGEN" -t "tcp://127.0.0.1:$1" -c "$2" -s "$3" -n "$4" -g "$5" \
		-m "$6/manifest" -T "$run_bound" >"$6/loadgen.out" 2>&1 ||
		bench_die "loadgen failed: $(tail -3 "$6/loadgen.out")"
	SENT=$(bench_kv sent "$6/loadgen.out")
	SENT_BYTES=$(bench_kv bytes "$6/loadgen.out")
}

# loggen_run PORT CONNS SIZE DIR: syslog-ng's generator for loggen_s
# seconds; sets SENT and LOGGEN_MSG (its average message size).
loggen_run() {
	"${SNG_ENV[@]}" "$SNG_ROOT/usr/bin/loggen" -i -S -P -s "$3" \
		-r 1000000000 --active-connections="$2" -I "$loggen_s" \
		127.0.0.1 "$1" >"$4/loggen.out" 2>&1 ||
		bench_die "loggen failed: $(tail -3 "$4/loggen.out")"
	SENT=$(grep -o 'count=[0-9]*' "$4/loggen.out" | tail -1 | cut -d= -f2)
	LOGGEN_MSG=$(grep -o 'msg size=[0-9]*' "$4/loggen.out" | tail -1 |
		cut -d= -f2)
}

run_custodyd() {
	local gen=$1 size=$2 conns=$3 count=$4 tag=$5 dir t0 t1 cpu hwm landed
	dir=$BENCH_TMP/$tag
	custodyd_start "$dir"
	t0=$(bench_now)
	if [ "$gen" = loadgen ]; then
		loadgen_run "$CD_PORT" "$conns" "$size" "$count" "$tag" "$dir"
	else
		loggen_run "$CD_PORT" "$conns" "$size" "$dir"
	fi
	t1=$(custodyd_wait_durable "$SENT" "$run_bound") ||
		bench_die "custodyd: $SENT events not durable in ${run_bound}s"
	cpu=$(bench_cpu_s "$CD_PID")
	hwm=$(bench_hwm_kib "$CD_PID")
	bench_stop "$CD_PID" 60 || bench_die "custodyd exited $? on SIGTERM"
	if [ "$gen" = loadgen ]; then
		"$CHECK_STORE" -m "$dir/manifest" "$dir/data" >"$dir/check.out" ||
			bench_die "check_store on $tag: $(grep -v '^audit' "$dir/check.out")"
		landed=$(grep '^run ' "$dir/check.out" |
			sed 's/.* found=\([0-9]*\).*/\1/')
	else
		"$CHECK_STORE" "$dir/data" >"$dir/check.out" ||
			bench_die "check_store on $tag failed"
		landed=$(grep '^events ' "$dir/check.out" |
			sed 's/.* total=\([0-9]*\).*/\1/')
	fi
	row custodyd "$gen" "$size" "$conns" "$SENT" "$landed" \
		"$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" "$cpu" \
		"$hwm" \
		"$(grep '^store ' "$dir/check.out" | sed 's/.* bytes=\([0-9]*\).*/\1/')" \
		"$(grep '^events ' "$dir/check.out" | sed 's/.* raw_bytes=\([0-9]*\).*/\1/')"
	LAST_DIR=$dir
}

run_peer() {
	local name=$1 gen=$2 size=$3 conns=$4 count=$5 tag=$6 dir port t0 t1
	local cpu hwm landed disk raw
	dir=$BENCH_TMP/$tag
	port=$(bench_free_port)
	peer_start "$name" "$dir" "$port"
	t0=$(bench_now)
	if [ "$gen" = loadgen ]; then
		loadgen_run "$port" "$conns" "$size" "$count" "$tag" "$dir"
		if [ "$name" = syslog-ng-slog ]; then
			t1=$(wait_file "$P_OUT" lines "$SENT" "$run_bound")
		else
			# One line per message: the raw bytes and a newline.
			t1=$(wait_file "$P_OUT" size $((SENT_BYTES + SENT)) \
				"$run_bound")
		fi
	else
		loggen_run "$port" "$conns" "$size" "$dir"
		t1=$(wait_file "$P_OUT" stable 0 "$run_bound")
	fi
	cpu=$(bench_cpu_s "$P_PID")
	hwm=$(bench_hwm_kib "$P_PID")
	bench_stop "$P_PID" 30 || true
	disk=$(peer_size "$P_OUT")
	if [ "$name" = syslog-ng-slog ]; then
		# What landed is what slogverify recovers, with the run's tag.
		"${SNG_ENV[@]}" "$SNG_ROOT/usr/bin/slogverify" \
			-k "$dir/host.key.k0" -m "$dir/mac.dat" "$P_OUT" \
			"$dir/verified" >"$dir/slogverify.out" 2>&1 ||
			bench_log "slogverify on $tag: $(tail -2 "$dir/slogverify.out")"
		landed=$(grep -c -F "gen=$tag conn=" "$dir/verified" || true)
		disk=$((disk + $(peer_size "$dir/mac.dat")))
	elif [ "$gen" = loadgen ]; then
		landed=$(grep -c -F "gen=$tag conn=" "$P_OUT" || true)
	else
		landed=$(grep -c -F "seq: " "$P_OUT" || true)
	fi
	if [ "$gen" = loadgen ]; then
		raw=$(awk -v b="$SENT_BYTES" -v s="$SENT" -v l="$landed" \
			'BEGIN { printf "%.0f", b * l / s }')
	else
		raw=$((landed * LOGGEN_MSG))
	fi
	row "$name" "$gen" "$size" "$conns" "$SENT" "$landed" \
		"$(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }')" "$cpu" \
		"$hwm" "$disk" "$raw"
	LAST_DIR=$dir
}

# ------------------------------------------------------------------ main

setup_peers
bench_log "custodyd $("$CUSTODYD" --version 2>/dev/null | head -1)," \
	"rsyslog $RS_VERSION, syslog-ng $SNG_VERSION; work dir $BENCH_TMP"

for rep in $(seq "$reps"); do
	for size in 200 1000; do
		for conns in 1 16; do
			if [ "$size" = 200 ]; then n=$n200; else n=$n1000; fi
			bench_log "run $rep/$reps: size $size, $conns connection(s)"
			t=${size}x${conns}r$rep
			run_custodyd loadgen "$size" "$conns" "$n" "c$t"
			[ "${KEEP:-0}" = 1 ] || rm -rf "$LAST_DIR"
			run_peer rsyslog loadgen "$size" "$conns" "$n" "r$t"
			[ "${KEEP:-0}" = 1 ] || rm -rf "$LAST_DIR"
			run_peer syslog-ng loadgen "$size" "$conns" "$n" "s$t"
			[ "${KEEP:-0}" = 1 ] || rm -rf "$LAST_DIR"
			run_peer syslog-ng-slog loadgen "$size" "$conns" \
				"$nslog" "l$t"
			[ "${KEEP:-0}" = 1 ] || rm -rf "$LAST_DIR"
		done
	done
	bench_log "run $rep/$reps: loggen as the generator"
	run_custodyd loggen 200 16 0 "g-custodyd-$rep"
	[ "${KEEP:-0}" = 1 ] || rm -rf "$LAST_DIR"
	run_peer rsyslog loggen 200 16 0 "g-rsyslog-$rep"
	[ "${KEEP:-0}" = 1 ] || rm -rf "$LAST_DIR"
done

# Verification of stores of the same events: the generator renders the
# same bytes for the same run id, so both stores hold identical messages.
bench_log "verification"
record_rows=0
run_peer syslog-ng-slog loadgen 200 16 "$nverify" vsame
slog_dir=$LAST_DIR
run_custodyd loadgen 200 16 "$nverify" vsame
cd_dir=$LAST_DIR
vt0=$(bench_now)
"${SNG_ENV[@]}" "$SNG_ROOT/usr/bin/slogverify" -k "$slog_dir/host.key.k0" \
	-m "$slog_dir/mac.dat" "$slog_dir/syslog-ng.log" "$slog_dir/v2" \
	>"$slog_dir/v2.out" 2>&1 || bench_die "slogverify failed"
vt1=$(bench_now)
"$CUSTODY_VERIFY" "$cd_dir/data" >"$cd_dir/verify.out" 2>&1 ||
	bench_die "custody-verify failed: $(tail -3 "$cd_dir/verify.out")"
vt2=$(bench_now)
slog_n=$(grep -c -F "gen=vsame conn=" "$slog_dir/v2" || true)
cd_n=$(grep '^run ' "$cd_dir/check.out" | sed 's/.* found=\([0-9]*\).*/\1/')

# A big store too: custody-verify's rate, not its start-up, at scale.
run_custodyd loadgen 200 16 "$n200" vbig
big_dir=$LAST_DIR
vt3=$(bench_now)
"$CUSTODY_VERIFY" "$big_dir/data" >"$big_dir/verify.out" 2>&1 ||
	bench_die "custody-verify failed: $(tail -3 "$big_dir/verify.out")"
vt4=$(bench_now)
big_n=$(grep '^run ' "$big_dir/check.out" | sed 's/.* found=\([0-9]*\).*/\1/')

finished=$(bench_now)

# ----------------------------------------------------------------- table

table() {
	echo "Run $(date -u +%Y-%m-%d) on $(bench_machine);"
	echo "$("$CUSTODYD" --version 2>/dev/null | head -1), rsyslog $RS_VERSION, syslog-ng $SNG_VERSION;"
	echo "\`bench/compare.sh$([ "$quick" = 1 ] && echo ' -q')$([ "$reps" != 1 ] && echo " -R $reps")\`, $(awk -v a="$started" -v b="$finished" 'BEGIN { printf "%.0f", b - a }') s in all$([ "$reps" != 1 ] && echo ", best of $reps runs per row")."
	echo
	echo "| msg bytes | conns | generator | collector | landed / sent | events/s | MB/s | CPU s per M events | peak RSS MiB | disk bytes/event | custodyd ÷ this |"
	echo "|---:|---:|---|---|---:|---:|---:|---:|---:|---:|---:|"
	# One line per (collector, generator, size, conns): its best run.
	awk -F'\t' '
	{
		el = $7 > 0 ? $7 : 1e-9
		eps = $6 / el
		key = $3 "/" $4 "/" $2
		row = $1 "/" key
		if (!(row in idx)) {
			idx[row] = ++n
		} else if (eps <= rate[idx[row]]) {
			next
		}
		i = idx[row]
		if ($1 == "custodyd")
			base[key] = eps
		rate[i] = eps
		k[i] = key
		line[i] = sprintf("| %d | %d | %s | %s | %d / %d | %.0f | %.1f | %.2f | %.1f | %.1f |",
		    $3, $4, $2, $1, $6, $5, eps, $11 / el / 1e6,
		    $6 > 0 ? $8 / ($6 / 1e6) : 0, $9 / 1024,
		    $6 > 0 ? $10 / $6 : 0)
		name[i] = $1
	}
	END {
		for (i = 1; i <= n; i++) {
			r = ""
			if (name[i] != "custodyd" && rate[i] > 0)
				r = sprintf("%.1fx", base[k[i]] / rate[i])
			print line[i] " " r " |"
		}
	}' "$ROWS"
	echo
	echo "| verifier | store | events | seconds | events/s | custody-verify ÷ this |"
	echo "|---|---|---:|---:|---:|---:|"
	awk -v n1="$cd_n" -v n2="$slog_n" -v n3="$big_n" -v t0="$vt0" \
		-v t1="$vt1" -v t2="$vt2" -v t3="$vt3" -v t4="$vt4" 'BEGIN {
		s = t1 - t0; c = t2 - t1; b = t4 - t3
		printf "| custody-verify | same events as slog | %d | %.2f | %.0f | |\n", n1, c, n1 / c
		printf "| slogverify | same events | %d | %.2f | %.0f | %.1fx |\n", n2, s, n2 / s, (n1 / c) / (n2 / s)
		printf "| custody-verify | 200 B x 16 conns run | %d | %.2f | %.0f | |\n", n3, b, n3 / b
	}'
}

table >"$BENCH_TMP/table.md"
cat "$BENCH_TMP/table.md"

if [ "$readme" = 1 ]; then
	readme_file=$bench_repo/bench/README.md
	awk -v t="$BENCH_TMP/table.md" '
		/<!-- compare:begin -->/ { print; while ((getline l < t) > 0) print l; skip = 1; next }
		/<!-- compare:end -->/ { skip = 0 }
		!skip' "$readme_file" >"$BENCH_TMP/README.md"
	cp "$BENCH_TMP/README.md" "$readme_file"
	bench_log "wrote the table into $readme_file"
fi
