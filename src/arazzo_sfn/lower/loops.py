"""Passes: loops. Every backward goto waits, counts, and is bounded by its x-loop and by the
history budget; a loop entered again from outside gets its whole bound again.

A loop takes one of three forms:
- folded (the default): the loop's count travels with its target step. The target's Task
  sends `loops` (from `$.steps.<target>.loops`) and its function answers each count one
  higher, so one pass of a step that goes back to itself is Task → Choice → Wait: 3 state
  transitions and 9 history events.
- counted: a Pass counts before the Wait (Task → Choice → Pass → Wait: 4 and 11), where the
  count cannot travel with the target: a target with failure actions (its Task catches
  errors, and a caught error replaces its answer), a target of several loops, a workflowId
  step.
- retry (`x-loop.mode: retry`, a step that goes back to itself): the Task's own Retry. Its
  function raises `LoopAgain` while the loop action's criteria hold (see
  `arazzo_runtime.step`), and a Retrier on that error waits on the x-loop's schedule: 1
  transition and 3 events a pass.

`plan` runs before any state is built: it finds the loops the routing will lower, in the
order it lowers them, so every transition into a loop's target can go through the loop's
entry. The routing lowers each loop's own states (`lower_loop`); `lower_entries`, once every
step is lowered, adds the entries and the retry form's last stop.
"""

from __future__ import annotations

from typing import Any

from arazzo_runtime.expressions import is_expression
from arazzo_runtime.payload import RetryLoopTemplate, StatePath
from arazzo_sfn.errors import Location, LoweringError
from arazzo_sfn.lower.common import DEFAULT_LOOP_WAIT_SECONDS, DEFAULT_SUCCESS, HISTORY_EVENT_LIMIT, HISTORY_RESERVE, member, parse_expression
from arazzo_sfn.lower.context import Context, Loop, LoopEntry, RetryLoop
from arazzo_sfn.lower.criteria import evaluated_id
from arazzo_sfn.lower.fail import failure_states
from arazzo_sfn.lower.tasks import LOOP_AGAIN_ERROR
from arazzo_sfn.lower.values import value_path
from arazzo_sfn.model import Action, LoopSpec, Step

# History events of one pass of a loop over one step, by form.
EVENTS_PER_PASS = {"counted": 11, "folded": 9, "retry": 3}


def loop_iteration_cap(span: int = 1, form: str = "counted") -> int:
    """The most passes a loop over `span` steps may make within the history budget."""
    return (HISTORY_EVENT_LIMIT - HISTORY_RESERVE) // (EVENTS_PER_PASS[form] * span)


# --- before the steps: the loops the routing will lower -------------------------------------------


def plan(ctx: Context) -> None:
    """Visit each step's actions as the routing does (failure actions first where a step's
    answer is judged, the retry actions' counters, the success actions, stopping after one
    without criteria), registering the counters in that order and each loop once."""
    visited_failure: set[str] = set()
    planned = ctx.planned_loops

    def visit(step: Step, actions: tuple[Action, ...], on_failure: bool) -> None:
        for action in actions:
            if on_failure and action.type == "retry":
                ctx.counter(step, action, "retry")
                continue
            if ctx.is_backward(step, action):
                loop = _loop(ctx, step, action, _form(ctx, step, action))
                if loop.key not in planned:
                    planned.add(loop.key)
                    if loop.form != "retry":
                        location = action.loop.location if action.loop is not None else action.location
                        ctx.loop_entries.setdefault(loop.target, []).append(LoopEntry(loop, location))
                    if loop.form == "folded":
                        ctx.folded.setdefault(loop.target, []).append(loop.key)
            if not action.criteria:
                break

    def visit_failure(step: Step) -> None:
        if step.step_id not in visited_failure:
            visited_failure.add(step.step_id)
            visit(step, ctx.failure_actions(step), on_failure=True)

    for step in ctx.lowered_steps:
        child = ctx.is_child_step(step)
        if step.target_kind != "workflowId" or (child and step.success_criteria):
            visit_failure(step)
        for action in ctx.failure_actions(step):
            if action.type == "retry":
                ctx.counter(step, action, "retry")
        visit(step, ctx.success_actions(step), on_failure=False)
        if child and ctx.failure_actions(step):
            visit_failure(step)


def _form(ctx: Context, step: Step, action: Action) -> str:
    target = ctx.workflow.step(action.step_id or "")
    if action.loop is not None and action.loop.mode == "retry":
        return "retry"  # validation holds it to a step that performs an operation and goes back to itself
    foldable = (
        target.target_kind != "workflowId"
        and not ctx.failure_actions(target)
        and ctx.loop_targets.get(target.step_id, 0) == 1
    )
    return "folded" if foldable else "counted"


