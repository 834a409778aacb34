#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine: builds the connectors and the binary the
# end-to-end tests spawn, then every test of the workspace against the machine's real
# RabbitMQ and PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/../.."

rustup target add wasm32-wasip2 >/dev/null
bash apps/build.sh
# The same build as the demo's; the tests below reuse it (one feature set across the
# workspace, so nothing is compiled twice).
cargo build -p outpost
# The deploy files against their schemas (the checks against the binary are Rust tests).
bash deploy/dev/check-deploy.sh
# The connectors' pure logic (SDK, geoip lookups, RDAP and verdict parsing), natively.
(cd apps && cargo test --locked --target x86_64-unknown-linux-gnu)
# The Python SDK's and the Python connectors' pure logic, natively.
(cd apps/sdk-python && python3 -m unittest discover -s tests)
(cd apps/urlscan && PYTHONPATH=../sdk-python python3 -m unittest test_app)
if cargo nextest --version >/dev/null 2>&1; then
  # One process per test, both cores busy; e2e tests each start their own processes.
  cargo nextest run --workspace --no-fail-fast "$@"
else
  cargo test --workspace --no-fail-fast "$@"
fi
