"""Criteria a Choice rule cannot judge on a step that runs a child execution: Arazzo 1.0.1
compares strings in simple conditions ignoring case, which ASL cannot. After the child ends,
a Task sends the step's function those criteria (a criteria payload) with the child's
outputs they read; the function judges them with the runtime's own evaluator, and the
route reads its verdicts. Criteria a Choice rule can judge (a number) stay Choice rules.

The document (tests/fixtures/documents/child-criteria) reads a job through a child
execution and compares its status and size with strings in other cases than the server
answers them: in the step's successCriteria, in an onSuccess action's criteria and in an
onFailure action's criteria, each both when it holds and when it does not.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from arazzo_sfn.compiler import compile_bundle
from arazzo_sfn.errors import UnsupportedConstruct
from arazzo_sfn.testing import Reply
from tests.conformance.test_constructs import Execution, execute

DOCUMENT = Path(__file__).resolve().parents[1] / "fixtures" / "documents" / "child-criteria" / "jobs.arazzo.yaml"
LAMBDA_INVOKE = "arn:aws:states:::lambda:invoke"


def run_check(job: Reply) -> Execution:
    return execute(DOCUMENT, {"GET /jobs/{jobId}": [job], "POST /reports": [Reply(201, {"id": "r-1"})]}, {"jobId": "j-7"}, "check-job")


def job(status: str, size: str = "small") -> Reply:
    return Reply(200, {"status": status, "size": size, "attempts": 1})


def reported(execution: Execution) -> list[str]:
    return [call.body["kind"] for call in execution.server.calls if call.line == "POST /reports"]


@pytest.mark.parametrize(
    ("answer", "kind", "output"),
    [
        # successCriteria 'succeeded' holds for SUCCEEDED; the onSuccess action's 'LARGE' does not hold for small.
        (job("SUCCEEDED"), "done", {"status": "SUCCEEDED", "size": "small"}),
        # ...and holds for Large: the action's goto is taken.
        (job("SUCCEEDED", "Large"), "archive", {"status": "SUCCEEDED", "size": "Large"}),
        # successCriteria fail for FAILED; the onFailure action's 'Failed' holds for it.
        (job("FAILED"), "failure", {"status": "FAILED", "size": "small"}),
    ],
    ids=["success criteria hold", "success action applies", "failure action applies"],
)
def test_string_criteria_over_the_childs_outputs_ignore_case(answer, kind, output):
    execution = run_check(answer)

    assert execution.result.status == "SUCCEEDED", (execution.result.error, execution.result.cause)
    assert reported(execution) == [kind]
    assert execution.result.output == output
    # The child's Task, then the Task that judges the criteria, then the report.
    assert execution.tasks[:2] == ["read", "read.Criteria"]


def test_when_no_failure_action_applies_the_step_fails_on_its_success_criteria():
    execution = run_check(job("CANCELLED"))

    assert execution.result.status == "FAILED"
    assert execution.result.error == "StepFailed", (execution.result.error, execution.result.cause)
    cause = execution.failure()
    assert cause["step"] == "read" and cause["workflowId"] == "read-job"
    assert cause["outputs"] == {"status": "CANCELLED", "size": "small", "attempts": 1}
    assert reported(execution) == []


def test_a_child_that_fails_has_its_failure_actions_judged_on_null_outputs():
    # The child fails (its success criteria want 200): the criteria read null outputs, the
    # failure action does not apply, and the parent fails with the child's own error.
    execution = run_check(Reply(404, {"message": "no such job"}))

    assert execution.result.status == "FAILED"
    assert execution.result.error == "StepFailed", (execution.result.error, execution.result.cause)
    assert "read.FailureCriteria" in execution.tasks
    assert reported(execution) == []


def test_only_the_criteria_a_choice_rule_cannot_judge_go_to_the_function():
    asl = compile_bundle(DOCUMENT, "check-job")["check-job"]
    states = asl["States"]
    judged = {name: state for name, state in states.items() if state.get("Resource") == LAMBDA_INVOKE and name.startswith("read")}
    assert sorted(judged) == ["read.Criteria", "read.FailureCriteria"]
    payload = judged["read.Criteria"]["Parameters"]["Payload"]
    assert payload["kind"] == "criteria"
    assert judged["read.Criteria"]["Parameters"]["FunctionName"] == "${ReadFunctionArn}"
    conditions = sorted(criterion["condition"] for criterion in payload["evaluate"].values())
    assert conditions == ["$outputs.size == 'LARGE'", "$outputs.status == 'Failed'", "$outputs.status == 'succeeded'"]
    # The number stays a Choice rule.
    assert "NumericGreaterThanEquals" in json.dumps(states["read.Route"])
    assert states["read"]["Next"] == "read.Criteria"


def test_a_child_step_whose_criteria_are_all_choice_rules_gets_no_task_to_judge_them():
    states = compile_bundle(DOCUMENT, "count-job")["count-job"]["States"]
    assert states["read"]["Next"] == "read.Route"
    assert not [name for name, state in states.items() if state.get("Resource") == LAMBDA_INVOKE]
    assert "NumericGreaterThanEquals" in json.dumps(states["read.Route"])


def test_on_a_step_whose_workflow_is_inlined_a_string_comparison_is_refused_as_not_supported():
    with pytest.raises(UnsupportedConstruct) as caught:
        compile_bundle(DOCUMENT.parent / "inlined.arazzo.yaml", "check-job")
    error = caught.value
    assert "not supported" in error.message and "x-child-execution: true" in error.message
    assert error.location is not None and error.location.pointer == "/workflows/0/steps/0/onSuccess/0/criteria/0"
