"""SubmitForm against kubesim: field errors beside their fields (and nothing created), the
images the user's teams allow, what each backend can honour, and a submission that
creates the job and shows its monitor."""

from __future__ import annotations

import pytest
from teamhub.jobs.client import JobsClient
from teamhub.widgets import JobMonitor, SubmitForm

from kubesim.sim import KubeSim
from tests.hub.teams_fixtures import base
from tests.jobs.jobs_support import IMAGE, NS, POD, job_objects, notebook, provision
from tests.notebook.notebook_support import batch_job, until


def errors(form: SubmitForm) -> dict[str, str]:
    return {name: html.value for name, html in form.errors.items() if html.value}


@pytest.mark.asyncio
async def test_field_errors_are_shown_beside_their_fields(kubesim, client):
    form = SubmitForm(jobs=client, command="python train.py")
    await form.ready()
    assert not form.submit_button.disabled
    form.workers.value = 0
    form.memory.value = "1.5m"
    assert await form.submit() is None
    shown = errors(form)
    assert set(shown) == {"workers", "memory"}
    assert "must be at least 1 (got 0)" in shown["workers"]
    assert "did you mean Mi or Gi" in shown["memory"]
    assert "please fix the fields marked in red" in form.message.value
    assert job_objects(kubesim) == [] and form.job is None
    # Problems found reading the form itself: no program, malformed env lines.
    form.workers.value, form.memory.value = 2, ""
    form.program.value = "  "
    form.env.value = "GOOD=1\nnot a pair"
    assert await form.submit() is None
    assert set(errors(form)) == {"program", "env"}
    assert "enter a command" in form.errors["program"].value
    assert "line 2: &#x27;not a pair&#x27; is not KEY=value" in form.errors["env"].value
    # Quota: the whole job is compared with the teams' quota (4 GPUs).
    form.program.value, form.env.value = "python train.py", ""
    form.gpus.value = 3
    assert await form.submit() is None
    assert "exceeds your quota of 4 GPUs" in form.errors["gpus"].value
    assert job_objects(kubesim) == []
    form.close()


@pytest.mark.asyncio
async def test_submitting_creates_the_job_and_shows_its_monitor(kubesim, client, tmp_path):
    (tmp_path / "train.py").write_text("print('training')\n")
    submitted = []
    form = SubmitForm(
        jobs=client,
        cwd=tmp_path,
        on_submit=submitted.append,
        monitor_options={"poll_interval": 0.1, "archive": False},
    )
    await form.ready()
    assert form.program_kind.value == "script" and form.program.placeholder == "train.py"
    form.program.value = "train.py"
    form.workers.value = 2
    form.cpu.value = "500m"
    form.env.value = "LEARNING_RATE=0.1\n# comment\nEPOCHS=3"
    assert form.queue.options == (
        ("vision (ClusterQueue teamhub-team-vision)", "vision"),
        ("none", ""),
    )
    assert form.queue.value == "vision" and not form.queue.disabled
    form.name.value = "from-form"
    form.submit_button.click()
    await form.tasks.idle()
    assert errors(form) == {} and "submitted <b>from-form</b>" in form.message.value
    job = form.job
    assert job is not None and job.name == "from-form" and submitted == [job]
    wl = batch_job(kubesim, "from-form")
    assert wl["metadata"]["labels"]["kueue.x-k8s.io/queue-name"] == "vision"
    pod_spec = wl["spec"]["template"]["spec"]
    env = {e["name"]: e.get("value") for e in pod_spec["containers"][0]["env"]}
    assert env["LEARNING_RATE"] == "0.1" and env["EPOCHS"] == "3"
    assert pod_spec["containers"][0]["resources"]["requests"]["cpu"] == "500m"
    assert pod_spec["containers"][0]["image"] == IMAGE  # the notebook's, by default
    code = kubesim.lookup("configmaps", NS, "from-form.job")
    assert code["data"]["train.py"] == "print('training')\n"
    (monitor,) = form.output.children
    assert isinstance(monitor, JobMonitor)
    await until(lambda: monitor.phase == "Running", what="the monitor to see it run")
    assert not form.submit_button.disabled and form.submit_button.description == "Submit"
    # The same name again: refused, shown in the form, nothing new created.
    before = job_objects(kubesim)
    assert await form.submit() is None
    assert "a job named &#x27;from-form&#x27; exists already" in form.message.value
    assert job_objects(kubesim) == before and form.output.children == (monitor,)
    form.close()
    assert monitor.tasks.closed


