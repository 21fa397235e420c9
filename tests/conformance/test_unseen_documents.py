"""Documents the compiler has not met before: absent inputs, unreachable steps, outputs that
do not resolve, loop waits that do not resolve, step ids with spaces and dots, replacements
on a payload that is a runtime expression, workflow-level parameters, `.$` keys inside
arrays, and responses too large to keep whole. Each is compiled and run in moto's Step
Functions engine against a scripted server, with the harness of `test_constructs`, and
checked on the execution's outcome and the exact requests the server received.

Waits are kept at 0 seconds so the module runs in seconds.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import arazzo_sfn.errors
from arazzo_sfn import ArazzoError, compile_document
from arazzo_sfn.testing import Reply
from tests.conformance.test_constructs import (
    Execution,
    assert_step_failed,
    execute,
    one_field_report,
    write_document,
)


def assert_succeeded(execution: Execution) -> None:
    assert execution.result.status == "SUCCEEDED", (execution.result.error, execution.result.cause)
    assert execution.result.error is None


def lambda_error(execution: Execution, error: str) -> str:
    """The execution failed with the operation function's `error`; its errorMessage."""
    assert execution.result.status == "FAILED"
    assert execution.result.error == error, (execution.result.error, execution.result.cause)
    cause = execution.failure()
    assert cause["errorType"] == error
    return cause["errorMessage"]


def line_of(document: Path, text: str) -> int:
    """The 1-based line of the document holding `text`."""
    lines = document.read_text(encoding="utf-8").splitlines()
    return next(number for number, line in enumerate(lines, 1) if text in line)


# --- 1. absent inputs ------------------------------------------------------------------------

ABSENT_INPUTS = """\
workflows:
- workflowId: search-then-create
  inputs:
    type: object
    properties:
      q: {type: string}
      tenant: {type: string}
      session: {type: string}
      color: {type: string}
{owner}  steps:
  - stepId: search
    operationId: listItems
    parameters:
    - {name: q, in: query, value: $inputs.q}
    - {name: owner, in: query, value: $inputs.owner}
    - {name: limit, in: query, value: '10'}
    - {name: X-Tenant, in: header, value: $inputs.tenant}
    - {name: X-Trace, in: header, value: trace-1}
    - {name: session, in: cookie, value: $inputs.session}
    - {name: lang, in: cookie, value: en}
  - stepId: create
    operationId: createItem
    requestBody:
      contentType: application/json
      payload:
        name: bolt
        color: $inputs.color
        owner: $inputs.owner
        size: 3
  outputs:
    color: $inputs.color
    owner: $inputs.owner
    tenant: $inputs.tenant
"""
SEARCH_AND_CREATE = {"GET /items": Reply(200, []), "POST /items": Reply(201, {"id": "it-1"})}
# `owner` is used wherever the others are: declared in one variant; in the other only allowed,
# as the schema does not say additionalProperties: false.
OWNER = pytest.mark.parametrize("owner", ["      owner: {type: string}\n", ""], ids=["owner declared", "owner undeclared"])


@OWNER
def test_absent_inputs_leave_out_their_query_header_cookie_and_body_member(tmp_path, owner):
    execution = execute(write_document(tmp_path, ABSENT_INPUTS.replace("{owner}", owner)), SEARCH_AND_CREATE)

    assert_succeeded(execution)
    assert execution.requests == ["GET /items", "POST /items"]
    search, create = execution.server.calls
    assert search.query == {"limit": ["10"]}
    assert "x-tenant" not in search.headers
    assert search.headers["x-trace"] == "trace-1"
    assert search.cookies == {"lang": "en"}
    assert create.body == {"name": "bolt", "size": 3}
    assert execution.result.output == {"color": None, "owner": None, "tenant": None}


@OWNER
def test_given_inputs_declared_or_not_are_sent_as_usual(tmp_path, owner):
    inputs = {"q": "nut", "owner": "ann", "tenant": "acme", "session": "s-1", "color": "red"}
    execution = execute(write_document(tmp_path, ABSENT_INPUTS.replace("{owner}", owner)), SEARCH_AND_CREATE, inputs=inputs)

    assert_succeeded(execution)
    search, create = execution.server.calls
    assert search.query == {"q": ["nut"], "owner": ["ann"], "limit": ["10"]}
    assert search.headers["x-tenant"] == "acme" and search.headers["x-trace"] == "trace-1"
    assert search.cookies == {"session": "s-1", "lang": "en"}
    assert create.body == {"name": "bolt", "color": "red", "owner": "ann", "size": 3}
    assert execution.result.output == {"color": "red", "owner": "ann", "tenant": "acme"}


