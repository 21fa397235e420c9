"""A backward goto (a loop) is lowered in one of three forms, and the spec's semantics are the
same in each:

- folded (a step that goes back to itself, without failure actions): Task → Choice → Wait,
  the count travelling with the step's answer (`$.steps.<step>.loops`);
- counted (forced here by an onFailure action on the loop's target that never applies):
  Task → Choice → Pass → Wait;
- retry (`x-loop: {mode: retry, ...}`): the step's function raises `LoopAgain` while the
  loop action's criteria hold, and the Task's own Retry waits (recorded in `sleeps`).

Every case runs in each form, against the same scripted server, and is checked on the same
requests, outputs, errors and causes. Waits are 0 seconds (Wait states) or recorded instead
of slept (the retry form's Retrier), so the module runs in seconds.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from arazzo_sfn import ArazzoError
from arazzo_sfn.compiler import compile_bundle
from arazzo_sfn.testing import Reply
from tests.conformance.test_constructs import Execution, assert_step_failed, execute, write_document

FORMS = ["folded", "counted", "retry"]
# An onFailure action that never applies (no server answers 599): it makes the loop counted.
NEVER = """\
    onFailure:
    - name: never
      type: end
      criteria:
      - condition: $statusCode == 599
"""
LOOP_CAUSE = "error: JobTimedOut, cause: {jobId: j-1, lastStatus: $response.body#/status}"


def loop_parts(form: str, max_iterations: str = "3", cause: str = LOOP_CAUSE) -> dict:
    """The x-loop of the goto and the target's failure actions, for one form."""
    if form == "retry":
        loop = f"{{mode: retry, intervalSeconds: 1, backoffRate: 1.0, maxIterations: {max_iterations}, {cause}}}"
    else:
        loop = f"{{waitSeconds: 0, maxIterations: {max_iterations}, {cause}}}"
    return {"loop": loop, "failure": NEVER if form == "counted" else ""}


POLL = """\
workflows:
- workflowId: poll-job
  inputs:
    type: object
    properties:
      max: {{type: integer, default: 3}}
  steps:
  - stepId: poll
    operationId: getJob
    parameters:
    - {{name: jobId, in: path, value: j-1}}
    successCriteria:
    - condition: $statusCode == 200
    outputs:
      status: $response.body#/status
    onSuccess:
{earlier}    - name: notDone
      type: goto
      stepId: poll
      criteria:
      - condition: $response.body#/status != 'done'
      x-loop: {loop}
{failure}  - stepId: report
    operationId: createReport
    requestBody:
      payload:
        status: $steps.poll.outputs.status
  outputs:
    status: $steps.poll.outputs.status
"""
# First match wins: a failed job ends the workflow before the loop action is considered.
END_WHEN_FAILED = """\
    - name: jobFailed
      type: end
      criteria:
      - condition: $response.body#/status == 'failed'
      x-fail:
        error: JobFailed
        cause:
          jobId: j-1
          status: $response.body#/status
"""
RUNNING, DONE, FAILED = Reply(200, {"status": "running"}), Reply(200, {"status": "done"}), Reply(200, {"status": "failed"})


def poll_document(directory: Path, form: str, max_iterations: str = "3", earlier: str = "") -> Path:
    return write_document(directory, POLL.format(earlier=earlier, **loop_parts(form, max_iterations)))


def run_poll(document: Path, replies, inputs: dict | None = None) -> Execution:
    return execute(document, {"GET /jobs/{jobId}": replies, "POST /reports": Reply(201)}, inputs=inputs)


def assert_form(execution: Execution, form: str, step: str = "poll", action: str = "notDone") -> None:
    """The loop was lowered in `form` (read from the ASL that ran)."""
    states = execution.asl["States"]
    retriers = [retrier for retrier in states[step].get("Retry", []) if retrier["ErrorEquals"] == ["LoopAgain"]]
    if form == "retry":
        assert len(retriers) == 1 and "loopAgain" in states[step]["Parameters"]["Payload"]
        assert f"{step}.{action}.Wait" not in states and f"{step}.{action}.Count" not in states
        return
    assert retriers == [] and f"{step}.{action}.Wait" in states
    folded = states[step]["Parameters"]["Payload"].get("loops.$") == f"$.steps.{step}.loops"
    assert folded == (form == "folded")
    assert (f"{step}.{action}.Count" in states) == (form == "counted")


