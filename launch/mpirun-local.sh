#!/usr/bin/env bash
# Train on this machine with N ranks and T threads per rank:
#   launch/mpirun-local.sh RANKS THREADS CONFIG [recsys-dist train options...]
# e.g. launch/mpirun-local.sh 2 1 configs/quickstart.yaml --set training.epochs=2
# Binds each rank to its cores when they fit, oversubscribes when they do not, and adds
# --allow-run-as-root when run as root (containers). Uses $RECSYS_DIST_BIN if set, otherwise
# the repository's .build/release/recsys-dist, built first only when it does not exist yet
# (then the build's output and what is installed are shown). Ctrl-C or SIGTERM stops the ranks
# after their step and a checkpoint (launch/mpirun-stoppable.sh). Runs in the caller's folder: the config
# path and the paths inside it (data, checkpoints, runs) are relative to where it is called.
set -euo pipefail
if [ $# -lt 3 ]; then
    echo "usage: $0 RANKS THREADS CONFIG [train options...]" >&2
    exit 2
fi
ranks=$1 threads=$2 config=$3
shift 3
repository=$(cd "$(dirname "$0")/.." && pwd)
binary=${RECSYS_DIST_BIN:-$repository/.build/release/recsys-dist}
if [ ! -x "$binary" ]; then
    echo "$0: no $binary yet: installing what is missing and building it (swift build -c release)" >&2
    "$repository/launch/install-dependencies.sh"
    (cd "$repository" && swift build -c release >&2)
else
    echo "$0: running $binary as built (rebuild with swift build -c release after changing the code)" >&2
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
# Ctrl-C or SIGTERM to this script stops the ranks after a checkpoint (launch/mpirun-stoppable.sh).
exec "$repository/launch/mpirun-stoppable.sh" "${flags[@]}" -np "$ranks" -x OPENBLAS_NUM_THREADS=1 \
    "$binary" train --config "$config" --set training.threads="$threads" "$@"
