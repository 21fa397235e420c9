"""The fleet end to end: the committed reset-and-resync-fleet state machine runs in moto's
engine, lists the stub's connections by workspace and tag, and runs the committed
reset-and-resync for each as a child execution from a Distributed Map, the functions
in-process, the stub answering over HTTP on a virtual clock."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from tests.e2e.conftest import Harness
from tests.support.fleet import Fleet, fleet


def jobs_by_connection(harness: Harness) -> dict[str, Counter]:
    """connectionId -> how many jobs of each type Airbyte created for it."""
    created: dict[str, Counter] = {}
    for job in harness.stub.jobs.values():
        created.setdefault(job["connectionId"], Counter())[job["jobType"]] += 1
    return created


def outcomes(result) -> dict[str, dict]:
    return {entry["connectionId"]: entry for entry in result.output["connections"]}


@pytest.fixture
def thirty() -> Fleet:
    return fleet(30, workspaces=2)


def test_a_fleet_of_30_runs_at_most_5_at_once_refills_each_active_connection_once_and_skips_the_others(harness, thirty):
    failing = thirty.active_ids[7]
    thirty.play_on(harness.stub, failing_syncs=(failing,))

    result = harness.run_fleet(workspaceIds=list(thirty.workspaces), maxConcurrent=5, toleratedFailures=1)

    assert result.status == "SUCCEEDED", (result.error, result.cause)
    assert harness.stub.most_unfinished_jobs <= 5
    created = jobs_by_connection(harness)
    for connection_id in thirty.active_ids:
        assert created[connection_id] == Counter(reset=1, sync=1), connection_id
    for connection_id in thirty.not_active_ids:
        assert connection_id not in created  # nothing reset
    found = outcomes(result)
    assert set(found) == set(thirty.ids())
    assert found[failing]["outcome"] == "failed" and found[failing]["error"] == "ResyncFailed"
    for connection_id in thirty.not_active_ids:
        assert found[connection_id]["outcome"] == "skipped" and found[connection_id]["error"] == "ConnectionNotActive"
    succeeded = [entry for entry in found.values() if entry["outcome"] == "succeeded"]
    assert len(succeeded) == len(thirty.active_ids) - 1
    for entry in succeeded:
        assert entry["executionArn"].startswith("arn:aws:states:")
        assert entry["outputs"]["resyncStatus"] == "succeeded" and entry["outputs"]["rowsSynced"] > 0
    assert result.output["counts"] == {"succeeded": len(thirty.active_ids) - 1, "failed": 1, "skipped": len(thirty.not_active_ids), "notStarted": 0}


def test_more_failures_than_tolerated_start_no_new_connection_and_fail_the_fleet_naming_them(harness):
    small = fleet(6, workspaces=1, not_active_every=100)
    first, second = small.active_ids[0], small.active_ids[1]
    small.play_on(harness.stub, failing_syncs=(first,))

    # One at a time, in order: the first connection fails, so none after it starts.
    result = harness.run_fleet(connectionIds=small.ids(), maxConcurrent=1, toleratedFailures=0)

    assert result.status == "FAILED"
    assert result.error == "ForEachFailed"
    cause = json.loads(result.cause)
    assert cause["toleratedFailures"] == 0
    assert [failure["connectionId"] for failure in cause["failed"]] == [first]
    created = jobs_by_connection(harness)
    assert created == {first: Counter(reset=1, sync=1)}  # the failed one was re-synced; no other reset
    assert second not in created


def test_a_fleet_chosen_by_tag_runs_only_the_connections_carrying_it(harness):
    twelve = fleet(12, workspaces=2, not_active_every=5)
    twelve.play_on(harness.stub)
    workspace = twelve.workspaces[0]
    chosen = twelve.ids(workspace=workspace, tag="nightly")
    assert 0 < len(chosen) < len(twelve.ids(workspace=workspace))  # the tag chooses some, not all

    result = harness.run_fleet(workspaceIds=[workspace], tagIds=[twelve.tag_id("nightly", workspace)], maxConcurrent=20)

    assert result.status == "SUCCEEDED", (result.error, result.cause)
    assert set(outcomes(result)) == set(chosen)
    assert set(jobs_by_connection(harness)) == set(chosen) - set(twelve.not_active_ids)


def test_a_fleet_that_names_nothing_is_refused_before_any_request_to_airbyte(harness):
    result = harness.run_fleet(maxConcurrent=5)

    assert result.status == "FAILED"
    assert "name connections, workspaces or tags" in (result.cause or "")
    assert [call.operation_id for call in harness.stub.calls if call.operation_id != "createAccessToken"] == []
