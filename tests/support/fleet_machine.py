"""A fleet on moto for the commands that operate fleets: the stand-in state machines of
tests/fixtures/fleet (a Distributed Map that starts one real child execution per
connection, and a function that gives the fleet's answer in the fleet's output shape), run by
moto's Step Functions engine.

moto 5.2.5 answers ListMapRuns and DescribeMapRun, but not ListExecutions by `mapRunArn`,
and keeps no execution (nor history) of a Map Run's iterations; and its ListMapRuns fails in the
moment before an execution's first state. `map_run_iterations` stands
in for those two: each child execution of the connection stand-in is one iteration, with the
history Step Functions gives an iteration (its Task scheduled with the child's input, and
submitted with the child's ARN). `test_moto_still_lists_no_map_run_iterations` tells when it can go."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from arazzo_sfn.engine import ACCOUNT_ID, REGION, LocalFunctions, function_arn, local_aws

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "fleet"
ANSWER_FUNCTION = function_arn("fleet-answer")


def fleet_answer(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The fleet's answer from the Map's results: every connection with its outcome, the
    counts, and whether more failed than tolerated (then the cause lists them)."""
    connections: list[dict[str, Any]] = []
    for result in event["results"]:
        if result["outcome"] == "succeeded":
            run = result["run"]
            connections.append({"connectionId": run["Input"]["connectionId"], "outcome": "succeeded",
                                "executionArn": run["ExecutionArn"], "outputs": run["Output"]})
        else:
            failure = result["failure"]
            try:
                child = json.loads(failure.get("Cause") or "{}")
            except ValueError:
                child = {}
            connections.append({"connectionId": result["connectionId"], "outcome": "failed",
                                "executionArn": child.get("ExecutionArn"), "error": child.get("Error") or failure.get("Error"),
                                "cause": child.get("Cause") or failure.get("Cause")})
    for connection in event["skippedConnectionIds"]:
        connections.append({"connectionId": connection, "outcome": "skipped", "error": "ConnectionNotActive",
                            "cause": "the connection is inactive"})
    for connection in event["notStartedConnectionIds"]:
        connections.append({"connectionId": connection, "outcome": "notStarted"})
    counts = {outcome: sum(1 for item in connections if item["outcome"] == outcome)
              for outcome in ("succeeded", "failed", "skipped", "notStarted")}
    failed = [{key: item.get(key) for key in ("connectionId", "error", "cause", "executionArn")}
              for item in connections if item["outcome"] == "failed"]
    too_many = len(failed) > event["toleratedFailures"]
    return {"failed": too_many, "answer": {"connections": connections, "counts": counts},
            "cause": json.dumps({"toleratedFailures": event["toleratedFailures"], "failed": failed})}


@dataclass
class FleetOnMoto:
    client: Any
    fleet_machine: str
    connection_machine: str

    def start(self, fleet_input: dict[str, Any], name: str = "fleet-1") -> str:
        return str(self.client.start_execution(stateMachineArn=self.fleet_machine, name=name, input=json.dumps(fleet_input))["executionArn"])

    def operator_client(self) -> Any:
        """A client as the commands get it: with the Map Run's iterations (see above)."""
        return add_map_run_iterations(boto3.client("stepfunctions", region_name=REGION), self.connection_machine)

    def wait_for_end(self, execution: str, timeout: float = 60.0) -> dict[str, Any]:
        """The execution's description once it has ended."""
        deadline = time.monotonic() + timeout
        while True:
            described = self.client.describe_execution(executionArn=execution)
            if described["status"] != "RUNNING" or time.monotonic() > deadline:
                return dict(described)
            time.sleep(0.1)


def _machine(client: Any, name: str, fixture: str, **values: str) -> str:
    definition = (FIXTURES / fixture).read_text(encoding="utf-8")
    for placeholder, value in values.items():
        definition = definition.replace("${" + placeholder + "}", value)
    return str(client.create_state_machine(name=name, definition=definition,
                                           roleArn=f"arn:aws:iam::{ACCOUNT_ID}:role/{name}")["stateMachineArn"])


