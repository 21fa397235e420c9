"""Tests of the arazzo-sfn compiler.

The committed state machine must be exactly what the compiler produces, and the compiler's
refusals and error locations are part of its contract. The Choice rules it generates are
checked by meaning, not by shape: a small evaluator of ASL Choice rules (only the operators
the compiler emits) runs them on state data and the chosen state is compared with the
workflow's intent.
"""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from arazzo_runtime.conditions import And, Comparison, ConditionSyntaxError, Literal, Not, Operand, Or, parse_condition
from arazzo_sfn import lower
from arazzo_sfn.compiler import compile_document, compile_file
from arazzo_sfn.errors import (
    ArazzoError,
    ExpressionError,
    LoweringError,
    ProblemList,
    SchemaError,
    SemanticError,
    UnsupportedConstruct,
)
from arazzo_sfn.loader import load_document
from arazzo_sfn.lower import loop_iteration_cap
from arazzo_sfn.validation import validate_document
from arazzo_sfn.verify import transitions

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW_PATH = ROOT / "workflows" / "airbyte-reset-and-resync.arazzo.yaml"
ASL_PATH = ROOT / "statemachine" / "reset_and_resync.asl.json"
# The official schema as published; the validator mends its defects in memory.
OFFICIAL_SCHEMA_PATH = ROOT / "src" / "arazzo_sfn" / "schema" / "arazzo-1.0-schema.yaml"
CLI = Path(sys.executable).parent / "arazzo-sfn"

LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"
HISTORY_EVENT_LIMIT = 25_000
# History events each state type adds when it runs once (a Lambda task: entered,
# scheduled, started, succeeded, exited).
EVENTS_PER_STATE = {"Task": 5, "Choice": 2, "Pass": 2, "Wait": 2}

# The smallest OpenAPI description the fixture documents need: one operation without
# and one with a path parameter.
FIXTURE_OPENAPI = """\
openapi: 3.1.0
info:
  title: Fixture API
  version: 1.0.0
paths:
  /jobs:
    post:
      operationId: createJob
      responses:
        '200':
          description: the job
  /jobs/{jobId}:
    get:
      operationId: getJob
      parameters:
      - name: jobId
        in: path
        required: true
        schema:
          type: string
      responses:
        '200':
          description: the job
"""


# --- fixture documents ------------------------------------------------------------------------


def arazzo_text(steps: str, workflow_extra: str = "", after_workflow: str = "", top_level: str = "", info: bool = True) -> str:
    """An Arazzo document with one workflow `fixture` whose steps are `steps` (YAML list
    items written from column 0); `workflow_extra` adds keys to that workflow,
    `after_workflow` adds more workflows, `top_level` adds top-level keys."""
    info_block = "info:\n  title: Fixture\n  version: 1.0.0\n" if info else ""
    return (
        "arazzo: 1.0.1\n"
        + info_block
        + "sourceDescriptions:\n"
        "- name: api\n"
        "  url: api.yaml\n"
        "  type: openapi\n"
        "workflows:\n"
        "- workflowId: fixture\n"
        + textwrap.indent(textwrap.dedent(workflow_extra), "  ")
        + "  steps:\n"
        + textwrap.indent(textwrap.dedent(steps), "  ")
        + textwrap.dedent(after_workflow)
        + textwrap.dedent(top_level)
    )


def write_document(directory: Path, text: str, name: str = "fixture.arazzo.yaml") -> Path:
    (directory / "api.yaml").write_text(FIXTURE_OPENAPI, encoding="utf-8")
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def position(text: str, needle: str, occurrence: int = 0) -> tuple[int, int]:
    """The 1-based line and column where the `occurrence`-th `needle` starts in `text`."""
    start = -1
    for _ in range(occurrence + 1):
        start = text.index(needle, start + 1)
    line = text.count("\n", 0, start) + 1
    column = start - (text.rfind("\n", 0, start) + 1) + 1
    return line, column


def compile_text(directory: Path, text: str, workflow_id: str | None = None) -> dict:
    return compile_document(write_document(directory, text), workflow_id)


def compile_error(directory: Path, text: str, workflow_id: str | None = None) -> ArazzoError:
    with pytest.raises(ArazzoError) as caught:
        compile_text(directory, text, workflow_id)
    return caught.value


def run_cli(*args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(CLI), *map(str, args)], capture_output=True, text=True, cwd=ROOT, timeout=60)


# --- an evaluator of ASL Choice rules ------------------------------------------------------------

_MISSING = object()
_PATH_STEP = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]|\['([^']*)'\]")
_TYPE_TESTS = {
    "IsString": lambda v: isinstance(v, str),
    "IsNumeric": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "IsBoolean": lambda v: isinstance(v, bool),
    "IsNull": lambda v: v is None,
}


class ChoiceRuntimeError(Exception):
    """Step Functions would fail the execution here (States.Runtime)."""


def read_path(data: Any, path: str) -> Any:
    assert path.startswith("$"), path
    value, rest = data, path[1:]
    while rest:
        match = _PATH_STEP.match(rest)
        assert match, f"the evaluator cannot read the path {path!r}"
        name, index, quoted = match.groups()
        if index is not None:
            value = value[int(index)] if isinstance(value, list) and int(index) < len(value) else _MISSING
        else:
            key = name if name is not None else quoted
            value = value.get(key, _MISSING) if isinstance(value, dict) else _MISSING
        if value is _MISSING:
            return _MISSING
        rest = rest[match.end():]
    return value


def holds(rule: dict, data: Any) -> bool:
    # all()/any() stop at the first deciding term, as Step Functions does; the compiler's
    # guards (IsPresent before a comparison) depend on it.
    if "And" in rule:
        return all(holds(term, data) for term in rule["And"])
    if "Or" in rule:
        return any(holds(term, data) for term in rule["Or"])
    if "Not" in rule:
        return not holds(rule["Not"], data)
    variable = rule["Variable"]
    (test, operand), = [(key, value) for key, value in rule.items() if key not in ("Variable", "Next")]
    value = read_path(data, variable)
    if test == "IsPresent":
        return (value is not _MISSING) is operand
    if value is _MISSING:
        raise ChoiceRuntimeError(f"{test} on missing {variable}")
    if test in _TYPE_TESTS:
        return _TYPE_TESTS[test](value) is operand
    if test.endswith("Path"):
        operand = read_path(data, operand)
        if operand is _MISSING:
            raise ChoiceRuntimeError(f"{test} names a missing path")
        test = test[: -len("Path")]
    kind = next(k for k in ("String", "Numeric", "Boolean") if test.startswith(k))
    # A comparison with a value of another type is treated as a runtime error, so no
    # test can pass by relying on a lenient reading of unguarded rules.
    type_test = {"String": "IsString", "Numeric": "IsNumeric", "Boolean": "IsBoolean"}[kind]
    if not _TYPE_TESTS[type_test](value):
        raise ChoiceRuntimeError(f"{test} on {value!r} at {variable}")
    relation = test[len(kind):]
    return {
        "Equals": value == operand,
        "LessThan": value < operand,
        "LessThanEquals": value <= operand,
        "GreaterThan": value > operand,
        "GreaterThanEquals": value >= operand,
    }[relation]


def choose(choice_state: dict, data: Any) -> str:
    for rule in choice_state["Choices"]:
        if holds(rule, data):
            return rule["Next"]
    if "Default" not in choice_state:
        raise ChoiceRuntimeError("no rule matched and there is no Default (States.NoChoiceMatched)")
    return choice_state["Default"]


def route(asl: dict, start: str, data: Any) -> list[str]:
    """The states visited from `start`, choosing at Choice states and passing through Pass
    and Wait states (without applying them), until a Task, a Fail, or the end."""
    states = asl["States"]
    visited = [start]
    for _ in range(100):
        state = states[visited[-1]]
        if state["Type"] == "Choice":
            following = choose(state, data)
        elif state["Type"] in ("Pass", "Wait") and "Next" in state:
            following = state["Next"]
        else:
            return visited
        visited.append(following)
        if states[following]["Type"] == "Task":
            return visited
    raise AssertionError(f"no Task, Fail or end reached from {start}")


def outcome(asl: dict, visited: list[str]) -> tuple[str, str]:
    """("Fail", error), ("Task", name) or ("End", name) for where a route stopped."""
    last = visited[-1]
    state = asl["States"][last]
    if state["Type"] == "Fail":
        return "Fail", state.get("Error") or f"<{state['ErrorPath']}>"
    return state["Type"] if state["Type"] == "Task" else "End", last


def step_data(step: str, status_code: int = 200, body: Any = None, **extra: Any) -> dict:
    return {"inputs": {}, "steps": {step: {"statusCode": status_code, "headers": {}, "body": {} if body is None else body}}, "loops": {}, **extra}


# --- the committed state machine -----------------------------------------------------------------


ROOT_WORKFLOW, CHILD_WORKFLOW = "reset-and-resync", "wait-for-job"
CHILD_ASL_PATH = ROOT / "statemachine" / "wait_for_job.asl.json"
COMMITTED = {ROOT_WORKFLOW: ASL_PATH, CHILD_WORKFLOW: CHILD_ASL_PATH}


