"""The micro study through a real single-node Slurm cluster, started here, with `profiles/slurm`: the same bytes as on local cores.

Needs root and the Debian packages slurm-wlm and munge (`.ci/run` installs them); skips without.
Every file the daemons use lives in a temporary folder named by SLURM_CONF: nothing global changes.
"""

import os
import re
import shutil
import socket
import subprocess
import tempfile
import time
from importlib.util import find_spec
from pathlib import Path

import pytest

from conftest import LOCAL_CORES, MICRO, MICRO_STUDY, ROOT, copy_project, reproducible_products, snakemake

pytestmark = [pytest.mark.slurm, pytest.mark.workflow]

DAEMONS = ("munged", "slurmctld", "slurmd")

# OverTimeLimit: a busy shared CI machine may run jobs far slower than the runtime the rules ask for.
SLURM_CONF = """\
ClusterName=ci
SlurmctldHost={node}(127.0.0.1)
SlurmctldPort={ctld_port}
SlurmdPort={slurmd_port}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket={dir}/munge.socket
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
MpiDefault=none
ReturnToService=2
OverTimeLimit=UNLIMITED
StateSaveLocation={dir}/state
SlurmdSpoolDir={dir}/spool
SlurmctldPidFile={dir}/slurmctld.pid
SlurmdPidFile={dir}/slurmd.pid
SlurmctldLogFile={dir}/slurmctld.log
SlurmdLogFile={dir}/slurmd.log
{node_line} NodeAddr=127.0.0.1
PartitionName=ci Nodes=ALL Default=YES MaxTime=INFINITE State=UP
"""


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def node_cpus(node_line):
    return int(re.search(r"\bCPUs=(\d+)", node_line).group(1))


