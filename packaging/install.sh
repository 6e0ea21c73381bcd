#!/bin/sh
# packaging/install.sh: the body of "make install" (and of the staging
# step of "make deb"). The Makefile passes every path and list in the
# environment; nothing here names a program except the three host MTA
# names (sendmail, mailq, newaliases) and the two set-gid programs.
#
# Input (environment, all set by the Makefile):
#   BUILD                 the build directory whose bin/ is installed
#   DESTDIR               staging root ("" for a real install)
#   PREFIX sbindir daemon_directory manpage_directory sample_directory
#   config_directory queue_directory data_directory
#   sendmail_path mailq_path newaliases_path alias_file
#   systemd_unit_directory initd_directory mail_owner setgid_group
#   INSTALL_PROGRAMS      programs to install (PROGRAMS minus NOINSTALL)
#   COMMANDS              those of them that go to sbindir
#   INSTALL_AS_SYSTEM_MTA yes: replace another MTA's sendmail, mailq and
#                         newaliases (the old file is kept as NAME.pre-postern)
#   POST_INSTALL          auto | yes | no (auto: as root with empty DESTDIR)
#   INSTALL_SETGID        no: never set the set-gid bit (package staging)
#   INSTALL_ALIASES       no: do not install $alias_file (package staging)
#
# What it does:
#   - COMMANDS to sbindir, the other programs to daemon_directory, 0755
#     root; postdrop and postqueue 2755 root:setgid_group when that group
#     exists and we are root (otherwise 0755 and a note: the post-install
#     step, "postern set-permissions", sets the bit). Nothing is set-uid.
#   - man pages, samples in sample_directory, main.cf and master.cf in
#     config_directory only where none exist (else as NAME.dist), the
#     aliases file only where none exists (else a warning when it has no
#     postmaster entry), post-install in daemon_directory, the systemd
#     unit and the init script.
#   - sendmail_path, mailq_path, newaliases_path: installed when free or
#     already Postern's; another MTA's are replaced only with
#     INSTALL_AS_SYSTEM_MTA=yes, and the replacement is reported.
#   - the post-install step (users, spool, aliases.db) as decided by
#     POST_INSTALL; a hint to reload when the mail system is running.
#
# SECURITY: runs as the installer (usually root). Files are installed
# with install(1), which replaces the destination (running programs keep
# their old image). A path containing white space or quotes is refused.
# LIMITS: none beyond the file system's.

set -eu

say() { echo "install: $*"; }
die() { echo "install: error: $*" >&2; exit 1; }

DESTDIR=${DESTDIR:-}
INSTALL_SETGID=${INSTALL_SETGID:-yes}
INSTALL_ALIASES=${INSTALL_ALIASES:-yes}
SRC=$(cd "$(dirname "$0")/.." && pwd)

for var in sbindir daemon_directory manpage_directory sample_directory \
    config_directory queue_directory data_directory sendmail_path \
    mailq_path newaliases_path alias_file systemd_unit_directory \
    initd_directory; do
    eval "val=\${$var:-}"
    case $val in
        /*) ;;
        *) die "$var must be an absolute path: \"$val\"" ;;
    esac
    case $val in
        *[[:space:]\'\"\\]*) die "$var contains white space or quotes: \"$val\"" ;;
    esac
done
case $DESTDIR in
    ""|/*) ;;
    *) DESTDIR=$(pwd)/$DESTDIR ;;
esac
DESTDIR=${DESTDIR%/}

root=no
[ "$(id -u)" = 0 ] && root=yes

# is_command NAME: does NAME go to sbindir?
is_command() {
    case " $COMMANDS " in *" $1 "*) return 0 ;; esac
    return 1
}

# is_ours PATH: is PATH a Postern program, or a symbolic link that names
# Postern's sendmail? (A link is judged by its text, not followed: under
# DESTDIR its target is not where it will be.)
is_ours() {
    if [ -L "$1" ]; then
        case $(readlink "$1") in
            "$sbindir/sendmail"|"$daemon_directory/sendmail") return 0 ;;
        esac
        return 1
    fi
    [ -f "$1" ] && grep -qa 'Postern' "$1"
}

# owner_package PATH: the Debian package that ships PATH, or "".
owner_package() {
    if [ -z "$DESTDIR" ] && command -v dpkg >/dev/null 2>&1; then
        dpkg -S "$1" 2>/dev/null | sed -n '1s/:.*//p'
    fi
}