@pytest.fixture(scope="module")
def compiled_text() -> str:
    return compile_file(WORKFLOW_PATH, ROOT_WORKFLOW)


@pytest.fixture(scope="module")
def child_text() -> str:
    return compile_file(WORKFLOW_PATH, CHILD_WORKFLOW)


@pytest.fixture(scope="module")
def asl(compiled_text: str) -> dict:
    return json.loads(compiled_text)


@pytest.fixture(scope="module")
def child(child_text: str) -> dict:
    return json.loads(child_text)


def test_committed_asl_is_exactly_what_the_compiler_produces(compiled_text, child_text):
    assert ASL_PATH.read_bytes() == compiled_text.encode("utf-8")
    assert CHILD_ASL_PATH.read_bytes() == child_text.encode("utf-8")


def test_compiling_twice_gives_identical_text(compiled_text, child_text):
    assert compile_file(WORKFLOW_PATH, ROOT_WORKFLOW) == compiled_text
    assert compile_file(WORKFLOW_PATH, CHILD_WORKFLOW) == child_text


def test_cli_output_in_another_process_is_identical(compiled_text):
    # A fresh interpreter has another hash seed: set or dict ordering that depends on it shows here.
    result = run_cli("compile", WORKFLOW_PATH, "--workflow", ROOT_WORKFLOW)
    assert result.returncode == 0, result.stderr
    assert result.stdout == compiled_text


def test_check_passes_on_the_committed_files():
    for workflow_id, path in COMMITTED.items():
        result = run_cli("compile", WORKFLOW_PATH, "--workflow", workflow_id, "-o", path, "--check")
        assert result.returncode == 0, result.stderr
        assert result.stderr == ""


def test_compile_all_writes_the_run_and_its_child(tmp_path):
    result = run_cli("compile", WORKFLOW_PATH, "--all", "-o", tmp_path)
    assert result.returncode == 0, result.stderr
    for workflow_id, path in COMMITTED.items():
        assert (tmp_path / f"{workflow_id}.asl.json").read_bytes() == path.read_bytes()


def test_check_fails_on_a_modified_copy_and_names_it(tmp_path):
    stale = tmp_path / "reset_and_resync.asl.json"
    stale.write_text(ASL_PATH.read_text(encoding="utf-8").replace('"ResetFailed"', '"ResetFailedEdited"'), encoding="utf-8")
    before = stale.read_text(encoding="utf-8")

    result = run_cli("compile", WORKFLOW_PATH, "--workflow", ROOT_WORKFLOW, "-o", stale, "--check")

    assert result.returncode == 1
    assert str(stale) in result.stderr
    assert stale.read_text(encoding="utf-8") == before, "--check must not write"
    # The hint is a command that works: run as suggested, the file is fresh again.
    suggested = shlex.split(re.search(r"run `arazzo-sfn (.+)`", result.stderr).group(1))
    assert run_cli(*suggested).returncode == 0
    assert run_cli("compile", WORKFLOW_PATH, "--workflow", ROOT_WORKFLOW, "-o", stale, "--check").returncode == 0


def test_check_without_output_is_a_usage_error():
    result = run_cli("compile", WORKFLOW_PATH, "--check")
    assert result.returncode == 2
    assert "usage:" in result.stderr
    assert "--check" in result.stderr
    assert result.stdout == ""


def test_every_task_invokes_its_own_lambda_or_starts_the_child(asl, child):
    tasks = {name: state for name, state in asl["States"].items() if state["Type"] == "Task"}
    assert set(tasks) == {"checkConnection", "checkConnectionIdle", "triggerReset", "waitForReset", "triggerResync", "waitForResync"}
    for name, state in tasks.items():
        if name.startswith("waitFor"):
            assert state["Resource"] == "arn:aws:states:::states:startExecution.sync:2"
            assert state["Parameters"]["StateMachineArn"] == "${WaitForJobStateMachineArn}"
        else:
            assert state["Resource"] == LAMBDA_INVOKE
            assert state["Parameters"]["FunctionName"] == "${" + name[0].upper() + name[1:] + "FunctionArn}"
    child_tasks = [name for name, state in child["States"].items() if state["Type"] == "Task"]
    assert child_tasks == ["pollJob"]
    assert child["States"]["pollJob"]["Parameters"]["FunctionName"] == "${PollJobFunctionArn}"


def test_the_only_placeholders_are_the_function_and_child_arns(compiled_text, child_text):
    assert set(re.findall(r"\$\{([^}]*)\}", compiled_text)) == {
        "CheckConnectionFunctionArn", "CheckConnectionIdleFunctionArn", "TriggerResetFunctionArn", "TriggerResyncFunctionArn", "WaitForJobStateMachineArn",
    }
    assert set(re.findall(r"\$\{([^}]*)\}", child_text)) == {"PollJobFunctionArn"}


def _cycle_without(asl: dict, excluded_type: str) -> list[str] | None:
    """A cycle of the state graph that avoids every state of `excluded_type`, if any."""
    states = asl["States"]
    graph = {name: [t for t in transitions(state) if states[t]["Type"] != excluded_type] for name, state in states.items() if state["Type"] != excluded_type}
    colour: dict[str, int] = {}

    def visit(name: str, trail: list[str]) -> list[str] | None:
        colour[name] = 1
        for target in graph[name]:
            if colour.get(target) == 1:
                return trail[trail.index(target):] + [target]
            if target not in colour and (found := visit(target, trail + [target])):
                return found
        colour[name] = 2
        return None

    for start in graph:
        if start not in colour and (found := visit(start, [start])):
            return found
    return None


def test_every_loop_passes_through_a_wait_state(asl, child):
    for machine in (asl, child):
        assert _cycle_without(machine, "Wait") is None
        # ...and each has a loop at all (the check above would hold for no loop).
        assert _cycle_without(machine, "Fail") is not None


# --- the run: what it does with what wait-for-job says ---------------------------------------------

ROOT_INPUTS = {"connectionId": "c", "pollIntervalSeconds": 30, "maxResetSeconds": 604800, "maxResyncSeconds": 2678400, "waitForResync": True}


def watched(step: str, status: Any, overdue: str | None = "false", **inputs: Any) -> dict:
    """State data as the route after a wait-for-job step sees it: the child's outputs."""
    return {
        "inputs": {**ROOT_INPUTS, **inputs},
        "steps": {
            "triggerReset": {"statusCode": 200, "headers": {}, "body": None, "outputs": {"jobId": 1001}, "reads": {}},
            "triggerResync": {"statusCode": 200, "headers": {}, "body": None, "outputs": {"jobId": 1002}, "reads": {}},
            step: {"status": "SUCCEEDED", "executionArn": "arn:child", "outputs": {"status": status, "overdue": overdue, "rowsSynced": 10, "bytesSynced": 20, "duration": "PT1M"}},
        },
        # Starting wait-for-job again is a loop counted apart (a child's answer cannot carry it).
        "loops": {f"{name}_stillRunning": {"iterations": 1, "total": 1} for name in ("waitForReset", "waitForResync")},
    }


@pytest.mark.parametrize("status", ["queued", "pending", "running", "incomplete"])
@pytest.mark.parametrize("step", ["waitForReset", "waitForResync"])
def test_a_job_still_running_starts_wait_for_job_again(asl, step, status):
    assert outcome(asl, route(asl, f"{step}.Route", watched(step, status))) == ("Task", step)


def test_a_succeeded_reset_goes_on_to_the_sync_and_a_succeeded_sync_ends_the_run(asl):
    assert outcome(asl, route(asl, "waitForReset.Route", watched("waitForReset", "succeeded"))) == ("Task", "triggerResync")
    assert outcome(asl, route(asl, "waitForResync.Route", watched("waitForResync", "succeeded"))) == ("End", "WorkflowOutputs")


@pytest.mark.parametrize("status", ["failed", "cancelled"])
def test_a_failed_or_cancelled_job_fails_the_run_with_its_own_error(asl, status):
    assert outcome(asl, route(asl, "waitForReset.Route", watched("waitForReset", status))) == ("Fail", "ResetFailed")
    assert outcome(asl, route(asl, "waitForResync.Route", watched("waitForResync", status))) == ("Fail", "ResyncFailed")


def test_a_job_past_its_limit_fails_the_run_with_the_job_s_timeout(asl):
    assert outcome(asl, route(asl, "waitForReset.Route", watched("waitForReset", "running", overdue="true"))) == ("Fail", "ResetTimedOut")
    assert outcome(asl, route(asl, "waitForResync.Route", watched("waitForResync", "running", overdue="true"))) == ("Fail", "ResyncTimedOut")


@pytest.mark.parametrize("status", ["Succeeded", "RUNNING", "paused", "", 3, None])
def test_any_other_status_ends_in_unexpected_job_status(asl, status):
    # Includes a missing or non-string status: the guards make it "unexpected", not a runtime error.
    assert outcome(asl, route(asl, "waitForReset.Route", watched("waitForReset", status))) == ("Fail", "UnexpectedJobStatus")
    assert outcome(asl, route(asl, "waitForResync.Route", watched("waitForResync", status))) == ("Fail", "UnexpectedJobStatus")