def _loop(ctx: Context, step: Step, action: Action, form: str) -> Loop:
    base = f"{step.step_id}.{action.name}"
    key = ctx.counter(step, action, "loop")
    ctx.loop_forms.setdefault((step.step_id, action.name), form)
    target = action.step_id or ""
    counts = f"{ctx.step_path(target)}.loops.{key}" if form != "counted" else f"{ctx.root}.loops.{key}"
    return Loop(key, form, target, counts, f"{base}.Count", f"{base}.Wait", f"{base}.Limit")


def initial_counters(ctx: Context) -> dict[str, dict[str, int]]:
    """The counts kept in `$.loops`: counted loops and retry actions."""
    return {
        key: ({"iterations": 0, "total": 0} if kind == "loop" else {"iterations": 0})
        for (step_id, action, kind), key in ctx.counters.items()
        if kind != "loop" or ctx.loop_forms[(step_id, action)] == "counted"
    }


def initial_steps(ctx: Context) -> dict[str, dict[str, Any]]:
    """`$.steps` as the run starts: the counts that travel with their target step."""
    return {
        ctx.step_keys[target]: {"loops": {key: {"iterations": 0, "total": 0} for key in keys}}
        for target, keys in ctx.folded.items()
    }


# --- in the routing: one loop ---------------------------------------------------------------------


def lower_loop(ctx: Context, step: Step, action: Action, rules: list[dict[str, Any]], condition: dict[str, Any] | None) -> str:
    """The rules of a backward goto, appended to the step's route; returns where the goto
    itself leads (the loop's Wait or Count; for the retry form, its Limit: had the loop
    gone on, the function would have raised LoopAgain)."""
    loop = _loop(ctx, step, action, _form(ctx, step, action))
    if loop.key not in ctx.planned_loops:  # pragma: no cover - the plan visits the actions as the routing does
        raise LoweringError(f"the loop of step {step.step_id!r}, action {action.name!r} was not planned: transitions into its target would skip its entry", action.location)
    spec = action.loop
    span = step.index - ctx.workflow.step(loop.target).index + 1
    cap = loop_iteration_cap(span, loop.form)
    location = spec.location if spec is not None else action.location
    error, cause = (spec.error, spec.cause) if spec is not None else ("LoopLimitExceeded", {})
    # Counted, a loop's count is the gotos taken; folded, the target's passes (one more).
    bound_test = "NumericGreaterThan" if loop.form == "folded" else "NumericGreaterThanEquals"
    # At its bound a loop fails the workflow with the x-loop error, or (onLimit: end) ends it
    # with its outputs, as an end action would: a caller may then start it again.
    at_limit = "WorkflowOutputs" if spec is not None and spec.on_limit == "end" else loop.limit_state
    if ctx.first_time(("loop", loop.key)):
        if at_limit == loop.limit_state:
            # The cause counts the gotos taken, whatever the form counts.
            taken = f"States.MathAdd({loop.counts}.iterations, -1)" if loop.form == "folded" else f"{loop.counts}.iterations"
            extra: dict[str, Any] = {"step": step.step_id, "iterations.$": taken}
            if spec is not None and spec.max_iterations is not None:
                # The limit the workflow set, beside the one the history sets: which was reached shows.
                extra.update(_number_or_path(ctx, spec.max_iterations, "maxIterations", step, location, path_key="maxIterations.$"))
            extra["maxIterationsAllowedByHistory"] = cap
            failure_states(ctx, loop.limit_state, error, cause, step, location, extra=extra)
        if loop.form == "retry":
            assert spec is not None  # the retry form is chosen by x-loop
            _retry_loop(ctx, step, action, spec, loop, cap)
        else:
            _wait_states(ctx, step, spec, loop, location)
    if loop.form == "retry":
        return at_limit
    limits: list[dict[str, Any]] = [{"Variable": f"{loop.counts}.total", bound_test: cap}]
    if spec is not None and spec.max_iterations is not None:
        bound = _number_or_path(ctx, spec.max_iterations, bound_test, step, location)
        limits.insert(0, {"Variable": f"{loop.counts}.iterations", **bound})
    limit = {"Or": limits} if len(limits) > 1 else limits[0]
    rules.append({**({"And": [condition, limit]} if condition else limit), "Next": at_limit})
    return loop.count_state if loop.form == "counted" else loop.wait_state


def _wait_states(ctx: Context, step: Step, spec: LoopSpec | None, loop: Loop, location: Location) -> None:
    wait = _loop_wait(ctx, step, spec, location)
    if loop.form == "counted":
        counter, total = f"{loop.counts}.iterations", f"{loop.counts}.total"
        ctx.add(loop.count_state, {
            "Type": "Pass",
            "Parameters": {"iterations.$": f"States.MathAdd({counter}, 1)", "total.$": f"States.MathAdd({total}, 1)"},
            "ResultPath": loop.counts,
            "Next": loop.wait_state,
        }, location)
    # The loop's own way back goes straight to its target: only an entry from outside starts the count again.
    ctx.add(loop.wait_state, {"Type": "Wait", **wait, "Next": loop.target}, location)


