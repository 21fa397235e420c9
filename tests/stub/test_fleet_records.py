"""What the stub offers a test of a run over many connections: the support package's fleet of
connections across workspaces and tags, the most jobs unfinished at once (overall and per
workspace), a connection's own job outcome, and jobs that end on the stub's clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from airbyte_resync.stub import AirbyteStub
from tests.support.fleet import fleet, fleet_connection_id, fleet_workspace_id

FLEET = fleet(30)


def create(stub: AirbyteStub, connection: str, job_type: str) -> dict[str, Any]:
    response = requests.post(f"{stub.url}/jobs", json={"connectionId": connection, "jobType": job_type}, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def poll(stub: AirbyteStub, job_id: int) -> str:
    status: str = requests.get(f"{stub.url}/jobs/{job_id}", timeout=10).json()["status"]
    return status


def test_the_fleet_spreads_over_workspaces_and_tags_with_some_not_active() -> None:
    assert len(FLEET.connections) == 30 and FLEET.workspaces == (fleet_workspace_id(0), fleet_workspace_id(1))
    assert FLEET.not_active_ids == [fleet_connection_id(9), fleet_connection_id(19), fleet_connection_id(29)]
    assert [FLEET.connections[number].status for number in (9, 19, 29)] == ["inactive", "locked", "inactive"]
    assert len(FLEET.active_ids) == 27
    assert FLEET.connections[0].tags == ("finance", "nightly") and FLEET.connections[1].tags == ("nightly",)
    played = FLEET.scenario()
    with played.stub() as stub:
        played.start_playing(stub)
        workspace = FLEET.workspaces[1]
        nightly = FLEET.tag_id("nightly", workspace)
        listed = requests.get(f"{stub.url}/connections", params={"workspaceIds": workspace, "tagIds": nightly, "limit": 100}, timeout=10).json()
        assert [item["connectionId"] for item in listed["data"]] == FLEET.ids(workspace=workspace, tag="nightly")
        assert {item["status"] for item in listed["data"]} == {"active", "locked", "inactive"}
        assert requests.get(f"{stub.url}/connections/{fleet_connection_id(99)}", timeout=10).status_code == 404


def test_the_most_unfinished_jobs_at_once_is_recorded_overall_and_per_workspace() -> None:
    with AirbyteStub(known_connections=[]) as stub:
        FLEET.play_on(stub)
        first, second, third = FLEET.ids(workspace=FLEET.workspaces[0])[:3]
        other = FLEET.ids(workspace=FLEET.workspaces[1])[0]
        assert stub.most_unfinished_jobs == 0 and stub.most_unfinished_jobs_by_workspace == {}
        jobs = [create(stub, connection, "reset") for connection in (first, second, other)]  # pending: unfinished
        assert stub.most_unfinished_jobs == 3
        for job in jobs:
            while poll(stub, job["jobId"]) != "succeeded":
                pass
        create(stub, third, "sync")
        create(stub, first, "sync")
        assert stub.most_unfinished_jobs == 3  # two at once now: the peak stays
        assert stub.most_unfinished_jobs_by_workspace == {FLEET.workspaces[0]: 2, FLEET.workspaces[1]: 1}
        create(stub, first, "reset")  # cancels the sync it finds: still two unfinished in that workspace
        assert stub.most_unfinished_jobs_by_workspace[FLEET.workspaces[0]] == 2


def test_a_connection_can_be_told_how_its_next_job_ends() -> None:
    failing = FLEET.active_ids[4]
    played = FLEET.scenario(failing_syncs=(failing,))
    with played.stub() as stub:
        played.start_playing(stub)
        stub.script("sync", ["cancelled"], connection_id=FLEET.active_ids[5])
        stub.script("sync", ["running", "succeeded"])  # for any connection, after the connections' own
        outcomes = {}
        for connection in FLEET.active_ids[3:7]:
            job = create(stub, connection, "sync")
            statuses = [job["status"]] + [poll(stub, job["jobId"]) for _ in range(3)]
            outcomes[connection] = statuses[-1]
        assert outcomes == {
            FLEET.active_ids[3]: "succeeded",
            failing: "failed",
            FLEET.active_ids[5]: "cancelled",
            FLEET.active_ids[6]: "succeeded",
        }
        assert poll(stub, create(stub, failing, "sync")["jobId"]) == "running"  # its own script was for one job


def test_jobs_nobody_polls_end_on_the_stubs_clock() -> None:
    now = [datetime(2026, 12, 1, 9, 0, tzinfo=UTC)]
    with AirbyteStub(known_connections=[], clock=lambda: now[0], finish_after=60) as stub:
        FLEET.play_on(stub)
        jobs = [create(stub, connection, "reset") for connection in FLEET.active_ids]
        assert stub.most_unfinished_jobs == len(FLEET.active_ids)
        now[0] += timedelta(seconds=60)
        assert {stub.jobs[job["jobId"]]["status"] for job in jobs} == {"succeeded"}
        create(stub, FLEET.active_ids[0], "sync")  # the connection is free again
