#!/usr/bin/env bash
# Train on this machine with N ranks and T threads per rank:
#   launch/mpirun-local.sh RANKS THREADS CONFIG [recsys-dist train options...]
# e.g. launch/mpirun-local.sh 2 1 configs/quickstart.yaml --set training.epochs=2
# Binds each rank to its cores when they fit, oversubscribes when they do not, and adds
# --allow-run-as-root when run as root (containers). Uses $RECSYS_DIST_BIN if set, otherwise
# builds the repository's .build/release/recsys-dist. Runs in the caller's folder: the config
# path and the paths inside it (data, checkpoints, runs) are relative to where it is called.
set -euo pipefail
if [ $# -lt 3 ]; then
    echo "usage: $0 RANKS THREADS CONFIG [train options...]" >&2
    exit 2
fi
ranks=$1 threads=$2 config=$3
shift 3
repository=$(cd "$(dirname "$0")/.." && pwd)
binary=${RECSYS_DIST_BIN:-}
if [ -z "$binary" ]; then
    "$repository/launch/install-dependencies.sh"
    (cd "$repository" && swift build -c release >&2)
    binary="$repository/.build/release/recsys-dist"
fi
flags=()
[ "$(id -u)" -eq 0 ] && flags+=(--allow-run-as-root)
cores=$(nproc)
if [ $((ranks * threads)) -le "$cores" ]; then
    flags+=(--bind-to core --map-by "slot:PE=$threads")
else
    flags+=(--oversubscribe --bind-to none)
fi
# A rank splits its products over its own T threads (training.threads): OpenBLAS stays on one.
exec mpirun "${flags[@]}" -np "$ranks" -x OPENBLAS_NUM_THREADS=1 \
    "$binary" train --config "$config" --set training.threads="$threads" "$@"