WHOLE_BODY = """\
workflows:
- workflowId: create
  inputs:
    type: object
    properties:
      item: {type: object}
  steps:
  - stepId: create
    operationId: createItem
    requestBody:
      contentType: application/json
      payload: $inputs.{name}
"""


@pytest.mark.parametrize("name", ["item", "draft"], ids=["declared", "undeclared"])
def test_a_body_that_is_an_absent_input_sends_no_body(tmp_path, name):
    execution = execute(write_document(tmp_path, WHOLE_BODY.replace("{name}", name)), {"POST /items": Reply(201)})

    assert_succeeded(execution)
    assert execution.requests == ["POST /items"]
    assert execution.server.calls[0].body is None


def test_a_body_that_is_a_given_input_is_sent(tmp_path):
    item = {"name": "bolt", "tags": ["a"], "size": 2}
    execution = execute(write_document(tmp_path, WHOLE_BODY.replace("{name}", "item")), {"POST /items": Reply(201)}, inputs={"item": item})

    assert_succeeded(execution)
    assert execution.server.calls[0].body == item


ABSENT_PATH = """\
workflows:
- workflowId: list-then-read
  inputs:
    type: object
    properties:
      itemId: {type: string}
  steps:
  - stepId: list
    operationId: listItems
  - stepId: read
    operationId: getItem
    parameters:
    - {name: itemId, in: path, value: $inputs.{name}}
    - {name: fields, in: query, value: name}
"""


@pytest.mark.parametrize("name", ["itemId", "sku"], ids=["declared", "undeclared"])
def test_a_path_parameter_without_a_value_fails_the_step_before_anything_is_sent(tmp_path, name):
    document = write_document(tmp_path, ABSENT_PATH.replace("{name}", name))
    execution = execute(document, {"GET /items": Reply(200, []), "GET /items/{itemId}": Reply(200, {})})

    message = lambda_error(execution, "InvalidRequest")
    assert "itemId" in message
    assert execution.requests == ["GET /items"]
    assert execution.result.output is None


def test_a_path_parameter_with_a_value_is_sent(tmp_path):
    document = write_document(tmp_path, ABSENT_PATH.replace("{name}", "sku"))
    execution = execute(document, {"GET /items": Reply(200, []), "GET /items/{itemId}": Reply(200, {})}, inputs={"sku": "it-4"})

    assert_succeeded(execution)
    assert execution.requests == ["GET /items", "GET /items/it-4"]
    assert execution.server.calls[1].query == {"fields": ["name"]}


def test_an_undeclared_input_is_a_compile_error_when_the_schema_forbids_others(tmp_path):
    document = write_document(tmp_path, """\
workflows:
- workflowId: search
  inputs:
    type: object
    additionalProperties: false
    properties:
      q: {type: string}
  steps:
  - stepId: search
    operationId: listItems
    parameters:
    - {name: q, in: query, value: $inputs.q}
    - {name: nope, in: query, value: $inputs.nope}
""")
    with pytest.raises(ArazzoError, match="nope"):
        compile_document(document)


# --- 2. unreachable steps --------------------------------------------------------------------

AFTER_END = """\
workflows:
- workflowId: check
  steps:
  - stepId: check
    operationId: listItems
    onSuccess:
    - name: done
      type: end
  - stepId: orphan
    operationId: createReport
"""
JUMPED_OVER = """\
workflows:
- workflowId: skip
  steps:
  - stepId: start
    operationId: startJob
    outputs:
      jobId: $response.body#/id
    onSuccess:
    - name: toReport
      type: goto
      stepId: report
  - stepId: skipped
    operationId: deleteItem
    parameters:
    - {name: itemId, in: path, value: '7'}
  - stepId: report
    operationId: createReport
    requestBody:
      payload:
        jobId: $steps.start.outputs.jobId
"""
WAREHOUSE = {
    "GET /items": Reply(200, []),
    "POST /jobs": Reply(202, {"id": "j-1"}),
    "DELETE /items/{itemId}": Reply(204),
    "POST /reports": Reply(201, {"id": "r-1"}),
}


