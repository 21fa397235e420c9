"""The rules of Arazzo 1.0.1 that its JSON Schema cannot state, each refused by validation at
the node that breaks it, and the valid documents that look as if they broke one."""

from __future__ import annotations

import json

import pytest

from arazzo_sfn.errors import ProblemList
from arazzo_sfn.loader import load_document
from arazzo_sfn.validation import document_problems, validate_document
from tests.validation.support import FIXTURES, document, write_document


def problems_of(tmp_path, text: str) -> dict[str, str]:
    """pointer -> message of every problem validation finds."""
    found = document_problems(load_document(write_document(tmp_path, text)))
    return {problem.location.pointer: problem.message for problem in found}


LIST_PETS = "- stepId: list\n  operationId: listPets\n"


# --- outputs ------------------------------------------------------------------------------------


def test_an_output_value_is_a_runtime_expression_not_text(tmp_path):
    text = document(
        LIST_PETS + "  outputs:\n    count: $response.body#/count\n    label: all the pets\n",
        workflow="outputs:\n  first: $steps.list.outputs.count\n  note: some-expression\n",
    )
    assert problems_of(tmp_path, text).keys() == {"/workflows/0/outputs/note", "/workflows/0/steps/0/outputs/label"}
    assert "an output value is a runtime expression" in problems_of(tmp_path, text)["/workflows/0/outputs/note"]


@pytest.mark.parametrize("name", ["two words", "tab\tname", "slash/name", "ünïcode"])
def test_an_output_name_is_letters_digits_dot_dash_underscore(tmp_path, name):
    text = document(LIST_PETS + f"  outputs:\n    {json.dumps(name)}: $statusCode\n", workflow=f"outputs:\n  {json.dumps(name)}: $statusCode\n")
    escaped = name.replace("~", "~0").replace("/", "~1")
    found = problems_of(tmp_path, text)
    assert f"/workflows/0/steps/0/outputs/{escaped}" in found
    assert f"/workflows/0/outputs/{escaped}" in found


def test_output_names_with_dots_dashes_and_underscores_are_valid(tmp_path):
    text = document(LIST_PETS + "  outputs:\n    pet.count_all-v2: $statusCode\n", workflow="outputs:\n  a.b-c_d: $steps.list.outputs.pet.count_all-v2\n")
    assert problems_of(tmp_path, text) == {}


def test_a_component_name_is_letters_digits_dot_dash_underscore(tmp_path):
    text = document(LIST_PETS, top="components:\n  parameters:\n    page size: {name: size, in: query, value: 10}\n")
    assert list(problems_of(tmp_path, text)) == ["/components/parameters/page size"]


# --- parameters ------------------------------------------------------------------------------------


def test_a_step_parameter_given_twice_is_refused_at_the_second(tmp_path):
    text = document("- stepId: list\n  operationId: listPets\n  parameters:\n  - {name: limit, in: query, value: 1}\n  - {name: limit, in: query, value: 2}\n")
    found = problems_of(tmp_path, text)
    assert list(found) == ["/workflows/0/steps/0/parameters/1"]
    assert "given twice" in found["/workflows/0/steps/0/parameters/1"]


def test_the_same_name_in_two_places_is_two_parameters(tmp_path):
    text = document("- stepId: list\n  operationId: listPets\n  parameters:\n  - {name: limit, in: query, value: 1}\n  - {name: limit, in: header, value: 2}\n")
    assert problems_of(tmp_path, text) == {}


def test_a_workflow_parameter_given_twice_is_refused_at_the_second(tmp_path):
    text = document(LIST_PETS, workflow="parameters:\n- {name: limit, in: query, value: 1}\n- {name: limit, in: query, value: 2}\n")
    assert list(problems_of(tmp_path, text)) == ["/workflows/0/parameters/1"]


