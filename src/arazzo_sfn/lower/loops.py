"""Pass: loops. Every backward goto waits, counts, and is bounded by its x-loop and by the
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
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from arazzo_runtime.expressions import is_expression
from arazzo_sfn.errors import Location, SemanticError, UnsupportedConstruct
from arazzo_sfn.lower.common import DEFAULT_LOOP_WAIT_SECONDS, DEFAULT_SUCCESS, HISTORY_EVENT_LIMIT, HISTORY_RESERVE, member, parse_expression, retarget, safe_key
from arazzo_sfn.model import Action, Step

# History events of one pass of a loop over one step, by form.
EVENTS_PER_PASS = {"counted": 11, "folded": 9, "retry": 3}
# What a step function raises while a retry-form loop goes on (`arazzo_runtime.errors`).
LOOP_AGAIN_ERROR = "LoopAgain"


def loop_iteration_cap(span: int = 1, form: str = "counted") -> int:
    """The most passes a loop over `span` steps may make within the history budget."""
    return (HISTORY_EVENT_LIMIT - HISTORY_RESERVE) // (EVENTS_PER_PASS[form] * span)


@dataclass(frozen=True)
class _Loop:
    key: str
    form: str  # counted | folded | retry
    target: str  # the step the loop goes back to
    counts: str  # where its {iterations, total} live in the state data
    count_state: str
    wait_state: str
    limit_state: str


class LoopsPass:

    def _is_backward(self, step: Step, action: Action) -> bool:
        if action.type != "goto" or action.step_id is None:
            return False
        return self.workflow.step(action.step_id).index <= step.index

    def _counter(self, step: Step, action: Action, kind: str) -> str:
        """The state-data key of the counter of one loop or retry action of one step."""
        key = (step.step_id, action.name, kind)
        if key not in self.counters:
            data_key = safe_key(f"{step.step_id}_{action.name}" + ("_retry" if kind == "retry" else ""))
            while data_key in self.counters.values():  # e.g. a/b_c and a_b/c: each keeps its own
                data_key += "_"
            self.counters[key] = data_key
        return self.counters[key]

    def _initial_counters(self) -> dict:
        """The counts kept in `$.loops`: counted loops and retry actions."""
        return {
            key: ({"iterations": 0, "total": 0} if kind == "loop" else {"iterations": 0})
            for (step_id, action, kind), key in self.counters.items()
            if kind != "loop" or self.loop_forms[(step_id, action)] == "counted"
        }

    def _initial_steps(self) -> dict:
        """`$.steps` as the run starts: the counts that travel with their target step."""
        steps: dict[str, dict] = {}
        for target, keys in self.folded.items():
            steps[self.step_keys[target]] = {"loops": {key: {"iterations": 0, "total": 0} for key in keys}}
        return steps

    # --- one loop ----------------------------------------------------------------------------

    def _loop_form(self, step: Step, action: Action) -> str:
        target = self.workflow.step(action.step_id)
        if action.loop is not None and action.loop.mode == "retry":
            if target.step_id != step.step_id or step.target_kind == "workflowId":
                raise SemanticError("x-loop mode retry is for a step that performs an operation and goes back to itself", action.loop.location)
            return "retry"
        foldable = (
            target.target_kind != "workflowId"
            and not self._failure_actions(target)
            and self.loop_targets.get(target.step_id, 0) == 1
        )
        return "folded" if foldable else "counted"

    def _loop(self, step: Step, action: Action) -> _Loop:
        base = f"{step.step_id}.{action.name}"
        key = self._counter(step, action, "loop")
        form = self.loop_forms.setdefault((step.step_id, action.name), self._loop_form(step, action))
        target = action.step_id
        counts = f"{self._step_path(target)}.loops.{key}" if form != "counted" else f"{self.root}.loops.{key}"
        return _Loop(key, form, target, counts, f"{base}.Count", f"{base}.Wait", f"{base}.Limit")

    def _lower_loop(self, step: Step, action: Action, rules: list[dict], condition: dict | None) -> str:
        """The rules of a backward goto, appended to the step's route; returns where the goto
        itself leads (the loop's Wait or Count; for the retry form, its Limit: had the loop
        gone on, the function would have raised LoopAgain)."""
        loop = self._loop(step, action)
        spec = action.loop
        span = step.index - self.workflow.step(action.step_id).index + 1
        cap = loop_iteration_cap(span, loop.form)
        location = spec.location if spec is not None else action.location
        error, cause = (spec.error, spec.cause) if spec is not None else ("LoopLimitExceeded", {})
        # Counted, a loop's count is the gotos taken; folded, the target's passes (one more).
        bound_test = "NumericGreaterThan" if loop.form == "folded" else "NumericGreaterThanEquals"
        # At its bound a loop fails the workflow with the x-loop error, or (onLimit: end) ends it
        # with its outputs, as an end action would: a caller may then start it again.
        at_limit = "WorkflowOutputs" if spec is not None and spec.on_limit == "end" else loop.limit_state
        if self._first_time(("loop", loop.key)):
            if at_limit == loop.limit_state:
                # The cause counts the gotos taken, whatever the form counts.
                taken = f"States.MathAdd({loop.counts}.iterations, -1)" if loop.form == "folded" else f"{loop.counts}.iterations"
                self._failure(
                    loop.limit_state, error, cause, step, location,
                    extra={"step": step.step_id, "iterations.$": taken, "maxIterationsAllowedByHistory": cap},
                )
            if loop.form == "retry":
                self._retry_loop(step, action, loop, cap)
            else:
                self._wait_states(step, action, loop, location)
        if loop.form == "retry":
            return at_limit
        limits = [{"Variable": f"{loop.counts}.total", bound_test: cap}]
        if spec is not None and spec.max_iterations is not None:
            bound = self._number_or_path(spec.max_iterations, "maxIterations", bound_test, step, location)
            limits.insert(0, {"Variable": f"{loop.counts}.iterations", **bound})
        limit = {"Or": limits} if len(limits) > 1 else limits[0]
        rules.append({**({"And": [condition, limit]} if condition else limit), "Next": at_limit})
        return loop.count_state if loop.form == "counted" else loop.wait_state

    def _wait_states(self, step: Step, action: Action, loop: _Loop, location: Location) -> None:
        wait = self._loop_wait(step, action.loop, location)
        if loop.form == "counted":
            counter, total = f"{loop.counts}.iterations", f"{loop.counts}.total"
            self._add(loop.count_state, {
                "Type": "Pass",
                "Parameters": {"iterations.$": f"States.MathAdd({counter}, 1)", "total.$": f"States.MathAdd({total}, 1)"},
                "ResultPath": loop.counts,
                "Next": loop.wait_state,
            }, location)
        else:
            self.folded.setdefault(loop.target, []).append(loop.key)
        self._add(loop.wait_state, {"Type": "Wait", **wait, "Next": loop.target}, location)
        self.loop_entries.setdefault(loop.target, []).append((loop, location))

    def _retry_loop(self, step: Step, action: Action, loop: _Loop, cap: int) -> None:
        """What the step's Task needs for the retry form, attached once the Task is built."""
        spec = action.loop
        actions = self._success_actions(step)
        earlier = actions[: actions.index(action)]
        max_iterations = None
        if spec.max_iterations is not None:
            max_iterations = self._number_or_path(spec.max_iterations, "maxIterations", "maxIterations", step, spec.location, path_key="maxIterations.$")
        success = step.success_criteria or (DEFAULT_SUCCESS,)
        self.retry_loops[step.step_id] = {
            "loop": loop,
            "error": spec.error,
            # The loop goes on while the step succeeded and the loop action's criteria hold...
            "while": [self._evaluated_id(c, step) for c in tuple(success) + tuple(action.criteria)],
            # ...and no action before it applies (the first action that applies wins).
            "unless": [[self._evaluated_id(c, step) for c in other.criteria] for other in earlier],
            "maxIterations": max_iterations,
            "budget": cap,
            "retrier": {
                "ErrorEquals": [LOOP_AGAIN_ERROR],
                "IntervalSeconds": spec.interval_seconds,
                "BackoffRate": spec.backoff_rate,
                # One more than the function ever asks for: the function ends the loop itself.
                "MaxAttempts": cap + 1,
                **({"MaxDelaySeconds": spec.max_delay_seconds} if spec.max_delay_seconds is not None else {}),
            },
        }

    def _attach_loops(self) -> None:
        """Loop counts and the retry form's Retrier, on the Tasks of the steps they concern."""
        for target in self.folded:
            for task in self.tasks.get(target, []):
                task["Parameters"]["Payload"]["loops.$"] = f"{self._step_path(target)}.loops"
                task["ResultSelector"]["loops.$"] = "$.Payload.loops"
        for step_id, retry in self.retry_loops.items():
            step = self.workflow.step(step_id)
            loop = retry["loop"]
            spec: dict[str, Any] = {"key": loop.key, "while": retry["while"], "unless": retry["unless"], "budget": retry["budget"]}
            if retry["maxIterations"] is not None:
                spec.update(retry["maxIterations"])
            for task in self.tasks.get(step_id, []):
                task["Parameters"]["Payload"]["loopAgain"] = spec
                task["ResultSelector"]["loops.$"] = "$.Payload.loops"
                task["Retry"].insert(1, dict(retry["retrier"]))
                # Never reached while the function counts: the history budget as a last stop.
                task["Catch"] = [{"ErrorEquals": [LOOP_AGAIN_ERROR], "ResultPath": f"{self._step_path(step_id)}.loopError", "Next": f"{loop.limit_state}.Budget"}] + task.get("Catch", [])
            if self._first_time(("budget", loop.key)):
                self._add(f"{loop.limit_state}.Budget", {
                    "Type": "Fail",
                    "Error": retry["error"],
                    "Cause": f"step {step_id}: the loop used up the execution history's budget of {retry['budget']} passes",
                }, step.location)

    def _loop_wait(self, step: Step, spec: Any, location: Location) -> dict:
        """The Wait's seconds: a number, an input, or what the answer says (with a fallback)."""
        if spec is None:
            return {"Seconds": DEFAULT_LOOP_WAIT_SECONDS}
        value = spec.wait_seconds
        if is_expression(value):
            expression = parse_expression(value, location)
            if expression.kind in ("response_header", "response_body"):
                if spec.fallback_wait_seconds is None:
                    raise SemanticError(
                        f"x-loop waitSeconds {value} may not resolve (no such header or member): declare fallbackWaitSeconds, the wait when it does not",
                        location,
                    )
                # The step's function turns the value into whole seconds, or the fallback.
                read = self._read(step, {"seconds": value, "fallback": spec.fallback_wait_seconds})
                return {"SecondsPath": member(f"{self._step_path(step.step_id)}.reads", read)}
        return self._number_or_path(value, "waitSeconds", "Seconds", step, location)

    def _number_or_path(self, value: Any, field: str, key: str, step: Step, location: Location, path_key: str | None = None) -> dict:
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return {key: value}
        if is_expression(value):
            expression = parse_expression(value, location)
            if expression.kind != "inputs":
                raise UnsupportedConstruct(f"x-loop {field} must be a number or an $inputs expression{' or an expression about the response' if field == 'waitSeconds' else ''}", location)
            prop = self.properties.get(expression.name)
            if not isinstance(prop, dict) or ("default" not in prop and expression.name not in (self.workflow.inputs.get("required") or [])):
                raise SemanticError(f"x-loop {field} uses input {expression.name!r}, which needs a default or must be required", location)
            return {path_key or key + "Path": self._value_path(expression, step, location)}
        raise SemanticError(f"x-loop {field} must be a non-negative integer or an $inputs expression", location)

    # --- entering a loop again -----------------------------------------------------------------

    def _reset_loops_on_entry(self, start: str) -> str:
        """A loop entered again (from outside it) gets its whole maxIterations again; its total,
        which guards the history budget, keeps counting. Every transition into a loop's target
        step, except the loop's own, goes through a Pass that resets the count. (The retry
        form needs none: a Task's retry count starts again each time the Task is entered.)"""
        for target, loops in self.loop_entries.items():
            inside = {loop.wait_state for loop, _ in loops}
            entries: dict[str, dict] = {}
            following = target
            for loop, location in reversed(loops):
                name = f"{target}.EnterLoop" if following == target else f"{target}.EnterLoop.{loop.key}"
                self._add(name, {
                    "Type": "Pass",
                    "Comment": "Entering the loop: its count starts again.",
                    "Parameters": {"iterations": 0, "total.$": f"{loop.counts}.total"},
                    "ResultPath": loop.counts,
                    "Next": following,
                }, location)
                entries[name] = self.states.pop(name)
                following = name
            for name, state in self.states.items():
                if name not in inside:
                    retarget(state, target, following)
            # Reading order: the entry right before the step it leads into.
            ordered: dict[str, dict] = {}
            for name, state in self.states.items():
                if name == target:
                    ordered.update(reversed(list(entries.items())))
                ordered[name] = state
            self.states = ordered
            if start == target:
                start = following
        return start