def assert_left_out(execution: Execution, step: str) -> None:
    assert not [name for name in execution.asl["States"] if name == step or name.startswith(f"{step}.")]
    assert step not in execution.tasks


def assert_warning_names(record, document: Path, step: str) -> None:
    messages = [str(w.message) for w in record if isinstance(w.message, arazzo_sfn.errors.ArazzoWarning) and step in str(w.message)]
    assert messages, [str(w.message) for w in record]
    assert document.name in messages[0]
    assert re.search(rf"\b{line_of(document, f'stepId: {step}')}\b", messages[0]), messages[0]


def test_a_step_after_an_unconditional_end_is_left_out_with_a_warning(tmp_path):
    document = write_document(tmp_path, AFTER_END)
    with pytest.warns(arazzo_sfn.errors.ArazzoWarning, match="orphan") as record:
        execution = execute(document, WAREHOUSE)

    assert_warning_names(record, document, "orphan")
    assert_succeeded(execution)
    assert execution.requests == ["GET /items"]
    assert_left_out(execution, "orphan")


def test_a_step_an_unconditional_goto_jumps_over_is_left_out_with_a_warning(tmp_path):
    document = write_document(tmp_path, JUMPED_OVER)
    with pytest.warns(arazzo_sfn.errors.ArazzoWarning, match="skipped") as record:
        execution = execute(document, WAREHOUSE)

    assert_warning_names(record, document, "skipped")
    assert_succeeded(execution)
    assert execution.requests == ["POST /jobs", "POST /reports"]
    assert execution.server.calls[1].body == {"jobId": "j-1"}
    assert_left_out(execution, "skipped")
    assert execution.tasks == ["start", "report"]


# --- 3. outputs that do not resolve ----------------------------------------------------------

UNRESOLVED = """\
workflows:
- workflowId: read-then-use
  steps:
  - stepId: read
    operationId: getItem
    parameters:
    - {name: itemId, in: path, value: '7'}
    outputs:
      name: $response.body#/name
      missing: $response.body#/missing
      ownerName: $response.body#/owner/name
      sixthTag: $response.body#/tags/5
      token: $response.header.X-Absent
  - stepId: search
    operationId: listItems
    parameters:
    - {name: name, in: query, value: $steps.read.outputs.name}
    - {name: missing, in: query, value: $steps.read.outputs.missing}
    - {name: tag, in: query, value: $steps.read.outputs.sixthTag}
    - {name: X-Token, in: header, value: $steps.read.outputs.token}
  - stepId: report
    operationId: createReport
    requestBody:
      contentType: application/json
      payload:
        name: $steps.read.outputs.name
        owner: $steps.read.outputs.ownerName
        tag: $steps.read.outputs.sixthTag
        token: $steps.read.outputs.token
  outputs:
    name: $steps.read.outputs.name
    missing: $steps.read.outputs.missing
    ownerName: $steps.read.outputs.ownerName
    sixthTag: $steps.read.outputs.sixthTag
    token: $steps.read.outputs.token
"""


def unresolved_run(tmp_path, reply: Reply) -> Execution:
    return execute(write_document(tmp_path, UNRESOLVED), {
        "GET /items/{itemId}": reply,
        "GET /items": Reply(200, []),
        "POST /reports": Reply(201),
    })


def test_outputs_that_do_not_resolve_are_null_and_later_requests_leave_them_out(tmp_path):
    execution = unresolved_run(tmp_path, Reply(200, {"name": "bolt", "tags": ["a", "b"]}))

    assert_succeeded(execution)
    assert execution.requests == ["GET /items/7", "GET /items", "POST /reports"]
    search, report = execution.server.calls[1:]
    assert search.query == {"name": ["bolt"]}
    assert "x-token" not in search.headers
    assert report.body == {"name": "bolt"}
    assert execution.result.output == {"name": "bolt", "missing": None, "ownerName": None, "sixthTag": None, "token": None}