def test_a_reusable_parameter_counts_as_the_parameter_it_names(tmp_path):
    text = document(
        "- stepId: list\n  operationId: listPets\n  parameters:\n  - reference: $components.parameters.limit\n  - {name: limit, in: query, value: 2}\n",
        top="components:\n  parameters:\n    limit: {name: limit, in: query, value: 1}\n",
    )
    assert list(problems_of(tmp_path, text)) == ["/workflows/0/steps/0/parameters/1"]


def test_a_parameter_name_that_looks_like_an_expression_is_just_a_name(tmp_path):
    text = document("- stepId: list\n  operationId: listPets\n  parameters:\n  - {name: $steps.nowhere.outputs.x, in: header, value: 1}\n")
    assert problems_of(tmp_path, text) == {}


def test_a_step_that_performs_an_operation_says_where_each_parameter_goes(tmp_path):
    written = document("- stepId: list\n  operationId: listPets\n  parameters:\n  - {name: limit, value: 1}\n")
    assert problems_of(tmp_path, written) == {"/workflows/0/steps/0/parameters/0": "'in' is a required property"}
    reused = document(
        "- stepId: list\n  operationId: listPets\n  parameters:\n  - reference: $components.parameters.limit\n",
        top="components:\n  parameters:\n    limit: {name: limit, value: 1}\n",
    )
    assert "needs `in`" in problems_of(tmp_path, reused)["/workflows/0/steps/0/parameters/0"]


def test_a_step_that_calls_a_workflow_passes_inputs_without_in(tmp_path):
    text = document(
        "- stepId: call\n  workflowId: other\n  parameters:\n  - {name: limit, in: query, value: 1}\n",
        top="- workflowId: other\n  steps:\n  - stepId: list\n    operationId: listPets\n",
    )
    assert "must not have `in`" in problems_of(tmp_path, text)["/workflows/0/steps/0/parameters/0"]


def operation_path(fragment: str) -> str:
    return f"- stepId: get\n  operationPath: '{{$sourceDescriptions.pets.url}}{fragment}'\n  parameters:\n  - {{name: petId, in: path, value: 1}}\n"


def test_an_operation_path_is_a_json_pointer_with_slashes_written_as_tilde_one(tmp_path):
    assert problems_of(tmp_path, document(operation_path("#/paths/~1pets~1{petId}/get"))) == {}


def test_an_operation_path_with_a_tilde_not_escaped_is_refused_at_it(tmp_path):
    found = problems_of(tmp_path, document(operation_path("#/paths/~2pets/get")))
    assert list(found) == ["/workflows/0/steps/0/operationPath"]
    assert "'~' is written only as '~0' or '~1'" in found["/workflows/0/steps/0/operationPath"]


# --- step ids ------------------------------------------------------------------------------------


def test_step_ids_are_case_sensitive(tmp_path):
    text = document(LIST_PETS + "- stepId: List\n  operationId: listPets\n")
    assert problems_of(tmp_path, text) == {}


def test_a_repeated_step_id_is_refused_at_the_repetition(tmp_path):
    text = document(LIST_PETS + "- stepId: list\n  operationId: getPet\n  parameters:\n  - {name: petId, in: path, value: 1}\n")
    found = problems_of(tmp_path, text)
    assert list(found) == ["/workflows/0/steps/1/stepId"]


# --- criteria ------------------------------------------------------------------------------------


def regex_criterion(pattern: str) -> str:
    return LIST_PETS + f"  successCriteria:\n  - context: $response.body#/name\n    condition: {pattern!r}\n    type: regex\n"


def test_a_regex_that_does_not_compile_is_refused_at_its_condition(tmp_path):
    found = problems_of(tmp_path, document(regex_criterion("^(200$")))
    assert list(found) == ["/workflows/0/steps/0/successCriteria/0/condition"]
    assert "Python's re" in found["/workflows/0/steps/0/successCriteria/0/condition"]


def test_regex_criteria_are_python_regular_expressions(tmp_path):
    # The functions evaluate with Python's `re`: its named groups compile, ECMA-262's do not.
    assert problems_of(tmp_path, document(regex_criterion(r"^(?P<code>2\d\d)$"))) == {}
    assert list(problems_of(tmp_path, document(regex_criterion(r"^(?<code>2\d\d)$")))) == ["/workflows/0/steps/0/successCriteria/0/condition"]


