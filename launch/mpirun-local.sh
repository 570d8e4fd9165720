#!/usr/bin/env bash
# Train on this machine with N ranks and T BLAS threads per rank:
#   launch/mpirun-local.sh RANKS THREADS CONFIG [recsys-dist train options...]
# e.g. launch/mpirun-local.sh 2 1 configs/quickstart.yaml --set training.epochs=2
# Binds each rank to its cores when they fit, oversubscribes when they do not, and adds
# --allow-run-as-root when run as root (containers). Uses $RECSYS_DIST_BIN if set, otherwise
# builds .build/release/recsys-dist.
set -euo pipefail
if [ $# -lt 3 ]; then
    echo "usage: $0 RANKS THREADS CONFIG [train options...]" >&2
    exit 2
fi
ranks=$1 threads=$2 config=$3
shift 3
cd "$(dirname "$0")/.."
binary=${RECSYS_DIST_BIN:-}
if [ -z "$binary" ]; then
    launch/install-dependencies.sh
    swift build -c release >&2
    binary=.build/release/recsys-dist
fi
flags=()
[ "$(id -u)" -eq 0 ] && flags+=(--allow-run-as-root)
cores=$(nproc)
if [ $((ranks * threads)) -le "$cores" ]; then
    flags+=(--bind-to core --map-by "slot:PE=$threads")
else
    flags+=(--oversubscribe --bind-to none)
fi
exec mpirun "${flags[@]}" -np "$ranks" -x OPENBLAS_NUM_THREADS="$threads" \
    "$binary" train --config "$config" --set training.threads="$threads" "$@"
