# Shared helpers for the deploy/*.sh scripts (sourced, not run). Callers `cd` to the repo root first.

say() { printf '%s\n' "$*"; }
warn() { printf '%s\n' "$*" >&2; }
die() { printf '%s\n' "$*" >&2; exit 1; }

# setting KEY DEFAULT: the environment variable KEY, else KEY from ./.env (as the settings read it),
# else DEFAULT.
setting() {
    local key=$1 default=${2-} value=""
    if [ -n "${!key:-}" ]; then
        printf '%s\n' "${!key}"
        return
    fi
    if [ -f .env ]; then
        value=$(sed -n -E "s/^[[:space:]]*(export[[:space:]]+)?${key}[[:space:]]*=[[:space:]]*//p" .env | tail -n 1)
        value=${value%$'\r'}
        value=${value%\"}; value=${value#\"}
        value=${value%\'}; value=${value#\'}
    fi
    printf '%s\n' "${value:-$default}"
}

# wait_for_locks SECONDS FILE...: wait until no process holds the lock on any of FILE (the POSIX
# record locks apt and dpkg take: fcntl, which flock(1) neither sees nor blocks), checking twice a
# second; false when one is still held after SECONDS. Files that do not exist are not waited for.
wait_for_locks() {
    python3 - "$@" <<'PY'
import fcntl, os, sys, time

deadline = time.monotonic() + float(sys.argv[1])
paths = [path for path in sys.argv[2:] if os.path.exists(path)]


def held(path):
    try:
        with open(path, "rb+") as lock:
            try:
                fcntl.lockf(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                return True
            fcntl.lockf(lock, fcntl.LOCK_UN)
            return False
    except OSError:  # not ours to lock (not root): apt would fail on it anyway
        return False


told = False
while True:
    busy = [path for path in paths if held(path)]
    if not busy:
        sys.exit(0)
    if time.monotonic() >= deadline:
        print(f"Still locked after {sys.argv[1]} s: {', '.join(busy)}", file=sys.stderr)
        sys.exit(1)
    if not told:
        print(f"Waiting up to {sys.argv[1]} s for another apt or dpkg to finish ({', '.join(busy)})",
              file=sys.stderr)
        told = True
    time.sleep(0.5)
PY
}

# A Python 3.11 interpreter for creating the virtualenv (the project requires >=3.11,<3.12).
find_python() {
    local candidate
    for candidate in "${PYTHON:-}" python3.11 python3; do
        [ -n "$candidate" ] || continue
        command -v "$candidate" >/dev/null 2>&1 || continue
        if "$candidate" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
            command -v "$candidate"
            return 0
        fi
    done
    return 1
}

# port_in_use PORT: true when PORT cannot be bound on all interfaces (as uvicorn --host 0.0.0.0 does).
port_in_use() {
    python3 - "$1" <<'PY'
import socket, sys
with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(("0.0.0.0", int(sys.argv[1])))
    except OSError:
        sys.exit(0)
sys.exit(1)
PY
}