def test_a_simple_condition_that_does_not_parse_is_refused_at_it(tmp_path):
    text = document(LIST_PETS + "  successCriteria:\n  - condition: $statusCode == (200\n")
    assert list(problems_of(tmp_path, text)) == ["/workflows/0/steps/0/successCriteria/0/condition"]


def test_a_condition_reading_an_output_no_step_has_is_refused_at_it(tmp_path):
    text = document(LIST_PETS + "  outputs:\n    count: $response.body#/count\n  successCriteria:\n  - condition: $steps.list.outputs.total > 0\n")
    found = problems_of(tmp_path, text)
    assert "has no output 'total'" in found["/workflows/0/steps/0/successCriteria/0/condition"]


def test_a_criterion_context_is_a_runtime_expression(tmp_path):
    text = document(LIST_PETS + "  successCriteria:\n  - {context: body, condition: '$.a', type: jsonpath}\n")
    assert list(problems_of(tmp_path, text)) == ["/workflows/0/steps/0/successCriteria/0/context"]


# --- replacements ------------------------------------------------------------------------------


def replacement(target: str) -> str:
    return LIST_PETS + f"  requestBody:\n    payload: {{a: 1}}\n    replacements:\n    - {{target: {target!r}, value: {{b: 2}}}}\n"


def test_the_empty_replacement_target_is_the_whole_body(tmp_path):
    assert problems_of(tmp_path, document(replacement(""))) == {}


def test_a_replacement_target_that_is_no_json_pointer_is_refused_at_it(tmp_path):
    assert list(problems_of(tmp_path, document(replacement("/a~2")))) == ["/workflows/0/steps/0/requestBody/replacements/0/target"]


@pytest.mark.parametrize("target", ["/a/b", "/list/3", "/list/x", "/a/0"])
def test_a_replacement_target_outside_the_payload_is_refused_at_it(tmp_path, target):
    text = LIST_PETS + f"  requestBody:\n    payload: {{a: 1, list: [1, 2]}}\n    replacements:\n    - {{target: {target!r}, value: 0}}\n"
    found = problems_of(tmp_path, document(text))
    assert list(found) == ["/workflows/0/steps/0/requestBody/replacements/0/target"]
    assert "is not a place in the payload" in found["/workflows/0/steps/0/requestBody/replacements/0/target"]


@pytest.mark.parametrize("target", ["/a", "/new", "/list/1", "/list/2", "/list/-", "/made/inner"])
def test_a_replacement_may_set_a_member_add_one_or_append_an_item(tmp_path, target):
    # /made is added by the replacement before: each target is read against the payload so far.
    text = (
        LIST_PETS
        + "  requestBody:\n    payload: {a: 1, list: [1, 2]}\n    replacements:\n"
        + f"    - {{target: /made, value: {{}}}}\n    - {{target: {target!r}, value: 0}}\n"
    )
    assert problems_of(tmp_path, document(text)) == {}


def test_a_replacement_inside_a_value_known_at_run_time_is_not_checked(tmp_path):
    text = LIST_PETS + "  requestBody:\n    payload: {a: $inputs.pet}\n    replacements:\n    - {target: /a/name, value: 0}\n"
    assert problems_of(tmp_path, document(text)) == {}


# --- expressions, by the grammar ------------------------------------------------------------------


@pytest.mark.parametrize(
    "expression",
    ["$request.header.", "$request.header.some@header", "$request.query", "$request.path", "$request.body#x", "$response", "$inputs", "$url.something"],
)
def test_a_malformed_expression_is_refused_at_the_expression(tmp_path, expression):
    text = document(
        "- stepId: list\n  operationId: listPets\n  parameters:\n"
        f"  - {{name: plain, in: query, value: {expression!r}}}\n"
        f"  - {{name: embedded, in: header, value: 'x-{{{expression}}}'}}\n"
        f"  outputs:\n    probe: {expression!r}\n"
    )
    assert set(problems_of(tmp_path, text)) == {
        "/workflows/0/steps/0/parameters/0/value",
        "/workflows/0/steps/0/parameters/1/value",
        "/workflows/0/steps/0/outputs/probe",
    }


