#!/usr/bin/env bash
# `make run`: bootstrap, migrate, seed the demo company, then run the web server (HTTP + websockets)
# and a Huey worker until Ctrl-C or SIGTERM, which stops them both. PORT overrides 8000.
set -euo pipefail
cd "$(dirname "$0")/.."
. deploy/_common.sh

PORT=${PORT:-8000}
PY=.venv/bin/python
LOG_DIR=var/log

port_busy_message() {
    echo "Port $PORT is already in use (another \`make run\`?): stop that process or choose another port, e.g. PORT=8001 make run"
}
# Checked first so a busy port fails fast, and again just before the server starts.
port_in_use "$PORT" && die "$(port_busy_message)"

deploy/bootstrap.sh
deploy/dev-env.sh
mkdir -p "$LOG_DIR"

printf 'Migrating the database (public, companies, template schema)... '
if ! "$PY" manage.py migrate_schemas --noinput >"$LOG_DIR/migrate.log" 2>&1; then
    echo "failed:"
    tail -n 40 "$LOG_DIR/migrate.log" >&2
    exit 1
fi
echo "done"
"$PY" manage.py seed_demo

BASE_DOMAIN=$(setting BASE_DOMAIN localhost)

children=()
stopping=0
stop_children() {
    [ "$stopping" -eq 1 ] && return
    stopping=1
    local pid
    for pid in "${children[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    # Give them 10 s to finish in-flight work, then kill what is left.
    local deadline=$((SECONDS + 10))
    for pid in "${children[@]}"; do
        while kill -0 "$pid" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.2; done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
}
trap 'echo; echo "Stopping..."; stop_children; exit 130' INT
trap 'stop_children; exit 143' TERM
trap 'stop_children' EXIT

# clamd (virus scanning of uploads) is optional in development; deploy/clamd-dev.sh, when present, runs
# clamd in the foreground and is stopped with the other processes.
if command -v clamd >/dev/null 2>&1 || [ -x /usr/sbin/clamd ]; then
    if [ -x deploy/clamd-dev.sh ]; then
        export CLAMD_SOCKET="$PWD/var/clamav/clamd.sock"  # the web server and the worker scan with it
        deploy/clamd-dev.sh &
        children+=($!)
    else
        echo "clamd: no deploy/clamd-dev.sh yet, not started: uploads would stay in \`scanning\`"
    fi
else
    echo "clamd not installed: uploads would stay in \`scanning\`"
fi

port_in_use "$PORT" && die "$(port_busy_message)"
.venv/bin/uvicorn conversa.asgi:application --app-dir platform --host 0.0.0.0 --port "$PORT" \
    --lifespan off --ws-ping-interval 25 &
web_pid=$!
children+=("$web_pid")
"$PY" manage.py run_huey &
children+=($!)

# Wait for the web server before printing where it is.
ready=0
for _ in $(seq 1 120); do
    kill -0 "$web_pid" 2>/dev/null || break
    if python3 -c 'import sys, urllib.request
urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/health", timeout=1)' "$PORT" 2>/dev/null; then
        ready=1
        break
    fi
    sleep 0.25
done
if [ "$ready" -ne 1 ]; then
    warn "The web server did not start (see its output above)."
    exit 1
fi

host="http://$BASE_DOMAIN:$PORT"
# Where invitations and reset links go (the worker sends them).
mail_host=$(setting EMAIL_HOST "")
if [ -n "$mail_host" ]; then
    mail_where="SMTP server $mail_host:$(setting EMAIL_PORT 587)"
else
    mail_where="one file per email in $PWD/var/mail/ (set EMAIL_HOST to send by SMTP)"
fi
demo="demo.$BASE_DOMAIN:$PORT"
cat <<EOF

Conversa is running. Ctrl-C stops the web server and the worker.
  Agents' inbox           http://$demo/app/
  Play a customer         http://$demo/app/sandbox/
  Super-admin console     $host/console/
  Demo company API docs   http://$demo/api/v1/docs
  Platform API docs       $host/platform/api/v1/docs
  Websocket               ws://$demo/ws/v1/?token=ACCESS_TOKEN  (access token from POST /api/v1/auth/login)
  Health                  $host/health/ready
  Development mail        $mail_where
  Logins (password conversa-demo):
    on demo.$BASE_DOMAIN      admin@example.com (admin), ana@example.com and bruno@example.com (agents)
    on $BASE_DOMAIN           operator@example.com (super-admin: console and platform API)

EOF

# Run until a child exits (then stop the others) or a signal arrives (the traps stop them all).
while true; do
    for pid in "${children[@]}"; do
        if ! kill -0 "$pid" 2>/dev/null; then
            warn "A process exited (pid $pid); stopping the others."
            exit 1
        fi
    done
    sleep 1 &
    wait $! || true
done
