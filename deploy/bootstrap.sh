#!/usr/bin/env bash
# Prepare this checkout for development and tests; safe to run again (quick when nothing changed).
#
#   1. .venv/ with the project and its dev extras (pip runs only when pyproject.toml changed)
#   2. system packages the code and the test suite need (installed when root with apt-get)
#   3. translations compiled (msgfmt)
#   4. PostgreSQL and Redis reachable, the database created (deploy/services.sh)
#
# Options: --venv-only (step 1 only), --no-services (steps 1 and 2), --system-only (step 2 only).
#
# apt: when another apt or dpkg holds its locks (an unattended upgrade, another checkout's
# bootstrap), waits up to APT_LOCK_TIMEOUT_SECONDS (default 300) for them; apt's output goes to a
# private temporary file, shown when it fails. With CI=true a system package that cannot be
# installed is an error (the suite would otherwise skip or fail the tests that need it, later and
# less clearly); elsewhere it is a warning. CONVERSA_APT_GET and CONVERSA_APT_LOCKS (space-separated)
# replace apt-get and the lock files waited for (tests).
set -euo pipefail
cd "$(dirname "$0")/.."
. deploy/_common.sh

# Debian package names. libmagic1: python-magic; clamav + clamav-daemon: the test suite starts its own
# clamd; chromium: headless browser tests; gettext: msgfmt compiles the translations; pgbouncer: the
# suite starts its own (transaction pooling) and runs the isolation tests through it.
SYSTEM_PACKAGES=${CONVERSA_SYSTEM_PACKAGES:-"libmagic1 clamav clamav-daemon chromium gettext pgbouncer"}

VENV=.venv
STAMP=$VENV/.installed

APT_GET=${CONVERSA_APT_GET:-apt-get}
APT_LOCK_TIMEOUT_SECONDS=${APT_LOCK_TIMEOUT_SECONDS:-300}
read -r -a APT_LOCKS <<<"${CONVERSA_APT_LOCKS:-/var/lib/dpkg/lock-frontend /var/lib/dpkg/lock /var/lib/apt/lists/lock /var/cache/apt/archives/lock}"

want_venv=1
want_system=1
want_services=1
for arg in "$@"; do
    case $arg in
        --venv-only) want_system=0; want_services=0 ;;
        --no-services) want_services=0 ;;
        --system-only) want_venv=0; want_services=0 ;;
        *) die "bootstrap.sh: unknown option $arg (use --venv-only, --no-services or --system-only)" ;;
    esac
done

in_ci() { [ "${CI:-}" = "true" ]; }

# missing_packages MESSAGE: a warning, or with CI=true the end of the bootstrap.
missing_packages() {
    if in_ci; then
        die "$1 (CI=true: the tests that need them must not be skipped)"
    fi
    warn "$1"
}

# apt_run LOG ARGS...: apt-get ARGS once the apt locks are free (waiting at most
# APT_LOCK_TIMEOUT_SECONDS), appending its output to LOG; apt itself waits as long for dpkg's lock
# should another apt take it in between.
apt_run() {
    local log=$1; shift
    wait_for_locks "$APT_LOCK_TIMEOUT_SECONDS" "${APT_LOCKS[@]}" || return 1
    env DEBIAN_FRONTEND=noninteractive "$APT_GET" -o "DPkg::Lock::Timeout=$APT_LOCK_TIMEOUT_SECONDS" "$@" \
        >>"$log" 2>&1
}

ensure_venv() {
    if ! "$VENV/bin/python" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))' 2>/dev/null; then
        local python
        python=$(find_python) || die "Python 3.11 is required: install python3.11 (with venv), or set PYTHON=/path/to/python3.11"
        [ -d "$VENV" ] && { say "Recreating $VENV (its Python is missing or not 3.11)"; rm -rf "$VENV"; }
        say "Creating $VENV with $python"
        "$python" -m venv "$VENV" \
            || die "Could not create $VENV: install the venv module (sudo apt-get install python3-venv)"
    fi

    local want
    want=$("$VENV/bin/python" -c 'import hashlib, sys
print(hashlib.sha256(open("pyproject.toml", "rb").read()).hexdigest(), sys.version.split()[0])')
    if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
        return
    fi
    say "Installing Python dependencies into $VENV (pyproject.toml changed or first run)"
    local pip=("$VENV/bin/python" -m pip --disable-pip-version-check install --quiet)
    # The project is not packaged (setuptools packages = []): the editable install only records the
    # dependencies; the code runs from the checkout. A plain install does the same if -e is refused.
    "${pip[@]}" -e '.[dev]' || "${pip[@]}" '.[dev]' \
        || die "pip could not install the project's dependencies (see above)"
    printf '%s\n' "$want" >"$STAMP"
}

package_installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

ensure_system_packages() {
    local missing=() package
    if ! command -v dpkg-query >/dev/null 2>&1; then
        warn "Not a Debian-like system: make sure these (or your system's equivalents) are installed: $SYSTEM_PACKAGES"
        return 0
    fi
    for package in $SYSTEM_PACKAGES; do
        package_installed "$package" || missing+=("$package")
    done
    [ ${#missing[@]} -eq 0 ] && return 0

    if [ "$(id -u)" -eq 0 ] && command -v "$APT_GET" >/dev/null 2>&1; then
        say "Installing system packages: ${missing[*]}"
        # Private (mktemp): a fixed name in /tmp could be another user's file or a symlink.
        local log
        log=$(mktemp "${TMPDIR:-/tmp}/conversa-apt.XXXXXX")
        local install=(install -y -q --no-install-recommends "${missing[@]}")
        if apt_run "$log" "${install[@]}" || { apt_run "$log" update -q && apt_run "$log" "${install[@]}"; }; then
            rm -f "$log"
            return 0
        fi
        tail -n 20 "$log" >&2
        missing_packages "Could not install system packages (${missing[*]}); apt's output is in $log."
        return 0
    fi
    missing_packages "Missing system packages: ${missing[*]} — install them with: sudo apt-get install --no-install-recommends ${missing[*]}"
}

# locale/*/LC_MESSAGES/django.po → .mo (compiled files are build output, not committed).
compile_translations() {
    command -v msgfmt >/dev/null 2>&1 || { warn "msgfmt not found (package gettext): the UI stays in English"; return 0; }
    local po mo
    for po in locale/*/LC_MESSAGES/*.po; do
        [ -e "$po" ] || continue
        mo=${po%.po}.mo
        [ "$mo" -nt "$po" ] || msgfmt --check-format -o "$mo" "$po" || die "msgfmt failed on $po"
    done
}

[ "$want_venv" -eq 1 ] && ensure_venv
[ "$want_system" -eq 1 ] && ensure_system_packages
[ "$want_venv" -eq 1 ] && compile_translations
[ "$want_services" -eq 1 ] && deploy/services.sh
exit 0
