"""`$url`, `$method` and `$request.<source>` in a step's outputs and criteria, compiled and
run in moto's Step Functions engine against a scripted server: the step's function resolves
them against the request it sent, later steps and the workflow's outputs read the outputs.
In a parameter of the step itself (what it is still building) they are refused as not
supported, at the expression."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from arazzo_sfn.compiler import compile_document
from arazzo_sfn.errors import UnsupportedConstruct
from arazzo_sfn.local_run import run_workflow
from arazzo_sfn.testing import Reply, ScriptedServer

DOCUMENT = Path(__file__).parents[1] / "fixtures" / "documents" / "request-expressions" / "visits.arazzo.yaml"

ROUTES = {
    "POST /pets/{petId}/visits": [Reply(201, {"id": "v-1"})],
    "GET /visits": [Reply(200, [{"id": "v-1"}])],
}


def run(workflow: str, inputs: dict[str, Any]) -> tuple[Any, ScriptedServer]:
    definition = compile_document(DOCUMENT, workflow)
    with ScriptedServer(ROUTES) as server:
        result = run_workflow(definition, inputs, server.url, retry_sleep=lambda _: None, timeout_seconds=60)
    return result, server


def test_a_steps_outputs_read_the_url_method_body_and_header_it_sent():
    result, server = run("record-visit", {"petId": 7, "trace": "t-42"})
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    add, listed = server.calls
    assert add.line == "POST /pets/7/visits"
    assert add.body == {"petId": 7, "note": "checkup"}
    # A later step reads an output resolved from the request: the body after its replacement.
    assert (listed.line, listed.query) == ("GET /visits", {"petId": ["7"]})
    output = result.output if isinstance(result.output, dict) else json.loads(result.output)
    assert output == {"url": f"{server.url}/pets/7/visits?page=2", "method": "POST", "petId": 7, "trace": "t-42", "note": "checkup"}


def test_a_success_criterion_on_a_query_parameter_sent_fails_the_step_when_it_does_not_hold():
    result, server = run("record-visit", {"petId": 7, "trace": "t-42", "page": 3})
    assert result.status == "FAILED"
    assert [call.line for call in server.calls] == ["POST /pets/7/visits"]


@pytest.mark.parametrize(("page", "calls"), [(1, ["POST /pets/1/visits"]), (4, ["POST /pets/1/visits", "GET /visits"])])
def test_an_action_criterion_reads_a_query_parameter_sent(page, calls):
    result, server = run("retry-on-page", {"page": page})
    assert result.status == "SUCCEEDED", (result.error, result.cause)
    assert [call.line for call in server.calls] == calls


def test_request_expressions_are_resolved_by_the_steps_function_from_its_answer():
    task = compile_document(DOCUMENT, "record-visit")["States"]["addVisit"]
    keep = task["Parameters"]["Payload"]["keep"]
    assert keep["outputs"] == {"petId": "$request.body#/petId", "url": "$url", "method": "$method", "trace": "$request.header.X-Trace"}
    # The page is compared by a Choice rule on what the function read; a pointer after an output reads further.
    assert {"$request.query.page", "$request.body#/note"} <= set(keep["reads"].values())


def test_the_body_a_step_is_still_building_is_refused_in_its_parameter_as_not_supported_at_the_expression():
    with pytest.raises(UnsupportedConstruct) as caught:
        compile_document(DOCUMENT, "echo-body-in-header")
    error = caught.value
    assert "not supported" in error.message and "$request.body#/note" in error.message
    assert "still building" in error.message
    assert error.location is not None and error.location.pointer == "/workflows/2/steps/0/parameters/1"