@pytest.mark.asyncio
async def test_the_image_dropdown_lists_only_allowed_images(kubesim, tmp_path, home):
    allowed = ["registry.example.org/vision/train:2", IMAGE]
    config = base()
    config["teams"]["vision"]["images"] = allowed
    kubeconfig = provision(kubesim, notebook(config=config), tmp_path)
    async with await JobsClient.connect(
        kubeconfig=kubeconfig, namespace=NS, pod_name=POD
    ) as client:
        form = SubmitForm(jobs=client, command="true", monitor=False)
        assert form.image.disabled  # until the environment is read
        await form.ready()
        assert type(form.image).__name__ == "Dropdown"
        assert [v for _, v in form.image.options] == [IMAGE, "registry.example.org/vision/train:2"]
        assert form.image.value == IMAGE and form.rows["image"].children[0] is form.image
        form.image.value = "registry.example.org/vision/train:2"
        job = await form.submit()
        assert job is not None
        wl = batch_job(kubesim, job.name)
        assert wl["spec"]["template"]["spec"]["containers"][0]["image"] == allowed[0]
        form.close()


@pytest.mark.asyncio
async def test_image_patterns_are_checked_as_typed(kubesim, client):
    """The default teams allow patterns (``quay.io/jupyter/*``): free text, checked."""
    form = SubmitForm(jobs=client, command="true")
    await form.ready()
    assert type(form.image).__name__ == "Combobox" and list(form.image.options) == [IMAGE]
    assert "allowed: quay.io/jupyter/*, registry.example.org/vision/*" in form.hints["image"].value
    form.image.value = "docker.io/evil/miner:1"
    assert "not allowed for your teams" in form.errors["image"].value
    assert await form.submit() is None
    assert "&#x27;docker.io/evil/miner:1&#x27; is not allowed" in form.errors["image"].value
    assert job_objects(kubesim) == []
    form.image.value = "quay.io/jupyter/pytorch-notebook:2025-01-01"
    assert form.errors["image"].value == ""
    form.close()


@pytest.mark.asyncio
async def test_backend_capabilities_shape_the_fields(kubesim, client):
    form = SubmitForm(jobs=client, command="true")
    await form.ready()
    assert [v for _, v in form.backend.options] == ["indexed", "pytorch", "tf", "mpi"]
    assert form.hints["backend"].value == ""
    form.procs_per_worker.value = 4
    form.backend.value = "tf"
    assert form.procs_per_worker.disabled and form.procs_per_worker.value == 1
    assert not form.chief.disabled and form.rows["chief"].layout.display is None
    form.chief.value = True
    assert form.spec_fields()[0]["chief"] is True
    form.backend.value = "pytorch"
    assert not form.procs_per_worker.disabled
    assert form.chief.disabled and form.rows["chief"].layout.display == "none"
    assert "chief" not in form.spec_fields()[0]
    form.close()


@pytest.mark.asyncio
async def test_backends_the_cluster_lacks_are_not_offered(tmp_path, home):
    sim = KubeSim(kubelet="instant", data_dir=tmp_path / "sim", training_operator=False).start()
    try:
        kubeconfig = provision(sim, notebook(), tmp_path)
        async with await JobsClient.connect(
            kubeconfig=kubeconfig, namespace=NS, pod_name=POD
        ) as client:
            form = SubmitForm(jobs=client, backend="pytorch", command="true")
            await form.ready()
            assert [v for _, v in form.backend.options] == ["indexed"]
            assert form.backend.value == "indexed"
            assert "not available in this cluster: pytorch, tf, mpi" in form.hints["backend"].value
            form.close()
    finally:
        sim.stop()


@pytest.mark.asyncio
async def test_cell_code_is_offered_as_is(kubesim, client):
    form = SubmitForm(jobs=client, source="print(1)\nprint(2)\n")
    await form.ready()
    assert form.program_kind.value == "source" and form.program.disabled
    assert form.program.value == "2 lines of code"
    job = await form.submit()
    assert job is not None
    cm = kubesim.lookup("configmaps", NS, f"{job.name}.job")
    assert cm["data"]["main.py"] == "print(1)\nprint(2)\n"
    assert job.spec["source"] == "<18 bytes>"
    form.program_kind.value = "command"
    assert not form.program.disabled and form.program.value == ""
    form.close()
