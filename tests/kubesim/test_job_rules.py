"""The Job controller's pure rules (``kubesim.controllers.jobstatus``): index intervals,
success and pod failure policies, and the pod-failure back-off, checked against the
behaviour of kube-controller-manager's ``pkg/controller/job``."""

from __future__ import annotations

from kubesim.controllers import jobstatus as js


def test_completed_indexes_are_written_as_the_controller_writes_them() -> None:
    assert js.format_indexes(js.with_indexes([], [0, 1, 2, 5, 7, 8])) == "0-2,5,7,8"
    assert js.parse_indexes("0-2,5,7,8,12", 10) == [(0, 2), (5, 5), (7, 8)]
    assert js.total(js.merge([(0, 1)], [(2, 4), (9, 9)])) == 6


def test_success_policy_rules() -> None:
    done = js.parse_indexes("1,3", 6)
    rule = {"succeededIndexes": "1-4", "succeededCount": 3}
    assert js.match_success_policy({"rules": [rule]}, 6, done) is None
    rules = [rule, {"succeededIndexes": "1,3"}]
    assert js.match_success_policy({"rules": rules}, 6, done) == "Matched rules at index 1"
    assert js.match_success_policy({"rules": [{"succeededCount": 2}]}, 6, done) == (
        "Matched rules at index 0"
    )


def test_pod_failure_policy_rules() -> None:
    pod = {
        "metadata": {"name": "p", "namespace": "n"},
        "status": {
            "phase": "Failed",
            "containerStatuses": [
                {"name": "side", "state": {"terminated": {"exitCode": 0}}},
                {"name": "main", "state": {"terminated": {"exitCode": 7}}},
            ],
        },
    }
    side = {"containerName": "side", "operator": "NotIn", "values": [1]}
    count = {"action": "Count", "onExitCodes": side}  # exit code 0 never matches
    fail = {"action": "FailJob", "onExitCodes": {"operator": "NotIn", "values": [1, 2]}}
    assert js.match_pod_failure_policy({"rules": [count, fail]}, pod) == (
        "Container main for pod n/p failed with exit code 7 matching FailJob rule at index 1",
        True,
        "FailJob",
    )
    ignore = {"action": "Ignore", "onExitCodes": {"operator": "In", "values": [7]}}
    assert js.match_pod_failure_policy({"rules": [ignore, fail]}, pod) == (None, False, "Ignore")
    assert js.match_pod_failure_policy(None, pod) == (None, True, None)


def test_pod_failure_backoff_doubles_from_the_last_failure() -> None:
    assert js.backoff_remaining(0, None, 10, 600, 100) == 0
    assert js.backoff_remaining(1, 100, 10, 600, 104) == 6
    assert js.backoff_remaining(3, 100, 10, 600, 100) == 40
    assert js.backoff_remaining(10, 100, 10, 600, 100) == 600

    def pod(code: int, finished: float) -> dict:
        terminated = {"exitCode": code, "finishedAt": js.format_time(finished)}
        statuses = [{"state": {"terminated": terminated}}]
        return {"metadata": {}, "status": {"containerStatuses": statuses}}

    rec = js.BackoffRecord().updated([], [pod(1, 1000), pod(1, 1010)])
    assert (rec.failures, rec.last_failure) == (2, 1010)
    rec = rec.updated([pod(0, 1020)], [pod(1, 1015), pod(1, 1030)])
    assert (rec.failures, rec.last_failure) == (1, 1030)
