#!/usr/bin/env bash
# Train across machines listed in an OpenMPI hostfile ("node1 slots=8" per line):
#   launch/mpirun-hostfile.sh HOSTFILE RANKS THREADS CONFIG [recsys-dist train options...]
# The binary and the data paths must be the same on every node (a shared file system), and the
# nodes must reach each other by ssh without a password. OPENBLAS_NUM_THREADS is passed to every
# rank; ranks are spread by slot and bound to cores.
set -euo pipefail
if [ $# -lt 4 ]; then
    echo "usage: $0 HOSTFILE RANKS THREADS CONFIG [train options...]" >&2
    exit 2
fi
hostfile=$1 ranks=$2 threads=$3 config=$4
shift 4
cd "$(dirname "$0")/.."
binary=${RECSYS_DIST_BIN:-$PWD/.build/release/recsys-dist}
flags=()
[ "$(id -u)" -eq 0 ] && flags+=(--allow-run-as-root)
exec mpirun "${flags[@]}" --hostfile "$hostfile" -np "$ranks" --map-by "slot:PE=$threads" --bind-to core \
    -x OPENBLAS_NUM_THREADS="$threads" -x PATH -x LD_LIBRARY_PATH \
    "$binary" train --config "$config" --set training.threads="$threads" "$@"
