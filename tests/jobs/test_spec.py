"""JobSpec: every field checked, every problem an error naming the field (never ignored)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from teamhub.jobs.errors import JobSpecError
from teamhub.jobs.quantity import cpu_string, parse_quantity
from teamhub.jobs.spec import JobSpec


def problems(**kwargs) -> dict[str, str]:
    with pytest.raises(JobSpecError) as e:
        JobSpec(**kwargs)
    assert isinstance(e.value, ValueError)
    return dict(e.value.problems)


def test_defaults_and_normalisation():
    s = JobSpec(source="print(1)")
    assert (s.backend, s.workers, s.procs_per_worker, s.gpus) == ("indexed", 1, 1, 0)
    assert s.cpu is None and s.memory is None and s.image is None and s.name is None
    assert s.program_kind == "source"
    s = JobSpec(command="python train.py", cpu=0.5, memory=2**30, deadline=dt.timedelta(hours=1))
    assert (s.cpu, s.memory, s.deadline) == ("500m", "1073741824", 3600)
    assert JobSpec(command=("python", "-V"), cpu=2).command == ["python", "-V"]
    assert JobSpec(script="train.py", cpu="1.5").cpu == "1.5"


@pytest.mark.parametrize(
    ("kwargs", "field", "words"),
    [
        ({"backend": "horovod"}, "backend", "choose one of indexed, pytorch, tf, mpi"),
        ({"workers": 0}, "workers", "at least 1 (got 0)"),
        ({"workers": -3}, "workers", "at least 1 (got -3)"),
        ({"workers": "4"}, "workers", "whole number (got '4')"),
        ({"workers": True}, "workers", "whole number (got True)"),
        ({"workers": 2.0}, "workers", "whole number"),
        ({"workers": 2**31}, "workers", "at most"),
        ({"procs_per_worker": 0}, "procs_per_worker", "at least 1"),
        ({"gpus": -1}, "gpus", "at least 0 (got -1)"),
        ({"gpus": 0.5}, "gpus", "whole number"),
        ({"cpu": "lots"}, "cpu", "not a Kubernetes quantity"),
        ({"cpu": 0}, "cpu", "more than 0"),
        ({"cpu": "-1"}, "cpu", "more than 0"),
        ({"cpu": "0.0001"}, "cpu", "whole millicores"),
        ({"cpu": True}, "cpu", "not a CPU amount"),
        ({"memory": "4GB"}, "memory", "not a Kubernetes quantity"),
        ({"memory": "100m"}, "memory", "did you mean Mi or Gi"),
        ({"memory": 1.5}, "memory", "not a memory amount"),
        ({"memory": "0"}, "memory", "more than 0"),
        ({"image": "my image"}, "image", "not an image reference"),
        ({"image": ""}, "image", "not an image reference"),
        ({"env": {"MY-VAR": "x"}}, "env", "'MY-VAR' is not a valid variable name"),
        ({"env": {"1X": "x"}}, "env", "not a valid variable name"),
        ({"env": {"N": 3}}, "env", "N: the value must be a string (got 3)"),
        ({"env": ["A=1"]}, "env", "must be a mapping"),
        ({"labels": {"bad key!": "x"}}, "labels", "name part"),
        ({"labels": {"q": "not valid!"}}, "labels", "not a label value"),
        ({"labels": {"teamhub.io/owner": "bob"}}, "labels", "reserved"),
        ({"labels": {"team.teamhub.io/nlp": "true"}}, "labels", "reserved"),
        ({"labels": {"batch.kubernetes.io/job-name": "x"}}, "labels", "reserved"),
        ({"labels": {"a.b_c/x": "y"}}, "labels", "not a DNS subdomain"),
        ({"deadline": 0}, "deadline", "at least 1"),
        ({"deadline": dt.timedelta(seconds=1.5)}, "deadline", "whole seconds"),
        ({"name": "Train"}, "name", "not a valid job name"),
        ({"name": "1train"}, "name", "starting with a letter"),
        ({"name": "t" * 64}, "name", "at most 63"),
        ({"chief": "yes"}, "chief", "True or False"),
        ({"working_dir": "relative/dir"}, "working_dir", "absolute path"),
    ],
)
def test_bad_field_is_named(kwargs, field, words):
    got = problems(**({"source": "print(1)"} | kwargs))
    assert field in got, got
    assert words in got[field], got[field]


@pytest.mark.parametrize(
    ("program", "words"),
    [
        ({}, "got none"),
        ({"script": "a.py", "source": "x"}, "got script and source"),
        ({"source": "x", "command": ["ls"]}, "got source and command"),
    ],
)
def test_exactly_one_program(program, words):
    got = problems(**program)
    assert "give exactly one of script" in got[""] and words in got[""]


@pytest.mark.parametrize(
    ("program", "field", "words"),
    [
        ({"source": "   \n"}, "source", "empty"),
        ({"source": b"print(1)"}, "source", "must be code text"),
        ({"command": []}, "command", "empty list"),
        ({"command": ""}, "command", "empty"),
        ({"command": ["python", 3]}, "command", "must be a string (got 3)"),
        ({"command": {"a": 1}}, "command", "list of arguments"),
        ({"script": ""}, "script", "path of a file"),
    ],
)
def test_bad_program(program, field, words):
    got = problems(**program)
    assert words in got[field]


def test_unknown_option_is_an_error_with_a_suggestion():
    got = problems(source="x", worker=4)
    assert "unknown option" in got["worker"] and "did you mean 'workers'" in got["worker"]
    got = problems(source="x", replicas=4)
    assert "unknown option" in got["replicas"] and "workers" in got["replicas"]


def test_several_problems_are_all_listed():
    with pytest.raises(JobSpecError) as e:
        JobSpec(source="x", workers=0, gpus=-1, backend="nope")
    assert set(e.value.fields) == {"workers", "gpus", "backend"}
    text = str(e.value)
    assert text.startswith("invalid job:\n") and "workers: must be at least 1" in text


def test_parse_and_replace():
    base = JobSpec(source="x", workers=2)
    assert JobSpec.parse(base, workers=3).workers == 3
    assert JobSpec.parse({"source": "x", "gpus": 1}).gpus == 1
    assert base.replace(name="job-a").name == "job-a"
    with pytest.raises(JobSpecError, match="workers: must be at least 1"):
        base.replace(workers=0)
    with pytest.raises(JobSpecError, match="expected a JobSpec or a mapping"):
        JobSpec.parse(["source", "x"])  # type: ignore[arg-type]


def test_frozen():
    s = JobSpec(source="x")
    with pytest.raises(Exception, match="frozen"):
        s.workers = 4  # type: ignore[misc]


def test_summary_keeps_no_code_or_env_values():
    s = JobSpec(source="print('secret')", env={"TOKEN": "s3cr3t"}, workers=2)
    summary = s.summary()
    assert summary["source"] == "<15 bytes>" and summary["env"] == ["TOKEN"]
    assert "s3cr3t" not in str(summary) and "secret'" not in str(summary)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("500m", Decimal("0.5")),
        ("1.5Gi", Decimal(3 * 2**29)),
        ("2k", Decimal(2000)),
        ("1e3", Decimal(1000)),
        ("100Mi", Decimal(100 * 2**20)),
        (".5", Decimal("0.5")),
    ],
)
def test_quantities(text, value):
    assert parse_quantity(text) == value


def test_cpu_strings():
    assert cpu_string(1) == "1" and cpu_string(0.25) == "250m" and cpu_string("2") == "2"
    with pytest.raises(ValueError, match="millicores"):
        cpu_string(0.0005)
