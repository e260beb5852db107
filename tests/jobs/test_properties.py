"""Property tests of spec validation: any generated spec is either refused with a message
naming what is wrong, or builds manifests the real schemas accept — and submitting never
leaves a partial object in the cluster, whatever fails on the way."""

from __future__ import annotations

from functools import cache

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from teamhub.jobs.api import Jobs
from teamhub.jobs.backends import get_backend
from teamhub.jobs.errors import JobSpecError, SubmitError
from teamhub.jobs.spec import JobSpec

from kubesim.sim import KubeSim
from tests.jobs.jobs_support import NS, POD, environment, job_objects, notebook, provision, validate
from tests.jobs.spec_strategies import spec_kwargs

SID = "propertytest1"


@cache
def env():
    return environment()


def build(kw: dict) -> list[dict]:
    spec = JobSpec(**kw)
    return get_backend(spec.backend).build(spec, env(), submission=SID)


def check_refusal(e: JobSpecError) -> None:
    assert e.problems, "a refusal lists its problems"
    for field, message in e.problems:
        assert isinstance(field, str) and isinstance(message, str) and message.strip()
    assert str(e).startswith("invalid job:")


@settings(
    max_examples=1200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)
@given(spec_kwargs())
def test_every_spec_is_valid_or_refused_with_a_message(kw):
    try:
        manifests = build(kw)
    except JobSpecError as e:
        check_refusal(e)
        event(f"refused: {type(e).__name__} ({', '.join(sorted(set(e.fields))) or 'spec'})")
        return
    event(f"valid: {manifests[0]['kind']}")
    workload = manifests[0]
    assert workload["metadata"]["name"]
    for obj in manifests:
        validate(obj)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """One kubesim and alice's notebook for the whole sample (instant kubelet)."""
    tmp = tmp_path_factory.mktemp("properties")
    sim = KubeSim(kubelet="instant", data_dir=tmp / "sim").start()
    kubeconfig = provision(sim, notebook(), tmp)
    jobs = Jobs(kubeconfig=kubeconfig, namespace=NS, pod_name=POD)
    try:
        yield sim, jobs
    finally:
        jobs.close()
        sim.stop()


def leftovers(sim: KubeSim) -> list[str]:
    """Job objects other than pods still terminating from earlier examples."""
    return [o for o in job_objects(sim) if not o.startswith("Pod/")]


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    database=None,
)
@given(kw=spec_kwargs(), fault=st.sampled_from([None, None, None, "configmaps", "services"]))
def test_submitting_never_leaves_a_partial_job(cluster, kw, fault):
    sim, jobs = cluster
    if fault:
        sim.faults.add_error(500, 1.0, verbs={"create"}, resources={fault})
    try:
        job = jobs.submit(**kw)
    except JobSpecError as e:  # refused before anything was created
        check_refusal(e)
        event("refused")
        assert "the cluster refused" not in str(e), "the API refused what teamhub accepted"
        assert leftovers(sim) == []
        return
    except SubmitError as e:  # failed half-way: rolled back
        event("rolled back")
        assert fault, f"submission failed without a fault: {e}"
        assert e.leftovers == []
        assert leftovers(sim) == []
        return
    finally:
        sim.faults.clear()
    event(f"submitted: {job.kind}")
    backend = get_backend(job.backend)
    made = set(leftovers(sim))
    expected = {f"{job.kind}/{job.name}", f"ConfigMap/{job.name}.job"}
    if backend.name == "indexed":
        expected.add(f"Service/{job.name}")
    assert expected <= made, made
    assert not (fault == "services" and backend.name == "indexed"), "the fault must have hit"
    job.delete()
    assert leftovers(sim) == []