def assert_waited(execution: Execution, form: str, gotos: int, step: str = "poll", action: str = "notDone") -> None:
    """Each goto taken waited once: in the Task's Retrier (retry) or in a Wait state (other
    loops of the workflow have Wait states of their own, not counted here)."""
    waits = [t.state for t in execution.transitions if t.state_type == "Wait" and t.state.startswith(f"{step}.")]
    if form == "retry":
        assert execution.sleeps == [1.0] * gotos
        assert waits == []
    else:
        assert execution.sleeps == []
        assert waits == [f"{step}.{action}.Wait"] * gotos


def comparable(cause: dict) -> dict:
    """A loop's cause without the history budget, which depends on the form by design."""
    assert isinstance(cause.get("maxIterationsAllowedByHistory"), int)
    return {key: value for key, value in cause.items() if key != "maxIterationsAllowedByHistory"}


# --- poll until done, then on to the next step ---------------------------------------------

@pytest.mark.parametrize("form", FORMS)
def test_poll_until_done_then_go_on(tmp_path, form):
    execution = run_poll(poll_document(tmp_path, form), [RUNNING, RUNNING, DONE])

    assert_form(execution, form)
    assert execution.result.status == "SUCCEEDED", (execution.result.error, execution.result.cause)
    assert execution.requests == ["GET /jobs/j-1"] * 3 + ["POST /reports"]
    assert execution.server.calls[3].body == {"status": "done"}
    assert execution.result.output == {"status": "done"}
    assert_waited(execution, form, gotos=2)


@pytest.mark.parametrize("form", FORMS)
def test_done_at_once_takes_no_goto(tmp_path, form):
    execution = run_poll(poll_document(tmp_path, form), DONE)

    assert execution.result.status == "SUCCEEDED", (execution.result.error, execution.result.cause)
    assert execution.requests == ["GET /jobs/j-1", "POST /reports"]
    assert execution.result.output == {"status": "done"}
    assert_waited(execution, form, gotos=0)


@pytest.mark.parametrize("form", FORMS)
def test_the_loop_criterion_compares_strings_ignoring_case(tmp_path, form):
    execution = run_poll(poll_document(tmp_path, form), [RUNNING, Reply(200, {"status": "DONE"})])

    assert execution.result.status == "SUCCEEDED", (execution.result.error, execution.result.cause)
    assert execution.requests == ["GET /jobs/j-1"] * 2 + ["POST /reports"]
    assert execution.result.output == {"status": "DONE"}
    assert_waited(execution, form, gotos=1)


# --- bounded by maxIterations --------------------------------------------------------------

BOUNDS = [("3", {}, 3), ("$inputs.max", {}, 3), ("$inputs.max", {"max": 1}, 1), ("$inputs.max", {"max": 0}, 0)]


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("max_iterations, inputs, bound", BOUNDS, ids=["literal", "input default", "input given", "input 0"])
def test_a_loop_that_never_ends_fails_at_max_iterations_with_the_x_loop_error(tmp_path, form, max_iterations, inputs, bound):
    execution = run_poll(poll_document(tmp_path, form, max_iterations), RUNNING, inputs=inputs)

    assert_form(execution, form)
    assert execution.result.status == "FAILED"
    assert execution.result.error == "JobTimedOut", (execution.result.error, execution.result.cause)
    # iterations counts the gotos taken: the first read and `bound` more; the cause names the limit set.
    assert comparable(execution.failure()) == {"step": "poll", "iterations": bound, "maxIterations": bound, "jobId": "j-1", "lastStatus": "running"}
    assert execution.requests == ["GET /jobs/j-1"] * (bound + 1)
    assert execution.result.output is None
    assert_waited(execution, form, gotos=bound)


def test_the_bounded_loop_fails_identically_in_every_form(tmp_path):
    runs = {}
    for form in FORMS:
        (tmp_path / form).mkdir()
        runs[form] = run_poll(poll_document(tmp_path / form, form), [RUNNING, Reply(200, {"status": "queued"}), RUNNING, Reply(200, {"status": "stuck"})])

    outcomes = {
        form: (run.result.status, run.result.error, comparable(run.failure()), run.requests, run.result.output)
        for form, run in runs.items()
    }
    assert outcomes["folded"] == outcomes["counted"] == outcomes["retry"], outcomes
    assert outcomes["folded"][2]["lastStatus"] == "stuck"
    # What differs is only how far the history would let the loop go.
    budgets = {form: run.failure()["maxIterationsAllowedByHistory"] for form, run in runs.items()}
    assert budgets["counted"] < budgets["folded"] < budgets["retry"], budgets