def test_a_sync_not_watched_ends_the_run_whatever_its_status(asl):
    data = watched("waitForResync", "running", waitForResync=False)
    assert outcome(asl, route(asl, "waitForResync.Route", data)) == ("End", "WorkflowOutputs")


def test_a_child_that_failed_fails_the_run_with_the_child_s_own_error(asl):
    failed = {"child": {"Error": "TransientAirbyteError", "Cause": "{}"}}
    data = {**watched("waitForReset", None), "steps": {"waitForReset": failed}}
    assert outcome(asl, route(asl, "waitForReset.Failed", data)) == ("Fail", "<$.steps.waitForReset.child.Error>")
    assert asl["States"]["waitForReset"]["Catch"][0] == {"ErrorEquals": ["States.TaskFailed"], "ResultPath": "$.steps.waitForReset", "Next": "waitForReset.ChildFailed"}


# --- wait-for-job: its poll loop ------------------------------------------------------------------


@pytest.fixture(scope="module")
def loop_key(child) -> str:
    # The poll loop is folded: its count travels with the poll step, none is kept apart.
    assert child["States"]["StartWorkflow"]["Parameters"]["loops"] == {}
    loops = child["States"]["StartWorkflow"]["Parameters"]["steps"]["pollJob"]["loops"]
    assert len(loops) == 1, "the workflow has exactly one loop"
    return next(iter(loops))


@pytest.fixture(scope="module")
def poll_data(loop_key):
    """State data as the poll Choice of wait-for-job sees it."""

    def make(status: Any = _MISSING, iterations: int = 1, status_code: int = 200, total: int | None = None, overdue: str = "false", watch: bool = True) -> dict:
        """`iterations`: the reads of the job since the loop was entered, this one included."""
        body = {"jobId": 1001} if status is _MISSING else {"jobId": 1001, "status": status}
        kept = None if status is _MISSING else status
        return {
            "inputs": {"jobId": 1001, "pollIntervalSeconds": 30, "maxJobSeconds": 3600, "watch": watch},
            "steps": {
                "pollJob": {
                    "statusCode": status_code, "headers": {}, "body": body, "criteria": {"c0": overdue == "true"},
                    "outputs": {"status": kept, "overdue": overdue}, "reads": {"r0": 30},
                    "loops": {loop_key: {"iterations": iterations, "total": iterations if total is None else total}},
                },
            },
            "loops": {},
        }

    return make


@pytest.mark.parametrize("status", ["queued", "pending", "running", "incomplete"])
def test_unfinished_statuses_wait_then_poll_again(child, poll_data, status):
    visited = route(child, "pollJob.Route", poll_data(status))
    assert outcome(child, visited) == ("Task", "pollJob")
    assert "Wait" in [child["States"][name]["Type"] for name in visited]


@pytest.mark.parametrize("status", ["succeeded", "failed", "cancelled", "RUNNING", None, _MISSING])
def test_anything_but_an_unfinished_status_ends_wait_for_job_with_its_outputs(child, poll_data, status):
    # The run judges the status; wait-for-job only stops reading.
    assert outcome(child, route(child, "pollJob.Route", poll_data(status))) == ("End", "WorkflowOutputs")


def test_an_overdue_job_or_a_single_read_ends_wait_for_job(child, poll_data):
    assert outcome(child, route(child, "pollJob.Route", poll_data("running", overdue="true"))) == ("End", "WorkflowOutputs")
    assert outcome(child, route(child, "pollJob.Route", poll_data("running", watch=False))) == ("End", "WorkflowOutputs")


@pytest.mark.parametrize("status_code", [404, 500, 201])
def test_a_poll_answered_with_another_status_code_is_a_step_failure(child, poll_data, status_code):
    assert outcome(child, route(child, "pollJob.Route", poll_data("succeeded", status_code=status_code))) == ("Fail", "StepFailed")


def test_the_history_budget_ends_wait_for_job_with_the_status_for_the_run_to_start_it_again(child, poll_data):
    cap = loop_iteration_cap(1, "folded")
    assert lower.EVENTS_PER_PASS["folded"] == 9
    assert 9 * cap < HISTORY_EVENT_LIMIT
    assert outcome(child, route(child, "pollJob.Route", poll_data("running", iterations=cap))) == ("Task", "pollJob")
    # At the bound the loop ends the workflow, with its outputs (onLimit: end): not a failure.
    assert outcome(child, route(child, "pollJob.Route", poll_data("running", iterations=cap + 1))) == ("End", "WorkflowOutputs")
    assert outcome(child, route(child, "pollJob.Route", poll_data("running", iterations=1, total=cap + 1))) == ("End", "WorkflowOutputs")


def test_one_pass_of_the_poll_loop_costs_the_events_the_cap_assumes(child, poll_data):
    loop = route(child, "pollJob.Route", poll_data("running"))
    one_pass = ["pollJob"] + loop[:-1]  # the Task, its Choice, and what leads back to the Task
    assert [child["States"][name]["Type"] for name in one_pass] == ["Task", "Choice", "Wait"]
    assert sum(EVENTS_PER_STATE[child["States"][name]["Type"]] for name in one_pass) == lower.EVENTS_PER_PASS["folded"]


# --- validation: all problems at once, each located ----------------------------------------------

SEMANTIC_PROBLEMS_STEPS = """\
- stepId: start
  operationId: createJob
  onSuccess:
  - name: jump
    type: goto
    stepId: nowhere
- stepId: start
  operationId: createJob
- stepId: ghost
  operationId: deleteEverything
- stepId: readJob
  operationId: getJob
  parameters:
  - name: verbose
    in: query
    value: true
"""


def test_validation_reports_every_problem_with_its_location(tmp_path):
    text = arazzo_text(SEMANTIC_PROBLEMS_STEPS)
    path = write_document(tmp_path, text)

    with pytest.raises(ProblemList) as caught:
        compile_document(path)

    problems = caught.value.problems
    expected = [
        (position(text, "nowhere"), "unknown step 'nowhere'"),
        (position(text, "start", 1), "duplicate stepId 'start'"),
        (position(text, "deleteEverything"), "'deleteEverything' is not in any OpenAPI source description"),
        (position(text, "- name: verbose"), "does not supply path parameter 'jobId'"),
    ]
    assert len(problems) == len(expected), str(caught.value)
    for problem, ((line, column), message) in zip(problems, expected, strict=False):
        assert type(problem) is SemanticError
        assert problem.location.file == str(path)
        assert (problem.location.line, problem.location.column) == (line, column), str(problem)
        assert message in problem.message


def test_cli_prints_every_problem_and_exits_2(tmp_path):
    text = arazzo_text(SEMANTIC_PROBLEMS_STEPS)
    path = write_document(tmp_path, text)

    result = run_cli("compile", path)

    assert result.returncode == 2
    assert result.stdout == ""
    for needle, occurrence in [("nowhere", 0), ("start", 1), ("deleteEverything", 0), ("- name: verbose", 0)]:
        line, column = position(text, needle, occurrence)
        assert f"{path}:{line}:{column}" in result.stderr
    assert result.stderr.count("SemanticError") == 4


# --- the schema, and its three mended defects ----------------------------------------------------


def test_a_document_without_info_is_a_schema_error_at_the_root(tmp_path):
    text = "# no info\n" + arazzo_text("- stepId: a\n  operationId: createJob\n", info=False)
    path = write_document(tmp_path, text)

    with pytest.raises(ProblemList) as caught:
        validate_document(load_document(path))

    [problem] = caught.value.problems
    assert type(problem) is SchemaError
    assert "'info' is a required property" in problem.message
    assert (problem.location.file, problem.location.pointer) == (str(path), "")
    assert (problem.location.line, problem.location.column) == position(text, "arazzo:")


MENDED_DEFECTS = {
    "criterion type as an object": """\
        - stepId: a
          operationId: createJob
          successCriteria:
          - context: $response.body
            condition: $.status == 'done'
            type:
              type: jsonpath
              version: draft-goessner-dispatch-jsonpath-00
        """,
    "retry without retryAfter or target": """\
        - stepId: a
          operationId: createJob
          onFailure:
          - name: again
            type: retry
        """,
    "replacement with a non-string value": """\
        - stepId: a
          operationId: createJob
          requestBody:
            contentType: application/json
            payload:
              count: 1
            replacements:
            - target: /count
              value: 5
        """,
}


@pytest.mark.parametrize("defect", list(MENDED_DEFECTS))
def test_the_official_schema_rejects_each_defect_fixture(defect):
    # Shows the fixtures below really exercise the defects.
    official = yaml.safe_load(OFFICIAL_SCHEMA_PATH.read_text(encoding="utf-8"))
    document = yaml.safe_load(arazzo_text(MENDED_DEFECTS[defect]))
    assert list(jsonschema.Draft202012Validator(official).iter_errors(document))