@contextlib.contextmanager
def fleet_on_moto() -> Iterator[FleetOnMoto]:
    """moto running the stand-in fleet and connection state machines."""
    functions = LocalFunctions()
    functions.register(ANSWER_FUNCTION, fleet_answer)
    with local_aws(functions):
        client = boto3.client("stepfunctions", region_name=REGION)
        connection = _machine(client, "airbyte-resync-ResetAndResyncStateMachine", "connection.asl.json")
        fleet = _machine(client, "airbyte-resync-ResetAndResyncFleetStateMachine", "fleet.asl.json",
                         ConnectionStateMachineArn=connection, FleetAnswerFunctionArn=ANSWER_FUNCTION)
        yield FleetOnMoto(client, fleet, connection)


def map_run_iterations(connection_machine: str, make_client: Any) -> Any:
    """boto3.client, but its Step Functions client answers ListExecutions by `mapRunArn` and
    the histories of the Map Run's iterations (moto has neither; see above). Every other call
    is moto's own."""

    def client(*args: Any, **kwargs: Any) -> Any:
        made = make_client(*args, **kwargs)
        if (args[0] if args else kwargs.get("service_name")) == "stepfunctions":
            add_map_run_iterations(made, connection_machine)
        return made

    return client


def add_map_run_iterations(made: Any, connection_machine: str) -> Any:
    list_executions, get_execution_history = made.list_executions, made.get_execution_history
    children_prefix = connection_machine.replace(":stateMachine:", ":execution:") + ":"

    def iteration_prefix(map_run_arn: str) -> str:
        return map_run_arn.replace(":mapRun:", ":execution:").rsplit(":", 1)[0] + ":"

    def list_iterations(**arguments: Any) -> dict[str, Any]:
        map_run = arguments.get("mapRunArn")
        if map_run is None:
            return dict(list_executions(**arguments))
        children = list_executions(stateMachineArn=connection_machine)["executions"]
        return {"executions": [{"executionArn": iteration_prefix(map_run) + child["name"], "name": child["name"], "mapRunArn": map_run,
                                "stateMachineArn": map_run.rsplit(":", 1)[0].replace(":mapRun:", ":stateMachine:"),
                                "status": child["status"], "startDate": child["startDate"]} for child in children]}

    def history(**arguments: Any) -> dict[str, Any]:
        arn = arguments["executionArn"]
        machine_part = arn.split(":execution:", 1)[1].rsplit(":", 1)[0]
        if "/" not in machine_part:
            return dict(get_execution_history(**arguments))
        child = children_prefix + arn.rsplit(":", 1)[1]
        described = made.describe_execution(executionArn=child)
        started = described["startDate"]
        events = [
            {"id": 1, "type": "ExecutionStarted", "timestamp": started, "executionStartedEventDetails": {"input": described["input"]}},
            {"id": 2, "type": "TaskStateEntered", "timestamp": started, "stateEnteredEventDetails": {"name": "runConnection"}},
            {"id": 3, "type": "TaskScheduled", "timestamp": started, "taskScheduledEventDetails": {
                "resourceType": "states", "resource": "startExecution.sync:2", "region": REGION,
                "parameters": json.dumps({"StateMachineArn": connection_machine, "Input": json.loads(described["input"])})}},
            {"id": 4, "type": "TaskSubmitted", "timestamp": started, "taskSubmittedEventDetails": {
                "resourceType": "states", "resource": "startExecution.sync:2", "output": json.dumps({"ExecutionArn": child})}},
        ]
        return {"events": list(reversed(events)) if arguments.get("reverseOrder") else events}

    list_map_runs = made.list_map_runs

    def map_runs(**arguments: Any) -> dict[str, Any]:
        try:
            return dict(list_map_runs(**arguments))
        except AttributeError:  # moto, in the moment before an execution's first state: none yet
            return {"mapRuns": []}

    made.list_map_runs = map_runs
    made.list_executions = list_iterations
    made.get_execution_history = history
    return made