@pytest.mark.parametrize("form", FORMS)
def test_on_limit_end_ends_the_workflow_with_its_outputs_at_the_bound(tmp_path, form):
    parts = loop_parts(form, "2")
    parts["loop"] = parts["loop"].replace("maxIterations", "onLimit: end, maxIterations")
    execution = run_poll(write_document(tmp_path, POLL.format(earlier="", **parts)), RUNNING)

    assert execution.result.status == "SUCCEEDED", (execution.result.error, execution.result.cause)
    assert execution.requests == ["GET /jobs/j-1"] * 3  # `report` is not run
    assert execution.result.output == {"status": "running"}
    assert_waited(execution, form, gotos=2)


TASK_RETRY = """\
  x-task-retry:
  - errors: [TransientHttpError]
    intervalSeconds: 1
    backoffRate: 1.0
    maxAttempts: 3
"""
# A chunked answer that is not chunked: the function's request fails with TransientHttpError.
CUT_OFF = Reply(200, {"status": "running"}, {"Transfer-Encoding": "chunked"})


@pytest.mark.parametrize("form", ["folded", "counted", pytest.param("retry", marks=pytest.mark.xfail(strict=True, reason=(
    "the retry form counts the loop's passes with $$.State.RetryCount, which counts every retry of "
    "the Task: an x-task-retry of a TransientHttpError is counted as a goto, so with maxIterations 2 "
    "the loop fails (JobTimedOut, iterations 2, 3 requests) after one goto, where folded and counted "
    "take the second goto and succeed"
)))])
def test_a_task_retry_inside_the_loop_is_not_a_goto(tmp_path, form):
    text = POLL.format(earlier="", **loop_parts(form, "2")).replace("  steps:\n", TASK_RETRY + "  steps:\n", 1)
    execution = run_poll(write_document(tmp_path, text), [RUNNING, CUT_OFF, RUNNING, DONE])

    assert execution.result.status == "SUCCEEDED", (execution.result.error, execution.result.cause)
    # Two gotos (maxIterations 2 allows them) and one retry of the cut-off read.
    assert execution.requests == ["GET /jobs/j-1"] * 4 + ["POST /reports"]
    assert execution.result.output == {"status": "done"}


# --- the first action whose criteria hold wins ---------------------------------------------

@pytest.mark.parametrize("form", FORMS)
def test_an_earlier_action_whose_criteria_hold_wins_over_the_loop(tmp_path, form):
    document = poll_document(tmp_path, form, earlier=END_WHEN_FAILED)
    execution = run_poll(document, [RUNNING, FAILED, RUNNING])

    assert_form(execution, form)
    assert execution.result.status == "FAILED"
    assert execution.result.error == "JobFailed", (execution.result.error, execution.result.cause)
    assert execution.failure() == {"jobId": "j-1", "status": "failed"}
    assert execution.requests == ["GET /jobs/j-1"] * 2
    assert_waited(execution, form, gotos=1)


@pytest.mark.parametrize("form", FORMS)
def test_with_an_earlier_action_that_never_holds_the_loop_goes_on(tmp_path, form):
    document = poll_document(tmp_path, form, earlier=END_WHEN_FAILED)
    execution = run_poll(document, [RUNNING, RUNNING, DONE])

    assert execution.result.status == "SUCCEEDED", (execution.result.error, execution.result.cause)
    assert execution.requests == ["GET /jobs/j-1"] * 3 + ["POST /reports"]
    assert execution.result.output == {"status": "done"}
    assert_waited(execution, form, gotos=2)


# --- success criteria failing during the loop -----------------------------------------------

@pytest.mark.parametrize("form", FORMS)
def test_success_criteria_failing_in_the_loop_fail_the_step_not_loop_again(tmp_path, form):
    # A 500 answer still says status "running": the loop's criteria hold, the step's do not.
    execution = run_poll(poll_document(tmp_path, form), [RUNNING, Reply(500, {"status": "running"}), DONE])

    cause = assert_step_failed(execution, "poll", 500)
    assert cause["response"] == {"status": "running"}
    assert execution.requests == ["GET /jobs/j-1"] * 2
    assert_waited(execution, form, gotos=1)