def test_outputs_that_resolve_are_all_sent(tmp_path):
    body = {"name": "bolt", "missing": "here", "owner": {"name": "ann"}, "tags": ["a", "b", "c", "d", "e", "f"]}
    execution = unresolved_run(tmp_path, Reply(200, body, {"X-Absent": "tok-1"}))

    assert_succeeded(execution)
    search, report = execution.server.calls[1:]
    assert search.query == {"name": ["bolt"], "missing": ["here"], "tag": ["f"]}
    assert search.headers["x-token"] == "tok-1"
    assert report.body == {"name": "bolt", "owner": "ann", "tag": "f", "token": "tok-1"}
    assert execution.result.output == {"name": "bolt", "missing": "here", "ownerName": "ann", "sixthTag": "f", "token": "tok-1"}


# --- 4. a loop wait that does not resolve ----------------------------------------------------

RETRY_AFTER_LOOP = """\
workflows:
- workflowId: watch-job
  steps:
  - stepId: poll
    operationId: getJob
    parameters:
    - {name: jobId, in: path, value: j-1}
    outputs:
      status: $response.body#/status
    onSuccess:
    - name: stillRunning
      type: goto
      stepId: poll
      criteria:
      - type: jsonpath
        context: $response.body
        condition: $.status == 'running'
      x-loop:
        waitSeconds: $response.header.Retry-After
{fallback}        maxIterations: 5
  outputs:
    status: $steps.poll.outputs.status
"""


def test_a_loop_wait_without_its_header_falls_back(tmp_path):
    document = write_document(tmp_path, RETRY_AFTER_LOOP.replace("{fallback}", "        fallbackWaitSeconds: 0\n"))
    execution = execute(document, {"GET /jobs/{jobId}": [
        Reply(200, {"status": "running"}),
        Reply(200, {"status": "running"}, {"Retry-After": "0"}),
        Reply(200, {"status": "done"}),
    ]})

    assert_succeeded(execution)
    assert execution.requests == ["GET /jobs/j-1"] * 3
    assert execution.result.output == {"status": "done"}


def test_a_loop_wait_expression_without_a_fallback_is_refused(tmp_path):
    with pytest.raises(ArazzoError, match="fallbackWaitSeconds"):
        compile_document(write_document(tmp_path, RETRY_AFTER_LOOP.replace("{fallback}", "")))


# --- 5. step ids with spaces, dots and hashes ------------------------------------------------

ODD_STEP_IDS = """\
workflows:
- workflowId: odd-ids
  steps:
  - stepId: Search Stations
    operationId: listItems
    outputs:
      id: $response.body#/id
      count: $response.body#/count
  - stepId: get.item
    operationId: getItem
    parameters:
    - {name: itemId, in: path, value: $steps.Search Stations.outputs.id}
    - {name: count, in: query, value: $steps.Search Stations.outputs.count}
    successCriteria:
    - condition: $steps.Search Stations.outputs.count > 0
    outputs:
      name: $response.body#/name
  - stepId: "item#1"
    operationId: createReport
    requestBody:
      contentType: application/json
      payload:
        ref: "id-{$steps.Search Stations.outputs.id}"
        name: $steps.get.item.outputs.name
    outputs:
      reportId: $response.body#/id
  outputs:
    id: $steps.Search Stations.outputs.id
    name: $steps.get.item.outputs.name
    report: "$steps.item#1.outputs.reportId"
"""


def odd_ids_run(tmp_path, count: int) -> Execution:
    return execute(write_document(tmp_path, ODD_STEP_IDS), {
        "GET /items": Reply(200, {"id": "s-1", "count": count}),
        "GET /items/{itemId}": Reply(200, {"name": "bolt"}),
        "POST /reports": Reply(201, {"id": "r-1"}),
    })


def test_step_ids_with_a_space_a_dot_and_a_hash_are_referenced_everywhere(tmp_path):
    execution = odd_ids_run(tmp_path, 2)

    assert_succeeded(execution)
    assert execution.requests == ["GET /items", "GET /items/s-1", "POST /reports"]
    assert execution.server.calls[1].query == {"count": ["2"]}
    assert execution.server.calls[2].body == {"ref": "id-s-1", "name": "bolt"}
    assert execution.result.output == {"id": "s-1", "name": "bolt", "report": "r-1"}


