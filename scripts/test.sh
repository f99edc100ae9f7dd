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
echo "== cargo test (unit + API)"
cargo test --locked --all-targets
echo "== browser tests (headless Chromium)"
cargo build --locked --bin diemcau
(cd tests/browser && npm ci --no-audit --no-fund --loglevel=error && DIEMCAU_BIN="$PWD/../../target/debug/diemcau" node run.mjs)
echo "== all tests passed"
