#!/usr/bin/env bash
# Prepare this checkout for development and tests; safe to run again (quick when nothing changed).
#
#   1. .venv/ with the project and its dev extras (pip runs only when pyproject.toml changed)
#   2. system packages the code and the test suite need (installed when root with apt-get)
#   3. translations compiled (msgfmt)
#   4. PostgreSQL and Redis reachable, the database created (deploy/services.sh)
#
# Options: --venv-only (step 1 only), --no-services (steps 1 and 2).
set -euo pipefail
cd "$(dirname "$0")/.."
. deploy/_common.sh

# Debian package names. libmagic1: python-magic; clamav + clamav-daemon: the test suite starts its own
# clamd; chromium: headless browser tests; gettext: msgfmt compiles the translations.
SYSTEM_PACKAGES=${CONVERSA_SYSTEM_PACKAGES:-"libmagic1 clamav clamav-daemon chromium gettext"}

VENV=.venv
STAMP=$VENV/.installed

want_system=1
want_services=1
for arg in "$@"; do
    case $arg in
        --venv-only) want_system=0; want_services=0 ;;
        --no-services) want_services=0 ;;
        *) die "bootstrap.sh: unknown option $arg (use --venv-only or --no-services)" ;;
    esac
done

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

    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
        say "Installing system packages: ${missing[*]}"
        local apt=(env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends)
        if "${apt[@]}" "${missing[@]}" >/tmp/conversa-apt.log 2>&1 \
            || { apt-get update -q >>/tmp/conversa-apt.log 2>&1 && "${apt[@]}" "${missing[@]}" >>/tmp/conversa-apt.log 2>&1; }; then
            return 0
        fi
        tail -n 20 /tmp/conversa-apt.log >&2
        warn "Could not install system packages (${missing[*]}); see /tmp/conversa-apt.log. Continuing without them."
        return 0
    fi
    warn "Missing system packages: ${missing[*]} — install them with: sudo apt-get install --no-install-recommends ${missing[*]}"
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

ensure_venv
[ "$want_system" -eq 1 ] && ensure_system_packages
compile_translations
[ "$want_services" -eq 1 ] && deploy/services.sh
exit 0