@pytest.mark.parametrize("defect", list(MENDED_DEFECTS))
def test_validation_tolerates_the_mended_schema_defects(tmp_path, defect):
    path = write_document(tmp_path, arazzo_text(MENDED_DEFECTS[defect]))
    validate_document(load_document(path))


def test_an_object_criterion_type_compiles_as_jsonpath(tmp_path):
    asl = compile_text(tmp_path, arazzo_text(MENDED_DEFECTS["criterion type as an object"]))
    route_state = asl["States"]["a.Route"]
    assert choose(route_state, step_data("a", body={"status": "done"})) == "WorkflowOutputs"
    assert choose(route_state, step_data("a", body={"status": "Done"})) == "a.Failed"


@pytest.mark.parametrize("defect", ["retry without retryAfter or target", "replacement with a non-string value"])
def test_mended_defects_compile(tmp_path, defect):
    asl = compile_text(tmp_path, arazzo_text(MENDED_DEFECTS[defect]))
    assert asl["States"]["a"]["Type"] == "Task"


# --- refusals and semantic errors, each located -------------------------------------------------

OTHER_WORKFLOW = """\
- workflowId: other
  steps:
  - stepId: elsewhere
    operationId: createJob
"""

# Each case: the document, the error type, the pointer and the text whose start is the
# located node, and a fragment of the message.
REFUSALS = {
    "a workflow that calls itself": dict(
        steps="""\
            - stepId: a
              workflowId: fixture
            """,
        error=UnsupportedConstruct, pointer="/workflows/0/steps/0", at="stepId: a", message="calls itself",
    ),
    "goto the workflow that is running": dict(
        steps="""\
            - stepId: a
              operationId: createJob
              onSuccess:
              - name: elsewhere
                type: goto
                workflowId: fixture
            """,
        after_workflow=OTHER_WORKFLOW,
        error=UnsupportedConstruct, pointer="/workflows/0/steps/0/onSuccess/0", at="name: elsewhere", message="which is running",
    ),
    "xpath criteria": dict(
        steps="""\
            - stepId: a
              operationId: createJob
              successCriteria:
              - condition: /job/status
                context: $response.body
                type: xpath
            """,
        error=UnsupportedConstruct, pointer="/workflows/0/steps/0/successCriteria/0", at="condition: /job", message="xpath",
    ),
    "a retry that runs the workflow that is running first": dict(
        steps="""\
            - stepId: a
              operationId: createJob
              onFailure:
              - name: viaOther
                type: retry
                workflowId: fixture
            """,
        after_workflow=OTHER_WORKFLOW,
        error=UnsupportedConstruct, pointer="/workflows/0/steps/0/onFailure/0", at="name: viaOther", message="which is running",
    ),
    "an output of a step that has not run yet": dict(
        steps="""\
            - stepId: a
              operationId: getJob
              parameters:
              - name: jobId
                in: path
                value: $steps.b.outputs.jobId
            - stepId: b
              operationId: createJob
              outputs:
                jobId: $response.body#/jobId
            """,
        error=UnsupportedConstruct, pointer="/workflows/0/steps/0/parameters/0", at="name: jobId", message="has not always run",
    ),
    "an output of a step that may have been skipped": dict(
        steps="""\
            - stepId: a
              operationId: createJob
              onSuccess:
              - name: skip
                type: goto
                stepId: c
                criteria:
                - condition: $response.body#/jobId == 0
            - stepId: b
              operationId: createJob
              outputs:
                jobId: $response.body#/jobId
            - stepId: c
              operationId: getJob
              parameters:
              - name: jobId
                in: path
                value: $steps.b.outputs.jobId
            """,
        error=UnsupportedConstruct, pointer="/workflows/0/steps/2/parameters/0", at="name: jobId", message="has not always run",
    ),
    "an unknown output name": dict(
        steps="""\
            - stepId: a
              operationId: createJob
              outputs:
                jobId: $response.body#/jobId
            - stepId: b
              operationId: getJob
              parameters:
              - name: jobId
                in: path
                value: $steps.a.outputs.job
            """,
        error=ExpressionError, pointer="/workflows/0/steps/1/parameters/0/value", at="$steps.a.outputs.job", message="has no output 'job'",
    ),
    "an unknown input name": dict(
        workflow_extra="""\
            inputs:
              type: object
              additionalProperties: false  # an open schema allows it: absent, it reads as null
              properties:
                connectionId:
                  type: string
            """,
        steps="""\
            - stepId: a
              operationId: createJob
              parameters:
              - name: connection
                in: query
                value: $inputs.connection
            """,
        error=ExpressionError, pointer="/workflows/0/steps/0/parameters/0/value", at="$inputs.connection", message="no input 'connection'",
    ),
    "a replacement inside a member known only at run time": dict(
        steps="""\
            - stepId: a
              operationId: createJob
              requestBody:
                payload:
                  job: $inputs.job
                replacements:
                - target: /job/name
                  value: nightly
            """,
        error=UnsupportedConstruct, pointer="/workflows/0/steps/0/requestBody", at="payload:", message="is not supported",
    ),
}



def _refusal_document(case: dict) -> str:
    return arazzo_text(case["steps"], case.get("workflow_extra", ""), case.get("after_workflow", ""), case.get("top_level", ""))


@pytest.mark.parametrize(
    "name",
    list(REFUSALS),
)
def test_refusals_and_semantic_errors_are_typed_and_located(tmp_path, name):
    case = REFUSALS[name]
    text = _refusal_document(case)
    workflow_id = "fixture" if case.get("after_workflow") else None

    error = compile_error(tmp_path, text, workflow_id)
    if isinstance(error, ProblemList) and len(error.problems) == 1:  # found by validation, reported as a list
        error = error.problems[0]

    assert type(error) is case["error"], f"{type(error).__name__}: {error}"
    assert case["message"] in error.message
    assert error.location.pointer == case["pointer"]
    assert (error.location.line, error.location.column) == position(text, case["at"])


# --- criteria lowering, checked by evaluating the Choice rules ----------------------------------


def criteria_machine(tmp_path: Path, condition: str, jsonpath: bool = False) -> dict:
    criterion = f"  - condition: {json.dumps(condition)}\n"
    if jsonpath:
        criterion += "    context: $response.body\n    type: jsonpath\n"
    return compile_text(tmp_path, arazzo_text("- stepId: a\n  operationId: createJob\n  successCriteria:\n" + criterion))


def criteria_hold(asl: dict, body: Any = None, status_code: int = 200) -> bool:
    """Whether the step's successCriteria hold for this response."""
    return choose(asl["States"]["a.Route"], step_data("a", status_code, body)) != "a.Failed"


def success_rule(asl: dict) -> dict:
    first = asl["States"]["a.Route"]["Choices"][0]
    assert first["Next"] == "a.Failed"
    return first["Not"]


def leaf_tests(rule: Any) -> set[str]:
    """The comparison operators used anywhere in a rule."""
    if isinstance(rule, list):
        return set().union(*map(leaf_tests, rule)) if rule else set()
    if not isinstance(rule, dict):
        return set()
    found = {key for key in rule if key not in ("Variable", "Next", "And", "Or", "Not")}
    for key in ("And", "Or", "Not"):
        if key in rule:
            found |= leaf_tests(rule[key])
    return found


def test_not_equals_holds_for_a_missing_value(tmp_path):
    strings = criteria_machine(tmp_path, "$.status != 'done'", jsonpath=True)
    assert criteria_hold(strings, {}) is True
    assert criteria_hold(strings, {"status": "done"}) is False
    assert criteria_hold(strings, {"status": "other"}) is True
    numbers = criteria_machine(tmp_path, "$response.body#/n != 3")
    assert criteria_hold(numbers, {}) is True
    assert criteria_hold(numbers, {"n": 3}) is False


@pytest.mark.parametrize("body", [{}, {"n": "3"}, {"n": None}, {"n": True}, {"other": 3}, "not an object"])
def test_a_missing_or_mistyped_value_makes_equals_false_not_a_runtime_error(tmp_path, body):
    asl = criteria_machine(tmp_path, "$response.body#/n == 3")
    assert criteria_hold(asl, body) is False
    assert criteria_hold(asl, {"n": 3}) is True


def test_numbers_use_numeric_comparisons(tmp_path):
    asl = criteria_machine(tmp_path, "$statusCode == 200 && $response.body#/n >= 2.5")
    assert {"NumericEquals", "NumericGreaterThanEquals"} <= leaf_tests(success_rule(asl))
    assert criteria_hold(asl, {"n": 2.5}) is True
    assert criteria_hold(asl, {"n": 2}) is False
    assert criteria_hold(asl, {"n": 3}, status_code=201) is False


def test_booleans_use_boolean_comparisons(tmp_path):
    asl = criteria_machine(tmp_path, "$response.body#/ok == true")
    assert "BooleanEquals" in leaf_tests(success_rule(asl))
    assert [criteria_hold(asl, body) for body in ({"ok": True}, {"ok": False}, {}, {"ok": "true"})] == [True, False, False, False]
    negated = criteria_machine(tmp_path, "$response.body#/ok != false")
    assert [criteria_hold(negated, body) for body in ({"ok": True}, {"ok": False}, {})] == [True, False, True]


