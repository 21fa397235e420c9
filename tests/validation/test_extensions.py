"""The project's `x-` extensions: each value against its own JSON Schema, each placed where it
has a meaning, every problem reported at once; the model then holds each default once."""

from __future__ import annotations

import importlib.resources
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from arazzo_sfn.loader import load_document
from arazzo_sfn.model import DEFAULT_LOOP_ERROR, DEFAULT_LOOP_WAIT_SECONDS, DEFAULT_MAX_PAGES, DEFAULT_RETRY_LIMIT, LoopSpec, RetryPolicy, build_workflow
from arazzo_sfn.validation import document_problems, extension_schema
from arazzo_sfn.validation.extensions import EXTENSIONS
from tests.validation.support import document, write_document


def problems_of(tmp_path, text: str) -> dict[str, str]:
    found = document_problems(load_document(write_document(tmp_path, text)))
    return {problem.location.pointer: problem.message for problem in found}


def polling(loop: str = "{}", action: str = "type: goto\n    stepId: poll", workflow: str = "") -> str:
    """A step that goes back to itself while the answer says 202, with `loop` as its x-loop."""
    return document(
        "- stepId: poll\n  operationId: listPets\n  onSuccess:\n"
        f"  - name: again\n    {action}\n    x-loop: {loop}\n    criteria:\n    - condition: $statusCode == 202\n",
        workflow=workflow,
    )


LOOP_AT = "/workflows/0/steps/0/onSuccess/0/x-loop"


@pytest.mark.parametrize("name", EXTENSIONS)
def test_each_extension_schema_is_a_json_schema_shipped_with_the_package(name):
    shipped = importlib.resources.files("arazzo_sfn") / "schema" / "extensions" / f"{name}.json"
    assert json.loads(shipped.read_text(encoding="utf-8")) == extension_schema(name)
    jsonschema.Draft202012Validator.check_schema(extension_schema(name))


def test_a_loop_with_every_field_of_its_mode_is_valid(tmp_path):
    assert problems_of(tmp_path, polling("{waitSeconds: 5, maxIterations: 10, error: PollTimedOut, cause: {step: $statusCode}, onLimit: end}")) == {}
    assert problems_of(tmp_path, polling("{mode: retry, intervalSeconds: 2, backoffRate: 1.5, maxDelaySeconds: 60, maxIterations: 3}")) == {}


@pytest.mark.parametrize(
    ("loop", "at", "message"),
    [
        ("{waitSecond: 5}", LOOP_AT, "'waitSecond' was unexpected"),
        ("{waitSeconds: -1}", LOOP_AT + "/waitSeconds", "waitSeconds is a non-negative integer"),
        ("{mode: forever}", LOOP_AT + "/mode", "'forever' is not one of"),
        ("{error: States.Timeout}", LOOP_AT + "/error", "error is a name like"),
        ("{mode: retry, waitSeconds: 5}", LOOP_AT + "/waitSeconds", "mode retry waits on a schedule"),
        ("{intervalSeconds: 5}", LOOP_AT + "/intervalSeconds", "belongs to mode: retry"),
        ("{mode: retry, backoffRate: 0.5}", LOOP_AT + "/backoffRate", "less than the minimum"),
        ("{onLimit: stop}", LOOP_AT + "/onLimit", "'stop' is not one of"),
        ("[5]", LOOP_AT, "is not of type 'object'"),
    ],
)
def test_a_loop_value_its_schema_refuses_is_located_at_the_field(tmp_path, loop, at, message):
    found = problems_of(tmp_path, polling(loop))
    assert list(found) == [at]
    assert message in found[at] and found[at].startswith("x-loop: ")


def test_a_loop_belongs_on_a_goto_back(tmp_path):
    ending = polling("{waitSeconds: 1}", action="type: end")
    assert "x-loop belongs on a goto that goes back" in problems_of(tmp_path, ending)[LOOP_AT]
    forward = document(
        "- stepId: first\n  operationId: listPets\n  onSuccess:\n  - {name: onward, type: goto, stepId: second, x-loop: {waitSeconds: 1}}\n"
        "- stepId: second\n  operationId: listPets\n"
    )
    assert list(problems_of(tmp_path, forward)) == ["/workflows/0/steps/0/onSuccess/0/x-loop"]


