"""What a local run against a real Airbyte says and does when it is interrupted, at each point."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import requests

from airbyte_resync.credentials import Credentials
from airbyte_resync.interrupted import JobsSeen, settle, settle_fleet
from airbyte_resync.stub import AirbyteStub
from airbyte_resync.transitions import Transition
from tests.support.fleet import fleet_connection_id, fleet_workspace_id
from tests.support.interrupt import interrupted

CONNECTION_ID = "9f1c1e4a-3b2d-4c5e-8f60-7a8b9c0d1e2f"


def create_reset(stub: AirbyteStub, connection_id: str = CONNECTION_ID) -> int:
    answer = requests.post(f"{stub.url}/jobs", json={"connectionId": connection_id, "jobType": "reset"}, timeout=10)
    return int(answer.json()["jobId"])


def seen_at(*transitions: Transition) -> JobsSeen:
    seen = JobsSeen()
    for transition in transitions:
        seen(transition)
    return seen


def test_before_the_reset_nothing_was_started():
    with AirbyteStub() as stub:
        line = settle(stub.url, Credentials(), CONNECTION_ID, seen_at(Transition("checkConnection", "Task", 0.1)))
        assert line == "nothing was started in Airbyte"
        assert stub.jobs == {}


def test_a_reset_that_succeeded_with_no_sync_after_it_says_the_destination_is_empty():
    with AirbyteStub() as stub:
        stub.script("reset", ["succeeded"])
        job = create_reset(stub)
        requests.get(f"{stub.url}/jobs/{job}", timeout=10)  # a poll: the scripted reset ends
        line = settle(stub.url, Credentials(), CONNECTION_ID, seen_at(Transition("triggerReset", "Task", 0.1, job_id=job)))
        assert line == f"reset {job} succeeded and no sync followed: the destination is EMPTY; start a sync of connection {CONNECTION_ID}"


def test_interrupted_while_the_reset_was_being_started_finds_the_reset_airbyte_created():
    with AirbyteStub() as stub:
        stub.script("reset", ["running"] * 5)
        seen = seen_at(Transition("triggerReset", "Task", 0.1))  # entered; its answer never seen
        job = create_reset(stub)
        line = settle(stub.url, Credentials(), CONNECTION_ID, seen)
        assert line.startswith(f"reset {job} was running and has been cancelled")
        assert stub.jobs[job]["status"] == "cancelled"


def test_a_reset_the_transitions_did_not_show_yet_is_found_and_cancelled():
    """The run's transitions are read a moment after they happen: interrupted in that moment,
    the reset it started is still found, and cancelled, never reported as nothing started."""
    with AirbyteStub() as stub:
        stub.script("reset", ["running"] * 5)
        seen = seen_at(Transition("checkConnectionIdle", "Task", 0.1))
        job = create_reset(stub)
        line = settle(stub.url, Credentials(), CONNECTION_ID, seen)
        assert line.startswith(f"reset {job} was running and has been cancelled")
        assert stub.jobs[job]["status"] == "cancelled"


def test_a_sync_the_transitions_did_not_show_yet_is_left_to_refill_the_destination():
    with AirbyteStub() as stub:
        stub.script("reset", ["succeeded"])
        reset = create_reset(stub)
        requests.get(f"{stub.url}/jobs/{reset}", timeout=10)  # a poll: the scripted reset ends
        sync = int(requests.post(f"{stub.url}/jobs", json={"connectionId": CONNECTION_ID, "jobType": "sync"}, timeout=10).json()["jobId"])
        line = settle(stub.url, Credentials(), CONNECTION_ID, seen_at(Transition("triggerReset", "Task", 0.1, job_id=reset)))
        assert line.startswith(f"sync {sync} was started after the reset and runs on in Airbyte")
        assert stub.jobs[sync]["status"] != "cancelled"


def test_a_reset_from_before_the_run_is_not_taken_for_its_own():
    with AirbyteStub() as stub:
        stub.script("reset", ["running"] * 5)
        earlier = create_reset(stub)
        seen = JobsSeen(started_at=datetime.now(UTC) + timedelta(seconds=2))  # the run started after it
        line = settle(stub.url, Credentials(), CONNECTION_ID, seen)
        assert line == "nothing was started in Airbyte"
        assert stub.jobs[earlier]["status"] == "running"


def test_an_airbyte_that_cannot_be_asked_before_the_reset_was_seen_says_to_look():
    line = settle("http://127.0.0.1:9/api/public/v1", Credentials(), CONNECTION_ID, seen_at(Transition("checkConnection", "Task", 0.1)))
    assert line.startswith("Airbyte could not be asked whether the run had started a reset")
    assert f"check the jobs of connection {CONNECTION_ID} in Airbyte" in line


def test_a_sync_that_started_is_left_to_refill_the_destination():
    with AirbyteStub() as stub:
        seen = seen_at(Transition("triggerReset", "Task", 0.1, job_id=1001), Transition("triggerResync", "Task", 0.2, job_id=1002))
        line = settle(stub.url, Credentials(), CONNECTION_ID, seen)
        assert line.startswith("sync 1002 was started after the reset and runs on in Airbyte")
        assert stub.calls == [], "nothing is asked of Airbyte about a sync that refills the destination"


def test_an_airbyte_that_cannot_be_asked_leaves_the_job_named():
    line = settle("http://127.0.0.1:9/api/public/v1", Credentials(), CONNECTION_ID, seen_at(Transition("triggerReset", "Task", 0.1, job_id=1001)))
    assert line.startswith("reset 1001 may still be running, and the destination may be empty; it could not be cancelled")


# ------------------------------------------------------------------------------ a fleet


def test_an_interrupted_fleet_settles_each_of_its_connections_in_one_line_each():
    """The runs it followed first, then those it was given, then the rest of its selection,
    listed again: a reset its transitions did not show yet is found and cancelled too."""
    followed, unseen, idle = fleet_connection_id(1), fleet_connection_id(2), fleet_connection_id(3)
    workspace = fleet_workspace_id(1)
    fleet_started = datetime.now(UTC) - timedelta(seconds=1)
    with AirbyteStub() as stub:
        for connection in (followed, unseen, idle):
            stub.add_connection(connection, workspace_id=workspace)
        stub.script("reset", ["running"] * 5, connection_id=followed)
        stub.script("reset", ["running"] * 5, connection_id=unseen)
        followed_reset, unseen_reset = create_reset(stub, followed), create_reset(stub, unseen)
        seen = {followed: seen_at(Transition("triggerReset", "Task", 0.1, job_id=followed_reset))}

        lines = settle_fleet(stub.url, Credentials(), {"workspaceIds": [workspace]}, seen, fleet_started)

        assert [line.split(": ", 1)[0] for line in lines] == [followed, unseen, idle]
        assert lines[0].startswith(f"{followed}: reset {followed_reset} was running and has been cancelled")
        assert lines[1].startswith(f"{unseen}: reset {unseen_reset} was running and has been cancelled")
        assert lines[2] == f"{idle}: nothing was started in Airbyte"
        assert {job["status"] for job in stub.jobs.values()} == {"cancelled"}


def test_an_interrupted_fleet_names_the_connections_it_was_given_even_when_none_was_started():
    given = [fleet_connection_id(1), fleet_connection_id(2)]
    with AirbyteStub() as stub:
        lines = settle_fleet(stub.url, Credentials(), {"connectionIds": given}, {}, datetime.now(UTC))
        assert lines == [f"{connection}: nothing was started in Airbyte" for connection in given]
        assert "listConnections" not in stub.operations(), "a list of connections is not listed again"


def test_an_interrupted_fleet_whose_airbyte_cannot_be_asked_says_what_to_check_for_each_connection():
    given = [fleet_connection_id(1), fleet_connection_id(2)]
    lines = settle_fleet("http://127.0.0.1:9/api/public/v1", Credentials(), {"connectionIds": given, "workspaceIds": [fleet_workspace_id(1)]},
                         {}, datetime.now(UTC))
    assert lines[0].startswith("the connections of the fleet's workspaces and tags could not be listed")
    assert [line.split(": ", 1)[0] for line in lines[1:]] == given
    assert all("Airbyte could not be asked whether the run had started a reset" in line for line in lines[1:])


def test_ctrl_c_during_a_fleet_against_a_real_airbyte_cancels_each_reset_left_running_and_exits_130():
    connections = [fleet_connection_id(1), fleet_connection_id(2)]
    with AirbyteStub() as stub:
        for connection in connections:
            stub.add_connection(connection)
            stub.script("reset", ["running"] * 50 + ["succeeded"], connection_id=connection)  # long resets: polled every minute
        # Interrupted once both resets were created and polled: each run is waiting.
        answer = interrupted(["run", *(item for connection in connections for item in ("--connection-id", connection)),
                              "--airbyte-url", stub.url, "--poll-interval", "60", "--json"],
                             ready=lambda: sum(job["jobType"] == "reset" for job in stub.jobs.values()) == 2 and stub.operations().count("getJob") >= 2)
        resets = {job["connectionId"]: job for job in stub.jobs.values() if job["jobType"] == "reset"}
        assert {connection: resets[connection]["status"] for connection in connections} == dict.fromkeys(connections, "cancelled")
        assert [job["jobType"] for job in stub.jobs.values()] == ["reset", "reset"], "no sync after an interrupted reset"
    assert answer.returncode == 130 and answer.stdout == ""
    said = answer.stderr.strip().splitlines()
    assert said[0] == "airbyte-resync: interrupted: the fleet's runs were stopped where they stood; each connection in Airbyte now:"
    assert sorted(said[1:]) == sorted(f"{connection}: reset {resets[connection]['jobId']} was running and has been cancelled; "
                                      "the destination may be partly emptied: run again" for connection in connections)
