"""Hypothesis strategies for job specs: a mix of valid and subtly invalid values for every
field (wrong types, out-of-range numbers, malformed quantities and names, reserved keys,
quota breaches, options a backend can't honour), so that generated specs land on both
sides of every check."""

from __future__ import annotations

import string

from hypothesis import strategies as st

NAME_CHARS = string.ascii_lowercase + string.digits + "-"

backends = st.sampled_from(["indexed", "pytorch", "tf", "mpi"]) | st.sampled_from(
    ["horovod", "", "PyTorch", 3, None]
)

sources = st.text(min_size=0, max_size=40) | st.sampled_from(["print(1)", "import os\n"])
commands = (
    st.lists(st.text(max_size=12), min_size=0, max_size=4)
    | st.lists(st.sampled_from(["python", "-c", "print(1)", 3, None]), max_size=3)
    | st.text(max_size=30)
    | st.sampled_from([["python", "-V"], "echo hi", ("sleep", "1")])
)
scripts = st.sampled_from(["/no/such/file.py", "", "relative.py"])


@st.composite
def programs(draw) -> dict:
    """Usually exactly one of source/command/script; sometimes none or two."""
    kind = draw(st.sampled_from(["source", "command", "source", "command", "none", "two"]))
    if kind == "source":
        return {"source": draw(sources)}
    if kind == "command":
        return {"command": draw(commands)}
    if kind == "two":
        return {"source": draw(sources), "command": draw(commands)}
    return draw(st.sampled_from([{}, {"script": draw(scripts)}]))


counts = st.integers(-2, 8) | st.sampled_from([0, 1, 2, 51, 100_001, "4", 2.0, True, None])
cpus = st.none() | st.sampled_from(
    [
        "1",
        "500m",
        "0.5",
        "2",
        "16",
        "33",
        "0",
        "-1",
        "1.5",
        "0.0001",
        "lots",
        "4Gi",
        "1e1",
        "",
        1,
        0.25,
        2.5,
        True,
    ]
)
memories = st.none() | st.sampled_from(
    ["1Gi", "512Mi", "64Gi", "200Gi", "100m", "1.5Gi", "0", "4GB", "1e9", 1024, 1.5, "abc"]
)
gpus = st.integers(-1, 5) | st.sampled_from([0.5, "1", True])
images = st.none() | st.sampled_from(
    [
        "quay.io/jupyter/scipy-notebook:2025-01-01",
        "quay.io/jupyter/pytorch-notebook",
        "registry.example.org/vision/train@sha256:0123",
        "docker.io/evil/miner",
        "python:3.11",
        "bad image",
        "",
        7,
    ]
)
env_keys = st.sampled_from(
    ["EPOCHS", "LR", "_X", "A1", "1A", "BAD-NAME", "RANK", "MASTER_ADDR", "TF_CONFIG",
     "PET_NNODES", "TEAMHUB_JOB_NAME", "OMPI_MCA_plm_rsh_agent", ""]
)  # fmt: skip
env_values = st.text(max_size=20) | st.sampled_from([3, None])
label_keys = st.sampled_from(
    ["kueue.x-k8s.io/queue-name", "app", "example.org/tier", "teamhub.io/owner",
     "team.teamhub.io/nlp", "bad key", "-a", "a" * 64, "x/y/z", "batch.kubernetes.io/job-name"]
)  # fmt: skip
label_values = st.sampled_from(["vision", "", "a.b-c_d", "-bad", "x" * 64, "with space", 5])
names = (
    st.none()
    | st.builds(lambda t: f"n{t}", st.text(NAME_CHARS, max_size=70))
    | st.sampled_from(["Train", "1abc", "a-", "ok-name", "a" * 64, "", "has.dot", 4])
)
deadlines = st.none() | st.integers(-3, 10**7) | st.sampled_from([0, 1.5, "60"])


# ------------------------------------------------------------------ valid values
TEXT = st.text(st.characters(blacklist_characters="\x00", codec="utf-8"), max_size=30)
valid_programs = st.one_of(
    st.builds(lambda t: {"source": f"print({t!r})"}, TEXT),
    st.builds(
        lambda a: {"command": ["python", "-c", *a]},
        st.lists(TEXT, max_size=2),
    ),
    st.builds(lambda t: {"command": f"echo {t!r}"}, TEXT),
)
valid_env = st.dictionaries(
    st.sampled_from(["EPOCHS", "LR", "BATCH_SIZE", "_PRIVATE", "A1", "DATA_DIR", "SEED"]),
    TEXT,
    max_size=3,
)
valid_labels = st.dictionaries(
    st.sampled_from(["kueue.x-k8s.io/queue-name", "app", "example.org/tier", "exp"]),
    st.sampled_from(["", "vision", "a.b-c_d", "q1", "x" * 63]),
    max_size=2,
)
valid_names = st.builds(lambda t: f"j{t}0", st.text(NAME_CHARS, max_size=40))