# --- a loop entered again from outside ------------------------------------------------------

BATCHES = """\
workflows:
- workflowId: run-batches
  steps:
  - stepId: start
    operationId: startJob
    outputs:
      jobId: $response.body#/id
  - stepId: poll
    operationId: getJob
    parameters:
    - {{name: jobId, in: path, value: $steps.start.outputs.jobId}}
    successCriteria:
    - condition: $statusCode == 200
    onSuccess:
    - name: notDone
      type: goto
      stepId: poll
      criteria:
      - condition: $response.body#/running == true
      x-loop: {loop}
{failure}  - stepId: next
    operationId: listItems
    outputs:
      more: $response.body#/more
    onSuccess:
    - name: anotherBatch
      type: goto
      stepId: start
      criteria:
      - condition: $response.body#/more == true
      x-loop: {{waitSeconds: 0, maxIterations: 5, error: TooManyBatches}}
  outputs:
    more: $steps.next.outputs.more
"""
BATCH_RUNNING, BATCH_DONE = Reply(200, {"running": True}), Reply(200, {"running": False})


def run_batches(directory: Path, form: str, polls: list[Reply]) -> Execution:
    document = write_document(directory, BATCHES.format(**loop_parts(form, "2", "error: JobTimedOut, cause: {jobId: $steps.start.outputs.jobId}")))
    return execute(document, {
        "POST /jobs": [Reply(202, {"id": "j-1"}), Reply(202, {"id": "j-2"})],
        "GET /jobs/{jobId}": polls,
        "GET /items": [Reply(200, {"more": True}), Reply(200, {"more": False})],
    })


@pytest.mark.parametrize("form", FORMS)
def test_a_loop_entered_again_from_outside_gets_its_whole_bound_again(tmp_path, form):
    # Each job runs for two reads: two gotos, all maxIterations 2 allows, in each batch.
    polls = [BATCH_RUNNING, BATCH_RUNNING, BATCH_DONE] * 2
    execution = run_batches(tmp_path, form, polls)

    assert_form(execution, form)
    assert execution.result.status == "SUCCEEDED", (execution.result.error, execution.result.cause)
    assert execution.requests == (
        ["POST /jobs"] + ["GET /jobs/j-1"] * 3 + ["GET /items", "POST /jobs"] + ["GET /jobs/j-2"] * 3 + ["GET /items"]
    )
    assert execution.result.output == {"more": False}
    assert_waited(execution, form, gotos=4)


@pytest.mark.parametrize("form", FORMS)
def test_the_bound_still_applies_on_the_second_entry(tmp_path, form):
    # The second job runs for three reads: one goto more than maxIterations 2 allows.
    polls = [BATCH_RUNNING, BATCH_DONE] + [BATCH_RUNNING] * 4
    execution = run_batches(tmp_path, form, polls)

    assert execution.result.status == "FAILED"
    assert execution.result.error == "JobTimedOut", (execution.result.error, execution.result.cause)
    assert comparable(execution.failure()) == {"step": "poll", "iterations": 2, "maxIterations": 2, "jobId": "j-2"}
    assert execution.requests == (
        ["POST /jobs"] + ["GET /jobs/j-1"] * 2 + ["GET /items", "POST /jobs"] + ["GET /jobs/j-2"] * 3
    )


# --- what each form looks like when it runs -------------------------------------------------

def pass_types(execution: Execution) -> list[list[str]]:
    """The state types visited from each run of `poll` up to (not including) the next one."""
    passes: list[list[str]] = []
    for transition in execution.transitions:
        if transition.state == "poll":
            passes.append([])
        if passes:
            passes[-1].append(transition.state_type)
    return passes


def counts_after_poll(execution: Execution, where: str) -> list[int]:
    """The loop's count as each run of `poll` left its state: with the step's answer
    (`steps`, folded) or in the workflow's own counters (`loops`, counted)."""
    outputs = [
        json.loads(event["stateExitedEventDetails"]["output"])
        for event in execution.result.history
        if event["type"] == "TaskStateExited" and event["stateExitedEventDetails"]["name"] == "poll"
    ]
    counters = [output["steps"]["poll"].get("loops") if where == "steps" else output["loops"] for output in outputs]
    return [counter["poll_notDone"]["iterations"] for counter in counters]


