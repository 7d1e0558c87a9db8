#!/usr/bin/env bash
# Creates .venv (gitignored) and installs the pinned Python packages of the tests: for the chart
# tests helm-python-sdk (the Helm engine as a shared library) and kubernetes-validate (bundled
# schemas), for the OSCAL report test compliance-trestle (the OSCAL models). One pip run, so the
# pins of both files are resolved together.
# Idempotent: a second run only checks that the pins are satisfied.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check \
  -r tests/chart/requirements.txt -r tests/oscal/requirements.txt
