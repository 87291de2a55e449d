#!/usr/bin/env bash
# The whole suite: lint and format check on the tree, strict typing on the pure
# packages and cti/, then every test. Any failure fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"

echo "== ruff check"
ruff check .
echo "== ruff format --check"
ruff format --check .
echo "== mypy --strict (the files listed in pyproject.toml [tool.mypy])"
mypy
echo "== pytest"
python -m pytest "$@"
