#!/usr/bin/env bash
# Creates .venv (gitignored) and installs the pinned Python packages of the chart tests:
# helm-python-sdk (the Helm engine as a shared library) and kubernetes-validate (bundled schemas).
# Idempotent: a second run only checks that the pins are satisfied.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r tests/chart/requirements.txt
