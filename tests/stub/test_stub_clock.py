"""The stub under a clock a test drives: what the real server fills in as time goes (startTime,
lastUpdatedAt only once a job ended, duration, a sync's rows and bytes, the Date header),
jobs that end by themselves when nobody polls them, jobs that follow a timeline, and the
listJobs time filters. Every answer is checked against the OpenAPI subset."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import pytest
import requests

from airbyte_resync.stub import DEFAULT_SYNC_STATS, AirbyteStub
from tests.stub.test_stub_conformance import CONNECTION_ID, OTHER_CONNECTION_ID, SPEC, ApiClient, SpecChecker

START = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def client(clock: Clock) -> Iterator[ApiClient]:
    with AirbyteStub(clock=clock, finish_after=600) as stub:
        yield ApiClient(stub, SpecChecker(SPEC))


def create(client: ApiClient, job_type: str, connection: str = CONNECTION_ID) -> dict[str, Any]:
    return client.call("createJob", 200, json={"connectionId": connection, "jobType": job_type})


def get(client: ApiClient, job_id: int) -> dict[str, Any]:
    return client.call("getJob", 200, job_id=job_id)


def test_times_and_figures_come_from_the_clock_as_the_server_fills_them(client: ApiClient, clock: Clock) -> None:
    sync = create(client, "sync")
    assert sync["startTime"] == "2026-12-01T09:00:00Z"
    assert "lastUpdatedAt" not in sync and sync["rowsSynced"] == DEFAULT_SYNC_STATS[0] // 2  # running: an attempt partly committed
    clock.advance(90)
    running = get(client, sync["jobId"])
    assert running["status"] == "running" and running["duration"] == "PT1M30S" and "lastUpdatedAt" not in running
    answer = requests.get(f"{client.stub.url}/jobs", timeout=5)  # (a read that moves no job)
    assert parsedate_to_datetime(answer.headers["Date"]) == clock.now
    clock.advance(30)
    done = get(client, sync["jobId"])
    assert done["status"] == "succeeded"
    assert done["lastUpdatedAt"] == "2026-12-01T09:02:00Z" and done["duration"] == "PT2M"
    assert (done["rowsSynced"], done["bytesSynced"]) == DEFAULT_SYNC_STATS
    reset = create(client, "reset")
    assert "rowsSynced" not in reset and "duration" not in reset  # pending: not started


def test_a_sync_with_several_attempts_is_incomplete_between_them(client: ApiClient) -> None:
    client.stub.script("sync", ["running", "incomplete", "running", "succeeded"])
    sync = create(client, "sync")
    statuses = [get(client, sync["jobId"])["status"] for _ in range(3)]
    assert statuses == ["incomplete", "running", "succeeded"]


def test_a_job_nobody_polls_ends_by_itself(client: ApiClient, clock: Clock) -> None:
    sync = create(client, "sync")
    clock.advance(599)
    assert client.call("createJob", 409, json={"connectionId": CONNECTION_ID, "jobType": "sync"})["title"] == "try-again-later"
    clock.advance(1)
    assert client.stub.jobs[sync["jobId"]]["status"] == "succeeded"
    create(client, "sync")  # the connection is free again
    client.stub.script("reset", ["pending", "running", "succeeded"], finish_after=5)
    reset = create(client, "reset", OTHER_CONNECTION_ID)
    clock.advance(5)
    assert get(client, reset["jobId"])["status"] == "succeeded"


def test_a_timed_job_follows_the_clock_not_its_polls(client: ApiClient, clock: Clock) -> None:
    client.stub.script_timed("sync", [("queued", 60), ("running", 30 * 86400), ("succeeded", 0)])
    sync = create(client, "sync")
    assert [get(client, sync["jobId"])["status"] for _ in range(3)] == ["queued"] * 3
    clock.advance(61)
    assert get(client, sync["jobId"])["status"] == "running"
    clock.advance(29 * 86400)
    assert get(client, sync["jobId"])["status"] == "running"
    clock.advance(86400)
    done = get(client, sync["jobId"])
    assert done["status"] == "succeeded" and done["duration"] == "PT720H1M"


def test_list_jobs_applies_its_time_filters(client: ApiClient, clock: Clock) -> None:
    first = create(client, "reset")  # created 09:00
    clock.advance(600)  # ends by itself at 09:10
    second = create(client, "reset", OTHER_CONNECTION_ID)  # created 09:10

    def listed(**params: str) -> list[int]:
        return [job["jobId"] for job in client.call("listJobs", 200, params=params)["data"]]

    assert listed(createdAtStart="2026-12-01T09:05:00Z") == [second["jobId"]]
    assert listed(createdAtEnd="2026-12-01T09:05:00Z") == [first["jobId"]]
    assert listed(updatedAtStart="2026-12-01T09:10:00Z", updatedAtEnd="2026-12-01T09:10:00Z") == [second["jobId"], first["jobId"]]
    assert listed(updatedAtEnd="2026-12-01T08:00:00Z") == []
    client.call("listJobs", 400, params={"createdAtStart": "yesterday"})