def test_null_uses_is_null(tmp_path):
    asl = criteria_machine(tmp_path, "$response.body#/error == null")
    assert "IsNull" in leaf_tests(success_rule(asl))
    assert [criteria_hold(asl, body) for body in ({"error": None}, {"error": "x"}, {})] == [True, False, False]
    negated = criteria_machine(tmp_path, "$response.body#/error != null")
    assert [criteria_hold(negated, body) for body in ({"error": None}, {"error": "x"}, {})] == [False, True, True]


def test_a_literal_on_the_left_is_flipped(tmp_path):
    equals = criteria_machine(tmp_path, "200 == $statusCode")
    assert criteria_hold(equals, status_code=200) is True
    assert criteria_hold(equals, status_code=204) is False
    less = criteria_machine(tmp_path, "3 < $response.body#/n")
    assert "NumericGreaterThan" in leaf_tests(success_rule(less))
    assert [criteria_hold(less, {"n": n}) for n in (2, 3, 4)] == [False, False, True]
    at_most = criteria_machine(tmp_path, "3 >= $response.body#/n")
    assert [criteria_hold(at_most, {"n": n}) for n in (2, 3, 4)] == [True, True, False]


def test_and_binds_tighter_than_or(tmp_path):
    asl = criteria_machine(tmp_path, "$response.body#/a == 1 || $response.body#/b == 1 && $response.body#/c == 1")
    # a || (b && c): with a alone it holds; read as (a || b) && c it would not.
    assert criteria_hold(asl, {"a": 1, "b": 0, "c": 0}) is True
    assert criteria_hold(asl, {"a": 0, "b": 1, "c": 0}) is False
    assert criteria_hold(asl, {"a": 0, "b": 1, "c": 1}) is True


def test_parentheses_group(tmp_path):
    asl = criteria_machine(tmp_path, "($response.body#/a == 1 || $response.body#/b == 1) && $response.body#/c == 1")
    assert criteria_hold(asl, {"a": 1, "b": 0, "c": 0}) is False
    assert criteria_hold(asl, {"a": 1, "b": 0, "c": 1}) is True


def test_not_negates(tmp_path):
    asl = criteria_machine(tmp_path, "!($response.body#/a == 1 && $response.body#/b == 1)")
    assert [criteria_hold(asl, {"a": 1, "b": b}) for b in (1, 2)] == [False, True]
    bare = criteria_machine(tmp_path, "!$response.body#/done")
    assert [criteria_hold(bare, body) for body in ({"done": True}, {"done": False}, {})] == [False, True, True]


def test_a_bare_operand_holds_only_when_it_is_true(tmp_path):
    asl = criteria_machine(tmp_path, "$response.body#/done")
    assert [criteria_hold(asl, body) for body in ({"done": True}, {"done": False}, {"done": "yes"}, {})] == [True, False, False, False]


def test_jsonpath_string_comparisons_are_exact(tmp_path):
    asl = criteria_machine(tmp_path, "$.status == 'done' || 'ok' == $.status", jsonpath=True)
    assert [criteria_hold(asl, {"status": s}) for s in ("done", "ok", "Done", "OK")] == [True, True, False, False]


# --- the condition parser --------------------------------------------------------------------------


def test_parser_reads_quoted_strings_with_doubled_quotes():
    assert parse_condition("$.name == 'it''s'") == Comparison(Operand("$.name"), "==", Literal("it's"))
    assert parse_condition("$.name == ''") == Comparison(Operand("$.name"), "==", Literal(""))
    assert parse_condition("$.name == 'a || b'") == Comparison(Operand("$.name"), "==", Literal("a || b"))


@pytest.mark.parametrize(("text", "value"), [("42", 42), ("-7", -7), ("2.5", 2.5), ("1e3", 1000.0), ("true", True), ("false", False), ("null", None)])
def test_parser_reads_literals(text, value):
    tree = parse_condition(f"$statusCode == {text}")
    assert isinstance(tree, Comparison) and isinstance(tree.right, Literal)
    assert tree.right.value == value and type(tree.right.value) is type(value)


def test_parser_precedence():
    a, b, c = (Comparison(Operand(f"$inputs.{x}"), "==", Literal(1)) for x in "abc")
    assert parse_condition("$inputs.a == 1 || $inputs.b == 1 && $inputs.c == 1") == Or((a, And((b, c))))
    assert parse_condition("($inputs.a == 1 || $inputs.b == 1) && $inputs.c == 1") == And((Or((a, b)), c))
    assert parse_condition("!$inputs.a == 1 && $inputs.b == 1") == And((Not(a), b))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("($statusCode == 200", "missing ')'"),
        ("$statusCode == 200)", "unexpected ')'"),
        ("$statusCode == 200 && ($inputs.a == 1", "missing ')'"),
        ("$statusCode == 200 200", "unexpected 200"),
        ("$statusCode == 200 garbage", "cannot read 'garbage'"),
        ("$statusCode ==", "ends too early"),
        ("$statusCode == 'unterminated", "cannot read"),
        ("", "ends too early"),
    ],
)
def test_parser_rejects_malformed_conditions(text, message):
    with pytest.raises(ConditionSyntaxError) as caught:
        parse_condition(text)
    assert message in str(caught.value)


# --- defaults and transitions ------------------------------------------------------------------


def test_a_step_without_success_criteria_succeeds_on_2xx_only(tmp_path):
    asl = compile_text(tmp_path, arazzo_text("- stepId: a\n  operationId: createJob\n"))
    assert success_rule(asl) == {
        "And": [
            {"Variable": "$.steps.a.statusCode", "NumericGreaterThanEquals": 200},
            {"Variable": "$.steps.a.statusCode", "NumericLessThan": 300},
        ]
    }
    assert [criteria_hold(asl, status_code=code) for code in (199, 200, 204, 299, 300, 404, 500)] == [False, True, True, True, False, False, False]


FORWARD_GOTO_STEPS = """\
- stepId: a
  operationId: createJob
  onSuccess:
  - name: skipAhead
    type: goto
    stepId: c
    criteria:
    - condition: $response.body#/jobId == 0
- stepId: b
  operationId: createJob
  onSuccess:
  - name: always
    type: goto
    stepId: c
- stepId: c
  operationId: createJob
"""


def test_a_goto_to_a_later_step_is_a_plain_transition(tmp_path):
    asl = compile_text(tmp_path, arazzo_text(FORWARD_GOTO_STEPS))
    states = asl["States"]
    assert not [name for name, state in states.items() if state["Type"] == "Wait"]
    assert states["StartWorkflow"]["Parameters"]["loops"] == {}
    assert choose(states["a.Route"], step_data("a", body={"jobId": 0})) == "c"
    assert choose(states["a.Route"], step_data("a", body={"jobId": 5})) == "b"
    assert choose(states["b.Route"], step_data("b")) == "c"
    assert states["b.Route"]["Default"] == "c"


TWO_WORKFLOWS = """\
- workflowId: second
  steps:
  - stepId: readJob
    operationId: getJob
    parameters:
    - name: jobId
      in: path
      value: '42'
"""


def test_several_workflows_need_workflow_and_the_error_lists_them(tmp_path):
    path = write_document(tmp_path, arazzo_text("- stepId: a\n  operationId: createJob\n", after_workflow=TWO_WORKFLOWS))

    with pytest.raises(SemanticError) as caught:
        compile_document(path)
    assert "--workflow" in caught.value.message
    assert "fixture" in caught.value.message and "second" in caught.value.message

    result = run_cli("compile", path)
    assert result.returncode == 2
    assert "--workflow" in result.stderr and "fixture, second" in result.stderr


def test_workflow_picks_the_named_workflow(tmp_path):
    path = write_document(tmp_path, arazzo_text("- stepId: a\n  operationId: createJob\n", after_workflow=TWO_WORKFLOWS))

    second = compile_document(path, "second")
    first = compile_document(path, "fixture")

    assert second["Comment"].startswith("second:")
    assert [name for name, state in second["States"].items() if state["Type"] == "Task"] == ["readJob"]
    assert second["States"]["readJob"]["Parameters"]["Payload"]["request"] == {"method": "GET", "path": "/jobs/{jobId}", "pathParameters": {"jobId": "42"}}
    assert [name for name, state in first["States"].items() if state["Type"] == "Task"] == ["a"]

    result = run_cli("compile", path, "--workflow", "second")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == second


def test_an_unknown_workflow_id_is_an_error(tmp_path):
    path = write_document(tmp_path, arazzo_text("- stepId: a\n  operationId: createJob\n", after_workflow=TWO_WORKFLOWS))
    with pytest.raises(SemanticError, match="no workflow 'third'"):
        compile_document(path, "third")


# --- generated names that collide with the names of steps or actions -------------------------------


