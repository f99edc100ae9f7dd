#!/usr/bin/env bash
# The whole test suite: formatting, lints, unit and API tests (real server,
# real SQLite files), then the browser tests in headless Chromium.
# Needs: the Rust toolchain, Node 20+, and /usr/bin/chromium (see .ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --all-targets --locked -- -D warnings
echo "== cargo test (unit + API, SQLite)"
cargo test --locked --lib --bins --tests
echo "== API tests again on PostgreSQL"
# Each test makes its own database on this server; a server that cannot be
# reached fails the run (it never falls back to SQLite).
PG_URL="${DIEMCAU_TEST_POSTGRES_URL:-postgres://postgres@127.0.0.1:5432/test}"
if command -v psql >/dev/null; then
  psql "$PG_URL" -Atc "SELECT datname FROM pg_database WHERE datname LIKE 'diemcau_test_%'" 2>/dev/null \
    | while read -r db; do psql "$PG_URL" -qc "DROP DATABASE IF EXISTS $db" >/dev/null 2>&1 || true; done
fi
DIEMCAU_TEST_DATABASE_URL="$PG_URL" cargo test --locked --test api
echo "== browser tests (headless Chromium)"
cargo build --locked --bin diemcau
(cd tests/browser && npm ci --no-audit --no-fund --loglevel=error && DIEMCAU_BIN="$PWD/../../target/debug/diemcau" node run.mjs)
echo "== all tests passed"
