#!/usr/bin/env bash
# Run clamd for development in the foreground (`make run` starts it with the web server and worker and
# stops it with SIGTERM), on the Unix socket var/clamav/clamd.sock: point CLAMD_SOCKET at that path
# (run-dev.sh exports it for the web server and the worker).
#
# Signatures: the project's test signatures (deploy/clamav/conversa-test.*: EICAR and the
# Conversa.Test.* markers) plus, when freshclam has fetched them, the real ones in /var/lib/clamav
# (CLAMD_SYSTEM_DATABASE overrides the directory; loading them takes tens of seconds and about 1 GB of
# memory). CLAMD_DEV_TCP_PORT=3310 also listens on 127.0.0.1:3310.
set -euo pipefail
cd "$(dirname "$0")/.."
. deploy/_common.sh

RUN_DIR=$PWD/var/clamav
DB_DIR=$RUN_DIR/db
SOCKET=$RUN_DIR/clamd.sock
CONF=$RUN_DIR/clamd.conf
SYSTEM_DB=${CLAMD_SYSTEM_DATABASE:-/var/lib/clamav}
TCP_PORT=${CLAMD_DEV_TCP_PORT:-}
# Signature files clamd loads (freshclam writes .cvd/.cld; the others are local databases).
DB_EXTENSIONS="cvd cld cud hdb hsb hdu hsu mdb msb mdu msu ndb ndu ldb ldu idb cdb crb pdb gdb wdb fp sfp
ign ign2 ftm cbc yar yara"
DB_EXTENSIONS=${DB_EXTENSIONS//$'\n'/ }

CLAMD=$(command -v clamd || true)
[ -z "$CLAMD" ] && [ -x /usr/sbin/clamd ] && CLAMD=/usr/sbin/clamd
[ -n "$CLAMD" ] || die "clamd is not installed: run deploy/bootstrap.sh (as root it installs clamav-daemon)"
# sun_path holds 108 bytes.
[ "${#SOCKET}" -le 107 ] || die "clamd: the socket path $SOCKET is too long for a Unix socket (max 107 bytes)"

clamd_answers() {
    python3 - "$SOCKET" <<'PY'
import socket, sys
try:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(2)
        sock.connect(sys.argv[1])
        sock.sendall(b"zPING\0")
        sys.exit(0 if sock.recv(16).startswith(b"PONG") else 1)
except OSError:
    sys.exit(1)
PY
}

# Another `make run` of this checkout already runs clamd here: share it, and stay in the foreground as
# long as it answers (run-dev.sh stops everything when one of its processes exits).
if clamd_answers; then
    say "clamd: already running on $SOCKET; using it"
    while clamd_answers; do sleep 5; done
    die "clamd: the clamd on $SOCKET stopped"
fi

mkdir -p "$RUN_DIR"
# The database directory is rebuilt every time: links to the real signatures of the day, copies of ours.
rm -rf "$DB_DIR"
mkdir -p "$DB_DIR"
cp deploy/clamav/conversa-test.hdb deploy/clamav/conversa-test.ndb "$DB_DIR"/
real=0
if [ -d "$SYSTEM_DB" ]; then
    for file in "$SYSTEM_DB"/*; do
        name=${file##*/}
        [ -f "$file" ] && [ -r "$file" ] || continue
        case $name in conversa-test.*) continue ;; esac
        case " $DB_EXTENSIONS " in *" ${name##*.} "*) ;; *) continue ;; esac
        ln -s "$file" "$DB_DIR/$name"
        real=$((real + 1))
    done
fi

# Render the template (sed replacement text: escape \, & and the | delimiter).
escape() { printf '%s' "$1" | sed -e 's/[\\&|]/\\&/g'; }
tcp_lines='/^#TCP /d'  # Unix socket only
[ -n "$TCP_PORT" ] && tcp_lines="s|^#TCP ||; s|@TCP_PORT@|$(escape "$TCP_PORT")|"
sed -e "$tcp_lines" \
    -e "s|@RUN_DIR@|$(escape "$RUN_DIR")|g" \
    -e "s|@DATABASE_DIR@|$(escape "$DB_DIR")|g" \
    deploy/clamav/clamd.conf.template >"$CONF"

if [ "$real" -gt 0 ]; then
    say "clamd: starting on $SOCKET with the test signatures and $real database file(s) of $SYSTEM_DB"
    say "       (loading them takes a while); log var/clamav/clamd.log"
else
    say "clamd: starting on $SOCKET with the test signatures only (EICAR, Conversa.Test.*)"
    say "       log var/clamav/clamd.log"
fi
# In the foreground clamd also copies its log to stdout: the log file has it all, warnings stay visible.
exec "$CLAMD" -c "$CONF" >/dev/null
