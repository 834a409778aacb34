#!/usr/bin/env bash
# Sets up a fresh machine and runs the main job: `outpost up` with the sample apps and a
# real action run (geolocate ip on three public addresses), then keeps serving.
#
# Ports, data dir and worker count come from the env twins of `outpost up`'s flags:
# OUTPOST_REST_ADDR, OUTPOST_GRPC_ADDR, OUTPOST_DATA_DIR, OUTPOST_WORKERS.
set -euo pipefail
cd "$(dirname "$0")/../.."

# The connectors build for wasm32-wasip2; nothing else is installed by hand.
rustup target add wasm32-wasip2 >/dev/null
bash apps/build.sh
cargo build -p outpost
exec target/debug/outpost up --demo "$@"
