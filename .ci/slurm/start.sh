#!/usr/bin/env bash
# Start a one-node SLURM cluster on the loopback interface (facts: ../shared/recipes/local-slurm.md).
# Installs Debian's packages when missing. Stop it with stop.sh (by pid files, never by name).
set -euo pipefail
if command -v sinfo >/dev/null && sinfo -h -N -o %T 2>/dev/null | grep -q -E "idle|mix|alloc"; then
    echo "a SLURM cluster already answers: $(sinfo -h -N -o '%N %T')"
    exit 0
fi
if ! command -v slurmctld >/dev/null || ! command -v munged >/dev/null || ! command -v sbatch >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        slurmctld slurmd slurm-client munge >/dev/null
fi

# munge: key, run dir, daemon as user munge.
if [ ! -s /etc/munge/munge.key ]; then
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
fi
chown munge:munge /etc/munge/munge.key && chmod 400 /etc/munge/munge.key
install -d -o munge -g munge -m 0755 /run/munge
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    runuser -u munge -- munged
    for _ in $(seq 50); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.1; done
fi
munge -n | unmunge >/dev/null

for d in /run/slurm /var/log/slurm /var/lib/slurm /var/lib/slurm/slurmctld /var/lib/slurm/slurmd; do
    install -d -o slurm -g slurm -m 0755 "$d"
done
host=$(hostname -s)
node=$(slurmd -C | head -n 1 | sed "s/NodeName=[^ ]*/NodeName=$host/")
cat > /etc/slurm/slurm.conf <<CONF
ClusterName=ci
SlurmctldHost=$host(127.0.0.1)
CommunicationParameters=NoCtldInAddrAny,NoInAddrAny
SlurmUser=slurm
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1000
MailProg=/bin/true
MinJobAge=600
ReturnToService=2
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
SlurmctldPidFile=/run/slurm/slurmctld.pid
SlurmdPidFile=/run/slurm/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
StateSaveLocation=/var/lib/slurm/slurmctld
SlurmdSpoolDir=/var/lib/slurm/slurmd
$node NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=ci Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
slurmctld
slurmd
for _ in $(seq 100); do
    [ "$(sinfo -h -N -o %T 2>/dev/null | head -n 1)" = "idle" ] && break
    sleep 0.2
done
sinfo -h -N -o "%N %T %c %m"
[ "$(sinfo -h -N -o %T | head -n 1)" = "idle" ]
