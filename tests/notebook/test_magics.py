"""The ``%job``/``%%job`` magics in an IPython shell against kubesim: ``%load_ext``, help,
bad command lines (a clear UsageError, nothing created), ``%%job`` with the live monitor
widget or printed logs, and the line commands."""

from __future__ import annotations

import pytest
import pytest_asyncio
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell
from teamhub.magics import JobMagics, working_dir_for
from teamhub.widgets import JobMonitor

from tests.jobs.jobs_support import NS, job_objects
from tests.notebook.notebook_support import batch_job, until


@pytest.fixture
def shell() -> InteractiveShell:
    return InteractiveShell.instance()


@pytest_asyncio.fixture
async def magics(shell, facade):
    """The magics, bound to a jobs client acting as alice's notebook."""
    m = JobMagics(shell, jobs=facade)
    m.poll_interval = 0.1
    shell.register_magics(m)
    return m


def test_load_ext_registers_the_magics_with_their_help(shell, capsys):
    shell.run_line_magic("load_ext", "teamhub")
    registered = shell.magics_manager.magics
    assert "job" in registered["line"] and "job" in registered["cell"]
    doc = registered["line"]["job"].__doc__
    assert "usage: %%job" in doc and "usage: %job logs" in doc
    shell.run_line_magic("job", "--help")
    out = capsys.readouterr().out
    assert out.startswith("usage: %job [-h] COMMAND ...") and "cancel" in out
    shell.run_line_magic("job", "logs --help")
    out = capsys.readouterr().out
    assert "usage: %job logs [-h] [-f] [--replica REPLICA] [--tail N]" in out
    shell.run_cell_magic("job", "--workers 4 --help", "print('not submitted')")
    out = capsys.readouterr().out
    assert out.startswith("usage: %%job") and "--procs-per-worker N" in out
    shell.run_line_magic("job", "")
    assert "usage: %job" in capsys.readouterr().out


@pytest.mark.asyncio
async def test_bad_command_lines_are_clear_errors_and_create_nothing(kubesim, shell, magics):
    cases = [
        ("--workers 0", "invalid job: workers: must be at least 1 (got 0)"),
        ("--workers four", "argument --workers: invalid int value: 'four'"),
        ("--backend horovod", "argument --backend: invalid choice: 'horovod'"),
        ("--env NOVALUE", "--env 'NOVALUE': expected KEY=VALUE"),
        ("--env 1BAD=x", "'1BAD' is not a valid variable name"),
        ("--label teamhub.io/owner=bob", "reserved for teamhub"),
        ("--frobnicate", "unrecognized arguments: --frobnicate"),
        ("--image docker.io/evil/miner:1", "is not allowed for your teams"),
        ("--gpus 2 --workers 4", "exceeds your quota of 4 GPUs"),
        ("--backend tf --procs-per-worker 2", "runs one process per worker"),
        ("--out 2x", "--out '2x': not a Python variable name"),
        ("--name Bad_Name", "is not a valid job name"),
        ("--queue nlp", "'nlp' is not one of your queues (vision)"),
        ("--backend mpi --queue vision", "Kueue does not queue the mpi backend"),
    ]
    for line, message in cases:
        with pytest.raises(UsageError) as e:
            shell.run_cell_magic("job", line, "print(1)")
        assert message in str(e.value), (line, str(e.value))
    with pytest.raises(UsageError, match="source: is empty"):
        shell.run_cell_magic("job", "", "   \n")
    for line, message in [
        ("status no-such-job", "no job named 'no-such-job'"),
        ("logs", "the following arguments are required: NAME"),
        ("logs x --tail many", "invalid int value"),
        ("explode x", "invalid choice: 'explode'"),
    ]:
        with pytest.raises(UsageError) as e:
            shell.run_line_magic("job", line)
        assert message in str(e.value), (line, str(e.value))
    assert job_objects(kubesim) == [] and magics.last_job is None


@pytest.mark.asyncio
async def test_cell_magic_submits_the_cell_and_shows_the_monitor(
    kubesim, shell, magics, scripted, home
):
    scripted["kubesim.io/logs"] = "loss=0.5\nloss=0.25\n"
    scripted["kubesim.io/exit-code"] = "0"
    magics.widgets = "always"
    cell = "import os\nprint('loss', os.environ['RANK'])\n"
    shell.run_cell_magic(
        "job", "--workers 2 --cpu 1 --env LR=0.1 --queue vision --name hello --out job", cell
    )
    job = magics.last_job
    assert job.name == "hello" and shell.user_ns["job"] is job
    wl = batch_job(kubesim, "hello")
    assert wl["spec"]["completions"] == 2
    assert wl["metadata"]["labels"]["kueue.x-k8s.io/queue-name"] == "vision"
    container = wl["spec"]["template"]["spec"]["containers"][0]
    assert {"name": "LR", "value": "0.1"} in container["env"]
    assert kubesim.lookup("configmaps", NS, "hello.job")["data"]["main.py"] == cell
    mon = magics.last_monitor
    assert isinstance(mon, JobMonitor)
    await until(lambda: mon.phase == "Succeeded", what="the job to succeed")
    await until(lambda: len(mon.logs.lines()) == 4, what="every rank's lines")
    assert sorted(mon.logs.lines()) == [
        "[rank-0] loss=0.25",
        "[rank-0] loss=0.5",
        "[rank-1] loss=0.25",
        "[rank-1] loss=0.5",
    ]
    await until(lambda: "[rank-1] loss=0.5" in mon.logs.merged.value, what="rendered")
    assert mon.logs.replicas == ["rank-0", "rank-1"] and mon.cancel_button.disabled
    await until(lambda: mon.archived, what="the archive")
    folder = home / ".teamhub" / "job-logs" / "hello"
    assert (folder / "rank-0.log").read_text() == "loss=0.5\nloss=0.25\n"


