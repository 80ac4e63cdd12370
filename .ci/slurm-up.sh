#!/usr/bin/env bash
# Start a one-node Slurm cluster on this machine (as root, without systemd) for the tests in
# tests/slurm_cli.rs: munged, slurmctld and slurmd from Debian's `slurm-wlm` and `munge`.
# The daemons' PIDs go to $EXPGRID_SLURM_STATE (default /tmp/expgrid-slurm); .ci/slurm-down.sh
# stops them by PID. Needs: apt-get install -y slurm-wlm munge.
set -euo pipefail
state=${EXPGRID_SLURM_STATE:-/tmp/expgrid-slurm}
# Daemons a previous call started go first (by their recorded PIDs).
bash "$(dirname "$0")/slurm-down.sh" >/dev/null
mkdir -p "$state" /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm

node=$(hostname -s)
cpus=$(nproc)
# RealMemory must not exceed the real memory, or the node drains: take 3/4 of it (MiB).
memory=$(awk '/MemTotal/ { printf "%d", $2 / 1024 * 3 / 4 }' /proc/meminfo)

# Containers have no cgroup delegation: the default cgroup plugins fail silently there (the
# job "completes" and nothing ran), hence proctrack/linuxproc and task/none.
cat >/etc/slurm/slurm.conf <<CONF
ClusterName=expgrid-ci
SlurmctldHost=$node
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/none
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=$state/slurmctld.pid
SlurmdPidFile=$state/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
ReturnToService=2
MpiDefault=none
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=2
MinJobAge=600
NodeName=$node CPUs=$cpus RealMemory=$memory State=UNKNOWN
PartitionName=debug Nodes=$node Default=YES MaxTime=INFINITE State=UP
CONF

# munged as the munge user, with a key (Debian's package creates one; make sure).
install -d -o munge -g munge -m 0700 /etc/munge /var/lib/munge /var/log/munge
install -d -o munge -g munge -m 0755 /run/munge
if [ ! -s /etc/munge/munge.key ]; then
    dd if=/dev/urandom bs=1 count=1024 of=/etc/munge/munge.key status=none
fi
chown munge:munge /etc/munge/munge.key
chmod 0400 /etc/munge/munge.key
if ! munge -n >/dev/null 2>&1; then
    runuser -u munge -- /usr/sbin/munged --pid-file=/run/munge/munged.pid --force
    cp /run/munge/munged.pid "$state/munged.pid"
fi
for _ in $(seq 50); do munge -n >/dev/null 2>&1 && break; sleep 0.2; done
munge -n | unmunge >/dev/null || { echo "munged does not answer" >&2; exit 1; }

/usr/sbin/slurmctld
/usr/sbin/slurmd

# Wait until the node is idle.
for _ in $(seq 60); do
    if [ "$(sinfo -h -n "$node" -o %t 2>/dev/null)" = idle ]; then
        echo "slurm: node $node idle ($cpus CPUs, ${memory} MiB)"
        exit 0
    fi
    sleep 1
done
echo "slurm: the node did not become idle; sinfo says:" >&2
sinfo -N -l >&2 || true
tail -n 30 /var/log/slurm/slurmctld.log /var/log/slurm/slurmd.log >&2 || true
exit 1