def test_a_step_named_like_a_generated_state_keeps_the_initial_state(tmp_path):
    text = arazzo_text("- stepId: StartWorkflow\n  operationId: createJob\n")
    try:
        asl = compile_text(tmp_path, text)
    except ArazzoError as error:  # refusing the name would be fine too, as long as it says so
        assert not isinstance(error, LoweringError) and "StartWorkflow" in error.message
        return
    states = asl["States"]
    assert any(state["Type"] == "Task" for state in states.values())
    assert any("inputs.$" in state.get("Parameters", {}) for state in states.values() if state["Type"] == "Pass")


def test_a_step_named_workflow_outputs_is_compiled_or_refused_clearly(tmp_path):
    text = arazzo_text("- stepId: WorkflowOutputs\n  operationId: createJob\n")
    try:
        asl = compile_text(tmp_path, text)
    except ArazzoError as error:
        assert not isinstance(error, LoweringError), str(error)
        assert "WorkflowOutputs" in error.message
        return
    assert [state["Type"] for state in asl["States"].values()].count("Task") == 1


FAILING_END_NAMED = """\
- stepId: a
  operationId: createJob
  successCriteria:
  - condition: $statusCode == 200
  onSuccess:
  - name: {name}
    type: end
    x-fail:
      error: NoJob
    criteria:
    - condition: $response.body#/jobId == 0
"""


@pytest.mark.parametrize("action_name", ["Failed", "Route"])
def test_an_action_named_like_a_generated_state_keeps_the_step_routing(tmp_path, action_name):
    try:
        asl = compile_text(tmp_path, arazzo_text(FAILING_END_NAMED.format(name=action_name)))
    except ArazzoError as error:  # refusing the name is fine, as long as it says which and is no internal error
        assert not isinstance(error, LoweringError), str(error)
        assert f"a.{action_name}" in error.message
        return
    start = asl["States"]["a"]["Next"]
    assert outcome(asl, route(asl, start, step_data("a", 500, {"jobId": 7}))) == ("Fail", "StepFailed")
    assert outcome(asl, route(asl, start, step_data("a", 200, {"jobId": 0}))) == ("Fail", "NoJob")
    assert outcome(asl, route(asl, start, step_data("a", 200, {"jobId": 7}))) == ("End", "WorkflowOutputs")


def test_distinct_steps_get_distinct_function_placeholders(tmp_path):
    text = arazzo_text("- stepId: poll-reset\n  operationId: createJob\n- stepId: pollReset\n  operationId: createJob\n")
    try:
        asl = compile_text(tmp_path, text)
    except (UnsupportedConstruct, SemanticError):
        return  # refusing the pair is fine too
    names = [state["Parameters"]["FunctionName"] for state in asl["States"].values() if state["Type"] == "Task"]
    assert len(set(names)) == 2, names


SELF_LOOPS_WITH_CLASHING_KEYS = """\
- stepId: a
  operationId: createJob
  onSuccess:
  - name: b_c
    type: goto
    stepId: a
    criteria:
    - condition: $response.body#/more == true
- stepId: a_b
  operationId: createJob
  onSuccess:
  - name: c
    type: goto
    stepId: a_b
    criteria:
    - condition: $response.body#/more == true
"""


def test_each_loop_has_its_own_counter(tmp_path):
    try:
        asl = compile_text(tmp_path, arazzo_text(SELF_LOOPS_WITH_CLASHING_KEYS))
    except (UnsupportedConstruct, SemanticError):
        return  # refusing the pair is fine too
    start = asl["States"]["StartWorkflow"]["Parameters"]
    # Each counted apart, in $.loops or (folded) with its own step's answer.
    folded = [key for step in start["steps"].values() for key in step.get("loops", {})]
    assert len(start["loops"]) + len(folded) == 2 and len(set(start["loops"]) | set(folded)) == 2


# --- the Mermaid diagram ------------------------------------------------------------------------


def test_diagram_draws_steps_actions_loops_and_declared_failures():
    done = run_cli("diagram", WORKFLOW_PATH, "--workflow", ROOT_WORKFLOW)

    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "flowchart TD"
    assert '    s2["triggerReset<br/>POST /jobs"]' in lines
    assert '    s3["waitForReset<br/>workflowId wait-for-job"]' in lines
    assert '    s3 -- "stillRunning<br/>wait 0" --> s3' in lines
    assert '    s3 -- "resetSucceeded" --> s4' in lines
    for error in ("StepFailed", "ConnectionNotActive", "ConnectionBusy", "ResetFailed", "ResetTimedOut", "UnexpectedJobStatus", "ResyncNotStarted", "ResyncFailed", "ResyncTimedOut"):
        assert any(f'[["fail: {error}"]]' in line for line in lines), error
    assert '    s5 -- "resyncSucceeded" --> succeed' in lines
    assert not any(line.startswith("    s4 -. \"failed\"") for line in lines)  # its failure action takes every failure

    child = run_cli("diagram", WORKFLOW_PATH, "--workflow", CHILD_WORKFLOW)
    assert '    s0 -- "stillRunning<br/>wait $response.header.Retry-After" --> s0' in child.stdout.splitlines()


TRANSFERS_DOCUMENT = Path(__file__).parents[1] / "fixtures" / "documents" / "workflow-transfers" / "transfers.arazzo.yaml"


@pytest.mark.parametrize(("workflow", "action", "child"), [
    ("order-item", '    s0 -. "handOver" .-> w0', "backorder-item"),  # a failure action's goto
    ("quick-order", '    s0 -- "reportIt" --> w0', "report-item"),  # a success action's goto
])
def test_diagram_draws_a_goto_to_a_workflow_as_its_child_execution_then_the_end_with_its_outcome(workflow, action, child):
    done = run_cli("diagram", TRANSFERS_DOCUMENT, "--workflow", workflow)

    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert action in lines
    assert f'    w0["{child}<br/>child execution"]' in lines
    assert '    w0 -- "succeeded" --> succeed' in lines
    failed = next(line for line in lines if line.startswith('    w0 -. "failed" .-> '))
    assert f'    {failed.rsplit(" ", 1)[1]}[["fail: the error of {child}"]]' in lines


def test_diagram_draws_a_retry_that_runs_a_workflow_through_its_child_execution_back_to_the_step():
    done = run_cli("diagram", TRANSFERS_DOCUMENT, "--workflow", "restock-then-reserve")

    lines = done.stdout.splitlines()
    assert '    s0 -. "restockFirst: retry x1" .-> w0' in lines
    assert '    w0["restock-item<br/>child execution"]' in lines
    assert '    w0 -- "succeeded" --> s0' in lines
    assert not any(line.startswith('    s0 -. "restockFirst') and line.endswith("s0") for line in lines)


def test_diagram_draws_the_dependson_workflows_in_order_before_the_first_step():
    document = Path(__file__).parents[1] / "fixtures" / "documents" / "other-documents" / "depends-in-order.arazzo.yaml"
    done = run_cli("diagram", document, "--workflow", "report-after-both")

    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert '    d0["announce<br/>dependsOn, inlined"]' in lines
    assert '    d1["$sourceDescriptions.catalog.fetch-item<br/>dependsOn, child execution"]' in lines
    assert ["    start --> d0", "    d0 --> d1", "    d1 --> s0"] == [line for line in lines if line.endswith(("--> d0", "--> d1", "--> s0"))]
    failed = next(line for line in lines if line.startswith('    d1 -. "failed" .-> '))
    assert f'    {failed.rsplit(" ", 1)[1]}[["fail: the error of $sourceDescriptions.catalog.fetch-item"]]' in lines


# --- failure actions: retry, goto, end; workflow-level actions; $components ----------------------

RETRYING_STEP = """\
- stepId: a
  operationId: createJob
  successCriteria:
  - condition: $statusCode == 200
  onFailure:
  - name: again
    type: retry
    retryAfter: 1.5
    retryLimit: 2
    criteria:
    - condition: $statusCode == 503
  - name: elsewhere
    type: goto
    stepId: b
    criteria:
    - condition: $statusCode == 404
- stepId: b
  operationId: createJob
"""


def with_counter(data: dict, key: str, iterations: int) -> dict:
    return {**data, "loops": {key: {"iterations": iterations}}}


def test_a_retry_counts_waits_then_runs_the_step_again(tmp_path):
    asl = compile_text(tmp_path, arazzo_text(RETRYING_STEP))
    states = asl["States"]
    key = "a_again_retry"
    assert states["StartWorkflow"]["Parameters"]["loops"][key] == {"iterations": 0}
    visited = route(asl, "a.Route", with_counter(step_data("a", 503), key, 0))
    assert visited[-4:] == ["a.again.Count", "a.again.Delay", "a.again.Wait", "a"]
    assert states["a.again.Wait"]["Seconds"] == 2  # retryAfter 1.5 s, rounded up: Wait takes whole seconds
    assert states["a.again.Count"]["Parameters"] == {"iterations.$": f"States.MathAdd($.loops.{key}.iterations, 1)"}


