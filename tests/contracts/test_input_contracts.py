"""The input contracts as files: generated from the workflow's inputs, committed, and the
check the start-from-event function makes agrees with a full JSON Schema validator."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import yaml

from airbyte_client.contract import load_contract, problems
from airbyte_resync import contracts

ROOT = Path(__file__).resolve().parents[2]
INPUT_SCHEMA = ROOT / "schemas" / "execution-input.schema.json"
EVENT_SCHEMA = ROOT / "schemas" / "reset-requested-event.schema.json"
FLEET_INPUT_SCHEMA = ROOT / "schemas" / "fleet-input.schema.json"
FLEET_EVENT_SCHEMA = ROOT / "schemas" / "connections-reset-requested-event.schema.json"
CONNECTION_ID = "9f1c1e4a-3b2d-4c5e-8f60-7a8b9c0d1e2f"


def test_the_committed_contracts_are_the_workflows_inputs():
    assert contracts.main(["--check"]) == 0
    workflow = yaml.safe_load((ROOT / "workflows" / "airbyte-reset-and-resync.arazzo.yaml").read_text())
    inputs = next(item for item in workflow["workflows"] if item["workflowId"] == "reset-and-resync")["inputs"]
    schema = json.loads(INPUT_SCHEMA.read_text())
    assert {key: schema[key] for key in inputs} == inputs
    assert (ROOT / "functions" / "start_from_event" / "execution-input.schema.json").read_text() == INPUT_SCHEMA.read_text()
    fleet_inputs = next(item for item in workflow["workflows"] if item["workflowId"] == "reset-and-resync-fleet")["inputs"]
    fleet_schema = json.loads(FLEET_INPUT_SCHEMA.read_text())
    assert {key: fleet_schema[key] for key in fleet_inputs} == fleet_inputs
    assert (ROOT / "functions" / "start_from_event" / "fleet-input.schema.json").read_text() == FLEET_INPUT_SCHEMA.read_text()


def test_a_stale_contract_is_reported(tmp_path, monkeypatch, capsys):
    stale = tmp_path / "execution-input.schema.json"
    stale.write_text("{}")
    monkeypatch.setattr(contracts, "FILES", {stale: "input"})
    assert contracts.main(["--check"]) == 1
    assert "execution-input.schema.json" in capsys.readouterr().err


def test_the_sample_event_and_input_meet_the_contracts_each_loaded_on_its_own():
    """As a user of the published files would: a standard validator, no registry."""
    input_schema = json.loads(INPUT_SCHEMA.read_text())
    event_schema = json.loads(EVENT_SCHEMA.read_text())
    for schema in (input_schema, event_schema):
        jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator(input_schema).validate(json.loads((ROOT / "events" / "execution-input.json").read_text()))
    event = json.loads((ROOT / "events" / "eventbridge-reset-requested.json").read_text())
    jsonschema.Draft202012Validator(event_schema).validate(event)
    with pytest.raises(jsonschema.ValidationError, match="connectionId"):
        jsonschema.Draft202012Validator(event_schema).validate({**event, "detail": {"pollIntervalSeconds": 5}})


def test_the_sample_fleet_event_and_input_meet_the_fleet_contracts_each_loaded_on_its_own():
    input_schema = json.loads(FLEET_INPUT_SCHEMA.read_text())
    event_schema = json.loads(FLEET_EVENT_SCHEMA.read_text())
    for schema in (input_schema, event_schema):
        jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.Draft202012Validator(input_schema).validate(json.loads((ROOT / "events" / "fleet-input.json").read_text()))
    event = json.loads((ROOT / "events" / "eventbridge-connections-reset-requested.json").read_text())
    jsonschema.Draft202012Validator(event_schema).validate(event)
    # Nothing selected would mean every connection the key sees: refused.
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft202012Validator(event_schema).validate({**event, "detail": {"maxConcurrent": 5}})


WORKSPACE_ID = "5ae6b09b-fdec-41af-aaf7-7d94cfc33ef6"
FLEET_INPUTS = [
    ({"workspaceIds": [WORKSPACE_ID]}, None),
    ({"connectionIds": [CONNECTION_ID], "tagIds": [WORKSPACE_ID], "maxConcurrent": 1000, "toleratedFailures": 3}, None),
    ({}, "the input must give at least one of"),
    ({"maxConcurrent": 5}, "the input must give at least one of"),
    ({"workspaceIds": []}, "workspaceIds"),
    ({"workspaceIds": [WORKSPACE_ID, WORKSPACE_ID]}, "workspaceIds"),
    ({"workspaceIds": "not-a-list"}, "workspaceIds"),
    ({"connectionIds": ["not-a-uuid"]}, "connectionIds[0]"),
    ({"connectionIds": [7]}, "connectionIds[0]"),
    ({"workspaceIds": [WORKSPACE_ID], "maxConcurrent": 0}, "maxConcurrent"),
    ({"workspaceIds": [WORKSPACE_ID], "maxConcurrent": 1001}, "maxConcurrent"),
    ({"workspaceIds": [WORKSPACE_ID], "toleratedFailures": -1}, "toleratedFailures"),
]


@pytest.mark.parametrize("value, field", FLEET_INPUTS)
def test_the_functions_check_of_a_fleet_input_agrees_with_a_json_schema_validator(value, field):
    schema = load_contract(FLEET_INPUT_SCHEMA)
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    found = problems(value, schema)
    assert bool(found) == (not validator.is_valid(value))
    if field is not None:
        assert found and found[0].startswith(field), found


INPUTS = [
    ({"connectionId": CONNECTION_ID}, None),
    ({"connectionId": CONNECTION_ID, "pollIntervalSeconds": 0, "maxResetSeconds": 60, "maxResyncSeconds": 31536000, "waitForResync": False}, None),
    ({"connectionId": CONNECTION_ID, "somethingElse": 1}, None),  # the workflow's inputs allow more
    ({}, "connectionId"),
    ({"connectionId": 7}, "connectionId"),
    ({"connectionId": "not-a-uuid"}, "connectionId"),
    ({"connectionId": ""}, "connectionId"),
    ({"connectionId": CONNECTION_ID, "pollIntervalSeconds": -1}, "pollIntervalSeconds"),
    ({"connectionId": CONNECTION_ID, "pollIntervalSeconds": 3601}, "pollIntervalSeconds"),
    ({"connectionId": CONNECTION_ID, "pollIntervalSeconds": "5"}, "pollIntervalSeconds"),
    ({"connectionId": CONNECTION_ID, "pollIntervalSeconds": True}, "pollIntervalSeconds"),
    ({"connectionId": CONNECTION_ID, "maxResetSeconds": 59}, "maxResetSeconds"),
    ({"connectionId": CONNECTION_ID, "maxResyncSeconds": 31536001}, "maxResyncSeconds"),
    ({"connectionId": CONNECTION_ID, "waitForResync": "false"}, "waitForResync"),
    ({"connectionId": CONNECTION_ID, "waitForResync": None}, "waitForResync"),
    ([CONNECTION_ID], "the input"),
    (None, "the input"),
]


@pytest.mark.parametrize("value, field", INPUTS)
def test_the_functions_check_agrees_with_a_json_schema_validator(value, field):
    schema = load_contract(INPUT_SCHEMA)
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    found = problems(value, schema)
    assert bool(found) == (not validator.is_valid(value))
    if field is not None:
        assert found and found[0].startswith(field), found


def test_a_schema_with_a_keyword_the_check_does_not_understand_is_refused(tmp_path):
    schema = tmp_path / "execution-input.schema.json"
    schema.write_text(json.dumps({"type": "object", "properties": {"a": {"type": "string", "oneOf": []}}}))
    with pytest.raises(RuntimeError, match="oneOf"):
        load_contract(schema)