@pytest.mark.parametrize(
    "expression",
    ["$workflows.pets.inputs.limit", "$outputs.total#/items/0", "$request.body#/a/b", "$response.header.X-Rate-Limit", "$request.query.page"],
)
def test_what_the_grammar_allows_is_valid(tmp_path, expression):
    # $outputs is read in a step that calls a workflow; the others in one that performs an operation.
    calling = expression.startswith("$outputs")
    step = "- stepId: call\n  workflowId: other\n" if calling else LIST_PETS
    other = "- workflowId: other\n  steps:\n  - stepId: list\n    operationId: listPets\n    outputs:\n      total: $response.body\n" \
        "  outputs:\n    total: $steps.list.outputs.total\n"
    text = document(step + f"  outputs:\n    probe: {expression!r}\n", top=other if calling else "")
    assert problems_of(tmp_path, text) == {}


# --- workflows ------------------------------------------------------------------------------------


def test_an_unknown_depends_on_entry_is_refused_at_that_entry(tmp_path):
    text = document(LIST_PETS, workflow="dependsOn: [other, missing]\n", top="- workflowId: other\n  steps:\n  - stepId: list\n    operationId: listPets\n")
    assert list(problems_of(tmp_path, text)) == ["/workflows/0/dependsOn/1"]


def test_a_workflow_that_depends_on_itself_is_refused_at_each_entry_closing_the_cycle(tmp_path):
    other = "- workflowId: other\n  dependsOn: [pets]\n  steps:\n  - stepId: list\n    operationId: listPets\n"
    found = problems_of(tmp_path, document(LIST_PETS, workflow="dependsOn: [other]\n", top=other))
    assert found.keys() == {"/workflows/0/dependsOn/0", "/workflows/1/dependsOn/0"}
    assert "depends on itself (pets -> other -> pets)" in found["/workflows/0/dependsOn/0"]


@pytest.mark.parametrize(
    ("target", "problem"),
    [
        ("$sourceDescriptions.pets.flow", "is openapi, which has no workflows"),
        ("$sourceDescriptions.nowhere.flow", "no source description 'nowhere'"),
        ("$nowhere.flow", "is not a runtime expression"),
    ],
)
def test_a_workflow_of_another_document_is_named_through_an_arazzo_source(tmp_path, target, problem):
    text = document("- stepId: call\n" f"  workflowId: {target!r}\n")
    found = problems_of(tmp_path, text)
    assert list(found) == ["/workflows/0/steps/0/workflowId"]
    assert problem in found["/workflows/0/steps/0/workflowId"]


def test_a_step_that_calls_a_workflow_reads_that_workflow_s_outputs(tmp_path):
    text = document(
        "- stepId: call\n  workflowId: other\n  outputs:\n    count: $outputs.count\n    total: $outputs.total\n"
        "  successCriteria:\n  - condition: $outputs.done == true\n",
        top="- workflowId: other\n  steps:\n  - stepId: list\n    operationId: listPets\n    outputs:\n      count: $response.body#/count\n"
        "  outputs:\n    count: $steps.list.outputs.count\n",
    )
    found = problems_of(tmp_path, text)
    assert list(found) == ["/workflows/0/steps/0/outputs/total", "/workflows/0/steps/0/successCriteria/0/condition"]
    assert "workflow 'other', which the step calls, has no output 'total'" in found["/workflows/0/steps/0/outputs/total"]


def test_a_step_that_calls_a_workflow_of_another_document_reads_that_workflow_s_outputs():
    found = document_problems(load_document(FIXTURES / "documents" / "other-documents" / "unknown-output.arazzo.yaml"))
    assert [(p.location.pointer, p.message) for p in found if p.location] == [
        ("/workflows/0/steps/0/outputs/colour", "'$outputs.colour': workflow '$sourceDescriptions.catalog.fetch-item', which the step calls, has no output 'colour'"),
    ]


