#!/usr/bin/env bash
# `make test`: bootstrap (virtualenv with dev extras, system packages, PostgreSQL and Redis), then the
# linter and the test suite. Arguments go to pytest, e.g. deploy/test.sh -k login -x
set -euo pipefail
cd "$(dirname "$0")/.."

deploy/bootstrap.sh

echo "== ruff check ."
.venv/bin/ruff check .

echo "== pytest $*"
exec .venv/bin/pytest "$@"