def test_a_retry_after_header_wins_over_retry_after(tmp_path):
    asl = compile_text(tmp_path, arazzo_text(RETRYING_STEP))
    data = with_counter(step_data("a", 503, retryAfterSeconds=7), "a_again_retry", 0)
    data["steps"]["a"]["retryAfterSeconds"] = 7
    visited = route(asl, "a.Route", data)
    assert visited[-2:] == ["a.again.WaitRetryAfter", "a"]
    assert asl["States"]["a.again.WaitRetryAfter"]["SecondsPath"] == "$.steps.a.retryAfterSeconds"


def test_a_spent_retry_budget_lets_the_later_actions_apply_then_the_workflow_fails(tmp_path):
    asl = compile_text(tmp_path, arazzo_text(RETRYING_STEP))
    spent = with_counter(step_data("a", 503), "a_again_retry", 2)
    assert outcome(asl, route(asl, "a.Route", spent)) == ("Fail", "StepFailed")
    not_found = with_counter(step_data("a", 404), "a_again_retry", 0)
    assert outcome(asl, route(asl, "a.Route", not_found)) == ("Task", "b")


def test_a_success_gives_the_retry_budget_back(tmp_path):
    asl = compile_text(tmp_path, arazzo_text(RETRYING_STEP))
    visited = route(asl, "a.Route", with_counter(step_data("a", 200), "a_again_retry", 1))
    assert "a.again.Reset" in visited and visited[-1] == "b"
    reset = asl["States"]["a.again.Reset"]
    assert (reset["Parameters"], reset["ResultPath"]) == ({"iterations": 0}, "$.loops.a_again_retry")


def test_without_a_retry_limit_a_step_is_retried_once(tmp_path):
    steps = "- stepId: a\n  operationId: createJob\n  onFailure:\n  - name: again\n    type: retry\n"
    asl = compile_text(tmp_path, arazzo_text(steps))
    budget = next(rule for rule in asl["States"]["a.OnFailure"]["Choices"] if rule["Next"] == "a.again.Count")
    assert budget == {"Variable": "$.loops.a_again_retry.iterations", "NumericLessThan": 1, "Next": "a.again.Count"}


def test_a_retry_naming_a_step_runs_it_first_then_retries(tmp_path):
    steps = """\
- stepId: login
  operationId: createJob
- stepId: a
  operationId: createJob
  onFailure:
  - name: relogin
    type: retry
    stepId: login
    retryLimit: 1
    criteria:
    - condition: $statusCode == 401
"""
    asl = compile_text(tmp_path, arazzo_text(steps))
    states = asl["States"]
    assert states["a.relogin.Wait"]["Next"] == "a.relogin.login"
    rerun = states["a.relogin.login"]
    assert rerun["Type"] == "Task" and rerun["Parameters"]["FunctionName"] == "${LoginFunctionArn}"
    assert rerun["ResultPath"] == "$.steps.login" and rerun["Next"] == "a.relogin.login.Check"
    check = states["a.relogin.login.Check"]
    assert choose(check, step_data("login", 200)) == "a"
    assert outcome(asl, route(asl, "a.relogin.login.Check", step_data("login", 500))) == ("Fail", "StepFailed")


def test_a_step_with_failure_actions_catches_errors_and_keeps_them_when_nothing_applies(tmp_path):
    asl = compile_text(tmp_path, arazzo_text(RETRYING_STEP))
    task = asl["States"]["a"]
    assert task["Catch"] == [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.steps.a", "Next": "a.OnFailure"}]
    caught = {"inputs": {}, "loops": {"a_again_retry": {"iterations": 0}}, "steps": {"a": {"Error": "TransientHttpError", "Cause": "{}"}}}
    visited = route(asl, "a.OnFailure", caught)
    assert visited[-1] == "a.Failed.Error"
    assert asl["States"]["a.Failed.Error"] == {"Type": "Fail", "ErrorPath": "$.steps.a.Error", "CausePath": "$.steps.a.Cause"}


def test_a_step_without_failure_actions_lets_errors_end_the_execution(tmp_path):
    asl = compile_text(tmp_path, arazzo_text("- stepId: a\n  operationId: createJob\n"))
    assert "Catch" not in asl["States"]["a"]


def test_a_failure_end_with_x_fail_names_its_error(tmp_path):
    steps = """\
- stepId: a
  operationId: createJob
  onFailure:
  - name: gone
    type: end
    x-fail:
      error: JobGone
      cause:
        status: $statusCode
"""
    asl = compile_text(tmp_path, arazzo_text(steps))
    assert outcome(asl, route(asl, "a.Route", step_data("a", 410))) == ("Fail", "JobGone")
    assert asl["States"]["a.gone"]["Parameters"] == {"status.$": "$.steps.a.statusCode"}


def test_workflow_level_actions_apply_after_the_step_level_ones(tmp_path):
    workflow_extra = """\
successActions:
- name: stopIfDone
  type: end
  criteria:
  - condition: $response.body#/done == true
failureActions:
- name: retryAll
  type: retry
  retryLimit: 3
"""
    steps = """\
- stepId: a
  operationId: createJob
  onSuccess:
  - name: skip
    type: goto
    stepId: c
    criteria:
    - condition: $response.body#/skip == true
- stepId: b
  operationId: createJob
- stepId: c
  operationId: createJob
"""
    asl = compile_text(tmp_path, arazzo_text(steps, workflow_extra))
    route_a = asl["States"]["a.Actions"]
    assert [rule["Next"] for rule in route_a["Choices"]] == ["c", "WorkflowOutputs"]
    assert route_a["Default"] == "b"
    assert choose(route_a, step_data("a", body={"skip": True, "done": True})) == "c"  # the step's own action first
    assert choose(route_a, step_data("a", body={"done": True})) == "WorkflowOutputs"
    for step in ("a", "b", "c"):
        assert f"{step}.retryAll.Count" in asl["States"]


def test_components_supply_actions_and_parameters(tmp_path):
    top_level = """\
components:
  parameters:
    job:
      name: jobId
      in: path
      value: 1
  failureActions:
    retryOnce:
      name: retryOnce
      type: retry
      retryAfter: 2
"""
    steps = """\
- stepId: a
  operationPath: '{$sourceDescriptions.api.url}#/paths/~1jobs~1{jobId}/get'
  parameters:
  - reference: $components.parameters.job
    value: $inputs.jobId
  onFailure:
  - reference: $components.failureActions.retryOnce
"""
    workflow_extra = "inputs:\n  type: object\n  properties:\n    jobId:\n      type: integer\n"
    asl = compile_text(tmp_path, arazzo_text(steps, workflow_extra, top_level=top_level))
    payload = asl["States"]["a"]["Parameters"]["Payload"]
    assert payload["operationId"] == "getJob" and payload["source"] == "api"
    assert payload["request"] == {"method": "GET", "path": "/jobs/{jobId}", "pathParameters": {"jobId.$": "$.inputs.jobId"}}
    assert asl["States"]["a.retryOnce.Wait"]["Seconds"] == 2


def test_cookie_parameters_travel_as_cookies(tmp_path):
    steps = "- stepId: a\n  operationId: createJob\n  parameters:\n  - name: session\n    in: cookie\n    value: abc\n"
    asl = compile_text(tmp_path, arazzo_text(steps))
    assert asl["States"]["a"]["Parameters"]["Payload"]["request"]["cookies"] == {"session": "abc"}


# --- request templates: embedded expressions, arrays, replacements ------------------------------

TEMPLATED_BODY = """\
- stepId: a
  operationId: createJob
  requestBody:
    contentType: application/json
    payload:
      name: "job {$inputs.name} it's {literal}"
      ids: [$inputs.first, 2, "x-{$inputs.name}", true]
      plain: [1, 2]
      nested:
        keep: 1
        drop: 2
    replacements:
    - target: /nested/drop
      value: $inputs.first
    - target: /plain/-
      value: 3
"""
TEMPLATE_INPUTS = "inputs:\n  type: object\n  properties:\n    name:\n      type: string\n    first:\n      type: integer\n"


def test_embedded_expressions_become_states_format(tmp_path):
    body = compile_text(tmp_path, arazzo_text(TEMPLATED_BODY, TEMPLATE_INPUTS))["States"]["a"]["Parameters"]["Payload"]["request"]["body"]
    assert body["name.$"] == "States.Format('job {} it\\'s \\{literal\\}', $.inputs.name)"


def test_arrays_with_expressions_become_states_array(tmp_path):
    body = compile_text(tmp_path, arazzo_text(TEMPLATED_BODY, TEMPLATE_INPUTS))["States"]["a"]["Parameters"]["Payload"]["request"]["body"]
    assert body["ids.$"] == "States.Array($.inputs.first, 2, States.Format('x-{}', $.inputs.name), true)"


def test_replacements_are_applied_to_the_payload(tmp_path):
    body = compile_text(tmp_path, arazzo_text(TEMPLATED_BODY, TEMPLATE_INPUTS))["States"]["a"]["Parameters"]["Payload"]["request"]["body"]
    assert body["nested"] == {"keep": 1, "drop.$": "$.inputs.first"}
    assert body["plain"] == [1, 2, 3]


def test_a_replacement_target_outside_the_payload_is_refused(tmp_path):
    steps = "- stepId: a\n  operationId: createJob\n  requestBody:\n    payload: {a: 1}\n    replacements:\n    - target: /b/c\n      value: 1\n"
    error = compile_error(tmp_path, arazzo_text(steps))
    if isinstance(error, ProblemList) and len(error.problems) == 1:  # found by validation, reported as a list
        error = error.problems[0]
    assert isinstance(error, SemanticError) and "/b/c" in error.message


# --- criteria Choice rules cannot express are evaluated by the step's function -------------------


def evaluated(asl: dict, step: str = "a") -> tuple[dict, dict]:
    payload = asl["States"][step]["Parameters"]["Payload"]
    return payload.get("evaluate", {}), payload.get("values", {})


def test_simple_string_comparisons_are_evaluated_case_insensitively_by_the_function(tmp_path):
    steps = "- stepId: a\n  operationId: createJob\n  successCriteria:\n  - condition: $response.body#/status == 'Done'\n"
    asl = compile_text(tmp_path, arazzo_text(steps))
    evaluate, values = evaluated(asl)
    assert evaluate == {"c0": {"type": "simple", "condition": "$response.body#/status == 'Done'", "context": None}}
    assert values == {}
    route_state = asl["States"]["a.Route"]
    assert choose(route_state, step_data("a", criteria={})) == "a.Failed"
    data = step_data("a")
    data["steps"]["a"]["criteria"] = {"c0": True}
    assert choose(route_state, data) == "WorkflowOutputs"


def test_regex_and_filter_criteria_go_to_the_function_with_the_values_they_need(tmp_path):
    steps = """\
- stepId: a
  operationId: createJob
  successCriteria:
  - condition: ^2\\d\\d$
    context: $statusCode
    type: regex
  - condition: $[?@.price > $inputs.max]
    context: $response.body
    type: jsonpath
"""
    workflow_extra = "inputs:\n  type: object\n  properties:\n    max:\n      type: number\n"
    evaluate, values = evaluated(compile_text(tmp_path, arazzo_text(steps, workflow_extra)))
    assert evaluate["c0"] == {"type": "regex", "condition": "^2\\d\\d$", "context": "$statusCode"}
    assert evaluate["c1"] == {"type": "jsonpath", "condition": "$[?@.price > $inputs.max]", "context": "$response.body"}
    assert values == {"v0": {"expression": "$inputs.max", "value.$": "$.inputs.max"}}


def test_the_comparison_form_of_jsonpath_stays_native(tmp_path):
    asl = criteria_machine(tmp_path, "$.status == 'done'", jsonpath=True)
    assert evaluated(asl) == ({}, {})


def test_a_regex_without_context_is_refused(tmp_path):
    steps = "- stepId: a\n  operationId: createJob\n  successCriteria:\n  - condition: ^2\n    type: regex\n"
    path = write_document(tmp_path, arazzo_text(steps))
    with pytest.raises(ArazzoError):
        compile_document(path)


def test_all_compiles_every_workflow_into_a_directory_and_checks_them(tmp_path):
    path = write_document(tmp_path, arazzo_text("- stepId: a\n  operationId: createJob\n", after_workflow=OTHER_WORKFLOW))
    out = tmp_path / "machines"

    done = run_cli("compile", path, "--all", "-o", out)

    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in out.iterdir()) == ["fixture.asl.json", "other.asl.json"]
    assert json.loads((out / "other.asl.json").read_text())["States"]["elsewhere"]["Type"] == "Task"
    assert run_cli("compile", path, "--all", "-o", out, "--check").returncode == 0
    (out / "other.asl.json").write_text("{}", encoding="utf-8")
    stale = run_cli("compile", path, "--all", "-o", out, "--check")
    assert stale.returncode == 1 and "other.asl.json" in stale.stderr
    assert run_cli("compile", path, "--all").returncode == 2  # needs a directory