def _retry_loop(ctx: Context, step: Step, action: Action, spec: LoopSpec, loop: Loop, cap: int) -> None:
    """What the step's Task carries for the retry form: the loop its function repeats
    (`loopAgain`) and the Retrier that waits between passes."""
    actions = ctx.success_actions(step)
    earlier = actions[: actions.index(action)]
    success = step.success_criteria or (DEFAULT_SUCCESS,)
    max_iterations: int | StatePath | None = None
    if spec.max_iterations is not None:
        bound = _number_or_path(ctx, spec.max_iterations, "maxIterations", step, spec.location, path_key="maxIterations.$")
        max_iterations = StatePath(bound["maxIterations.$"]) if "maxIterations.$" in bound else int(bound["maxIterations"])
    loop_again = RetryLoopTemplate(
        key=loop.key,
        # The loop goes on while the step succeeded and the loop action's criteria hold...
        holds=tuple(evaluated_id(ctx, c, step) for c in tuple(success) + tuple(action.criteria)),
        # ...and no action before it applies (the first action that applies wins).
        unless=tuple(tuple(evaluated_id(ctx, c, step) for c in other.criteria) for other in earlier),
        budget=cap,
        max_iterations=max_iterations,
    )
    retrier = {
        "ErrorEquals": [LOOP_AGAIN_ERROR],
        "IntervalSeconds": spec.interval_seconds,
        "BackoffRate": spec.backoff_rate,
        # One more than the function ever asks for: the function ends the loop itself.
        "MaxAttempts": cap + 1,
        **({"MaxDelaySeconds": spec.max_delay_seconds} if spec.max_delay_seconds is not None else {}),
    }
    ctx.retry_loops[step.step_id] = RetryLoop(loop, spec.error, loop_again, retrier, cap)


def _loop_wait(ctx: Context, step: Step, spec: LoopSpec | None, location: Location) -> dict[str, Any]:
    """The Wait's seconds: a number, an input, or what the answer says (with a fallback)."""
    if spec is None:
        return {"Seconds": DEFAULT_LOOP_WAIT_SECONDS}
    value = spec.wait_seconds
    if is_expression(value):
        expression = parse_expression(value, location, ctx.workflow.version)
        if expression.kind in ("response_header", "response_body"):
            # The step's function turns the value into whole seconds, or the fallback (which
            # validation requires of such a wait).
            read = ctx.read(step, {"seconds": value, "fallback": spec.fallback_wait_seconds})
            return {"SecondsPath": member(f"{ctx.step_path(step.step_id)}.reads", read)}
    return _number_or_path(ctx, value, "Seconds", step, location)


def _number_or_path(ctx: Context, value: Any, key: str, step: Step, location: Location, path_key: str | None = None) -> dict[str, Any]:
    """A count as validation leaves it: a non-negative integer, or an $inputs expression
    whose input has a default or is required."""
    if is_expression(value):
        return {path_key or key + "Path": value_path(ctx, parse_expression(value, location, ctx.workflow.version), step, location)}
    return {key: value}


# --- once every step is lowered: entering a loop again --------------------------------------------


def lower_entries(ctx: Context) -> None:
    """A loop entered again (from outside it) gets its whole maxIterations again; its total,
    which guards the history budget, keeps counting. Every transition into a loop's target
    step, except the loop's own, goes through a Pass that resets the count (`Context.enter`).
    (The retry form needs none: a Task's retry count starts again each time the Task is
    entered; its last stop is a Fail at the history budget.)"""
    for target, entries in ctx.loop_entries.items():
        names = [f"{target}.EnterLoop.{entry.loop.key}" for entry in entries[:-1]] + [f"{target}.EnterLoop"]
        for entry, name, following in zip(entries, names, names[1:] + [target], strict=True):
            # Reading order: the entries right before the step they lead into.
            ctx.add(name, {
                "Type": "Pass",
                "Comment": "Entering the loop: its count starts again.",
                "Parameters": {"iterations": 0, "total.$": f"{entry.loop.counts}.total"},
                "ResultPath": entry.loop.counts,
                "Next": following,
            }, entry.location, before=target)
    for step_id, retry in ctx.retry_loops.items():
        if ctx.first_time(("budget", retry.loop.key)):
            ctx.add(f"{retry.loop.limit_state}.Budget", {
                "Type": "Fail",
                "Error": retry.error,
                "Cause": f"step {step_id}: the loop used up the execution history's budget of {retry.budget} passes",
            }, ctx.workflow.step(step_id).location)