def test_a_criterion_on_an_output_of_a_step_id_with_a_space_can_fail(tmp_path):
    execution = odd_ids_run(tmp_path, 0)

    assert_step_failed(execution, "get.item", 200)
    assert execution.requests == ["GET /items", "GET /items/s-1"]


# --- 6. replacements on a payload that is a runtime expression -------------------------------

REPLACED_TEMPLATE = """\
workflows:
- workflowId: from-template
  inputs:
    type: object
    properties:
      template: {type: object}
      name: {type: string}
  steps:
  - stepId: create
    operationId: createItem
    requestBody:
      contentType: application/json
      payload: $inputs.template
      replacements:
      - {target: /name, value: $inputs.name}
      - {target: /tags/0, value: fixed}
"""


def test_replacements_apply_to_a_payload_given_as_an_input(tmp_path):
    template = {"name": "x", "tags": ["a", "b"], "size": 1}
    execution = execute(write_document(tmp_path, REPLACED_TEMPLATE), {"POST /items": Reply(201)}, inputs={"template": template, "name": "bolt"})

    assert_succeeded(execution)
    assert execution.requests == ["POST /items"]
    assert execution.server.calls[0].body == {"name": "bolt", "tags": ["fixed", "b"], "size": 1}


REPLACED_OUTPUT = """\
workflows:
- workflowId: copy-item
  inputs:
    type: object
    properties:
      newId: {type: string}
  steps:
  - stepId: read
    operationId: getItem
    parameters:
    - {name: itemId, in: path, value: '7'}
    outputs:
      item: $response.body#/item
  - stepId: copy
    operationId: createItem
    requestBody:
      contentType: application/json
      payload: $steps.read.outputs.item
      replacements:
      - {target: /id, value: $inputs.newId}
      - {target: /stock/warehouse, value: north}
"""


def test_replacements_apply_to_a_payload_given_as_a_previous_steps_output(tmp_path):
    item = {"id": "7", "name": "bolt", "stock": {"warehouse": "south", "count": 4}}
    execution = execute(write_document(tmp_path, REPLACED_OUTPUT), {
        "GET /items/{itemId}": Reply(200, {"item": item, "etag": "e-1"}),
        "POST /items": Reply(201),
    }, inputs={"newId": "it-8"})

    assert_succeeded(execution)
    assert execution.requests == ["GET /items/7", "POST /items"]
    assert execution.server.calls[1].body == {"id": "it-8", "name": "bolt", "stock": {"warehouse": "north", "count": 4}}


# --- 7. workflow-level parameters ------------------------------------------------------------

WORKFLOW_PARAMETERS = """\
workflows:
- workflowId: tenant-reads
  inputs:
    type: object
    properties:
      tenant: {type: string}
  parameters:
  - {name: X-Tenant, in: header, value: $inputs.tenant}
  - {name: verbose, in: query, value: 'true'}
  steps:
  - stepId: list
    operationId: listItems
    parameters:
    - {name: page, in: query, value: '1'}
    - {name: X-Tenant, in: query, value: other}
  - stepId: read
    operationId: getItem
    parameters:
    - {name: itemId, in: path, value: '7'}
    - {name: verbose, in: query, value: 'false'}
"""
LIST_AND_READ = {"GET /items": Reply(200, []), "GET /items/{itemId}": Reply(200, {"name": "bolt"})}


def test_workflow_parameters_apply_to_every_step_and_a_step_parameter_of_the_same_name_and_in_wins(tmp_path):
    execution = execute(write_document(tmp_path, WORKFLOW_PARAMETERS), LIST_AND_READ, inputs={"tenant": "acme"})

    assert_succeeded(execution)
    assert execution.requests == ["GET /items", "GET /items/7"]
    listing, reading = execution.server.calls
    # Same name, another `in`: the step's query parameter does not replace the workflow's header.
    assert listing.query == {"verbose": ["true"], "page": ["1"], "X-Tenant": ["other"]}
    assert listing.headers["x-tenant"] == "acme"
    assert reading.query == {"verbose": ["false"]}
    assert reading.headers["x-tenant"] == "acme"


