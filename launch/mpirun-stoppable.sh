#!/usr/bin/env bash
# mpirun ARGS..., stoppable without losing the checkpoint:
#   launch/mpirun-stoppable.sh [mpirun options] PROGRAM [arguments...]
# Ctrl-C (SIGINT) or SIGTERM to this script reaches every rank as SIGUSR1, which mpirun
# forwards: the ranks finish their step, write a checkpoint and exit. mpirun runs in a session
# of its own so that a terminal's Ctrl-C reaches this script only: a SIGINT or SIGTERM to
# mpirun itself makes OpenMPI end the ranks a second or two later (odls_base_sigkill_timeout),
# part-way through writing a large checkpoint. A second Ctrl-C ends the ranks at once.
set -uo pipefail
setsid mpirun "$@" &
job=$!
trap 'kill -USR1 "$job" 2>/dev/null' INT TERM
while true; do
    wait "$job"
    status=$?
    # A trapped signal ends `wait` early (status above 128) while mpirun goes on.
    kill -0 "$job" 2>/dev/null || exit "$status"
done
