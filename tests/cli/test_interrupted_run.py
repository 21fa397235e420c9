"""What a local run against a real Airbyte says and does when it is interrupted, at each point."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import requests

from airbyte_resync.credentials import Credentials
from airbyte_resync.interrupted import JobsSeen, settle
from airbyte_resync.stub import AirbyteStub
from airbyte_resync.transitions import Transition

CONNECTION_ID = "9f1c1e4a-3b2d-4c5e-8f60-7a8b9c0d1e2f"


def create_reset(stub: AirbyteStub) -> int:
    answer = requests.post(f"{stub.url}/jobs", json={"connectionId": CONNECTION_ID, "jobType": "reset"}, timeout=10)
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
