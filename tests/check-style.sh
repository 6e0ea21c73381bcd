#!/bin/sh
# check-style.sh: the mechanical parts of STYLE.md, run by make check.
#  - no banned libc calls anywhere in C sources;
#  - lib/util includes nothing from lib/mail or lib/net;
#  - every program has a man page; every parameter in the table has an
#    entry in man/man5/postconf.5.
set -u
cd "$(dirname "$0")/.." || exit 2
status=0
csrc=$(git ls-files '*.c' '*.h' 2>/dev/null || find . -name '*.[ch]')
[ -n "$csrc" ] || csrc=$(find . -name '*.[ch]' -not -path './build*')
# Untracked files count too while developing.
csrc="$csrc $(git ls-files --others --exclude-standard '*.c' '*.h' 2>/dev/null)"

bad=$(grep -nE '(^|[^_[:alnum:]])(strcpy|strcat|sprintf|vsprintf|gets|strtok|atoi|atol|alloca)[[:space:]]*\(' $csrc \
      | grep -v 'lib/util/banned.h' | grep -vE '^[^:]+:[0-9]+:[[:space:]]*(/?\*|//)')
if [ -n "$bad" ]; then
    echo "style: banned calls (use lib/util strutil/strbuf/numparse):"
    echo "$bad"
    status=1
fi

bad=$(grep -nE '#include[[:space:]]+"[^"]*(mail|net)/' lib/util/*.[ch] 2>/dev/null)
for f in lib/util/*.[ch]; do
    for inc in $(sed -n 's/^#include[[:space:]]*"\([^"]*\)".*/\1/p' "$f"); do
        if [ ! -f "lib/util/$inc" ] && { [ -f "lib/mail/$inc" ] || [ -f "lib/net/$inc" ]; }; then
            bad="$bad
$f includes $inc"
        fi
    done
done
bad=$(echo "$bad" | sed '/^$/d')
if [ -n "$bad" ]; then
    echo "style: lib/util must not include lib/mail or lib/net:"
    echo "$bad"
    status=1
fi

for frag in */build.mk; do
    [ -f "$frag" ] || continue
    for p in $(sed -n 's/^PROGRAMS[[:space:]]*+=[[:space:]]*//p' "$frag"); do
        if [ ! -f man/man1/"$p".1 ] && [ ! -f man/man8/"$p".8 ]; then
            echo "style: program $p has no man page (man/man1/$p.1 or man/man8/$p.8)"
            status=1
        fi
    done
done

# Every parameter that postconf -d lists has a ".SS name" entry in postconf(5).
pc=${POSTERN_BUILD:-build}/bin/postconf
if [ -x "$pc" ]; then
    if [ ! -f man/man5/postconf.5 ]; then
        echo "style: man/man5/postconf.5 is missing"
        status=1
    else
        names=$("$pc" -c /nonexistent-postern-config -d -H 2>/dev/null)
        if [ -z "$names" ]; then
            echo "style: postconf -d -H listed no parameters"
            status=1
        fi
        missing=$(for name in $names; do
            grep -qxE "\.SS \"?$name\"?" man/man5/postconf.5 || echo "$name"
        done)
        if [ -n "$missing" ]; then
            echo "style: parameters without a .SS entry in man/man5/postconf.5:"
            echo "$missing"
            status=1
        fi
    fi
fi

[ $status -eq 0 ] && echo "style: ok"
exit $status
