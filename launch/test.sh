#!/usr/bin/env bash
# Install what is missing, build, and run every test.
set -euo pipefail
cd "$(dirname "$0")/.."
launch/install-dependencies.sh
swift build --build-tests
swift test "$@"
