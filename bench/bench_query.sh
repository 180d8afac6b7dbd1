#!/bin/bash
# custody-query benchmark (issue 5): on a store of a simulated day of
# 200-byte events (default 10 million; custody-mkday), the time of
#   - a one-hour window (--since/--until, --count),
#   - a host filter, for a rare host and a busy one,
#   - a full-text scan (--grep of a string that is nowhere, and a --regex
#     every record is tried against), on 1 and on 2 threads,
# each with the index and with it removed (--no-index), so its effect is
# measured.  MB/s are of the messages' raw bytes; "per core" divides by
# the CPU time (user + sys) the query used.
#
#   bench/bench_query.sh [EVENTS]        (env: CUSTODY_BUILD_DIR, STORE)
#
# STORE=DIR reuses (or keeps) the store; otherwise a temp one is removed.
set -eu

build=${CUSTODY_BUILD_DIR:-$(dirname "$0")/../build}
q=$build/custody-query
mkday=$build/custody-mkday
n=${1:-10000000}
for b in "$q" "$mkday"; do
	[ -x "$b" ] || { echo "bench_query: $b is not built" >&2; exit 2; }
done
work=$(mktemp -d /tmp/custody-bench-query.XXXXXX)
trap 'rm -rf "$work"' EXIT
store=${STORE:-$work/store}
export CUSTODY_INDEX_KEY=$work/index.key

if [ ! -d "$store/segments" ]; then
	echo "making $n events over one day in $store ..."
	/usr/bin/time -f "  made in %e s" "$mkday" -n "$n" -b 4096 -B 64 \
	    -H 2000 -s 200 -E 100 -S 1 "$store" > "$work/mkday.out"
	cat "$work/mkday.out"
	cp "$work/mkday.out" "$store/.mkday"
fi
raw=$(awk '{ print $4 }' "$store/.mkday")
echo "store: $(cat "$store/.mkday"), $(du -sm "$store/segments" | cut -f1) MB on disk"
echo "machine: $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"

# run NAME ARGS...: wall, CPU, matches, MB/s of raw bytes per core.
run() {
	local name=$1
	shift
	/usr/bin/time -f "%e %U %S" -o "$work/t" "$q" "$store" --count "$@" \
	    > "$work/out" 2> "$work/err" || {
		echo "bench_query: $name failed:" >&2
		cat "$work/err" >&2
		exit 1
	}
	read -r wall user sys < "$work/t"
	awk -v n="$name" -v w="$wall" -v u="$user" -v s="$sys" \
	    -v m="$(cat "$work/out")" -v r="$raw" -v full="${FULL:-0}" \
	    'BEGIN { cpu = u + s; if (cpu < 0.01) cpu = 0.01;
	      printf "  %-34s %7.2f s wall %7.2f s CPU %9d matches", n, w,
	          cpu, m;
	      if (full) printf "  %6.0f MB/s/core %6.0f MB/s", r / cpu / 1e6,
	          r / (w < 0.01 ? 0.01 : w) / 1e6;
	      printf "\n" }'
}

# Builds the index once (a query that opens everything builds it).
"$q" "$store" --count --reindex > /dev/null

window="--since 2024-06-01T10:00:00Z --until 2024-06-01T11:00:00Z"
for idx in "" "--no-index"; do
	echo "queries ${idx:-with the index}:"
	# shellcheck disable=SC2086
	run "one-hour window" $window $idx
	run "host filter, absent host" --host host-9999.example.org $idx
	run "host filter, rare host" --host host-1500.example.org $idx
	run "host filter, busy host" --host host-000.example.org $idx
	run "severity emerg, app sshd" --severity emerg --app sshd $idx
	# shellcheck disable=SC2086
	run "window + host" $window --host host-1500.example.org $idx
	FULL=1 run "full scan, no filter, 2 threads" --threads 2 $idx
	FULL=1 run "full text (absent), 1 thread" --grep-fixed zz-absent-zz \
	    --threads 1 $idx
	FULL=1 run "full text (absent), 2 threads" --grep-fixed zz-absent-zz \
	    --threads 2 $idx
	FULL=1 run "regex every record, 1 thread" --regex 'ev=\d+7 GET' \
	    --threads 1 $idx
	FULL=1 run "regex every record, 2 threads" --regex 'ev=\d+7 GET' \
	    --threads 2 $idx
done