def test_a_workflow_action_with_a_loop_must_go_back_from_every_step(tmp_path):
    text = document(
        "- stepId: first\n  operationId: listPets\n- stepId: second\n  operationId: listPets\n",
        workflow="successActions:\n- name: again\n  type: goto\n  stepId: second\n  x-loop: {waitSeconds: 1}\n  criteria:\n  - condition: $statusCode == 202\n",
    )
    found = problems_of(tmp_path, text)
    assert list(found) == ["/workflows/0/successActions/0/x-loop"]
    assert "after step 'first'" in found["/workflows/0/successActions/0/x-loop"]


def test_the_retry_form_is_for_a_step_that_goes_back_to_itself(tmp_path):
    text = document(
        "- stepId: first\n  operationId: listPets\n- stepId: second\n  operationId: listPets\n  onSuccess:\n"
        "  - {name: again, type: goto, stepId: first, x-loop: {mode: retry}, criteria: [{condition: $statusCode == 202}]}\n"
    )
    assert "x-loop mode retry is for a step that performs an operation and goes back to itself" in problems_of(tmp_path, text)["/workflows/0/steps/1/onSuccess/0/x-loop"]


@pytest.mark.parametrize(
    ("loop", "field", "message"),
    [
        ("{waitSeconds: $inputs.pause}", "waitSeconds", "needs a default or must be required"),
        ("{maxIterations: $inputs.pause}", "maxIterations", "needs a default or must be required"),
        ("{waitSeconds: $response.header.Retry-After}", "waitSeconds", "declare fallbackWaitSeconds"),
        ("{maxIterations: $response.body#/left}", "maxIterations", "an expression here is an $inputs expression"),
        ("{waitSeconds: $steps.poll.outputs.x}", "waitSeconds", "an expression here is an $inputs expression, or one about the response"),
        ("{waitSeconds: $request.header}", "waitSeconds", "is not a runtime expression"),
    ],
)
def test_what_a_loop_expression_may_read(tmp_path, loop, field, message):
    found = problems_of(tmp_path, polling(loop, workflow="inputs:\n  type: object\n  properties:\n    pause: {type: integer}\n"))
    assert message in found[f"{LOOP_AT}/{field}"]


def test_a_loop_may_read_an_input_with_a_default_and_wait_what_the_answer_says(tmp_path):
    inputs = "inputs:\n  type: object\n  properties:\n    pause: {type: integer, default: 3}\n"
    assert problems_of(tmp_path, polling("{waitSeconds: $inputs.pause, maxIterations: $inputs.pause}", workflow=inputs)) == {}
    assert problems_of(tmp_path, polling("{waitSeconds: $response.header.Retry-After, fallbackWaitSeconds: 30}")) == {}


def failing_end(fail: str, action_type: str = "end") -> str:
    target = "    stepId: get\n" if action_type != "end" else ""
    return document(f"- stepId: get\n  operationId: listPets\n  onFailure:\n  - name: stop\n    type: {action_type}\n{target}    x-fail: {fail}\n")


FAIL_AT = "/workflows/0/steps/0/onFailure/0/x-fail"


@pytest.mark.parametrize(
    ("fail", "at", "message"),
    [
        ("{cause: {why: nothing}}", FAIL_AT, "'error' is a required property"),
        ("{error: 'no spaces'}", FAIL_AT + "/error", "error is a name like ResetFailed"),
        ("{error: Stopped, cause: [1]}", FAIL_AT + "/cause", "cause is a mapping"),
        ("{error: Stopped, reason: x}", FAIL_AT, "'reason' was unexpected"),
    ],
)
def test_a_fail_value_its_schema_refuses_is_located_at_the_field(tmp_path, fail, at, message):
    found = problems_of(tmp_path, failing_end(fail))
    assert list(found) == [at]
    assert message in found[at]


def test_a_fail_belongs_on_an_end_action(tmp_path):
    found = problems_of(tmp_path, failing_end("{error: Stopped}", action_type="goto"))
    assert "x-fail belongs on an end action" in found[FAIL_AT]


def test_a_fail_cause_reads_runtime_expressions(tmp_path):
    found = problems_of(tmp_path, failing_end("{error: Stopped, cause: {status: $statusCode, pet: $steps.get.outputs.pet}}"))
    assert list(found) == [FAIL_AT + "/cause/pet"]


