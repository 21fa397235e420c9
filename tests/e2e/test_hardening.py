"""Bad input is refused before any call to Airbyte, and no secret ever leaves the functions."""

from __future__ import annotations

import json

import pytest

from airbyte_resync.stub import Fault
from tests.e2e.conftest import CLIENT_SECRET, CONNECTION_ID

HUGE = "9" * 100_000
MALFORMED_INPUTS = [
    # (execution input, the field the refusal must name)
    ({}, "connectionId"),
    ({"connectionId": None}, "connectionId"),
    ({"connectionId": ""}, "connectionId"),
    ({"connectionId": 42}, "connectionId"),
    ({"connectionId": 4.2}, "connectionId"),
    ({"connectionId": True}, "connectionId"),
    ({"connectionId": []}, "connectionId"),
    ({"connectionId": [CONNECTION_ID]}, "connectionId"),
    ({"connectionId": {"id": CONNECTION_ID}}, "connectionId"),
    ({"connectionId": "not-a-uuid"}, "connectionId"),
    ({"connectionId": CONNECTION_ID[:-1]}, "connectionId"),
    ({"connectionId": CONNECTION_ID + "0"}, "connectionId"),
    ({"connectionId": CONNECTION_ID + "\n"}, "connectionId"),
    ({"connectionId": " " + CONNECTION_ID}, "connectionId"),
    ({"connectionId": CONNECTION_ID.replace("-", "")}, "connectionId"),
    ({"connectionId": "zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz"}, "connectionId"),
    ({"connectionId": HUGE}, "connectionId"),
    ({"connectionId": "../../jobs/1"}, "connectionId"),
    ({"connectionId": "..%2F..%2Fjobs"}, "connectionId"),
    ({"connectionId": f"{CONNECTION_ID}/../../applications/token"}, "connectionId"),
    ({"connectionId": f"{CONNECTION_ID}?jobType=sync"}, "connectionId"),
    ({"connectionId": f'{CONNECTION_ID}", "jobType": "sync'}, "connectionId"),
    ({"connectionId": "'; DROP TABLE jobs; --"}, "connectionId"),
    ({"connectionId": "${jndi:ldap://x/a}"}, "connectionId"),
    ({"connectionId": "<script>alert(1)</script>"}, "connectionId"),
    ({"connectionId": CONNECTION_ID, "pollIntervalSeconds": -1}, "pollIntervalSeconds"),
    ({"connectionId": CONNECTION_ID, "pollIntervalSeconds": 3601}, "pollIntervalSeconds"),
    ({"connectionId": CONNECTION_ID, "pollIntervalSeconds": "30"}, "pollIntervalSeconds"),
    ({"connectionId": CONNECTION_ID, "pollIntervalSeconds": None}, "pollIntervalSeconds"),
    ({"connectionId": CONNECTION_ID, "pollIntervalSeconds": [30]}, "pollIntervalSeconds"),
    ({"connectionId": CONNECTION_ID, "maxPolls": 0}, "maxPolls"),
    ({"connectionId": CONNECTION_ID, "maxPolls": 2001}, "maxPolls"),
    ({"connectionId": CONNECTION_ID, "maxPolls": "many"}, "maxPolls"),
    ({"connectionId": CONNECTION_ID, "maxPolls": False}, "maxPolls"),
]


def test_malformed_inputs_are_refused_before_any_call_naming_the_field(harness, capsys):
    refused = 0
    for execution_input, field in MALFORMED_INPUTS:
        harness.stub.reset_calls()

        result = harness.run_raw(execution_input)

        label = json.dumps(execution_input)[:80]
        assert result.status == "FAILED", label
        assert result.error == "InvalidInput", f"{label}: {result.error} {result.cause}"
        cause = json.loads(result.cause)
        message = cause.get("message") or cause.get("errorMessage")
        assert field in message, f"{label}: {message}"
        assert harness.stub.calls == [], f"{label} reached Airbyte"
        refused += 1
    with capsys.disabled():
        print(f"\n{refused} malformed inputs tried, {refused} refused before any call to Airbyte")
    assert refused >= 30


def test_no_secret_or_token_appears_in_logs_outputs_errors_or_history(harness):
    # A run that exercises every path that handles credentials: token exchange, a 401
    # with renewal, transient retries, then a failure whose cause carries Airbyte's answer.
    harness.stub.inject("getJob", Fault.status(401), Fault.status(503))
    harness.stub.inject("createJob", Fault.delay(0), Fault.status(403))
    result = harness.run()

    assert result.error == "ResyncNotStarted"
    tokens = harness.stub.issued_tokens()
    assert len(tokens) == 2  # the first, and the one renewed after the 401
    captured = "\n".join([
        result.function_logs,
        json.dumps(result.history, default=str),
        json.dumps(result.to_json()),
        json.dumps([call.__dict__ for call in harness.stub.calls], default=str),
    ])
    assert "Airbyte answered" in captured and "step failed" in captured  # the functions' logs were captured
    for secret in [CLIENT_SECRET, *tokens]:
        assert secret not in captured
    assert "Bearer " + tokens[0][:8] not in captured