@st.composite
def valid_spec_kwargs(draw) -> dict:
    """A spec that should be accepted (within alice's quota: 32 CPUs, 128Gi, 4 GPUs)."""
    backend = draw(st.sampled_from(["indexed", "pytorch", "tf", "mpi"]))
    kw: dict = {"backend": backend, **draw(valid_programs)}
    workers = draw(st.integers(1, 4))
    kw["workers"] = workers
    if backend != "tf" and draw(st.booleans()):
        kw["procs_per_worker"] = draw(st.integers(1, 4))
    if backend == "tf" and draw(st.booleans()):
        kw["chief"] = draw(st.booleans())
    if draw(st.booleans()):
        kw["cpu"] = draw(st.sampled_from(["1", "500m", "0.5", "2", "1.5", 1, 0.25, "8"]))
    if draw(st.booleans()):
        kw["memory"] = draw(st.sampled_from(["1Gi", "512Mi", "1.5Gi", "1e9", 2**30, "32Gi"]))
    if draw(st.booleans()):
        kw["gpus"] = draw(st.integers(0, 1))
    if draw(st.booleans()):
        kw["image"] = draw(
            st.sampled_from(
                [
                    "quay.io/jupyter/scipy-notebook:2025-01-01",
                    "quay.io/jupyter/pytorch-notebook",
                    "registry.example.org/vision/train@sha256:0123",
                ]
            )
        )
    kw["env"] = draw(valid_env)
    kw["labels"] = draw(valid_labels)
    if draw(st.booleans()):
        kw["deadline"] = draw(st.integers(1, 10**7))
    if draw(st.booleans()):
        kw["name"] = draw(valid_names)
    return kw


@st.composite
def spec_kwargs(draw) -> dict:
    """Half valid specs, half valid specs with one to three fields spoilt (or arbitrary)."""
    kw = draw(valid_spec_kwargs())
    mode = draw(st.sampled_from(["valid", "spoilt", "spoilt", "arbitrary"]))
    if mode == "valid":
        return kw
    if mode == "arbitrary":
        return draw(arbitrary_spec_kwargs())
    spoilers = {
        "program": programs(),
        "backend": backends,
        "workers": counts,
        "procs_per_worker": counts,
        "cpu": cpus,
        "memory": memories,
        "gpus": gpus,
        "image": images,
        "env": st.dictionaries(env_keys, env_values, min_size=1, max_size=3),
        "labels": st.dictionaries(label_keys, label_values, min_size=1, max_size=2),
        "deadline": deadlines,
        "name": names,
        "chief": st.booleans() | st.sampled_from(["yes", 1]),
        "unknown": st.sampled_from(["replicas", "worker", "gpu", "queue"]),
    }
    for field in draw(st.lists(st.sampled_from(sorted(spoilers)), min_size=1, max_size=3)):
        value = draw(spoilers[field])
        if field == "program":
            for k in ("source", "command", "script"):
                kw.pop(k, None)
            kw.update(value)
        elif field == "unknown":
            kw[value] = 1
        else:
            kw[field] = value
    return kw


@st.composite
def arbitrary_spec_kwargs(draw) -> dict:
    """Keyword arguments for ``JobSpec`` (some fields left out, some junk added)."""
    kw: dict = draw(programs())
    optional = {
        "backend": backends,
        "workers": counts,
        "procs_per_worker": counts,
        "cpu": cpus,
        "memory": memories,
        "gpus": gpus,
        "image": images,
        "env": st.dictionaries(env_keys, env_values, max_size=3),
        "labels": st.dictionaries(label_keys, label_values, max_size=2),
        "deadline": deadlines,
        "name": names,
        "chief": st.booleans() | st.sampled_from(["yes", 1]),
    }
    for key, strategy in optional.items():
        if draw(st.booleans()):
            kw[key] = draw(strategy)
    if draw(st.integers(0, 9)) == 0:
        kw[draw(st.sampled_from(["replicas", "worker", "gpu", "queue"]))] = 1
    return kw