WORKFLOW_PARAMETER_REFERENCES = """\
workflows:
- workflowId: tenant-reads
  inputs:
    type: object
    properties:
      tenant: {type: string}
  parameters:
  - reference: $components.parameters.tenant
  - reference: $components.parameters.verbose
    value: 'yes'
  steps:
  - stepId: read
    operationId: getItem
    parameters:
    - {name: itemId, in: path, value: '7'}
  - stepId: list
    operationId: listItems
    parameters:
    - {name: session, in: cookie, value: s-1}
components:
  parameters:
    tenant: {name: X-Tenant, in: header, value: $inputs.tenant}
    verbose: {name: verbose, in: query, value: 'no'}
"""


def test_workflow_parameters_given_by_component_references(tmp_path):
    execution = execute(write_document(tmp_path, WORKFLOW_PARAMETER_REFERENCES), LIST_AND_READ, inputs={"tenant": "acme"})

    assert_succeeded(execution)
    assert execution.requests == ["GET /items/7", "GET /items"]
    assert [call.query for call in execution.server.calls] == [{"verbose": ["yes"]}] * 2
    assert [call.headers.get("x-tenant") for call in execution.server.calls] == ["acme", "acme"]
    assert execution.server.calls[1].cookies == {"session": "s-1"}


# --- 8. keys ending in .$ --------------------------------------------------------------------

DOLLAR_KEYS = [
    ("in an object", '"price.$": 3'),
    ("in a nested object", 'item: {"price.$": 3}'),
    ("in an object in an array", 'items: [{"price.$": 3}]'),
    ("in an array in an array", 'items: [[{"price.$": 3}]]'),
    ("in an array with an expression", 'items: [$inputs.name, {"price.$": 3}]'),
]


@pytest.mark.parametrize("field", [f for _, f in DOLLAR_KEYS], ids=[i for i, _ in DOLLAR_KEYS])
def test_a_payload_key_ending_in_dollar_is_refused_wherever_it_is(tmp_path, field):
    with pytest.raises(ArazzoError, match=re.escape("price.$")):
        compile_document(one_field_report(tmp_path, field))


# --- 9. large responses ----------------------------------------------------------------------

LARGE_RESPONSES = """\
workflows:
- workflowId: two-large
  steps:
  - stepId: first
    operationId: getItem
    parameters:
    - {name: itemId, in: path, value: a}
    successCriteria:
    - condition: $statusCode == 200
    outputs:
      id: $response.body#/id
  - stepId: second
    operationId: getJob
    parameters:
    - {name: jobId, in: path, value: b}
    outputs:
      id: $response.body#/id
  - stepId: report
    operationId: createReport
    requestBody:
      contentType: application/json
      payload:
        first: $steps.first.outputs.id
        second: $steps.second.outputs.id
  outputs:
    first: $steps.first.outputs.id
    second: $steps.second.outputs.id
"""


def large(identifier: str, size: int) -> Reply:
    return Reply(200, {"id": identifier, "blob": "x" * size})


def test_two_large_responses_of_which_only_ids_are_read_fit(tmp_path):
    execution = execute(write_document(tmp_path, LARGE_RESPONSES), {
        "GET /items/{itemId}": large("a", 150_000),
        "GET /jobs/{jobId}": large("b", 150_000),
        "POST /reports": Reply(201),
    })

    assert_succeeded(execution)
    assert execution.requests == ["GET /items/a", "GET /jobs/b", "POST /reports"]
    assert execution.server.calls[2].body == {"first": "a", "second": "b"}
    assert execution.result.output == {"first": "a", "second": "b"}


WHOLE_LARGE_BODY = """\
workflows:
- workflowId: keep-all
  steps:
  - stepId: read
    operationId: getItem
    parameters:
    - {name: itemId, in: path, value: a}
    outputs:
      whole: $response.body
  - stepId: report
    operationId: createReport
  outputs:
    whole: $steps.read.outputs.whole
"""


def test_an_output_of_a_whole_body_too_large_to_keep_fails_with_response_too_large(tmp_path):
    execution = execute(write_document(tmp_path, WHOLE_LARGE_BODY), {
        "GET /items/{itemId}": large("a", 300_000),
        "POST /reports": Reply(201),
    })

    lambda_error(execution, "ResponseTooLarge")
    assert execution.requests == ["GET /items/a"]
    assert execution.result.output is None