@pytest.mark.asyncio
async def test_without_widgets_the_logs_are_printed(kubesim, shell, magics, scripted, capsys, home):
    scripted["kubesim.io/logs"] = "epoch 1 done\n"
    scripted["kubesim.io/exit-code"] = "0"
    magics.widgets = "never"
    shell.run_cell_magic("job", "--workers 2 --name printed", "print(1)")
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "submitted printed (indexed, 2 worker(s))"
    assert sorted(out[1:3]) == ["[rank-0] epoch 1 done", "[rank-1] epoch 1 done"]
    assert out[3] == "printed (indexed): Succeeded [CompletionsReached] — 0/2 replicas ready"
    assert out[-1] == "archived 2 log files to ~/.teamhub/job-logs/printed/"
    assert (home / ".teamhub/job-logs/printed/rank-1.log").read_text() == "epoch 1 done\n"
    assert magics.last_monitor is None
    shell.run_cell_magic("job", "--no-follow --name quiet", "print(1)")
    assert capsys.readouterr().out == "submitted quiet (indexed, 1 worker(s))\n"


@pytest.mark.asyncio
async def test_line_commands(kubesim, shell, magics, scripted, capsys, home):
    scripted["kubesim.io/logs"] = "a\nb\nc\n"  # runs until cancelled
    magics.widgets = "never"
    shell.run_cell_magic("job", "--workers 2 --name steady --no-follow", "1")
    shell.run_cell_magic("job", "--gpus 1 --name stuck --no-follow", "1")
    capsys.readouterr()
    await until(lambda: magics.jobs.get("steady").status().ready == 2, what="steady running")

    shell.run_line_magic("job", "list")
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["NAME", "BACKEND", "STATUS", "READY", "AGE"]
    rows = {ln.split()[0]: ln.split() for ln in lines[1:]}
    assert rows["steady"][1:4] == ["indexed", "Running", "2/2"]
    assert rows["stuck"][1:3] == ["indexed", "Pending"]

    shell.run_line_magic("job", "status stuck")
    out = capsys.readouterr().out
    assert out.startswith("stuck (indexed): Pending [Unschedulable] — 0/1 replicas ready")
    assert "Insufficient nvidia.com/gpu" in out

    shell.run_line_magic("job", "status steady")
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "steady (indexed): Running — 2/2 replicas ready"
    assert out[1].split()[:4] == ["REPLICA", "RANK", "PHASE", "RESTARTS"]
    assert out[2].split()[:4] == ["rank-0", "0", "Running", "ready"]

    shell.run_line_magic("job", "logs steady --replica rank-1 --tail 2")
    assert capsys.readouterr().out == "[rank-1] b\n[rank-1] c\n"
    shell.run_line_magic("job", "logs steady")
    assert sorted(capsys.readouterr().out.splitlines()) == sorted(
        f"[rank-{r}] {t}" for r in (0, 1) for t in "abc"
    )
    with pytest.raises(UsageError, match="no pod of replica"):
        shell.run_line_magic("job", "logs steady --replica worker-7")

    shell.run_line_magic("job", "cancel steady")
    assert capsys.readouterr().out == (
        "cancelled steady; its logs are in ~/.teamhub/job-logs/steady/\n"
    )
    assert (home / ".teamhub/job-logs/steady/rank-0.log").read_text() == "a\nb\nc\n"
    shell.run_line_magic("job", "cancel steady")
    assert capsys.readouterr().out == "steady was cancelled already\n"
    shell.run_line_magic("job", "list")
    assert "Cancelled" in capsys.readouterr().out

    shell.run_line_magic("job", "delete steady")
    assert capsys.readouterr().out.startswith("deleted steady")
    shell.run_line_magic("job", "delete stuck")
    capsys.readouterr()
    await until(lambda: job_objects(kubesim) == [], what="every object gone")
    shell.run_line_magic("job", "list")
    assert capsys.readouterr().out == "no jobs (submit one with %%job)\n"


def test_the_archive_folder_named_is_the_one_written():
    from teamhub.jobs.archive import DEFAULT_ARCHIVE_DIR
    from teamhub.magics import ARCHIVE_DIR

    assert ARCHIVE_DIR == DEFAULT_ARCHIVE_DIR


def test_working_dir_follows_the_kernel_onto_shared_volumes():
    mounts = [{"mountPath": "/home/jovyan"}, {"mountPath": "/teams/vision/data/"}]
    assert working_dir_for("/home/jovyan/project", mounts) == "/home/jovyan/project"
    assert working_dir_for("/teams/vision/data", mounts) == "/teams/vision/data"
    assert working_dir_for("/home/jovyanx", mounts) is None
    assert working_dir_for("/tmp", mounts) is None
