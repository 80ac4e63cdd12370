#!/usr/bin/env bash
# Stop the daemons .ci/slurm-up.sh started, by the PIDs it recorded, and wait (up to 20 s
# each) until they are gone, so a new cluster can start at once.
set -uo pipefail
state=${EXPGRID_SLURM_STATE:-/tmp/expgrid-slurm}
for daemon in slurmd slurmctld munged; do
    pidfile="$state/$daemon.pid"
    [ -s "$pidfile" ] || continue
    pid=$(cat "$pidfile")
    rm -f "$pidfile"
    kill "$pid" 2>/dev/null || continue
    for _ in $(seq 100); do
        # Gone, or a zombie nobody reaps (PID 1 of a container may not).
        state_letter=$(ps -o stat= -p "$pid" 2>/dev/null | cut -c1)
        [ -z "$state_letter" ] || [ "$state_letter" = Z ] && break
        sleep 0.2
    done
    echo "slurm: stopped $daemon"
done
