#!/bin/sh
# run-instance.sh BUILD: "make run" - create (or reuse) a private instance
# of Postern in ./run/ and run it in the foreground, the log on the
# terminal. Ctrl-C stops it cleanly ("postern stop"). make has built
# everything already; this script builds nothing.
#
#   run/etc       main.cf, master.cf        run/spool   the queue
#   run/mail      mailboxes                 run/maillog the log (a copy)
#
# The instance listens for SMTP on 127.0.0.1:2525, relays nothing off the
# host (relayhost is a loopback port where nothing listens) and runs the
# programs straight from BUILD/bin. An existing run/etc is reused as it is,
# except that master.cf services whose program is not built yet are
# commented out (marked "#[not built] ") and those that are built again
# are enabled again. Run as a user other than root, everything runs as
# that user; as root, the services run as RUN_MAIL_OWNER (default nobody).
#
# Environment (for tests and for running several instances):
#   RUN_DIR          instead of <checkout>/run
#   RUN_PORT         SMTP port instead of 2525
#   RUN_SETUP_ONLY   when set, write the configuration and exit
#   RUN_MAIL_OWNER, RUN_SETGID_GROUP   as root: the accounts (nobody, nogroup)
set -eu

top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-build}
case $build in /*) ;; *) build=$top/$build ;; esac
bin=$build/bin
run=${RUN_DIR:-$top/run}
port=${RUN_PORT:-2525}
etc=$run/etc
marker='#[not built] '

case $port in
    ''|*[!0-9]*) echo "run-instance.sh: RUN_PORT must be a port number" >&2; exit 2 ;;
esac
if [ "$port" -lt 1 ] || [ "$port" -gt 65534 ]; then
    echo "run-instance.sh: RUN_PORT must be within 1..65534" >&2
    exit 2
fi
for prog in postern master; do
    if [ ! -x "$bin/$prog" ]; then
        echo "run-instance.sh: $bin/$prog is not built; nothing to run." >&2
        exit 1
    fi
done

mkdir -p "$run"
run=$(cd "$run" && pwd)
etc=$run/etc

# Create the instance once.
if [ ! -f "$etc/main.cf" ]; then
    set -- queue_directory="$run/spool" \
        mail_spool_directory="$run/mail" \
        daemon_directory="$bin" command_directory="$bin" \
        inet_interfaces=127.0.0.1 \
        "relayhost=[127.0.0.1]:$((port + 1))" \
        maillog_file=/dev/stdout \
        alias_maps="hash:$etc/aliases" alias_database="hash:$etc/aliases" \
        smtp/inet/service="127.0.0.1:$port"
    if [ "$(id -u)" = 0 ]; then
        set -- "$@" mail_owner="${RUN_MAIL_OWNER:-nobody}" \
            setgid_group="${RUN_SETGID_GROUP:-nogroup}"
    fi
    "$bin/postern" init "$etc" "$@"
else
    # Reuse: only create what is missing of the spool.
    "$bin/postern" init "$etc" >/dev/null 2>&1 || "$bin/postern" init "$etc"
fi
mkdir -p "$run/mail"
if [ "$(id -u)" = 0 ]; then
    chown "${RUN_MAIL_OWNER:-nobody}" "$run/mail"
fi

# The instance's own aliases (the host's /etc/aliases may have no .db),
# with postmaster going to whoever runs the instance.
if [ ! -f "$etc/aliases" ]; then
    printf '# aliases(5) of the instance in %s; rebuilt by make run.\npostmaster: %s\n' \
        "$run" "$(id -un)" > "$etc/aliases"
fi
if [ -x "$bin/postalias" ]; then
    "$bin/postalias" -c "$etc" "hash:$etc/aliases" || exit 1
fi

# Comment out the services whose program is not built; enable the others.
missing=$(awk -v bin="$bin" -v marker="$marker" '
    function built(cmd) {
        if (cmd ~ /^\//) return system("test -x \"" cmd "\"") == 0
        return system("test -x \"" bin "/" cmd "\"") == 0
    }
    FNR == 1 { out = FILENAME ".new" }
    {
        line = $0
        marked = index(line, marker) == 1
        body = marked ? substr(line, length(marker) + 1) : line
        if (body ~ /^[ \t]/) {
            # A continuation line goes with its entry (comments stay).
            tmp = body; sub(/^[ \t]+/, "", tmp)
            if (tmp ~ /^#/ || tmp == "") { print line > out; next }
            print (disabled ? marker body : body) > out
            next
        }
        if (body ~ /^#/ || body == "") {
            disabled = 0
            print line > out
            next
        }
        split(body, f, /[ \t]+/)
        disabled = !built(f[8])
        if (disabled) print f[1] "/" f[2] " (" f[8] ")"
        print (disabled ? marker body : body) > out
    }' "$etc/master.cf")
mv "$etc/master.cf.new" "$etc/master.cf"

if [ -n "${RUN_SETUP_ONLY:-}" ]; then
    exit 0
fi

echo "Postern instance: config $etc, spool $run/spool, mail $run/mail"
echo "SMTP on 127.0.0.1:$port; the log is shown here and appended to $run/maillog."
if [ -n "$missing" ]; then
    echo "Not built yet, so disabled in master.cf:" $missing
fi
echo "Send a first message:"
if [ -x "$bin/sendmail" ]; then
    echo "  printf 'Subject: hello\\n\\nhi\\n' | $bin/sendmail -C $etc $(id -un)@localhost"
else
    echo "  with the instance's sendmail: not built"
fi
echo "  swaks --server 127.0.0.1:$port --to $(id -un)@localhost"
echo "Stop with Ctrl-C."

# master runs in a session of its own, so that the terminal's Ctrl-C
# reaches only this script, which then stops it gracefully.
setsid "$bin/postern" -c "$etc" start-fg 2>&1 | tee -a "$run/maillog" &
job=$!
stopping=0
stop() {
    if [ $stopping = 0 ]; then
        stopping=1
        "$bin/postern" -c "$etc" stop || true
    fi
}
trap stop INT TERM
# wait returns early when a trapped signal arrives; wait again until the
# pipeline is really gone.
while kill -0 "$job" 2>/dev/null; do
    wait "$job" || true
done