for p in $INSTALL_PROGRAMS; do
    [ -x "$BUILD/bin/$p" ] || die "$BUILD/bin/$p is not built (run \"make BUILD=$BUILD\" first)"
done

setgid_gid=""
if [ "$INSTALL_SETGID" = yes ] && [ $root = yes ]; then
    setgid_gid=$(getent group "$setgid_group" | cut -d: -f3) || setgid_gid=""
fi

install -d -m 0755 "$DESTDIR$sbindir" "$DESTDIR$daemon_directory" \
    "$DESTDIR$sample_directory" "$DESTDIR$config_directory"

# ---- programs
mta_sendmail_src=""
for p in $INSTALL_PROGRAMS; do
    if is_command "$p"; then dir=$sbindir; else dir=$daemon_directory; fi
    dest=$dir/$p
    if [ "$dest" = "$sendmail_path" ] || [ "$dest" = "$mailq_path" ] \
        || [ "$dest" = "$newaliases_path" ]; then
        # The host's MTA name: handled below, with the other two.
        mta_sendmail_src=$BUILD/bin/$p
        continue
    fi
    case $p in
        postdrop|postqueue)
            if [ -n "$setgid_gid" ]; then
                install -m 2755 -o 0 -g "$setgid_gid" "$BUILD/bin/$p" "$DESTDIR$dest"
            else
                install -m 0755 "$BUILD/bin/$p" "$DESTDIR$dest"
                [ "$INSTALL_SETGID" = yes ] && \
                    say "$dest: not set-gid yet (group $setgid_group missing or not root);" \
                        "the post-install step (postern set-permissions) sets it"
            fi
            ;;
        *)
            install -m 0755 "$BUILD/bin/$p" "$DESTDIR$dest"
            ;;
    esac
done
[ -n "$mta_sendmail_src" ] || mta_sendmail_src=$BUILD/bin/sendmail
postern_sendmail=$sbindir/sendmail

# ---- the host's sendmail, mailq and newaliases
replaced=""
kept=""
# mta_name PATH KIND: install PATH (KIND file: the sendmail program; link:
# a symbolic link to Postern's sendmail) unless another MTA owns it.
mta_name() {
    path=$1
    kind=$2
    dest=$DESTDIR$path
    if [ -e "$dest" ] || [ -L "$dest" ]; then
        if ! is_ours "$dest"; then
            pkg=$(owner_package "$path")
            from=${pkg:+ (package $pkg)}
            if [ "$INSTALL_AS_SYSTEM_MTA" != yes ]; then
                kept="$kept $path"
                say "kept the host's $path$from"
                return 0
            fi
            backup=$dest.pre-postern
            [ -e "$backup" ] || [ -L "$backup" ] && backup=$dest.pre-postern.$(date +%Y%m%d%H%M%S)
            mv "$dest" "$backup"
            replaced="$replaced $path"
            say "replaced $path$from; the old one is now ${backup#"$DESTDIR"}"
        fi
    fi
    install -d -m 0755 "$(dirname "$dest")"
    if [ "$kind" = file ]; then
        install -m 0755 "$mta_sendmail_src" "$dest"
    else
        rm -f "$dest"
        ln -s "$postern_sendmail" "$dest"
    fi
}

if [ "$sendmail_path" = "$sbindir/sendmail" ]; then
    mta_name "$sendmail_path" file
    case " $kept " in
        *" $sendmail_path "*)
            # Postern's own sendmail must exist somewhere for its tools.
            postern_sendmail=$daemon_directory/sendmail
            install -m 0755 "$mta_sendmail_src" "$DESTDIR$postern_sendmail"
            say "Postern's sendmail is $postern_sendmail" ;;
    esac
else
    install -m 0755 "$mta_sendmail_src" "$DESTDIR$sbindir/sendmail"
    mta_name "$sendmail_path" link
