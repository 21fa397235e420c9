"""start-from-event: each EventBridge event starts one execution, however many copies of it
arrive and whenever they do, against moto's Step Functions."""

from __future__ import annotations

import copy
import importlib.util
import json
from pathlib import Path

import pytest

from tests.functions.conftest import create_holding_machine
from tests.lambda_context import LambdaContext
from tests.support.metrics import emitted_metrics

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_EVENT = json.loads((ROOT / "events" / "eventbridge-reset-requested.json").read_text(encoding="utf-8"))


@pytest.fixture
def machine(moto_aws, monkeypatch):
    client, arn = create_holding_machine()
    monkeypatch.setenv("STATE_MACHINE_ARN", arn)
    return client, arn


def load_handler():
    # A fresh module each time: its Step Functions client must belong to this test's moto.
    spec = importlib.util.spec_from_file_location("lambda_function_start_from_event_app", ROOT / "functions" / "start_from_event" / "app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.lambda_handler


def executions(client, arn) -> list[dict]:
    return client.list_executions(stateMachineArn=arn)["executions"]


def test_an_event_starts_one_execution_named_after_it_with_its_detail_as_input(machine):
    client, arn = machine

    result = load_handler()(SAMPLE_EVENT, LambdaContext())

    (execution,) = executions(client, arn)
    assert execution["name"] == f"event-{SAMPLE_EVENT['id']}" == result["executionName"]
    assert result["started"] is True and result["executionArn"] == execution["executionArn"]
    assert json.loads(client.describe_execution(executionArn=execution["executionArn"])["input"]) == SAMPLE_EVENT["detail"]


def test_a_copy_delivered_while_the_run_runs_starts_nothing(machine):
    client, arn = machine
    handler = load_handler()
    handler(SAMPLE_EVENT, LambdaContext())

    again = handler(copy.deepcopy(SAMPLE_EVENT), LambdaContext())

    assert len(executions(client, arn)) == 1
    assert again["executionName"] == f"event-{SAMPLE_EVENT['id']}"


def test_a_copy_delivered_after_the_run_ended_starts_nothing(machine):
    client, arn = machine
    handler = load_handler()
    first = handler(SAMPLE_EVENT, LambdaContext())
    client.stop_execution(executionArn=first["executionArn"])

    again = handler(copy.deepcopy(SAMPLE_EVENT), LambdaContext())

    assert again == {"executionName": first["executionName"], "started": False}
    assert [e["status"] for e in executions(client, arn)] == ["ABORTED"]


def test_another_event_for_the_same_connection_is_another_request(machine):
    client, arn = machine
    handler = load_handler()
    handler(SAMPLE_EVENT, LambdaContext())

    handler({**SAMPLE_EVENT, "id": "0b5f7c8e-1111-4000-8000-000000000000"}, LambdaContext())

    # Started; the claim in its first step then decides whether it may go on.
    assert len(executions(client, arn)) == 2


@pytest.mark.parametrize(
    "event_id, name",
    [("3f1d2c4b-6a7e-4b8f-9c0d-1e2f3a4b5c6d", "event-3f1d2c4b-6a7e-4b8f-9c0d-1e2f3a4b5c6d"), ("a b/c:d", "event-a_b_c_d"), ("x" * 200, "event-" + "x" * 74)],
    ids=["uuid", "odd-characters", "too-long"],
)
def test_every_event_id_gives_a_valid_execution_name(machine, event_id, name):
    client, arn = machine

    result = load_handler()({**SAMPLE_EVENT, "id": event_id}, LambdaContext())

    assert result["executionName"] == name and len(name) <= 80
    assert [e["name"] for e in executions(client, arn)] == [name]


@pytest.mark.parametrize("event", [None, [], {}, {"id": ""}, {"id": 7, "detail": {}}], ids=["null", "array", "no-id", "empty-id", "number-id"])
def test_an_event_without_an_id_is_refused_and_starts_nothing(machine, event, capsys):
    client, arn = machine

    with pytest.raises(ValueError, match="EventBridge event with an id"):
        load_handler()(event, LambdaContext())

    assert executions(client, arn) == []
    assert emitted_metrics(capsys.readouterr().out)["RefusedEvents"] == [1.0]


def test_other_start_failures_are_raised_for_lambda_to_retry(machine, monkeypatch, capsys):
    _client, arn = machine
    monkeypatch.setenv("STATE_MACHINE_ARN", arn.replace(":ResetAndResync", ":NoSuchMachine"))

    with pytest.raises(Exception) as failure:
        load_handler()(SAMPLE_EVENT, LambdaContext())

    assert failure.value.response["Error"]["Code"] == "StateMachineDoesNotExist"
    assert emitted_metrics(capsys.readouterr().out)["FailedStarts"] == [1.0]


@pytest.mark.parametrize("detail, field", [
    ({}, "connectionId is required"),
    ({"connectionId": "not-a-uuid"}, "connectionId must be a UUID"),
    ({"connectionId": "9f1c1e4a-3b2d-4c5e-8f60-7a8b9c0d1e2f", "pollIntervalSeconds": -5}, "pollIntervalSeconds must be at least 0"),
    (None, "the input must be an object"),
])
def test_a_malformed_request_starts_nothing_and_fails_naming_the_field(machine, detail, field):
    client, arn = machine
    event = {**copy.deepcopy(SAMPLE_EVENT), "detail": detail}

    with pytest.raises(ValueError, match=field) as raised:
        load_handler()(event, LambdaContext())

    assert executions(client, arn) == []
    assert SAMPLE_EVENT["id"] in str(raised.value)


FLEET_EVENT = json.loads((ROOT / "events" / "eventbridge-connections-reset-requested.json").read_text(encoding="utf-8"))


@pytest.fixture
def fleet_machine(machine, monkeypatch):
    client, _ = machine
    _, arn = create_holding_machine(name="fleet")
    monkeypatch.setenv("FLEET_STATE_MACHINE_ARN", arn)
    return client, arn


def test_a_fleet_event_starts_one_fleet_execution_and_a_copy_starts_nothing(machine, fleet_machine):
    client, fleet_arn = fleet_machine
    handler = load_handler()

    first = handler(FLEET_EVENT, LambdaContext())
    again = handler(copy.deepcopy(FLEET_EVENT), LambdaContext())

    (execution,) = executions(client, fleet_arn)
    assert execution["name"] == f"event-{FLEET_EVENT['id']}" == first["executionName"] == again["executionName"]
    assert json.loads(client.describe_execution(executionArn=execution["executionArn"])["input"]) == FLEET_EVENT["detail"]
    assert executions(client, machine[1]) == []  # the single run's machine started nothing


@pytest.mark.parametrize("detail, field", [
    ({}, "the input must give at least one of connectionIds, workspaceIds, tagIds"),
    ({"workspaceIds": []}, "workspaceIds must hold at least 1 item"),
    ({"connectionIds": ["not-a-uuid"]}, r"connectionIds\[0\] must be a UUID"),
    ({"tagIds": ["0b4ba7cd-4c7e-4d5a-9d31-1b35d9e1b1c0"], "maxConcurrent": 1001}, "maxConcurrent must be at most 1000"),
    ({"tagIds": ["0b4ba7cd-4c7e-4d5a-9d31-1b35d9e1b1c0"], "toleratedFailures": -1}, "toleratedFailures must be at least 0"),
])
def test_a_malformed_fleet_request_starts_nothing_and_fails_naming_the_field(fleet_machine, detail, field):
    client, arn = fleet_machine

    with pytest.raises(ValueError, match=field):
        load_handler()({**copy.deepcopy(FLEET_EVENT), "detail": detail}, LambdaContext())

    assert executions(client, arn) == []


def test_an_event_of_another_detail_type_is_refused_naming_the_ones_it_takes(machine):
    with pytest.raises(ValueError, match="'Airbyte Connections Reset Requested'"):
        load_handler()({**copy.deepcopy(SAMPLE_EVENT), "detail-type": "Something Else"}, LambdaContext())
    assert executions(*machine) == []
