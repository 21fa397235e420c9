"""End-to-end fixtures: the committed ASL runs in moto's Step Functions engine, the three
handlers run in-process, and the Airbyte stub answers over real HTTP."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from airbyte_resync.credentials import Credentials
from airbyte_resync.local import FLEET_MACHINE, TEMPLATE_PATH, RunResult, run_state_machine
from airbyte_resync.stub import AirbyteStub
from arazzo_sfn.compiler import compile_document

CONNECTION_ID = "9f1c1e4a-3b2d-4c5e-8f60-7a8b9c0d1e2f"
# Distinctive values, so a test can search everything captured for them.
CLIENT_ID = "e2e-client-7b1f0c"
CLIENT_SECRET = "e2e-secret-Qx8vT2mLr9ZpW4kN"
JOBS_NEVER_END_BY_THEMSELVES = 366 * 24 * 3600.0


class VirtualClock:
    """Time for the stub and the state machines' waits alike: a Wait state or a retry's
    backoff moves it on at once, so a run of days takes seconds."""

    def __init__(self, start: datetime = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)):
        self.now = start
        self.waits: list[float] = []

    def __call__(self) -> datetime:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += timedelta(seconds=seconds)


def template_with_child_bound(directory: Path, reads: int) -> Path:
    """A copy of the application whose wait-for-job child reads a job at most `reads` times
    before it hands back to its parent (the committed one reads it up to 2,556 times, as
    many as its history holds), so a test or a benchmark crosses from one child execution
    to the next in a few polls. Everything else is the committed application: the same
    workflow, the root's ASL, the functions and layers."""
    root = TEMPLATE_PATH.parent
    document = yaml.safe_load((root / "workflows" / "airbyte-reset-and-resync.arazzo.yaml").read_text())
    wait_for_job = next(workflow for workflow in document["workflows"] if workflow["workflowId"] == "wait-for-job")
    loop = next(action for action in wait_for_job["steps"][0]["onSuccess"] if action["name"] == "stillRunning")
    loop["x-loop"]["maxIterations"] = reads - 1  # gotos: the first read is not one
    (directory / "workflows").mkdir(parents=True, exist_ok=True)
    bounded = directory / "workflows" / "bounded.arazzo.yaml"
    bounded.write_text(yaml.safe_dump(document, sort_keys=False))
    for source in document["sourceDescriptions"]:  # the OpenAPI descriptions, where the document expects them
        target = (bounded.parent / source["url"]).resolve()
        target.parent.mkdir(parents=True, exist_ok=True)
        if not target.exists():
            target.symlink_to((root / "workflows" / source["url"]).resolve())
    (directory / "statemachine").mkdir(exist_ok=True)
    (directory / "statemachine" / "wait_for_job.asl.json").write_text(json.dumps(compile_document(bounded, "wait-for-job"), indent=2))
    for machine in (root / "statemachine").glob("*.asl.json"):  # the others, as committed
        if machine.name != "wait_for_job.asl.json":
            (directory / "statemachine" / machine.name).write_text(machine.read_text())
    for shared in ("functions", "layers"):
        if not (directory / shared).exists():
            (directory / shared).symlink_to(root / shared)
    (directory / "template.yaml").write_text(TEMPLATE_PATH.read_text())
    return directory / "template.yaml"


def template_running(directory: Path, definition: dict) -> Path:
    """A copy of the application whose reset-and-resync state machine runs `definition` (a
    workflow compiled from a test document whose step ids are the ones the template binds to
    the functions); the other state machines, the functions and the layers are the committed ones."""
    root = TEMPLATE_PATH.parent
    (directory / "statemachine").mkdir(parents=True, exist_ok=True)
    for machine in (root / "statemachine").glob("*.asl.json"):
        text = json.dumps(definition, indent=2) if machine.name == "reset_and_resync.asl.json" else machine.read_text()
        (directory / "statemachine" / machine.name).write_text(text)
    for shared in ("functions", "layers"):
        if not (directory / shared).exists():
            (directory / shared).symlink_to(root / shared)
    (directory / "template.yaml").write_text(TEMPLATE_PATH.read_text())
    return directory / "template.yaml"


@dataclass
class Harness:
    stub: AirbyteStub
    credentials: Credentials
    retry_sleeps: list[float] = field(default_factory=list)
    clock: VirtualClock | None = None
    template_path: Path = TEMPLATE_PATH

    def _retry_sleep(self, seconds: float) -> None:
        self.retry_sleeps.append(seconds)
        if self.clock is not None:
            self.clock.sleep(seconds)

    def run(self, **input_overrides) -> RunResult:
        execution_input = {"connectionId": CONNECTION_ID, "pollIntervalSeconds": 0, **input_overrides}
        return self.run_raw(execution_input)

    def run_raw(self, execution_input, wrap_function=None, machine=None) -> RunResult:
        return run_state_machine(
            execution_input, self.stub.url, self.credentials,
            retry_sleep=self._retry_sleep, timeout_seconds=600, wrap_function=wrap_function,
            wait_sleep=self.clock.sleep if self.clock is not None else None, template_path=self.template_path,
            **({"machine": machine} if machine else {}),
        )

    def run_fleet(self, **fleet_input) -> RunResult:
        """An execution of the fleet's state machine; each connection's run polls at once."""
        return self.run_raw({"pollIntervalSeconds": 0, **fleet_input}, machine=FLEET_MACHINE)

    def calls(self) -> list[tuple[str, int]]:
        """(operationId, HTTP status) of every request the stub received, in order."""
        return [(call.operation_id, call.status) for call in self.stub.calls]

    def created(self) -> list[str]:
        """The jobType of every job Airbyte created."""
        return [job["jobType"] for job in self.stub.jobs.values()]


@pytest.fixture
def harness():
    """The stub and the waits on a virtual clock: what a run reports of durations and times
    comes from the stub's clock, never from how fast this machine is, and a run only waits
    as long as it computes. Jobs move on only when polled (none ends by itself while the
    retries' backoff moves the clock on), so each test knows the calls a run makes."""
    clock = VirtualClock()
    with AirbyteStub(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, clock=clock, finish_after=JOBS_NEVER_END_BY_THEMSELVES) as stub:
        yield Harness(stub, Credentials(client_id=CLIENT_ID, client_secret=CLIENT_SECRET), clock=clock)


@pytest.fixture
def clocked_harness():
    """A harness whose stub and waits follow a virtual clock."""
    clock = VirtualClock()
    with AirbyteStub(client_id=CLIENT_ID, client_secret=CLIENT_SECRET, clock=clock) as stub:
        yield Harness(stub, Credentials(client_id=CLIENT_ID, client_secret=CLIENT_SECRET), clock=clock), clock


def cause_of(result: RunResult) -> dict:
    return json.loads(result.cause)