def test_a_workflow_reads_the_outputs_of_a_workflow_of_another_document_it_depends_on():
    found = document_problems(load_document(FIXTURES / "documents" / "other-documents" / "depends-unknown-output.arazzo.yaml"))
    payload = "/workflows/0/steps/0/requestBody/payload"
    assert [(p.location.pointer, p.message) for p in found if p.location] == [
        (f"{payload}/colour", "'$workflows.fetch-item.outputs.colour': workflow 'fetch-item', which dependsOn names, has no output 'colour'"),
        (f"{payload}/size", "'$sourceDescriptions.catalog.fetch-item.outputs.size': workflow 'fetch-item', which dependsOn names, has no output 'size'"),
    ]


def test_a_value_reading_a_step_that_does_not_exist_is_refused_at_it(tmp_path):
    text = document(LIST_PETS + "  parameters:\n  - {name: limit, in: query, value: $steps.lost.outputs.count}\n")
    found = problems_of(tmp_path, text)
    assert list(found) == ["/workflows/0/steps/0/parameters/0/value"]
    assert "there is no step 'lost'" in found["/workflows/0/steps/0/parameters/0/value"]


def test_an_input_a_closed_inputs_schema_does_not_declare_is_refused_where_it_is_read(tmp_path):
    text = document(
        LIST_PETS + "  parameters:\n  - {name: limit, in: query, value: $inputs.size}\n",
        workflow="inputs:\n  type: object\n  additionalProperties: false\n  properties:\n    limit: {type: integer}\n",
    )
    found = problems_of(tmp_path, text)
    assert list(found) == ["/workflows/0/steps/0/parameters/0/value"]
    assert "the workflow has no input 'size'" in found["/workflows/0/steps/0/parameters/0/value"]


def test_a_criterion_of_a_type_names_its_context(tmp_path):
    text = document(LIST_PETS + "  successCriteria:\n  - {condition: '^2', type: regex}\n")
    assert list(problems_of(tmp_path, text)) == ["/workflows/0/steps/0/successCriteria/0"]


def test_the_response_is_read_only_where_a_step_is_current(tmp_path):
    """A step that calls a workflow is a current step (the specification's own pet-coupons
    example judges one by `$statusCode`): valid, and refused by the lowering as not supported;
    the workflow's outputs have no current step at all."""
    text = document(
        LIST_PETS + "  outputs:\n    count: $response.body#/count\n"
        "- stepId: call\n  workflowId: other\n  outputs:\n    status: $statusCode\n",
        workflow="outputs:\n  count: $steps.list.outputs.count\n  status: $response.header.X-Status\n",
        top="- workflowId: other\n  steps:\n  - stepId: list\n    operationId: listPets\n",
    )
    found = problems_of(tmp_path, text)
    assert list(found) == ["/workflows/0/outputs/status"]
    assert "there is none in the workflow's outputs" in found["/workflows/0/outputs/status"]


def test_the_request_sent_is_read_only_where_a_step_is_current(tmp_path):
    text = document(
        LIST_PETS + "  outputs:\n    url: $url\n"
        "- stepId: call\n  workflowId: other\n  successCriteria:\n  - condition: $method == 'GET'\n",
        workflow="outputs:\n  url: $steps.list.outputs.url\n  sent: $request.header.Accept\n",
        top="- workflowId: other\n  steps:\n  - stepId: list\n    operationId: listPets\n",
    )
    found = problems_of(tmp_path, text)
    assert list(found) == ["/workflows/0/outputs/sent"]
    assert "means the current step's HTTP request; there is none in the workflow's outputs" in found["/workflows/0/outputs/sent"]


