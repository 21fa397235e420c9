"""A run is done when the destination is full again: the sync is watched to its end, across
as many child executions as it takes, and the run's own outcome is the sync's. Also the two
ways a run used to strand a destination: a retried trigger taking another run's job, and an
outage while the reset runs. Each test checks the execution's outcome and the exact HTTP
calls Airbyte received."""

from __future__ import annotations

import pytest
import requests

from airbyte_resync.stub import Fault
from tests.e2e.conftest import CONNECTION_ID, cause_of, template_with_child_bound
from tests.e2e.test_reset_and_resync import CHECKS, OUTPUT, POLL, RESET, SYNC

WATCHED_RESET = [RESET, POLL, POLL]


@pytest.mark.parametrize("final_status", ["failed", "cancelled"])
def test_a_sync_that_did_not_succeed_fails_the_run_with_resync_failed(harness, final_status):
    harness.stub.script("sync", ["running", final_status])

    result = harness.run()

    assert result.status == "FAILED"
    assert result.error == "ResyncFailed"
    cause = cause_of(result)
    assert cause["connectionId"] == CONNECTION_ID
    assert (cause["resetJobId"], cause["resyncJobId"], cause["resyncStatus"]) == (1001, 1002, final_status)
    assert "destination is empty or partly filled" in cause["message"]
    assert result.output is None
    assert harness.calls() == CHECKS + WATCHED_RESET + [SYNC, POLL]  # created running; read: ended
    assert harness.created() == ["reset", "sync"]


def test_an_incomplete_sync_is_not_done_and_its_next_attempt_counts(harness):
    harness.stub.script("sync", ["running", "incomplete", "running", "incomplete", "running", "succeeded"])

    result = harness.run()

    assert result.status == "SUCCEEDED", result.cause
    assert result.output == OUTPUT
    assert harness.calls() == CHECKS + WATCHED_RESET + [SYNC] + [POLL] * 5
    assert harness.created() == ["reset", "sync"]


def test_an_unknown_sync_status_never_ends_as_success(harness):
    harness.stub.script("sync", ["running", "paused_by_operator"], allow_unknown=True)

    result = harness.run()

    assert result.status == "FAILED"
    assert result.error == "UnexpectedJobStatus"
    assert cause_of(result)["resyncStatus"] == "paused_by_operator"
    assert harness.calls() == CHECKS + WATCHED_RESET + [SYNC, POLL]


def test_without_waiting_for_the_sync_the_run_ends_when_it_has_started(harness):
    harness.stub.script("sync", ["pending", "running", "failed"])

    result = harness.run(waitForResync=False)

    assert result.status == "SUCCEEDED", result.cause
    assert result.output == {
        "resetJobId": 1001, "resetStatus": "succeeded", "resyncJobId": 1002, "resyncStartedBy": "this-run", "resyncWatched": False,
        "resyncStatus": "running", "rowsSynced": None, "bytesSynced": None, "resyncDuration": None}  # no figures of a sync still running
    # The sync's status as it started is read once; its failure later is not this run's.
    assert harness.calls() == CHECKS + WATCHED_RESET + [SYNC, POLL]


