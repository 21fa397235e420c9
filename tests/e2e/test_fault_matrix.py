"""Every fault at every step: the run either recovers with exactly the jobs it should have
created, or fails with a named error. Never a silent success, never a duplicate job, never
a sync after a reset that did not succeed. The table of outcomes is printed at the end of
the test session (tests/conftest.py), from each test's recorded outcome."""

from __future__ import annotations

import pytest

from airbyte_resync.stub import Fault

# Where each step's request goes; a fault is injected into the n-th request of that operation.
STEPS = {
    "checkConnection": ("getConnection", 0),
    "checkConnectionIdle": ("listJobs", 0),
    "triggerReset": ("createJob", 0),
    "waitForReset": ("getJob", 0),
    "triggerResync": ("createJob", 1),
    "waitForResync": ("getJob", 2),  # after the reset's two reads
}
# The functions' read timeout in the read-timeout cases only (the others keep the default,
# so a loaded machine's slow answers cannot turn into faults nobody injected). The slow
# answer comes twice as late: the functions have hung up by then (except createJob's,
# which waits 75 s for Airbyte's answer, so its slow answer comes in and is taken).
READ_TIMEOUT = 1.0
FAULTS = {
    "429": [Fault.status(429)],
    "500": [Fault.status(500)],
    "502": [Fault.status(502)],
    "503": [Fault.status(503)],
    "504": [Fault.status(504)],
    "connection reset": [Fault.disconnect()],
    "read timeout": [Fault.slow_answer(READ_TIMEOUT * 2)],
    "answer cut off": [Fault.truncated()],
    "invalid JSON": [Fault.invalid_json()],
    "401 once": [Fault.status(401)],
    "401 always": [Fault.status(401), Fault.status(401)],
    "403": [Fault.status(403)],
    "404": [Fault.status(404)],
    "409": [Fault.status(409)],
    "422": [Fault.status(422)],
}
# Each of these fails one attempt and the state machine retries it; a retried createJob first
# looks for the job its lost attempt may have created (read timeout, answer cut off).
TRANSIENT = {"429", "500", "502", "503", "504", "connection reset", "read timeout", "answer cut off", "invalid JSON", "409"}


def expected(fault: str, step: str) -> tuple[str, str | None]:
    """(status, error) the run must end with."""
    if fault in TRANSIENT or fault == "401 once":
        return "SUCCEEDED", None
    if step == "triggerResync":
        return "FAILED", "ResyncNotStarted"  # the reset did succeed: say the destination is empty
    return "FAILED", "StepFailed"


@pytest.mark.parametrize("step", list(STEPS))
@pytest.mark.parametrize("fault", list(FAULTS))
def test_fault_at_step(harness, monkeypatch, record_property, fault, step):
    if fault == "read timeout":
        monkeypatch.setenv("AIRBYTE_READ_TIMEOUT_SECONDS", str(READ_TIMEOUT))
    operation, earlier = STEPS[step]
    harness.stub.inject(operation, *[Fault.delay(0)] * earlier, *FAULTS[fault])

    result = harness.run()

    status, error = expected(fault, step)
    jobs = [job["jobType"] for job in harness.stub.jobs.values()]
    record_property("fault_matrix", (fault, step, f"{result.status} {result.error or ''}".strip()))
    assert (result.status, result.error) == (status, error), result.cause
    if status == "SUCCEEDED":
        assert jobs == ["reset", "sync"]
        assert result.output["resetStatus"] == "succeeded"
    else:
        assert result.output is None and result.cause  # failed, named, explained
        assert jobs.count("reset") <= 1 and jobs.count("sync") <= 1  # no duplicate
        if step != "waitForResync":
            assert jobs.count("sync") == 0  # no sync after a failed step
        if step == "triggerResync":
            assert jobs == ["reset"]