@pytest.mark.parametrize("output", ["$statusCode", "$response.header.ETag", "$url", "$method", "$request.header.Accept"])
def test_a_pointer_into_an_output_with_no_members_is_refused_at_it(tmp_path, output):
    text = document(LIST_PETS + f"  outputs:\n    sent: {output!r}\n", workflow="outputs:\n  part: $steps.list.outputs.sent#/a\n")
    found = problems_of(tmp_path, text)
    assert list(found) == ["/workflows/0/outputs/part"]
    assert "which has no members to point into" in found["/workflows/0/outputs/part"]


def test_a_pointer_into_an_output_that_is_a_body_is_valid(tmp_path):
    text = document(LIST_PETS + "  outputs:\n    sent: $request.body\n    got: $response.body\n", workflow="outputs:\n  a: $steps.list.outputs.sent#/a\n  b: $steps.list.outputs.got#/b\n")
    assert problems_of(tmp_path, text) == {}


def test_step_outputs_that_are_each_other_in_a_cycle_are_refused_at_each(tmp_path):
    text = document(
        "- stepId: a\n  operationId: listPets\n  outputs:\n    x: $steps.b.outputs.y\n    count: $response.body#/count\n"
        "- stepId: b\n  operationId: listPets\n  outputs:\n    y: $steps.a.outputs.x\n    total: $steps.a.outputs.count\n"
    )
    found = problems_of(tmp_path, text)
    assert list(found) == ["/workflows/0/steps/0/outputs/x", "/workflows/0/steps/1/outputs/y"]
    assert found["/workflows/0/steps/0/outputs/x"] == "step outputs refer to each other in a cycle: $steps.a.outputs.x -> $steps.b.outputs.y -> $steps.a.outputs.x"


def test_a_workflow_parameter_applies_to_every_step_and_is_read_in_each(tmp_path):
    text = document(
        LIST_PETS + "- stepId: call\n  workflowId: other\n",
        workflow="parameters:\n- {name: X-Trace, in: header, value: $outputs.trace}\n",
        top="- workflowId: other\n  steps:\n  - stepId: list\n    operationId: listPets\n    outputs:\n      trace: $response.header.X-Trace\n"
            "  outputs:\n    trace: $steps.list.outputs.trace\n",
    )
    # $outputs is a called workflow's: read in step `list`, which performs an operation, it is wrong.
    found = problems_of(tmp_path, text)
    assert list(found) == ["/workflows/0/parameters/0/value"]
    assert "$outputs means a called workflow's outputs" in found["/workflows/0/parameters/0/value"]


def test_called_outputs_are_read_only_in_a_step_that_calls_a_workflow(tmp_path):
    text = document(LIST_PETS + "  outputs:\n    count: $outputs.count\n", workflow="outputs:\n  count: $outputs.count\n")
    found = problems_of(tmp_path, text)
    assert list(found) == ["/workflows/0/outputs/count", "/workflows/0/steps/0/outputs/count"]
    assert "$outputs means a called workflow's outputs" in found["/workflows/0/steps/0/outputs/count"]


def test_every_problem_is_reported_at_once_with_file_line_and_column(tmp_path):
    text = document(
        "- stepId: list\n  operationId: listPets\n  parameters:\n  - {name: limit, in: query, value: 1}\n  - {name: limit, in: query, value: $request.query}\n"
        "  outputs:\n    bad name: $statusCode\n"
        "  onSuccess:\n  - {name: again, type: goto, stepId: nowhere, criteria: [{condition: $statusCode == 202}]}\n",
        workflow="dependsOn: [missing]\n",
    )
    path = write_document(tmp_path, text)
    with pytest.raises(ProblemList) as caught:
        validate_document(load_document(path))
    problems = caught.value.problems
    assert [p.location.pointer for p in problems] == [
        "/workflows/0/dependsOn/0",
        "/workflows/0/steps/0/parameters/1",
        "/workflows/0/steps/0/parameters/1/value",
        "/workflows/0/steps/0/outputs/bad name",
        "/workflows/0/steps/0/onSuccess/0/stepId",
    ]
    lines = text.splitlines()
    for problem in problems:
        assert problem.location.file == str(path)
        line = lines[problem.location.line - 1]
        assert line[problem.location.column - 1 :].strip(), str(problem)
