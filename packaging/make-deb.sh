#!/bin/sh
# packaging/make-deb.sh: the body of "make deb". Stages "make install"
# into $DEBDIR/deb/root (as the host's MTA, without set-gid bits, aliases
# file or post-install step: the postinst does those on the target), adds
# the DEBIAN/ control files from packaging/, and builds
# $DEBDIR/postern_VERSION_ARCH.deb (DEBDIR defaults to BUILD) with dpkg-deb.
#
# Input: the environment of packaging/install.sh plus VERSION.
# Depends: computed from the shared libraries the installed programs are
# linked with (objdump/ldd NEEDED -> file -> "dpkg -S" owner package).
# conffiles: config_directory/main.cf, master.cf and the init script.
#
# SECURITY: builds as the invoking user; every file in the package is
# owned by root (dpkg-deb --root-owner-group).
# LIMITS: none.
set -eu

die() { echo "make-deb: error: $*" >&2; exit 1; }
command -v dpkg-deb >/dev/null 2>&1 || die "dpkg-deb is not installed"
SRC=$(cd "$(dirname "$0")/.." && pwd)
case $BUILD in /*) ;; *) BUILD=$(pwd)/$BUILD ;; esac
DEBDIR=${DEBDIR:-$BUILD}
case $DEBDIR in /*) ;; *) DEBDIR=$(pwd)/$DEBDIR ;; esac
[ -n "${VERSION:-}" ] || die "no VERSION"
case $VERSION in [0-9]*) ;; *) VERSION=0~$VERSION ;; esac
arch=$(dpkg --print-architecture)
stage=$DEBDIR/deb/root
out=$DEBDIR/postern_${VERSION}_${arch}.deb

rm -rf "$DEBDIR/deb"
mkdir -p "$stage"
DESTDIR=$stage INSTALL_SETGID=no INSTALL_ALIASES=no POST_INSTALL=no \
    INSTALL_AS_SYSTEM_MTA=yes sh "$SRC/packaging/install.sh" >/dev/null

# Depends: the packages that ship the libraries the programs need.
libs=""
for f in "$stage$sbindir"/* "$stage$daemon_directory"/*; do
    [ -f "$f" ] && [ ! -L "$f" ] || continue
    head -c 4 "$f" | grep -q 'ELF' || continue
    libs="$libs $(ldd "$f" | awk '$3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }')"
done
pkgs=""
for lib in $(printf '%s\n' $libs | sort -u); do
    pkg=""
    for cand in "$lib" "$(readlink -f "$lib")" "/usr$lib" "${lib#/usr}"; do
        pkg=$(dpkg -S "$cand" 2>/dev/null | sed -n '1s/:.*//p') || pkg=""
        [ -n "$pkg" ] && break
    done
    [ -n "$pkg" ] || die "no Debian package ships $lib"
    pkgs="$pkgs $pkg"
done
depends=$(printf '%s\n' $pkgs passwd | sort -u | paste -sd, - | sed 's/,/, /g')

mkdir -p "$stage/DEBIAN"
size=$(du -sk "$stage" | cut -f1)
sed -e "s|@VERSION@|$VERSION|" -e "s|@ARCH@|$arch|" -e "s|@SIZE@|$size|" \
    -e "s|@DEPENDS@|$depends|" "$SRC/packaging/control.in" > "$stage/DEBIAN/control"
printf '%s\n' "$config_directory/main.cf" "$config_directory/master.cf" \
    "$initd_directory/postern" > "$stage/DEBIAN/conffiles"
for s in postinst prerm postrm; do
    sed -e "s|/usr/libexec/postern|$daemon_directory|g" \
        -e "s|/usr/share/postern|$sample_directory|g" \
        -e "s|/usr/sbin/postern|$sbindir/postern|g" \
        -e "s|/var/spool/postern|$queue_directory|g" \
        -e "s|/var/lib/postern|$data_directory|g" \
        -e "s|/etc/postern|$config_directory|g" \
        "$SRC/packaging/$s" > "$stage/DEBIAN/$s"
    chmod 0755 "$stage/DEBIAN/$s"
done
dpkg-deb --root-owner-group -Zxz --build "$stage" "$out" >/dev/null
echo "make-deb: built $out"
