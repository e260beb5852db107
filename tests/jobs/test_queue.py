"""Kueue queues in the jobs API: a team's ``clusterQueue`` reaches the notebook through the
pod's entitlements, ``queue=`` (or the first of the user's queues) becomes the workload's
``kueue.x-k8s.io/queue-name`` label, a queue the user does not have, or a backend Kueue
does not queue, is refused by name, and the environment summary lists the queues."""

from __future__ import annotations

import json
from functools import cache

import pytest
from teamhub.jobs import labels as L
from teamhub.jobs.backends import BACKENDS, get_backend
from teamhub.jobs.entitlements import Entitlements
from teamhub.jobs.errors import JobSpecError
from teamhub.jobs.spec import JobSpec
from teamhub.server.backend import environment_model

from tests.hub.teams_fixtures import base
from tests.jobs.jobs_support import environment, validate

SID = "abcdefghijkl"
QUEUE = "kueue.x-k8s.io/queue-name"


def config(**queues: str) -> dict:
    """The test teams config, each team in ``queues`` with that ClusterQueue."""
    cfg = base()
    for team, cluster_queue in queues.items():
        cfg["teams"][team]["clusterQueue"] = cluster_queue
    return cfg


@cache
def queued():
    """alice, in vision and nlp, both with a ClusterQueue."""
    return environment(
        groups=("vision", "nlp"), config=config(vision="teamhub-team-vision", nlp="cq-nlp")
    )


@cache
def unqueued():
    return environment(groups=("vision", "nlp"))


def build(env, **kwargs):
    spec = JobSpec(**({"source": "print('hi')", "cpu": "1"} | kwargs))
    return get_backend(spec.backend).build(spec, env, submission=SID)


def test_the_teams_cluster_queues_reach_the_notebook_as_its_queues():
    assert dict(queued().entitlements.queues) == {"nlp": "cq-nlp", "vision": "teamhub-team-vision"}
    assert dict(unqueued().entitlements.queues) == {}


@pytest.mark.parametrize("backend", ["indexed", "pytorch", "tf"])
def test_queue_names_one_of_the_users_queues_on_the_workload_only(backend):
    workload, *owned = build(queued(), backend=backend, queue="vision")
    assert workload["metadata"]["labels"][QUEUE] == "vision"
    validate(workload)
    # Kueue reads the workload's label; pods and the objects it owns do not carry it.
    text = json.dumps(workload["spec"])
    assert QUEUE not in text
    assert all(QUEUE not in o["metadata"].get("labels", {}) for o in owned)


def test_without_queue_the_job_waits_in_the_first_of_the_users_queues():
    (workload, *_) = build(queued())
    assert workload["metadata"]["labels"][QUEUE] == "nlp"  # team order
    (workload, *_) = build(queued(), queue="")  # explicitly none
    assert QUEUE not in workload["metadata"]["labels"]
    (workload, *_) = build(unqueued())  # no queues: not queued
    assert QUEUE not in workload["metadata"]["labels"]


def test_the_label_given_directly_is_kept_and_not_defaulted():
    (workload, *_) = build(queued(), labels={QUEUE: "admin-made"})
    assert workload["metadata"]["labels"][QUEUE] == "admin-made"


@pytest.mark.parametrize(
    ("env", "queue", "words"),
    [
        (queued, "robots", "'robots' is not one of your queues (nlp, vision)"),
        (unqueued, "vision", "your teams (nlp, vision) have no Kueue queues"),
    ],
)
def test_a_queue_the_user_does_not_have_is_refused(env, queue, words):
    with pytest.raises(JobSpecError) as e:
        build(env(), queue=queue)
    assert words in dict(e.value.problems)["queue"]


def test_kueue_does_not_queue_the_training_operators_v1_mpijob():
    assert BACKENDS["mpi"].supports_queue is False
    (workload, *_) = build(queued(), backend="mpi")  # the default queue does not apply
    assert QUEUE not in workload["metadata"]["labels"]
    with pytest.raises(JobSpecError) as e:
        build(queued(), backend="mpi", queue="vision")
    assert "kubeflow.org/v1 MPIJob" in dict(e.value.problems)["queue"]


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"queue": "Vision"}, "'Vision' is not a queue name"),
        ({"queue": "a" * 64}, "is not a queue name"),
        ({"queue": 3}, "3 is not a queue name"),
        ({"queue": "vision", "labels": {QUEUE: "vision"}}, "give the queue once"),
    ],
)
def test_bad_queue_options_are_errors(kwargs, words):
    with pytest.raises(JobSpecError) as e:
        JobSpec(source="x", **kwargs)
    assert words in str(e.value)


def test_the_queue_is_in_the_spec_summary_and_the_label_constant_is_kueues():
    assert JobSpec(source="x", queue="vision").summary()["queue"] == "vision"
    assert L.QUEUE_NAME_LABEL == QUEUE


def test_the_environment_summary_lists_the_queues():
    model = environment_model(queued()).dump()
    assert model["queues"] == [
        {"name": "nlp", "clusterQueue": "cq-nlp"},
        {"name": "vision", "clusterQueue": "teamhub-team-vision"},
    ]
    assert environment_model(unqueued()).dump()["queues"] == []


def test_entitlements_queues_must_be_a_mapping_of_names():
    with pytest.raises(ValueError, match=r"entitlements\.queues"):
        Entitlements.from_dict({"queues": ["vision"]})
    assert Entitlements.from_dict({}).queues == {}