@pytest.mark.parametrize("form, one_pass, where, counts", [
    ("folded", ["Task", "Choice", "Wait"], "steps", [1, 2, 3]),  # the target's passes
    ("counted", ["Task", "Choice", "Pass", "Wait"], "loops", [0, 1, 2]),  # the gotos taken so far
], ids=["folded", "counted"])
def test_one_pass_of_a_choice_loop_visits(tmp_path, form, one_pass, where, counts):
    execution = run_poll(poll_document(tmp_path, form), [RUNNING, RUNNING, DONE])

    assert execution.result.status == "SUCCEEDED", (execution.result.error, execution.result.cause)
    assert execution.requests == ["GET /jobs/j-1"] * 3 + ["POST /reports"]
    passes = pass_types(execution)
    assert passes[:2] == [one_pass, one_pass]
    assert passes[2][:2] == ["Task", "Choice"] and "Wait" not in passes[2]
    assert counts_after_poll(execution, where) == counts


RETRY_SCHEDULE = """\
workflows:
- workflowId: poll-job
  steps:
  - stepId: poll
    operationId: getJob
    parameters:
    - {{name: jobId, in: path, value: j-1}}
    outputs:
      status: $response.body#/status
    onSuccess:
    - name: notDone
      type: goto
      stepId: poll
      criteria:
      - condition: $response.body#/status != 'done'
      x-loop: {{mode: retry, intervalSeconds: 1, backoffRate: 2.0, {ceiling}maxIterations: 10}}
  outputs:
    status: $steps.poll.outputs.status
"""


@pytest.mark.parametrize("ceiling, sleeps", [
    ("", [1, 2, 4, 8, 16]),
    ("maxDelaySeconds: 4, ", [1, 2, 4, 4, 4]),
], ids=["backoff", "maxDelaySeconds caps"])
def test_the_retry_form_waits_on_the_retriers_schedule_and_visits_no_wait_state(tmp_path, ceiling, sleeps):
    document = write_document(tmp_path, RETRY_SCHEDULE.format(ceiling=ceiling))
    execution = run_poll(document, [RUNNING] * 5 + [DONE])

    assert execution.result.status == "SUCCEEDED", (execution.result.error, execution.result.cause)
    assert execution.requests == ["GET /jobs/j-1"] * 6
    assert execution.result.output == {"status": "done"}
    assert execution.sleeps == sleeps
    assert [t.state_type for t in execution.transitions if t.state_type == "Wait"] == []
    assert not any(name.endswith("Wait") for name in execution.states)
    assert execution.tasks == ["poll"]  # one Task state, retried by its own Retrier
    assert not any(state["Type"] == "Wait" for state in execution.asl["States"].values())


# --- what the retry form refuses ------------------------------------------------------------

BACK_TO_EARLIER = """\
workflows:
- workflowId: run-job
  steps:
  - stepId: start
    operationId: startJob
  - stepId: poll
    operationId: getJob
    parameters:
    - {name: jobId, in: path, value: j-1}
    onSuccess:
    - name: again
      type: goto
      stepId: start
      criteria:
      - condition: $response.body#/status == 'lost'
      x-loop: {mode: retry, intervalSeconds: 1, maxIterations: 3}
"""


def test_the_retry_form_on_a_goto_to_an_earlier_step_is_refused(tmp_path):
    with pytest.raises(ArazzoError, match="retry"):
        compile_bundle(write_document(tmp_path, BACK_TO_EARLIER))


def test_the_retry_form_with_wait_seconds_is_refused(tmp_path):
    loop = "{mode: retry, waitSeconds: 0, maxIterations: 3}"
    document = write_document(tmp_path, POLL.format(earlier="", loop=loop, failure=""))

    with pytest.raises(ArazzoError, match="waitSeconds") as refused:
        compile_bundle(document)
    assert "retry" in str(refused.value)


def test_each_form_compiles_to_a_different_machine_for_the_same_loop(tmp_path):
    machines = {}
    for form in FORMS:
        (tmp_path / form).mkdir()
        machines[form] = json.dumps(compile_bundle(poll_document(tmp_path / form, form))["poll-job"], sort_keys=True)
    assert len(set(machines.values())) == 3