fi
mta_name "$mailq_path" link
mta_name "$newaliases_path" link
if [ -n "$kept" ]; then
    say "another MTA's commands were left alone:$kept"
    say "to make Postern the host's MTA, run: make install INSTALL_AS_SYSTEM_MTA=yes"
fi

# ---- man pages
for sec in 1 5 8; do
    for f in "$SRC"/man/man$sec/*.$sec; do
        [ -f "$f" ] || continue
        # Test helpers (NOINSTALL) are not installed, nor their pages.
        case " ${NOINSTALL:-} " in *" $(basename "$f" ".$sec") "*) continue ;; esac
        install -d -m 0755 "$DESTDIR$manpage_directory/man$sec"
        install -m 0644 "$f" "$DESTDIR$manpage_directory/man$sec/"
    done
done

# ---- configuration
for f in main.cf master.cf aliases; do
    install -m 0644 "$SRC/conf/$f" "$DESTDIR$sample_directory/$f"
done
for f in main.cf master.cf; do
    dest=$DESTDIR$config_directory/$f
    if [ -e "$dest" ]; then
        install -m 0644 "$SRC/conf/$f" "$dest.dist"
        say "kept $config_directory/$f; the new sample is $config_directory/$f.dist"
    else
        install -m 0644 "$SRC/conf/$f" "$dest"
        if [ "$f" = main.cf ] && [ "$alias_file" != /etc/aliases ]; then
            # alias_database's default names /etc/aliases.
            printf '\n# Set by make install (alias_file).\nalias_maps = hash:%s\nalias_database = hash:%s\n' \
                "$alias_file" "$alias_file" >> "$dest"
        fi
    fi
done
if [ "$INSTALL_ALIASES" = yes ]; then
    dest=$DESTDIR$alias_file
    if [ -e "$dest" ]; then
        if ! grep -Eq '^postmaster[[:space:]]*:' "$dest"; then
            say "warning: $alias_file has no postmaster entry; add \"postmaster: root\"" \
                "and run newaliases"
        fi
    else
        install -d -m 0755 "$(dirname "$dest")"
        install -m 0644 "$SRC/conf/aliases" "$dest"
        say "installed $alias_file"
    fi
fi

# ---- post-install step, systemd unit, init script
sed -e "s|^POSTERN_SBINDIR=.*|POSTERN_SBINDIR=$sbindir|" \
    -e "s|^POSTERN_SENDMAIL=.*|POSTERN_SENDMAIL=$postern_sendmail|" \
    "$SRC/tools/post-install" > "$DESTDIR$daemon_directory/post-install.tmp"
chmod 0755 "$DESTDIR$daemon_directory/post-install.tmp"
mv "$DESTDIR$daemon_directory/post-install.tmp" "$DESTDIR$daemon_directory/post-install"

install -d -m 0755 "$DESTDIR$systemd_unit_directory" "$DESTDIR$initd_directory"
sed -e "s|/usr/sbin/postern|$sbindir/postern|g" "$SRC/conf/postern.service" \
    > "$DESTDIR$systemd_unit_directory/postern.service"
chmod 0644 "$DESTDIR$systemd_unit_directory/postern.service"
sed -e "s|/usr/sbin/postern|$sbindir/postern|g" "$SRC/conf/postern.init" \
    > "$DESTDIR$initd_directory/postern"
chmod 0755 "$DESTDIR$initd_directory/postern"

say "installed under ${DESTDIR:-/} (programs in $sbindir and $daemon_directory," \
    "configuration in $config_directory)"

run_post=no
case ${POST_INSTALL:-auto} in
    yes) run_post=yes ;;
    no) ;;
    *) [ $root = yes ] && [ -z "$DESTDIR" ] && run_post=yes ;;
esac
if [ $run_post = yes ]; then
    "$DESTDIR$daemon_directory/post-install" -c "$DESTDIR$config_directory"
    if [ -z "$DESTDIR" ] && "$sbindir/postern" -c "$config_directory" status >/dev/null 2>&1; then
        say "the mail system is running: \"postern reload\" starts the new programs"
    fi
elif [ -z "$DESTDIR" ] || [ "${POST_INSTALL:-auto}" = auto ]; then
    say "as root, run $daemon_directory/post-install to create the $mail_owner user," \
        "the $setgid_group group, the spool and the aliases database"
fi
