#!/usr/bin/env bash
# `cmake --install` into a staging root: every file the unit, sysusers.d and
# tmpfiles.d name is there with the mode and owner they expect, the unit
# passes systemd-analyze verify, the man pages render without a warning,
# and the installed programs run.
set -euo pipefail

build=${CUSTODY_BUILD_DIR:?}
src=${CUSTODY_SOURCE_DIR:?}
stage=$(mktemp -d /tmp/custody-install-XXXXXX)
trap 'rm -rf "$stage"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
ok() { echo "ok: $*"; }

DESTDIR=$stage cmake --install "$build" >"$stage.log" 2>&1 ||
	{ cat "$stage.log"; rm -f "$stage.log"; exit 1; }
rm -f "$stage.log"

prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$build/CMakeCache.txt")
unit=$stage$prefix/lib/systemd/system/custodyd.service
sysusers=$stage$prefix/lib/sysusers.d/custody.conf
tmpfiles=$stage$prefix/lib/tmpfiles.d/custody.conf
for f in "$unit" "$sysusers" "$tmpfiles"; do
	[ -f "$f" ] && ok "installed ${f#"$stage"}" || fail "missing ${f#"$stage"}"
done

# The unit's paths are the installed ones.
exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
daemon=${exec_start%% *}
conf=$(sed -n 's/.*--config \([^ ]*\).*/\1/p' <<<"$exec_start")
[ -x "$stage$daemon" ] && ok "ExecStart $daemon is installed" ||
	fail "ExecStart names $daemon, not installed"
[ -f "$stage$conf" ] && ok "the unit's configuration $conf is installed" ||
	fail "the unit names $conf, not installed"
mode=$(stat -c %a "$stage$conf")
[ "$mode" = 640 ] && ok "$conf mode 0640" || fail "$conf mode $mode, not 0640"
grep -q '^User=custody$' "$unit" || fail "the unit does not run as custody"
state=$(sed -n 's/^ReadWritePaths=//p' "$unit")
[ "$state" = /var/lib/custody ] || fail "ReadWritePaths=$state"
grep -q "^data_dir = $state\$" "$stage$conf" ||
	fail "the installed configuration's data_dir is not $state"
for doc in README.md SPEC.md VERIFY.md; do
	[ -f "$stage$prefix/share/doc/custody/$doc" ] || fail "no doc $doc"
done

# sysusers.d and tmpfiles.d, applied to the staging root as systemd would.
systemd-sysusers --root="$stage" >/dev/null 2>&1 ||
	fail "systemd-sysusers --root refused the sysusers.d file"
uid=$(awk -F: '$1 == "custody" { print $3 }' "$stage/etc/passwd" 2>/dev/null)
gid=$(awk -F: '$1 == "custody" { print $3 }' "$stage/etc/group" 2>/dev/null)
home=$(awk -F: '$1 == "custody" { print $6 }' "$stage/etc/passwd" 2>/dev/null)
[ -n "$uid" ] && [ -n "$gid" ] && ok "user and group custody ($uid:$gid)" ||
	fail "sysusers.d made no custody user and group"
[ "$home" = "$state" ] || fail "custody's home is $home, not $state"
mkdir -p "$stage/run"
systemd-tmpfiles --root="$stage" --create >/dev/null 2>&1 ||
	fail "systemd-tmpfiles --root --create failed"
check() { # path mode uid gid
	local got
	got=$(stat -c '%a %u %g' "$stage$1" 2>/dev/null || echo missing)
	[ "$got" = "$2 $3 $4" ] && ok "$1 $got" || fail "$1: $got, want $2 $3 $4"
}
check /var/lib/custody 700 "$uid" "$gid"
check /run/custody 755 "$uid" "$gid"
check "$(dirname "$conf")" 750 0 "$gid"
check "$conf" 640 0 "$gid"

# A second install never replaces an administrator's configuration.
echo "# edited" >>"$stage$conf"
DESTDIR=$stage cmake --install "$build" >/dev/null 2>&1
tail -n 1 "$stage$conf" | grep -q '^# edited$' &&
	ok "a reinstall keeps the edited configuration" ||
	fail "a reinstall replaced the edited configuration"

if command -v systemd-analyze >/dev/null; then
	# The root needs the units the service depends on, and the programs
	# its Exec lines name, like a real system.
	mkdir -p "$stage/usr/lib/systemd" "$stage/usr/bin"
	cp -a /usr/lib/systemd/system "$stage/usr/lib/systemd/" 2>/dev/null || true
	cp /usr/bin/kill "$stage/usr/bin/"
	[ -e "$stage/bin" ] || ln -s usr/bin "$stage/bin"
	if out=$(systemd-analyze verify --man=no --root="$stage" \
	    "$prefix/lib/systemd/system/custodyd.service" 2>&1); then
		ok "systemd-analyze verify"
	else
		fail "systemd-analyze verify: $out"
	fi
fi

for page in man1/custody-verify.1 man1/custody-query.1 man1/custody-restore.1 \
    man5/custodyd.conf.5 man8/custodyd.8; do
	f=$stage$prefix/share/man/$page
	[ -f "$f" ] || { fail "no man page $page"; continue; }
	out=$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l "$f" 2>&1 >/dev/null)
	[ -z "$out" ] && ok "man --warnings $page" || fail "man $page: $out"
done
# Every setting of the example configuration is in custodyd.conf(5).
man5=$(LC_ALL=C.UTF-8 MANWIDTH=200 man -l \
	"$stage$prefix/share/man/man5/custodyd.conf.5" 2>/dev/null)
for key in $(sed -n 's/^#\{0,1\}\([a-z_]*\) =.*/\1/p' "$src/custodyd.conf.example" |
    sort -u); do
	grep -q "$key" <<<"$man5" || fail "custodyd.conf(5) lacks $key"
done

"$stage$daemon" --version >/dev/null || fail "installed custodyd does not run"
"$stage$prefix/bin/custody-verify" --version >/dev/null ||
	fail "installed custody-verify does not run"
"$stage$prefix/bin/custody-query" --help >/dev/null ||
	fail "installed custody-query does not run"
"$stage$prefix/bin/custody-restore" --help >/dev/null ||
	fail "installed custody-restore does not run"

if [ "$fails" -ne 0 ]; then
	echo "install: $fails failed"
	exit 1
fi
echo "install: all checks passed"
