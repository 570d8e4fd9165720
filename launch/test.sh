#!/usr/bin/env bash
# Install what is missing, build, and run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
launch/install-dependencies.sh
# The TensorBoard test reads the event files with the real tensorboard package (from PyPI).
if ! .venv-test/bin/python -c "import tensorboard" 2>/dev/null; then
    python3 -m venv .venv-test
    .venv-test/bin/pip install --quiet tensorboard
fi
swift build --build-tests
swift test "$@"