@pytest.mark.parametrize(
    ("retry", "at", "message"),
    [
        ("[{errors: []}]", "/0/errors", "should be non-empty"),
        ("[{errors: [States.Timeout]}]", "/0/errors/0", "an error to retry is a name like TransientHttpError, or States.ALL"),
        ("[{errors: [States.ALL], jitterStrategy: SOME}]", "/0/jitterStrategy", "'SOME' is not one of"),
        ("[{errors: [Busy], maxAttempts: -1}]", "/0/maxAttempts", "less than the minimum"),
        ("{errors: [Busy]}", "", "is not of type 'array'"),
    ],
)
def test_a_task_retry_its_schema_refuses_is_located_at_the_field(tmp_path, retry, at, message):
    for where, text in (
        ("/workflows/0/x-task-retry", document("- stepId: get\n  operationId: listPets\n", workflow=f"x-task-retry: {retry}\n")),
        ("/workflows/0/steps/0/x-task-retry", document(f"- stepId: get\n  operationId: listPets\n  x-task-retry: {retry}\n")),
    ):
        found = problems_of(tmp_path, text)
        assert list(found) == [where + at]
        assert message in found[where + at]


def test_child_execution_is_true_or_false(tmp_path):
    found = problems_of(tmp_path, document("- stepId: get\n  operationId: listPets\n", workflow="x-child-execution: 'yes'\n"))
    assert "x-child-execution is true" in found["/workflows/0/x-child-execution"]


def test_every_extension_problem_is_reported_at_once(tmp_path):
    text = document(
        "- stepId: poll\n  operationId: listPets\n  x-task-retry: [{errors: []}]\n  onSuccess:\n"
        "  - {name: again, type: goto, stepId: poll, x-loop: {mode: sometimes}, criteria: [{condition: $statusCode == 202}]}\n"
        "  onFailure:\n  - {name: stop, type: end, x-fail: {error: 'not a name'}}\n",
        workflow="x-child-execution: 1\n",
    )
    assert set(problems_of(tmp_path, text)) == {
        "/workflows/0/x-child-execution",
        "/workflows/0/steps/0/x-task-retry/0/errors",
        "/workflows/0/steps/0/onSuccess/0/x-loop/mode",
        "/workflows/0/steps/0/onFailure/0/x-fail/error",
    }


# --- defaults, held once by the model -----------------------------------------------------------


def test_what_an_extension_leaves_out_takes_the_model_s_defaults(tmp_path):
    path = write_document(tmp_path, polling("{}", workflow="x-task-retry: [{errors: [Busy]}]\n"))
    workflow = build_workflow(load_document(path), None)
    loop = workflow.steps[0].on_success[0].loop
    assert (loop.wait_seconds, loop.error, loop.cause, loop.mode, loop.on_limit) == (DEFAULT_LOOP_WAIT_SECONDS, DEFAULT_LOOP_ERROR, {}, "choice", "fail")
    assert loop == LoopSpec(location=loop.location)
    [retry] = workflow.retry
    assert retry == RetryPolicy(errors=("Busy",), location=retry.location)


def test_a_retry_action_without_a_limit_retries_once(tmp_path):
    path = write_document(tmp_path, document("- stepId: get\n  operationId: listPets\n  onFailure:\n  - {name: again, type: retry}\n"))
    [action] = build_workflow(load_document(path), None).steps[0].on_failure
    assert action.retry_limit == DEFAULT_RETRY_LIMIT == 1


# --- the documentation's examples ---------------------------------------------------------------

DOCS = Path(__file__).resolve().parents[2] / "docs" / "compiler" / "extensions.md"


