"""`$url`, `$method` and `$request.<source>` in the outputs and criteria of Airbyte steps: a
test document compiled and run in moto with the application's functions against the stub.
Each function answers with the request its client sent to Airbyte, never its credential."""

from __future__ import annotations

import json
from pathlib import Path

from arazzo_sfn.compiler import compile_document
from tests.e2e.conftest import CLIENT_SECRET, CONNECTION_ID, template_running

DOCUMENT = Path(__file__).parents[1] / "fixtures" / "documents" / "request-expressions" / "airbyte.arazzo.yaml"


def test_airbyte_steps_outputs_and_criteria_read_the_request_their_function_sent(harness, tmp_path):
    harness.template_path = template_running(tmp_path, compile_document(DOCUMENT, "airbyte-requests"))

    result = harness.run()

    assert result.status == "SUCCEEDED", (result.error, result.cause)
    url = harness.stub.url
    assert result.output == {
        "connectionUrl": f"{url}/connections/{CONNECTION_ID}",
        "connectionId": CONNECTION_ID,
        # The credential is never recorded: Authorization does not resolve.
        "authorization": None,
        "jobsUrl": f"{url}/jobs?connectionId={CONNECTION_ID}&limit=20&orderBy=createdAt%7CDESC",
        "resetUrl": f"{url}/jobs",
        "resetMethod": "POST",
        "resetConnectionId": CONNECTION_ID,
        "resetJobType": "reset",
        "resetContentType": "application/json",
        "resetJobId": 1001,
    }
    assert harness.calls() == [("createAccessToken", 200), ("getConnection", 200), ("listJobs", 200), ("createJob", 200)]
    # Nor does anything the execution recorded (every state's data) or the functions logged.
    recorded = json.dumps([result.output, result.history], default=str) + result.function_logs
    assert CLIENT_SECRET not in recorded and "Bearer" not in recorded
