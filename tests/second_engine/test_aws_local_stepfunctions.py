"""The committed reset-and-resync state machine (with wait-for-job as its child) run by a second
Step Functions engine, aws-local-stepfunctions, against the built-in Airbyte stub: it must end as
moto's run ends, with the same outputs, errors and Airbyte calls. What the engine lacks and the
harness makes up for is listed in docs/how-it-works/second-engine.md."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from airbyte_resync.credentials import Credentials
from airbyte_resync.local import run_state_machine
from airbyte_resync.stub import AirbyteStub, Fault
from tests.e2e.conftest import CLIENT_ID, CLIENT_SECRET, CONNECTION_ID, JOBS_NEVER_END_BY_THEMSELVES, VirtualClock
from tests.support.second_engine import node_missing, run_in_second_engine

pytestmark = pytest.mark.skipif(node_missing() is not None, reason=node_missing() or "")

CREDENTIALS = Credentials(client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
EXECUTION_INPUT = {"connectionId": CONNECTION_ID, "pollIntervalSeconds": 0}
Scenario = Callable[[AirbyteStub], None]


def _stub() -> AirbyteStub:
    # Jobs move on only when polled: each run makes the same calls, whichever engine runs it.
    return AirbyteStub(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, clock=VirtualClock(), finish_after=JOBS_NEVER_END_BY_THEMSELVES)


@pytest.fixture
def stub() -> Iterator[AirbyteStub]:
    with _stub() as started:
        yield started


def _in_moto(scenario: Scenario) -> tuple[Any, list[tuple[str, int]]]:
    """The same scenario run by moto's engine, on a stub of its own: its result and the calls."""
    with _stub() as other:
        scenario(other)
        result = run_state_machine(EXECUTION_INPUT, other.url, CREDENTIALS, retry_sleep=lambda seconds: None, timeout_seconds=120)
        return result, _calls(other)


def _calls(stub: AirbyteStub) -> list[tuple[str, int]]:
    return [(call.operation_id, call.status) for call in stub.calls]


def test_a_successful_run_gives_the_outputs_moto_gives(stub):
    result = run_in_second_engine(EXECUTION_INPUT, stub.url, CREDENTIALS)

    assert result.status == "SUCCEEDED", result.cause
    assert result.output["resetJobId"] == 1001 and result.output["resyncJobId"] == 1002
    assert (result.output["resetStatus"], result.output["resyncStatus"]) == ("succeeded", "succeeded")
    assert (result.output["rowsSynced"], result.output["bytesSynced"]) == (12_345, 6_789_012)
    moto, moto_calls = _in_moto(lambda other: None)
    assert moto.status == "SUCCEEDED"
    assert result.output == moto.output
    # The reset and the sync each watched by a child execution, to their ends.
    assert _calls(stub) == moto_calls
    assert [job["jobType"] for job in stub.jobs.values()] == ["reset", "sync"]


def test_a_failed_reset_fails_the_run_with_reset_failed(stub):
    def reset_fails(airbyte: AirbyteStub) -> None:
        airbyte.script("reset", ["pending", "running", "failed"])

    reset_fails(stub)
    result = run_in_second_engine(EXECUTION_INPUT, stub.url, CREDENTIALS)

    assert (result.status, result.error) == ("FAILED", "ResetFailed")
    cause = json.loads(result.cause or "{}")
    assert (cause["resetJobId"], cause["resetStatus"]) == (1001, "failed")
    assert "no sync was started" in cause["message"]
    moto, moto_calls = _in_moto(reset_fails)
    assert (moto.error, json.loads(moto.cause)) == (result.error, cause)
    assert _calls(stub) == moto_calls
    assert [job["jobType"] for job in stub.jobs.values()] == ["reset"]


def test_an_inactive_connection_ends_connection_not_active(stub):
    def inactive(airbyte: AirbyteStub) -> None:
        airbyte.set_connection_status(CONNECTION_ID, "inactive")

    inactive(stub)
    result = run_in_second_engine(EXECUTION_INPUT, stub.url, CREDENTIALS)

    assert (result.status, result.error) == ("FAILED", "ConnectionNotActive")
    cause = json.loads(result.cause or "{}")
    assert (cause["connectionId"], cause["connectionStatus"]) == (CONNECTION_ID, "inactive")
    moto, moto_calls = _in_moto(inactive)
    assert (moto.error, json.loads(moto.cause)) == (result.error, cause)
    assert _calls(stub) == moto_calls == [("createAccessToken", 200), ("getConnection", 200)]
    assert stub.jobs == {}


def test_a_transient_error_is_retried_by_name_and_the_run_carries_on(stub):
    # The function raises TransientAirbyteError; the Task's Retry names it: the engine must see
    # the function's errorType as the state's error, and the next attempt must carry attempt 1.
    stub.inject("getConnection", Fault.status(503))

    result = run_in_second_engine(EXECUTION_INPUT, stub.url, CREDENTIALS)

    assert result.status == "SUCCEEDED", result.cause
    assert _calls(stub)[:3] == [("createAccessToken", 200), ("getConnection", 503), ("getConnection", 200)]
    checks = [event for function, event in result.invocations if function == "GetConnectionFunction"]
    assert [event["attempt"] for event in checks] == [0, 1]
    assert all(event["executionId"].endswith(":second-engine") for event in checks)


@pytest.mark.parametrize(("gap", "failing_path"), [("contextState", "$$.State.RetryCount"), ("intrinsicFailPaths", "States.JsonToString($.failure)")])
def test_the_engine_still_lacks_what_the_runner_makes_up_for(stub, gap, failing_path):
    # AWS gives `$$.State` and reads an intrinsic in a Fail state's CausePath; this engine does
    # neither, and the runner makes up for both. The day this fails, the engine has caught up:
    # remove the runner's stand-in and this case (docs/how-it-works/second-engine.md).
    stub.set_connection_status(CONNECTION_ID, "inactive")

    result = run_in_second_engine(EXECUTION_INPUT, stub.url, CREDENTIALS, without=(gap,))

    assert (result.status, result.error) == ("FAILED", "States.Runtime")
    assert f"'{failing_path}' does not point to a value" in (result.cause or "")
