#!/usr/bin/env bash
# Train across machines listed in an OpenMPI hostfile ("node1 slots=8" per line):
#   launch/mpirun-hostfile.sh HOSTFILE RANKS THREADS CONFIG [recsys-dist train options...]
# The binary and the data paths must be the same on every node (a shared file system). Ranks are
# spread by slot and bound to cores; each rank runs THREADS threads of its own (OpenBLAS on one).
# Reaching the nodes, from the environment (as a cluster's job script sets them):
#   RECSYS_LAUNCH_AGENT  the command that starts a process on a node (default: ssh, which must
#                        reach every node without a password): it is called as AGENT NODE COMMAND...
#   RECSYS_NETWORK       the network (CIDR, e.g. 10.1.0.0/16) the ranks talk over by TCP
#   RECSYS_MPI_ARGS      any other mpirun options (split on spaces)
#   RECSYS_DIST_BIN      the binary (default: .build/release/recsys-dist)
set -euo pipefail
if [ $# -lt 4 ]; then
    echo "usage: $0 HOSTFILE RANKS THREADS CONFIG [train options...]" >&2
    exit 2
fi
hostfile=$1 ranks=$2 threads=$3 config=$4
shift 4
# Relative paths (hostfile, config, data) are the caller's, as with launch/mpirun-local.sh.
repository=$(cd "$(dirname "$0")/.." && pwd)
binary=${RECSYS_DIST_BIN:-$repository/.build/release/recsys-dist}
flags=()
[ "$(id -u)" -eq 0 ] && flags+=(--allow-run-as-root)
[ -n "${RECSYS_LAUNCH_AGENT:-}" ] && flags+=(--mca plm_rsh_agent "$RECSYS_LAUNCH_AGENT")
if [ -n "${RECSYS_NETWORK:-}" ]; then
    flags+=(--mca btl tcp,self --mca btl_tcp_if_include "$RECSYS_NETWORK" --mca oob_tcp_if_include "$RECSYS_NETWORK")
fi
# shellcheck disable=SC2206
[ -n "${RECSYS_MPI_ARGS:-}" ] && flags+=($RECSYS_MPI_ARGS)
# Ctrl-C or SIGTERM to this script stops the ranks after a checkpoint (launch/mpirun-stoppable.sh).
exec "$repository/launch/mpirun-stoppable.sh" "${flags[@]}" --hostfile "$hostfile" -np "$ranks" --map-by "slot:PE=$threads" --bind-to core \
    -x OPENBLAS_NUM_THREADS=1 -x PATH -x LD_LIBRARY_PATH \
    "$binary" train --config "$config" --set training.threads="$threads" "$@"
