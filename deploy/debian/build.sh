#!/usr/bin/env bash
# Builds the Debian package of pantry with dpkg-deb alone (no debhelper):
#
#   deploy/debian/build.sh BINARY VERSION OUTDIR
#
# BINARY is a static pantry (`make package` builds it with CGO_ENABLED=0),
# VERSION a Debian version (it starts with a digit, e.g. 0.1.0~git20261207.abcdef),
# and the package is written to OUTDIR/pantry_VERSION_ARCH.deb, whose path
# is printed. ARCH is DEB_ARCH, else this machine's (dpkg --print-architecture);
# the Maintainer field is DEB_MAINTAINER, else "Pantry maintainers <pantry@example.com>".
# SOURCE_DATE_EPOCH, when set, fixes every timestamp in it.
#
# What it installs:
#   /usr/bin/pantry                          the binary, 0755
#   /lib/systemd/system/pantry-edge.service  deploy/pantry-edge.service
#   /lib/systemd/system/pantry-cloud.service deploy/pantry-cloud.service
#   /usr/lib/sysusers.d/pantry.conf          the pantry system user
#   /usr/lib/tmpfiles.d/pantry.conf          /var/lib/pantry, 0750 pantry:pantry
#   /etc/pantry/edge.env                     the edge unit's settings (a conffile)
# postinst applies the sysusers and tmpfiles files (adduser where systemd is
# absent) and starts nothing.
set -euo pipefail
umask 022

if [ "$#" -ne 3 ]; then
	echo "usage: $0 BINARY VERSION OUTDIR" >&2
	exit 2
fi
bin=$1 version=$2 out=$3
here=$(cd "$(dirname "$0")" && pwd)
deploy=$(dirname "$here")

fail() { echo "debian/build.sh: $*" >&2; exit 1; }
command -v dpkg-deb >/dev/null || fail "dpkg-deb is missing: apt-get install dpkg"
[ -x "$bin" ] || fail "$bin is not an executable: build it with CGO_ENABLED=0 go build -trimpath -o $bin ./cmd/pantry"
[[ $version =~ ^[0-9][A-Za-z0-9.+~-]*$ ]] || fail "version \"$version\" is not a Debian version: it starts with a digit, then letters, digits and . + ~ -"
arch=${DEB_ARCH:-$(dpkg --print-architecture)}
maintainer=${DEB_MAINTAINER:-Pantry maintainers <pantry@example.com>}
mkdir -p "$out"

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
pkg=$stage/pantry
install -D -m 0755 "$bin" "$pkg/usr/bin/pantry"
install -D -m 0644 "$deploy/pantry-edge.service" "$pkg/lib/systemd/system/pantry-edge.service"
install -D -m 0644 "$deploy/pantry-cloud.service" "$pkg/lib/systemd/system/pantry-cloud.service"
install -D -m 0644 "$here/pantry.sysusers" "$pkg/usr/lib/sysusers.d/pantry.conf"
install -D -m 0644 "$here/pantry.tmpfiles" "$pkg/usr/lib/tmpfiles.d/pantry.conf"
install -D -m 0644 "$here/edge.env" "$pkg/etc/pantry/edge.env"
install -D -m 0644 "$here/copyright" "$pkg/usr/share/doc/pantry/copyright"
# Go links statically on purpose (CGO is off): tell lintian so.
install -D -m 0644 "$here/lintian-overrides" "$pkg/usr/share/lintian/overrides/pantry"
date=$(date -u -R ${SOURCE_DATE_EPOCH:+-d "@$SOURCE_DATE_EPOCH"})
# A native package (we are upstream): changelog.gz, not changelog.Debian.gz.
printf 'pantry (%s) unstable; urgency=medium\n\n  * Built by deploy/debian/build.sh.\n\n -- %s  %s\n' \
	"$version" "$maintainer" "$date" | gzip -9n >"$pkg/usr/share/doc/pantry/changelog.gz"
chmod 0644 "$pkg/usr/share/doc/pantry/changelog.gz"

install -d -m 0755 "$pkg/DEBIAN"
for script in postinst prerm postrm; do
	install -m 0755 "$here/$script" "$pkg/DEBIAN/$script"
done
echo /etc/pantry/edge.env >"$pkg/DEBIAN/conffiles"
size=$(du -sk --apparent-size --exclude=DEBIAN "$pkg" | cut -f1)
sed -e "s/@VERSION@/$version/" -e "s/@ARCH@/$arch/" -e "s/@SIZE@/$size/" -e "s|@MAINTAINER@|$maintainer|" \
	"$here/control" >"$pkg/DEBIAN/control"
(cd "$pkg" && find . -path ./DEBIAN -prune -o -type f -print | sed 's|^\./||' | LC_ALL=C sort | xargs md5sum) >"$pkg/DEBIAN/md5sums"
chmod 0644 "$pkg/DEBIAN/control" "$pkg/DEBIAN/conffiles" "$pkg/DEBIAN/md5sums"

deb=$out/pantry_${version}_${arch}.deb
dpkg-deb --root-owner-group -Zgzip -z9 --build "$pkg" "$deb" >/dev/null
echo "$deb"
