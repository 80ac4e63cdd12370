#!/usr/bin/env bash
# Stop the daemons .ci/slurm-up.sh started, by the PIDs it recorded.
set -uo pipefail
state=${EXPGRID_SLURM_STATE:-/tmp/expgrid-slurm}
for daemon in slurmd slurmctld munged; do
    pidfile="$state/$daemon.pid"
    if [ -s "$pidfile" ]; then
        kill "$(cat "$pidfile")" 2>/dev/null && echo "slurm: stopped $daemon"
        rm -f "$pidfile"
    fi
done