def poll(condition, timeout, daemons=()):
    """True once `condition()` holds; False if one of `daemons` exits or `timeout` seconds pass first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and all(p.poll() is None for p in daemons):
        if condition():
            return True
        time.sleep(0.5)
    return False


def node_state():
    return subprocess.run(["sinfo", "--noheader", "--format=%T"], capture_output=True, text=True).stdout.strip()


def queued_jobs():
    return subprocess.run(["squeue", "--noheader"], capture_output=True, text=True).stdout.strip()


def stop(daemons):
    """Cancel this cluster's jobs, then end the daemons this fixture started, last started first."""
    if queued_jobs():
        subprocess.run(["scancel", "--full", "--user", "root"], capture_output=True)
        poll(lambda: not queued_jobs(), timeout=60)
    for process in reversed(daemons):
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def slurm_cluster():
    """A one-node Slurm cluster (munged, slurmctld, slurmd) on this machine's cores and memory, named by SLURM_CONF."""
    if os.geteuid() != 0:
        pytest.skip("starting Slurm daemons as SlurmUser=root needs root")
    missing = [name for name in (*DAEMONS, "sbatch", "srun", "squeue", "sinfo") if shutil.which(name) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not found: apt-get install slurm-wlm munge")
    if find_spec("snakemake_executor_plugin_slurm") is None:
        pytest.skip('snakemake-executor-plugin-slurm not installed: pip install -e ".[slurm]"')
    node_line = subprocess.run(["slurmd", "-C"], capture_output=True, text=True, check=True).stdout.splitlines()[0]
    if node_cpus(node_line) < LOCAL_CORES:
        pytest.skip(f"the node needs {LOCAL_CORES} CPUs to run jobs with the local run's thread count")
    # munged wants every folder above its socket searchable by all, so not under pytest's private tmp
    folder = Path(tempfile.mkdtemp(prefix="slurm-ci-"))
    folder.chmod(0o755)
    for sub in ("state", "spool"):
        (folder / sub).mkdir()
    key = folder / "munge.key"
    key.write_bytes(os.urandom(1024))
    key.chmod(0o600)
    conf = folder / "slurm.conf"
    conf.write_text(
        SLURM_CONF.format(node=socket.gethostname().split(".")[0], node_line=node_line, dir=folder, ctld_port=free_port(), slurmd_port=free_port())
    )
    commands = {
        "munged": [
            "munged",
            "--foreground",
            f"--key-file={key}",
            f"--socket={folder}/munge.socket",
            f"--pid-file={folder}/munged.pid",
            f"--log-file={folder}/munged.log",
            f"--seed-file={folder}/munged.seed",
        ],
        "slurmctld": ["slurmctld", "-D", "-c"],  # foreground, clean state
        "slurmd": ["slurmd", "-D"],
    }
    # The jobstep plugin (0.6) strips SLURM_* but SLURM_JOB_ID & co from the environment of the srun it runs
    # inside each job; this srun, first on the PATH the jobs inherit, puts SLURM_CONF back.
    srun = folder / "bin" / "srun"
    srun.parent.mkdir()
    srun.write_text(f'#!/bin/sh\nSLURM_CONF={conf} exec {shutil.which("srun")} "$@"\n')
    srun.chmod(0o755)
    daemons = []
    with pytest.MonkeyPatch.context() as env:
        env.setenv("SLURM_CONF", str(conf))  # read by the daemons, sbatch/squeue and the jobs (sbatch --export=ALL)
        env.setenv("PATH", f"{srun.parent}{os.pathsep}{os.environ['PATH']}")
        try:
            for name in DAEMONS:
                with open(folder / f"{name}.out", "w") as out:
                    daemons.append(subprocess.Popen(commands[name], stdout=out, stderr=subprocess.STDOUT))
                if name == "munged":  # slurmctld authenticates through its socket
                    poll((folder / "munge.socket").exists, timeout=30, daemons=daemons)
            if not poll(lambda: node_state() == "idle", timeout=120, daemons=daemons):
                logs = "\n".join(f"{p.name}: {p.read_text()[-500:]}" for p in sorted(folder.glob("*.out")) + sorted(folder.glob("slurm*.log")))
                pytest.skip(f"Slurm did not start:\n{logs}")
            yield
        finally:
            stop(daemons)
            shutil.rmtree(folder, ignore_errors=True)


def local_rules() -> set[str]:
    """The rules the workflow runs on the submitting machine (`localrule: True`)."""
    rules = "".join(path.read_text() for path in sorted((ROOT / "workflow" / "rules").glob("*.smk")))
    blocks = re.findall(r"^rule (\w+):\n((?:    .*\n|\n)*)", rules, re.M)
    return {name for name, body in blocks if "    localrule: True\n" in body}


@pytest.mark.usefixtures("slurm_cluster")
def test_micro_study_on_slurm_makes_the_local_runs_bytes(micro_study, tmp_path):
    workdir = copy_project(tmp_path)
    result = snakemake(
        workdir,
        overrides=MICRO_STUDY,
        execution=(
            *["--profile", "profiles/slurm"],
            *["--slurm-no-account", "--slurm-status-command", "squeue"],  # this cluster has no accounting
            *["--slurm-init-seconds-before-status-checks", "1"],  # not the plugin's 40 s: this cluster answers at once
            *["--set-resources", "train:gpu=0", "embed:gpu=0"],  # no GPU here: train and embed run on CPUs
            # torch on as many threads as the local run: float sums, hence near-tied ranks, depend on it
            *["--max-threads", str(LOCAL_CORES)],
        ),
    )
    output = result.stdout + result.stderr
    submitted = re.findall(r"has been submitted with SLURM jobid (\d+)", output)
    steps = re.findall(r"(\d+) of (\d+) steps \(100%\) done", output)
    on_nodes, here = (re.findall(rf"^{kind} (\w+):$", output, re.M) for kind in ("rule", "localrule"))
    assert steps and len(set(submitted)) == len(submitted) == len(on_nodes) == int(steps[-1][1]) - len(here)
    # the jobs that only read tables and draw run on the login node, every model and statistics step is a job
    assert set(here) == {"all", *(set(on_nodes) | set(here)) & local_rules()} and len(set(here)) > 5
    assert {"train", "embed", "search", "evaluate", "intervals", "paired_tests"} <= set(on_nodes)

    local, on_slurm = (reproducible_products(root / MICRO) for root in (micro_study, workdir))
    assert sorted(on_slurm) == sorted(local)
    assert [path for path in local if on_slurm[path] != local[path]] == []