# --- other workflows: workflowId steps and dependsOn --------------------------------------------

CALLING_WORKFLOWS = """\
- workflowId: login
  inputs:
    type: object
    properties:
      user: {type: string}
      realm: {type: string, default: main}
  steps:
  - stepId: token
    operationId: createJob
    requestBody:
      payload: {user: $inputs.user, realm: $inputs.realm}
    outputs:
      value: $response.body#/token
  outputs:
    token: $steps.token.outputs.value
"""


def test_a_workflow_step_inlines_the_called_workflow_with_its_inputs_and_outputs(tmp_path):
    steps = """\
- stepId: signIn
  workflowId: login
  parameters:
  - name: user
    value: $inputs.user
  outputs:
    token: $outputs.token
- stepId: use
  operationId: getJob
  parameters:
  - name: jobId
    in: path
    value: $steps.signIn.outputs.token
"""
    workflow_extra = "inputs:\n  type: object\n  properties:\n    user: {type: string}\n"
    asl = compile_text(tmp_path, arazzo_text(steps, workflow_extra, after_workflow=CALLING_WORKFLOWS), "fixture")
    states = asl["States"]
    assert states["signIn"]["Parameters"] == {"given": {"user.$": "$.inputs.user"}, "defaults": {"realm": "main", "user": None}}  # an absent input reads as null
    assert states["signIn"]["ResultPath"] == "$.calls.signIn" and states["signIn"]["Next"] == "signIn.Start"
    assert states["signIn.Start"]["Parameters"]["inputs.$"] == "States.JsonMerge($.calls.signIn.defaults, $.calls.signIn.given, false)"
    inner = states["signIn.token"]
    assert inner["Parameters"]["FunctionName"] == "${SignInTokenFunctionArn}"
    assert inner["Parameters"]["Payload"]["request"]["body"] == {"user.$": "$.calls.signIn.inputs.user", "realm.$": "$.calls.signIn.inputs.realm"}
    assert inner["ResultPath"] == "$.calls.signIn.steps.token"
    back = states["signIn.WorkflowOutputs"]
    # The step's function resolves the output it reads of its answer (null when it does not resolve).
    assert back["Parameters"] == {"token.$": "$.calls.signIn.steps.token.outputs.value"}
    assert (back["ResultPath"], back["Next"]) == ("$.calls.signIn.outputs", "signIn.Route")
    assert states["use"]["Parameters"]["Payload"]["request"]["pathParameters"] == {"jobId.$": "$.calls.signIn.outputs.token"}
    assert states["StartWorkflow"]["Parameters"]["calls"] == {}


def test_depends_on_runs_the_other_workflows_first_with_this_workflows_inputs(tmp_path):
    workflow_extra = "dependsOn: [login]\ninputs:\n  type: object\n  properties:\n    user: {type: string}\n"
    steps = "- stepId: a\n  operationId: createJob\n  requestBody:\n    payload: {token: $workflows.login.outputs.token}\n"
    asl = compile_text(tmp_path, arazzo_text(steps, workflow_extra, after_workflow=CALLING_WORKFLOWS), "fixture")
    states = asl["States"]
    assert states["StartWorkflow"]["Next"] == "dependsOn.login"
    assert states["dependsOn.login"]["Parameters"]["given"] == {"inputs.$": "$.inputs"}
    assert states["dependsOn.login.Start"]["Parameters"]["inputs.$"].endswith("$.calls.dependsOn_login.given.inputs, false)")
    assert states["dependsOn.login.WorkflowOutputs"]["Next"] == "a"
    assert states["a"]["Parameters"]["Payload"]["request"]["body"] == {"token.$": "$.calls.dependsOn_login.outputs.token"}



def test_a_goto_loop_with_no_way_out_is_reported(tmp_path):
    steps = """\
- stepId: a
  operationId: createJob
  onSuccess:
  - name: toB
    type: goto
    stepId: b
- stepId: b
  operationId: createJob
  onSuccess:
  - name: toA
    type: goto
    stepId: a
"""
    text = arazzo_text(steps)
    error = compile_error(tmp_path, text)
    assert isinstance(error, ProblemList)
    messages = [problem.message for problem in error.problems]
    assert len(messages) == 2 and all("can never reach the end" in m for m in messages)
    assert [p.location.line for p in error.problems] == [position(text, "- stepId: a")[0], position(text, "- stepId: b")[0]]


def test_a_poll_loop_with_an_exit_is_not_reported(tmp_path):
    steps = "- stepId: a\n  operationId: createJob\n  onSuccess:\n  - name: again\n    type: goto\n    stepId: a\n    criteria:\n    - condition: $statusCode == 202\n"
    assert compile_text(tmp_path, arazzo_text(steps))["States"]["a"]["Type"] == "Task"


def test_validation_reports_every_bad_expression_at_once(tmp_path):
    steps = """\
- stepId: a
  operationId: createJob
  requestBody:
    payload:
      x: $inputs.nope
      y: "id-{$steps.ghost.outputs.id}"
      z: $notAnExpression
"""
    error = compile_error(tmp_path, arazzo_text(steps, "inputs:\n  type: object\n  additionalProperties: false\n  properties:\n    real: {type: string}\n"))
    assert isinstance(error, ProblemList)
    messages = " | ".join(problem.message for problem in error.problems)
    assert "no input 'nope'" in messages and "no step 'ghost'" in messages and "not a runtime expression" in messages
