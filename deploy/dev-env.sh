#!/usr/bin/env bash
# Write a development .env (git-ignored) when there is none; an existing .env is never changed.
# The settings read it for any variable the environment does not set.
set -euo pipefail
cd "$(dirname "$0")/.."

[ -e .env ] && exit 0
token() { python3 -c 'import secrets; print(secrets.token_urlsafe(50))'; }
umask 077
cat >.env <<ENV
# Development settings, written by deploy/dev-env.sh (make run). Not for production.
DEBUG=true
SECRET_KEY=$(token)
JWT_SIGNING_KEY=$(token)
SECURE_SSL_REDIRECT=false
ENV
echo "Wrote .env (DEBUG=true, random SECRET_KEY and JWT_SIGNING_KEY)"
