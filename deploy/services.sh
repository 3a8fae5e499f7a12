#!/usr/bin/env bash
# Make sure PostgreSQL and Redis answer at DATABASE_URL / REDIS_URL (environment, else .env, else the
# settings' defaults), start local ones that are installed but stopped, and create the database.
# Exits 1 with one line saying what to install when a service cannot be reached.
set -euo pipefail
cd "$(dirname "$0")/.."
. deploy/_common.sh

DATABASE_URL=$(setting DATABASE_URL "postgres://postgres@127.0.0.1:5432/conversa")
REDIS_URL=$(setting REDIS_URL "redis://127.0.0.1:6379/0")
COMPOSE_HINT="docker compose -f deploy/docker-compose.yml up -d postgres redis"

# DB_HOST DB_PORT DB_NAME REDIS_HOST REDIS_PORT from the URLs.
eval "$(python3 - "$DATABASE_URL" "$REDIS_URL" <<'PY'
import shlex, sys
from urllib.parse import unquote, urlsplit

db, redis = urlsplit(sys.argv[1]), urlsplit(sys.argv[2])
values = {
    "DB_HOST": db.hostname or "127.0.0.1",
    "DB_PORT": db.port or 5432,
    "DB_NAME": unquote(db.path.lstrip("/")) or "conversa",
    "REDIS_HOST": redis.hostname or "127.0.0.1",
    "REDIS_PORT": redis.port or 6379,
}
for key, value in values.items():
    print(f"{key}={shlex.quote(str(value))}")
PY
)"

reachable() {  # reachable HOST PORT: a TCP connection succeeds
    python3 - "$1" "$2" <<'PY'
import socket, sys
try:
    socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=1).close()
except OSError:
    sys.exit(1)
PY
}

is_local() {
    case $1 in 127.0.0.1 | localhost | ::1 | 0.0.0.0) return 0 ;; *) return 1 ;; esac
}

as_root() {  # run as root: directly, or through passwordless sudo
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo -n "$@"
    else
        return 1
    fi
}

wait_for() {  # wait_for HOST PORT SECONDS
    local deadline=$((SECONDS + $3))
    until reachable "$1" "$2"; do
        [ "$SECONDS" -ge "$deadline" ] && return 1
        sleep 0.5
    done
}

start_postgres() {
    command -v pg_ctlcluster >/dev/null 2>&1 && [ -d /etc/postgresql ] || return 1
    local version
    version=$(ls /etc/postgresql | sort -V | tail -n 1)
    [ -n "$version" ] || return 1
    say "Starting PostgreSQL $version"
    as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start >/dev/null 2>&1 || true
    wait_for "$DB_HOST" "$DB_PORT" 15
}

start_redis() {
    command -v redis-server >/dev/null 2>&1 || return 1
    say "Starting Redis on port $REDIS_PORT"
    redis-server --daemonize yes --bind 127.0.0.1 -::1 --port "$REDIS_PORT" --save "" --appendonly no \
        >/dev/null 2>&1 \
        || redis-server --daemonize yes --bind 127.0.0.1 --port "$REDIS_PORT" --save "" --appendonly no \
            >/dev/null 2>&1 || true
    wait_for "$REDIS_HOST" "$REDIS_PORT" 10
}

if ! reachable "$DB_HOST" "$DB_PORT"; then
    if ! { is_local "$DB_HOST" && start_postgres; }; then
        die "PostgreSQL is not reachable at $DB_HOST:$DB_PORT: install and start it (sudo apt-get install postgresql), or run: $COMPOSE_HINT (then set DATABASE_URL=postgres://postgres:conversa@127.0.0.1:5432/conversa in .env)"
    fi
fi

if ! reachable "$REDIS_HOST" "$REDIS_PORT"; then
    if ! { is_local "$REDIS_HOST" && start_redis; }; then
        die "Redis is not reachable at $REDIS_HOST:$REDIS_PORT: install and start it (sudo apt-get install redis-server), or run: $COMPOSE_HINT"
    fi
fi

# Create the database if it is missing (psycopg from the virtualenv, else psql).
if [ -x .venv/bin/python ] && .venv/bin/python -c 'import psycopg' 2>/dev/null; then
    .venv/bin/python - "$DATABASE_URL" <<'PY' || exit 1
import sys
from urllib.parse import unquote, urlsplit

import psycopg
from psycopg import sql

url = urlsplit(sys.argv[1])
name = unquote(url.path.lstrip("/")) or "conversa"
params = {
    "host": url.hostname or "127.0.0.1", "port": url.port or 5432,
    "user": unquote(url.username or "postgres"), "password": unquote(url.password or ""),
    "connect_timeout": 5,
}
error = None
for maintenance_db in ("postgres", "template1"):
    try:
        with psycopg.connect(dbname=maintenance_db, autocommit=True, **params) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
            if not exists:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
                print(f"Created database {name}")
        break
    except psycopg.OperationalError as exc:
        error = exc
else:
    first_line = str(error).strip().splitlines()[0] if str(error).strip() else error.__class__.__name__
    sys.exit(f"Cannot connect to PostgreSQL as {params['user']}: {first_line} "
             "(set DATABASE_URL in .env to a user that may create databases)")
PY
elif command -v psql >/dev/null 2>&1; then
    export PGCONNECT_TIMEOUT=5
    if ! psql "$DATABASE_URL" -Atqc 'SELECT 1' >/dev/null 2>&1; then
        maintenance_url=$(python3 -c 'import sys; from urllib.parse import urlsplit
u = urlsplit(sys.argv[1]); print(u._replace(path="/postgres").geturl())' "$DATABASE_URL")
        psql "$maintenance_url" -Atqc "CREATE DATABASE \"$DB_NAME\"" >/dev/null \
            || die "Could not create database $DB_NAME (set DATABASE_URL in .env to a user that may create databases)"
        say "Created database $DB_NAME"
    fi
else
    warn "Cannot check database $DB_NAME (no .venv and no psql): run deploy/bootstrap.sh first"
fi
