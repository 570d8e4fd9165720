#!/usr/bin/env bash
# The main job: install what is missing, build in release mode, and train DLRM on synthetic
# data from a planted click model (configs/quickstart.yaml), ending with held-out AUC/logloss
# next to the planted model's own.
set -euo pipefail
cd "$(dirname "$0")/.."
launch/install-dependencies.sh
swift build -c release
# The main job starts over each time (--overwrite: the previous quickstart's checkpoints are
# replaced), unless it is told to resume them.
overwrite=--overwrite
for argument in "$@"; do
    if [[ $argument == --resume* ]]; then overwrite=; fi
done
exec .build/release/recsys-dist train --config configs/quickstart.yaml $overwrite "$@"