def _extension_values(node: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in EXTENSIONS:
                yield key, value
            yield from _extension_values(value)
    elif isinstance(node, list):
        for item in node:
            yield from _extension_values(item)


def test_every_example_of_the_documentation_satisfies_its_schema():
    blocks = re.findall(r"```yaml\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.S)
    found = [pair for block in blocks for pair in _extension_values(yaml.safe_load(block))]
    assert {name for name, _ in found} == set(EXTENSIONS)
    for name, value in found:
        jsonschema.validate(value, extension_schema(name), cls=jsonschema.Draft202012Validator)


# --- x-pages --------------------------------------------------------------------------------------

PAGES_AT = "/workflows/0/steps/0/x-pages"


def paging(pages: str, parameters: str = "[{name: offset, in: query, value: 0}, {name: limit, in: query, value: 50}]", target: str = "operationId: listPets") -> str:
    """A step listing pets with `pages` as its x-pages."""
    return document(f"- stepId: list\n  {target}\n  parameters: {parameters}\n  x-pages: {pages}\n")


def test_pages_by_offset_or_by_link_with_every_field_are_valid(tmp_path):
    assert problems_of(tmp_path, paging("{items: /data, offset: offset, limit: limit, select: [/id, /tags/0], maxPages: 10}")) == {}
    assert problems_of(tmp_path, paging("{items: '', next: /links/next}", parameters="[]")) == {}


@pytest.mark.parametrize(
    ("pages", "at", "message"),
    [
        ("{items: /data, offset: offset, next: /next}", PAGES_AT, "x-pages pages by offset (offset, and limit) or by link (next): one of the two"),
        ("{items: /data}", PAGES_AT, "one of the two"),
        ("{items: /data, next: /next, limit: limit}", PAGES_AT, "one of the two"),
        ("{offset: offset}", PAGES_AT, "'items' is a required property"),
        ("{items: data, offset: offset}", PAGES_AT + "/items", "a JSON Pointer is '' or starts with '/'"),
        ("{items: /data, next: next}", PAGES_AT + "/next", "next is a JSON Pointer to the next page's URL"),
        ("{items: /data, offset: offset, maxPages: 0}", PAGES_AT + "/maxPages", "maxPages is an integer from 1 to 10000"),
        ("{items: /data, offset: offset, pageSize: 5}", PAGES_AT, "'pageSize' was unexpected"),
    ],
)
def test_a_pages_value_its_schema_refuses_is_located_at_the_field(tmp_path, pages, at, message):
    found = problems_of(tmp_path, paging(pages))
    assert list(found) == [at]
    assert message in found[at] and found[at].startswith("x-pages: ")


def test_pages_belong_on_a_step_that_performs_an_operation(tmp_path):
    text = document(
        "- stepId: list\n  workflowId: other\n  x-pages: {items: /data, next: /next}\n",
        top="- workflowId: other\n  steps:\n  - {stepId: get, operationId: listPets}\n",
    )
    assert "x-pages belongs on a step that performs an operation; step 'list' calls a workflow" in problems_of(tmp_path, text)[PAGES_AT]


def test_offset_and_limit_name_query_parameters_the_step_passes_or_the_operation_declares(tmp_path):
    found = problems_of(tmp_path, paging("{items: /data, offset: start, limit: limit}", parameters="[{name: limit, in: header, value: 5}]"))

    assert list(found) == [PAGES_AT + "/offset", PAGES_AT + "/limit"]
    assert "x-pages offset 'start' is not a query parameter of step 'list': the step does not pass it and listPets does not declare it" == found[PAGES_AT + "/offset"]
    # A workflow's query parameters go to its steps.
    shared = document(
        "- stepId: list\n  operationId: listPets\n  x-pages: {items: /data, offset: offset}\n",
        workflow="parameters: [{name: offset, in: query, value: 0}]\n",
    )
    assert problems_of(tmp_path, shared) == {}


def test_every_pointer_of_pages_is_read_by_the_grammar(tmp_path):
    found = problems_of(tmp_path, paging("{items: /a~2, offset: offset, select: [/id, /b~]}"))

    assert list(found) == [PAGES_AT + "/items", PAGES_AT + "/select/1"]
    assert "in a JSON pointer '~' is written only as '~0' or '~1'" in found[PAGES_AT + "/items"]


def test_pages_without_max_pages_take_the_payloads_default(tmp_path):
    path = write_document(tmp_path, paging("{items: /data, offset: offset}"))
    pages = build_workflow(load_document(path), None).steps[0].pages
    assert pages is not None and (pages.items, pages.offset, pages.limit, pages.next, pages.select) == ("/data", "offset", None, None, ())
    assert pages.max_pages == DEFAULT_MAX_PAGES == 100
