"""The commands that operate a fleet on AWS (start, watch, status, list), in-process against
moto running the stand-in fleet of tests/support/fleet_machine.py: a real Distributed Map that starts
a real child execution per connection, whose Map Run the commands find through ListMapRuns
(moto's own) and the iterations' stand-in (what moto lacks)."""

from __future__ import annotations

import json

import pytest

from airbyte_resync import cli, operate
from tests.support.fleet_machine import fleet_on_moto, map_run_iterations

FIRST = "9f1c1e4a-3b2d-4c5e-8f60-7a8b9c0d1e2f"
SECOND = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
THIRD = "5d6e7f80-9a0b-4c1d-8e2f-3a4b5c6d7e8f"
WORKSPACE = "11111111-2222-4333-8444-555555555555"
TAG = "66666666-7777-4888-8999-aaaaaaaaaaaa"
RUN_FIELDS = {"executionArn", "name", "connectionId", "status", "startDate", "stopDate", "error", "cause", "output", "events"}
CONNECTION_FIELDS = {"connectionId", "outcome", "executionArn", "status"}


@pytest.fixture
def fleet(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setattr(operate, "WATCH_PAUSE_SECONDS", 0.05)
    monkeypatch.setattr(operate, "FLEET_REFRESH_SECONDS", 0.1)
    with fleet_on_moto() as on_moto:
        monkeypatch.setattr(operate.boto3, "client", map_run_iterations(on_moto.connection_machine, operate.boto3.client))
        yield on_moto


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def fleet_executions(fleet) -> list[dict]:
    return fleet.client.list_executions(stateMachineArn=fleet.fleet_machine)["executions"]


def test_several_connections_start_one_fleet_execution_with_the_fleet_input(fleet, capsys):
    code, out, _ = run(capsys, "start", "--connection-id", FIRST, "--connection-id", SECOND.upper(), "--connection-id", FIRST,
                       "--max-concurrent", "3", "--tolerated-failures", "1", "--poll-interval", "30",
                       "--fleet-state-machine-arn", fleet.fleet_machine, "--json")

    assert code == 0
    started = json.loads(out)
    assert set(started) == RUN_FIELDS | {"connections", "attached"} and started["connectionId"] is None and not started["attached"]
    [execution] = fleet_executions(fleet)
    assert started["executionArn"] == execution["executionArn"]
    assert json.loads(fleet.client.describe_execution(executionArn=execution["executionArn"])["input"]) == {
        "connectionIds": [FIRST, SECOND], "maxConcurrent": 3, "toleratedFailures": 1, "pollIntervalSeconds": 30}
    fleet.wait_for_end(execution["executionArn"])


def test_a_workspace_and_a_tag_start_a_fleet_of_what_they_hold(fleet, capsys):
    code, out, _ = run(capsys, "start", "--workspace-id", WORKSPACE, "--tag-id", TAG, "--fleet-state-machine-arn", fleet.fleet_machine)

    [execution] = fleet_executions(fleet)
    assert code == 0 and out == f"fleet: started {execution['executionArn']}\n"
    assert json.loads(fleet.client.describe_execution(executionArn=execution["executionArn"])["input"]) == {"workspaceIds": [WORKSPACE], "tagIds": [TAG]}
    fleet.wait_for_end(execution["executionArn"])


def test_starting_the_same_fleet_twice_attaches_to_the_running_one(fleet, capsys):
    argv = ["start", "--connection-id", FIRST, "--connection-id", SECOND, "--connection-id", THIRD, "--fleet-state-machine-arn", fleet.fleet_machine]
    run(capsys, *argv)
    code, out, _ = run(capsys, *argv[:1], *argv[3:5], *argv[1:3], *argv[5:])  # the same selection in another order

    [execution] = fleet_executions(fleet)
    assert code == 0 and out == f"fleet: already running, attached to {execution['executionArn']}\n"
    fleet.wait_for_end(execution["executionArn"])


@pytest.mark.parametrize(("argv", "message"), [
    (["--workspace-id", "nope"], "--workspace-id must be a UUID"),
    (["--tag-id", "1234"], "--tag-id must be a UUID"),
    (["--workspace-id", WORKSPACE, "--max-concurrent", "0"], "--max-concurrent must be between 1 and 1000, got 0"),
    (["--workspace-id", WORKSPACE, "--max-concurrent", "1001"], "--max-concurrent must be between 1 and 1000, got 1001"),
    (["--workspace-id", WORKSPACE, "--tolerated-failures", "-1"], "--tolerated-failures must be a whole number of at least 0"),
    (["--connection-id", FIRST, "--max-concurrent", "2"], "--max-concurrent and --tolerated-failures apply to a fleet"),
    ([], "give --connection-id ID"),
])
def test_bad_fleet_arguments_are_one_line_and_exit_2_before_any_aws_call(fleet, capsys, monkeypatch, argv, message):
    def no_aws(*args, **kwargs):
        raise AssertionError("an AWS client was made")

    monkeypatch.setattr(operate.boto3, "client", no_aws)
    code, out, err = run(capsys, "start", *argv, "--stack-name", "airbyte-resync")

    assert code == 2 and out == ""
    [line] = err.strip().splitlines()
    assert line.startswith("airbyte-resync: error: ") and message in line


def test_a_fleet_needs_the_fleet_state_machine(fleet, capsys):
    code, _, err = run(capsys, "start", "--connection-id", FIRST, "--connection-id", SECOND, "--state-machine-arn", fleet.connection_machine)
    assert code == 2 and "give --fleet-state-machine-arn or --stack-name" in err
    assert fleet_executions(fleet) == []


def test_start_wait_shows_one_line_per_connection_and_the_fleets_answer(fleet, capsys):
    code, out, _ = run(capsys, "start", "--connection-id", FIRST, "--connection-id", SECOND, "--tolerated-failures", "0",
                       "--fleet-state-machine-arn", fleet.fleet_machine, "--wait")

    assert code == 0, out
    lines = [line.split() for line in out.splitlines()]
    for connection in (FIRST, SECOND):
        label = connection[:8]
        assert [label, "started", f"{connection}:", f"{fleet.connection_machine.replace(':stateMachine:', ':execution:')}:{connection}"] in lines
        assert any(line[:1] == [label] and line[2:4] == ["triggerReset", "1001"] for line in lines)  # its step and job
        assert any(line[:1] == [label] and line[-1] == "SUCCEEDED" for line in lines)  # its end
        assert ["succeeded", connection, "resetJobId=1001", "resyncJobId=1002", "resyncStatus=succeeded", "rowsSynced=10", "bytesSynced=2048"] in lines
    assert "counts: running 0, succeeded 2, failed 0" in out
    assert "Fleet SUCCEEDED" in out and "Counts: succeeded 2, failed 0, skipped 0, notStarted 0" in out


def test_more_failures_than_tolerated_fail_the_fleet_and_say_which(fleet, capsys, monkeypatch):
    execution = fleet.start({"connectionIds": [FIRST, SECOND], "failConnectionId": SECOND, "skippedConnectionIds": [THIRD]})

    code, out, _ = run(capsys, "watch", execution)

    assert code == 1
    lines = [line.split() for line in out.splitlines()]
    assert any(line[:1] == [SECOND[:8]] and line[-1] == "FAILED" for line in lines)
    assert ["failed", SECOND, "ResetFailed:", "the", "reset", "job", "1001", "failed"] in lines
    assert ["Error:", "ForEachFailed"] in lines
    cause = json.loads(out[out.index("Cause: ") + len("Cause: "):])
    assert cause["toleratedFailures"] == 0 and [item["connectionId"] for item in cause["failed"]] == [SECOND]


def test_watch_json_gives_the_run_object_with_each_connection(fleet, capsys):
    execution = fleet.start({"connectionIds": [FIRST, SECOND], "failConnectionId": SECOND, "skippedConnectionIds": [THIRD], "toleratedFailures": 1})

    code, out, _ = run(capsys, "watch", execution, "--json")

    assert code == 0
    document = json.loads(out)
    assert set(document) == RUN_FIELDS | {"connections"} and document["connectionId"] is None and document["status"] == "SUCCEEDED"
    assert all(set(item) == CONNECTION_FIELDS for item in document["connections"])
    children = fleet.connection_machine.replace(":stateMachine:", ":execution:")
    assert {item["connectionId"]: (item["outcome"], item["executionArn"], item["status"]) for item in document["connections"]} == {
        FIRST: ("succeeded", f"{children}:{FIRST}", "SUCCEEDED"),
        SECOND: ("failed", f"{children}:{SECOND}", "FAILED"),
        THIRD: ("skipped", None, None),
    }
    assert document["output"]["counts"] == {"succeeded": 1, "failed": 1, "skipped": 1, "notStarted": 0}


def test_status_of_a_fleet_under_way_lists_its_started_connections_then_its_answer(fleet, capsys):
    execution = fleet.start({"connectionIds": [FIRST, SECOND, THIRD]})
    client = fleet.operator_client()
    found: dict = {}
    while not found and fleet.client.describe_execution(executionArn=execution)["status"] == "RUNNING":
        found = operate.fleet_children(client, execution)

    code, out, _ = run(capsys, "status", execution, "--json")

    document = json.loads(out)
    if document["status"] == "RUNNING":  # the fleet may end as it is read
        assert code == 3 and set(found) <= {item["connectionId"] for item in document["connections"]}
        assert all(item["status"] in operate.TERMINAL | {"RUNNING"} for item in document["connections"])
    fleet.wait_for_end(execution)
    code, out, _ = run(capsys, "status", execution, "--json")
    document = json.loads(out)
    assert code == 0 and document["connectionId"] is None
    assert sorted((item["connectionId"], item["outcome"]) for item in document["connections"]) == sorted(
        (connection, "succeeded") for connection in (FIRST, SECOND, THIRD))
    code, out, _ = run(capsys, "status", execution)
    assert code == 0 and out.startswith("\nFleet SUCCEEDED") and f"succeeded  {THIRD}" in out


def test_fleet_children_finds_each_connections_run_and_reads_each_iteration_once(fleet):
    execution = fleet.start({"connectionIds": [FIRST, SECOND], "failConnectionId": FIRST, "toleratedFailures": 5})
    fleet.wait_for_end(execution)
    client = fleet.operator_client()
    histories: list[str] = []
    read_history = client.get_execution_history

    def counted(**arguments):
        histories.append(arguments["executionArn"])
        return read_history(**arguments)

    client.get_execution_history = counted

    children = operate.fleet_children(client, execution)

    prefix = fleet.connection_machine.replace(":stateMachine:", ":execution:")
    assert {connection: (child.execution_arn, child.status) for connection, child in children.items()} == {
        FIRST: (f"{prefix}:{FIRST}", "FAILED"), SECOND: (f"{prefix}:{SECOND}", "SUCCEEDED")}
    assert len(histories) == 2  # one iteration history each
    histories.clear()
    assert operate.fleet_children(client, execution, children) == children
    assert histories == []  # known children cost nothing more


def test_moto_still_lists_no_map_run_iterations(fleet):
    # When this fails, moto lists a Map Run's iterations: tests/support/fleet_machine.py's stand-in can go.
    execution = fleet.start({"connectionIds": [FIRST]})
    fleet.wait_for_end(execution)
    [map_run] = fleet.client.list_map_runs(executionArn=execution)["mapRuns"]
    with pytest.raises(TypeError):  # moto fails inside its own code
        fleet.client.list_executions(mapRunArn=map_run["mapRunArn"])


def test_list_fleet_shows_fleets_and_filters_by_connection(fleet, capsys):
    first = fleet.start({"connectionIds": [FIRST, SECOND]}, name="fleet-a")
    second = fleet.start({"connectionIds": [THIRD]}, name="fleet-b")
    fleet.wait_for_end(first)
    fleet.wait_for_end(second)

    code, out, _ = run(capsys, "list", "--fleet-state-machine-arn", fleet.fleet_machine)
    assert code == 0 and first in out and second in out and "fleet: 2 connections" in out

    code, out, _ = run(capsys, "list", "--fleet-state-machine-arn", fleet.fleet_machine, "--connection-id", THIRD, "--json")
    [listed] = json.loads(out)
    assert code == 0 and listed["executionArn"] == second and set(listed) == RUN_FIELDS | {"connections"}
    assert [(item["connectionId"], item["outcome"]) for item in listed["connections"]] == [(THIRD, "succeeded")]


@pytest.mark.parametrize("reads_per_pass", [1, 20])  # 1: each pass reads one run; every run is still read to its end
def test_a_local_fleet_is_watched_through_its_run_machines_executions_without_map_run_apis(fleet, monkeypatch, reads_per_pass):
    monkeypatch.setattr(operate, "CHILD_READS_PER_PASS", reads_per_pass)
    execution = fleet.start({"connectionIds": [FIRST, SECOND], "failConnectionId": FIRST, "toleratedFailures": 1})
    ended: list[tuple[str, str]] = []
    steps: set[tuple[str, str]] = set()

    result, children = operate.watch_fleet(
        fleet.client, execution, find_children=operate.children_of_machine(fleet.connection_machine),  # moto's own client: no stand-in
        on_end=lambda child: ended.append((child.connection_id, child.status)),
        on_transition=lambda child, transition: steps.add((child.rsplit(":", 1)[1], transition.state)))

    assert result.status == "SUCCEEDED"
    assert {connection: child.status for connection, child in children.items()} == {FIRST: "FAILED", SECOND: "SUCCEEDED"}
    assert sorted(ended) == sorted([(FIRST, "FAILED"), (SECOND, "SUCCEEDED")])
    assert {(FIRST, "ResetFailed"), (SECOND, "triggerResync")} <= steps
