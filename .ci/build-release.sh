#!/usr/bin/env bash
# Builds the release binary exactly as the Dockerfile's builder stage does (no Docker engine on CI
# machines, so CI proves the image's build step by running the same command).
# tests/chart/test_dockerfile.py checks that the Dockerfile runs this same command.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked --bin jumpcloud-operator
