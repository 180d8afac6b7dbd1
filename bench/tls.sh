#!/bin/bash
# bench/tls.sh: custodyd's ingest over TLS (RFC 5425) beside plain TCP.
#
# For each connection count and each of tcp:// and tls://, starts a fresh
# custodyd (default settings: durable, sealed, signed) with a TLS listener
# whose certificates this script makes (a CA, the server's, a client's;
# mutual TLS, as a deployment would run it), sends COUNT messages of SIZE
# bytes with custody-loadgen (the client certificate for tls://) as fast
# as custodyd takes them, waits until every one is durable, stops it and
# counts with check_store what landed on disk.  Prints one Markdown table:
# events/s, collector CPU seconds per million events and peak RSS, TLS
# beside TCP in the same run, and TLS's rate as a share of TCP's.
#
#   bench/tls.sh [-n COUNT] [-s SIZE] [-c "1 16"]
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
	*) sed -n '2,17s/^# \{0,1\}//p' "$0"; exit 2 ;;
	esac
done

bench_init

# make_certs DIR: a CA, a server certificate for 127.0.0.1, a client one.
make_certs() {
	local d=$1 n
	mkdir -p -m 0700 "$d"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
		-keyout "$d/ca.key" -out "$d/ca.pem" -days 2 \
		-subj "/CN=custody bench CA" 2>/dev/null
	for n in server client; do
		openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
			-keyout "$d/$n.key" -out "$d/$n.csr" \
			-subj "/CN=$n.bench.example" \
			-addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
			2>/dev/null
		openssl x509 -req -in "$d/$n.csr" -CA "$d/ca.pem" \
			-CAkey "$d/ca.key" -CAcreateserial -days 2 \
			-copy_extensions copy -out "$d/$n.pem" 2>/dev/null
	done
	chmod 0600 "$d"/*.key
}

certs=$BENCH_TMP/certs
make_certs "$certs"

rows=()
declare -A rate
for conns in $conns_list; do
	for tr in tcp tls; do
		dir=$BENCH_TMP/$tr$conns
		tls_port=$(bench_free_port)
		custodyd_start "$dir" --listen "tls://127.0.0.1:$tls_port" \
			--set "tls.cert=$certs/server.pem" \
			--set "tls.key=$certs/server.key" \
			--set "tls.ca=$certs/ca.pem"
		if [ "$tr" = tls ]; then
			target=tls://127.0.0.1:$tls_port
			extra=(--cert "$certs/client.pem" --key "$certs/client.key"
				--ca "$certs/ca.pem")
		else
			target=tcp://127.0.0.1:$CD_PORT
			extra=()
		fi
		t0=$(bench_now)
		"$LOADGEN" -t "$target" -c "$conns" -s "$size" -n "$count" \
			-g "$tr$conns" -m "$dir/manifest" -T 300 "${extra[@]}" \
			>"$dir/loadgen.out" ||
			bench_die "loadgen failed: $(cat "$dir/loadgen.out")"
		sent=$(bench_kv sent "$dir/loadgen.out")
		t1=$(custodyd_wait_durable "$sent" 300) ||
			bench_die "custodyd did not make $sent events durable"
		cpu=$(bench_cpu_s "$CD_PID")
		hwm=$(bench_hwm_kib "$CD_PID")
		bench_stop "$CD_PID" 60 ||
			bench_die "custodyd exited $? on SIGTERM"
		"$CHECK_STORE" -m "$dir/manifest" "$dir/data" >"$dir/check.out" ||
			bench_die "check_store: $(grep -v '^audit' "$dir/check.out")"
		found=$(grep '^run ' "$dir/check.out" |
			sed 's/.* found=\([0-9]*\).*/\1/')
		rate[$tr$conns]=$(awk -v n="$found" -v t0="$t0" -v t1="$t1" \
			'BEGIN { printf "%.0f", n / (t1 - t0) }')
		rows+=("$(awk -v tr="$tr" -v c="$conns" -v s="$size" \
			-v n="$found" -v sent="$sent" -v t0="$t0" -v t1="$t1" \
			-v cpu="$cpu" -v hwm="$hwm" -v tcp="${rate[tcp$conns]}" 'BEGIN {
			el = t1 - t0
			share = tr == "tls" ? sprintf("%.0f%%", 100 * n / el / tcp) : "-"
			printf "| %s | %d | %d | %d / %d | %.2f | %.0f | %.2f | %.1f | %s |",
			    tr, c, s, n, sent, el, n / el, cpu / (n / 1e6),
			    hwm / 1024, share }')")
	done
done

echo
echo "custodyd ingest over TLS and TCP, $(date -u +%Y-%m-%dT%H:%MZ), $(bench_machine)"
echo "TLS: $(openssl version), mutual, P-256 certificates"
echo
echo "| transport | conns | msg bytes | events on disk / sent | seconds | events/s | CPU s per M events | peak RSS MiB | TLS / TCP events/s |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
printf '%s\n' "${rows[@]}"
