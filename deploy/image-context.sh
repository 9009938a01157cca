#!/usr/bin/env bash
# Lays out the build context of deploy/Containerfile: no registry is
# reachable from a building's network (or from CI), so the image starts
# FROM scratch and everything it holds comes from this machine.
#
#   deploy/image-context.sh BINARY DIR
#   podman build --format docker -f deploy/Containerfile DIR
#
# BINARY must be static (CGO_ENABLED=0: modernc SQLite is pure Go); `make
# image` builds it and runs both steps. DIR is emptied first.
#
# DIR/rootfs/ becomes / (owned by root): the binary, the CA certificates
# for HTTPS to the cloud, the zone database, a passwd naming uid 65532 and
# a sticky /tmp for SQLite's temporary files. DIR/state/ becomes
# /var/lib/pantry, owned by 65532, so a fresh volume mounted there is
# writable by the image's user.
set -euo pipefail

if [ "$#" -ne 2 ]; then
	echo "usage: $0 BINARY DIR" >&2
	exit 2
fi
bin=$1 dir=$2

fail() { echo "image-context: $*" >&2; exit 1; }
[ -x "$bin" ] || fail "$bin is not an executable: build it with CGO_ENABLED=0 go build -trimpath -o $bin ./cmd/pantry"
[ -s /etc/ssl/certs/ca-certificates.crt ] || fail "/etc/ssl/certs/ca-certificates.crt is missing: apt-get install ca-certificates"
[ -f /usr/share/zoneinfo/UTC ] || fail "/usr/share/zoneinfo is missing: apt-get install tzdata"

rm -rf "$dir"
root=$dir/rootfs
mkdir -p "$root/usr/local/bin" "$root/etc/ssl/certs" "$root/usr/share" "$root/var/lib" "$root/tmp" "$dir/state"
install -m 0755 "$bin" "$root/usr/local/bin/pantry"
install -m 0644 /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"
# Go compiles time/tzdata in; these are for anything reading TZ files.
# right/ (the leap-second variants) is left out.
cp -R /usr/share/zoneinfo "$root/usr/share/zoneinfo"
rm -rf "$root/usr/share/zoneinfo/right"
printf 'root:x:0:0:root:/root:/sbin/nologin\npantry:x:65532:65532:pantry:/var/lib/pantry:/sbin/nologin\n' >"$root/etc/passwd"
printf 'root:x:0:\npantry:x:65532:\n' >"$root/etc/group"
chmod 0644 "$root/etc/passwd" "$root/etc/group"
chmod 1777 "$root/tmp"
chmod 0750 "$dir/state"