def test_a_sync_that_outlives_one_child_execution_is_watched_by_the_next(clocked_harness, tmp_path):
    harness, clock = clocked_harness
    harness.template_path = template_with_child_bound(tmp_path, reads=3)
    harness.stub.script_timed("reset", [("running", 20), ("succeeded", 0)])
    harness.stub.script_timed("sync", [("pending", 10), ("running", 3600), ("succeeded", 0)])

    result = harness.run(pollIntervalSeconds=5)

    assert result.status == "SUCCEEDED", result.cause
    assert result.output == {**OUTPUT, "resyncDuration": "PT1H10S"}
    # The reset: reads at 0, 5 and 10 s in the first child, which then hands back; the
    # next one reads at once (10 s), then at 15 and 20 s: one read more per child.
    # The sync: a tenth of its age between reads, 5 s to 5 minutes, over as many children
    # as an hour takes; none of them longer than its bound.
    calls = harness.calls()
    assert calls[: len(CHECKS) + 7] == CHECKS + [RESET] + [POLL] * 6
    assert clock.waits[:5] == [5, 5, 0, 5, 5]
    sync_reads = calls[len(CHECKS) + 8:]
    assert calls[len(CHECKS) + 7] == SYNC and set(sync_reads) == {POLL}
    children = result.child_histories
    reads_per_child = [sum(1 for event in history if event["type"] == "TaskScheduled") for history in children]
    assert reads_per_child[:2] == [3, 3]
    assert all(1 <= reads <= 3 for reads in reads_per_child)
    assert sum(reads_per_child) == 6 + len(sync_reads)
    assert len(children) == 2 + -(-len(sync_reads) // 3)
    assert harness.created() == ["reset", "sync"]
    # Polls 5 s to 5 minutes apart; a handover from one child to the next waits nothing.
    handovers = len(children) - 2
    assert clock.waits.count(0) == handovers
    assert max(clock.waits) == 300 and min(wait for wait in clock.waits if wait) == 5


# ------------------------------------------------------ a job is adopted only if this run made it


def test_a_second_run_right_after_the_first_adopts_only_its_own_jobs(harness):
    first = harness.run()
    assert first.status == "SUCCEEDED", first.cause
    harness.stub.reset_calls()
    # Within the same minute: each trigger's answer is lost after Airbyte created the job,
    # so each retry looks for the job its lost attempt created.
    harness.stub.inject("createJob", Fault.truncated(), Fault.delay(0), Fault.truncated())

    second = harness.run()

    assert second.status == "SUCCEEDED", second.cause
    assert (second.output["resetJobId"], second.output["resyncJobId"]) == (1003, 1004)
    assert harness.created() == ["reset", "sync", "reset", "sync"]
    operations = [operation for operation, _ in harness.calls()]
    assert operations.count("createJob") == 2  # the lost reset, the lost sync, nothing more
    polled = [call.path for call in harness.stub.calls if call.operation_id == "getJob"]
    assert set(polled) == {"/jobs/1003", "/jobs/1004"}


def test_a_sync_airbytes_scheduler_started_after_the_reset_is_watched_and_said_to_be_airbytes(harness):
    """The moment the reset succeeds, Airbyte's scheduler starts a sync: this run's own is
    refused (409 try-again-later). That sync refills the destination, so the run watches it to
    its end, but its outputs do not claim it."""
    harness.stub.script("sync", ["running", "running", "succeeded"])  # the scheduler's

    def scheduler_starts_a_sync_first(logical_id, handler):
        if logical_id != "TriggerResyncFunction":
            return handler

        def invoke(event, context):
            if not any(job["jobType"] == "sync" for job in harness.stub.jobs.values()):
                requests.post(f"{harness.stub.url}/jobs", json={"connectionId": CONNECTION_ID, "jobType": "sync"},
                              headers={"Authorization": f"Bearer {harness.stub.issued_tokens()[-1]}"}, timeout=10)
            return handler(event, context)

        return invoke

    result = harness.run_raw({"connectionId": CONNECTION_ID, "pollIntervalSeconds": 0}, wrap_function=scheduler_starts_a_sync_first)

    assert result.status == "SUCCEEDED", result.cause
    assert result.output["resyncJobId"] == 1002 and result.output["resyncStartedBy"] == "airbyte"
    assert result.output["resyncStatus"] == "succeeded"
    assert harness.created() == ["reset", "sync"], "no second sync"
    refused = [call for call in harness.stub.calls if call.operation_id == "createJob" and call.status == 409]
    assert len(refused) == 1
    assert "Airbyte already runs a sync it started after this run's reset" in result.function_logs


def test_a_sync_whose_answer_was_lost_is_this_runs_own(harness):
    harness.stub.inject("createJob", Fault.delay(0), Fault.truncated())  # the reset answers; the sync is created, its answer cut off

    result = harness.run()

    assert result.status == "SUCCEEDED", result.cause
    assert (result.output["resyncJobId"], result.output["resyncStartedBy"]) == (1002, "this-run")
    assert harness.created() == ["reset", "sync"]


# ------------------------------------------------------- an outage while the reset runs


def test_an_outage_of_minutes_while_the_reset_runs_does_not_end_the_watch(clocked_harness):
    harness, _clock = clocked_harness
    harness.stub.script_timed("reset", [("running", 600), ("succeeded", 0)])
    harness.stub.script_timed("sync", [("running", 60), ("succeeded", 0)])
    # 12 refused reads in a row: more than twice the other steps' 6 attempts, and with the
    # backoff's full jitter, minutes of outage.
    outage = [Fault.disconnect()] * 12
    harness.stub.inject("getJob", Fault.delay(0), *outage)

    result = harness.run(pollIntervalSeconds=5)

    assert result.status == "SUCCEEDED", result.cause
    assert result.output["resetStatus"] == "succeeded" and result.output["resyncStatus"] == "succeeded"
    statuses = [status for operation, status in harness.calls() if operation == "getJob"]
    # One read, 12 refused (no answer: status 0), each retried after a backoff, then reads
    # again until the reset ends; the outage lasted far more than 2 minutes of the clock.
    assert statuses[:14] == [200] + [0] * 12 + [200] and set(statuses[14:]) <= {200}
    assert len(harness.retry_sleeps) == 12 and sum(harness.retry_sleeps) > 120
    assert harness.created() == ["reset", "sync"]


def test_a_permanent_answer_while_the_reset_runs_still_ends_the_run_at_once(harness):
    harness.stub.inject("getJob", Fault.delay(0), Fault.status(403))

    result = harness.run()

    assert result.status == "FAILED"
    assert result.error == "StepFailed"
    assert harness.calls() == CHECKS + [RESET, POLL, ("getJob", 403)]
    assert harness.created() == ["reset"]
