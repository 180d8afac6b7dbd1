#!/usr/bin/env bash
# Installs the Debian package into a throwaway root with `dpkg --root`, as a
# new machine would get it: the maintainer scripts run against that root
# (DPKG_ROOT), the custody user and directories appear there, nothing is
# started, and the installed programs run once.  Then removes it: the
# store stays (evidence is never deleted by a package manager).
set -euo pipefail

deb=${1:?usage: deb_install.sh custody_VERSION_amd64.deb}
root=$(mktemp -d /tmp/custody-dpkg-XXXXXX)
trap 'rm -rf "$root"' EXIT
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
ok() { echo "ok: $*"; }

mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates" \
	"$root/etc" "$root/run"
: >"$root/var/lib/dpkg/status"
# The root has no libraries or shell of its own: dependencies are the host's.
dpkg --root="$root" --force-depends --force-script-chrootless \
	--log=/dev/null -i "$deb" >"$root.log" 2>&1 ||
	{ cat "$root.log"; rm -f "$root.log"; exit 1; }
rm -f "$root.log"

for f in /usr/sbin/custodyd /usr/bin/custody-verify /usr/bin/custody-query \
    /usr/lib/systemd/system/custodyd.service \
    /usr/share/man/man8/custodyd.8.gz /usr/share/man/man5/custodyd.conf.5.gz; do
	[ -e "$root$f" ] && ok "$f" || fail "$f not installed"
done
# dh_compress may have compressed the specification.
ls "$root"/usr/share/doc/custody/SPEC.md* >/dev/null 2>&1 &&
	ok "SPEC.md in the documentation" || fail "SPEC.md not installed"
uid=$(awk -F: '$1 == "custody" { print $3 }' "$root/etc/passwd" 2>/dev/null)
gid=$(awk -F: '$1 == "custody" { print $3 }' "$root/etc/group" 2>/dev/null)
[ -n "$uid" ] && ok "user custody ($uid)" || fail "no custody user in the root"
got=$(stat -c '%a %u %g' "$root/var/lib/custody" 2>/dev/null || echo missing)
[ "$got" = "700 $uid $gid" ] && ok "/var/lib/custody $got" ||
	fail "/var/lib/custody: $got"
got=$(stat -c '%a %u %g' "$root/etc/custody/custodyd.conf" 2>/dev/null || echo missing)
[ "$got" = "640 0 $gid" ] && ok "/etc/custody/custodyd.conf $got" ||
	fail "/etc/custody/custodyd.conf: $got"
grep -q "/etc/custody/custodyd.conf" "$root/var/lib/dpkg/info/custody.conffiles" &&
	ok "the configuration is a conffile" || fail "the configuration is no conffile"
[ ! -e "$root/etc/systemd/system/multi-user.target.wants/custodyd.service" ] &&
	ok "the unit is not enabled" || fail "the package enabled the unit"

# The installed programs, once each: keys, a store, a verification, a query.
keys=$root/tmp-keys
"$root/usr/sbin/custodyd" keygen --out "$keys" >/dev/null ||
	fail "installed custodyd keygen"
# The installed configuration names a TLS certificate the administrator
# provides; one made here stands in for it.
openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost \
	-keyout "$root/tls.key" -out "$root/tls.pem" >/dev/null 2>&1
chmod 600 "$root/tls.key"
"$root/usr/sbin/custodyd" --check --data-dir "$root/var/lib/custody" \
	--config "$root/etc/custody/custodyd.conf" \
	--set tls.cert="$root/tls.pem" --set tls.key="$root/tls.key" \
	>/dev/null || fail "installed custodyd --check with the installed configuration"
"$root/usr/bin/custody-verify" --version >/dev/null ||
	fail "installed custody-verify"
"$root/usr/bin/custody-query" --help >/dev/null || fail "installed custody-query"

touch "$root/var/lib/custody/evidence"
dpkg --root="$root" --force-depends --force-script-chrootless \
	--log=/dev/null --purge custody >/dev/null 2>&1 || fail "dpkg --purge"
[ -e "$root/var/lib/custody/evidence" ] &&
	ok "purging the package keeps /var/lib/custody" ||
	fail "purging the package removed the store"
[ ! -e "$root/usr/sbin/custodyd" ] || fail "custodyd left after purge"

if [ "$fails" -ne 0 ]; then
	echo "deb_install: $fails failed"
	exit 1
fi
echo "deb_install: all checks passed"
