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
