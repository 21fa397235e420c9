"""Pass: loops. Every backward goto waits, counts, and is bounded by its x-loop and by the
history budget; a loop entered again from outside gets its whole bound again."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from arazzo_runtime.expressions import is_expression
from arazzo_sfn.errors import Location, SemanticError, UnsupportedConstruct
from arazzo_sfn.lower.common import DEFAULT_LOOP_WAIT_SECONDS, retarget, safe_key, loop_iteration_cap, parse_expression
from arazzo_sfn.model import Action, Step


@dataclass(frozen=True)
class _Loop:
    key: str
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
        return {key: ({"iterations": 0, "total": 0} if kind == "loop" else {"iterations": 0}) for (_, _, kind), key in self.counters.items()}

    def _reset_loops_on_entry(self, start: str) -> str:
        """A loop entered again (from outside it) gets its whole maxIterations again; its total,
        which guards the history budget, keeps counting. Every transition into a loop's target
        step, except the loop's own, goes through a Pass that resets the count."""
        for target, loops in self.loop_entries.items():
            inside = {wait for _, wait, _ in loops}
            entries: dict[str, dict] = {}
            following = target
            for key, _, location in reversed(loops):
                name = f"{target}.EnterLoop" if following == target else f"{target}.EnterLoop.{key}"
                self._add(name, {
                    "Type": "Pass",
                    "Comment": "Entering the loop: its count starts again.",
                    "Parameters": {"iterations": 0, "total.$": f"{self.root}.loops.{key}.total"},
                    "ResultPath": f"{self.root}.loops.{key}",
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

    def _loop(self, step: Step, action: Action) -> _Loop:
        base = f"{step.step_id}.{action.name}"
        return _Loop(self._counter(step, action, "loop"), f"{base}.Count", f"{base}.Wait", f"{base}.Limit")

    def _loop_limit(self, step: Step, action: Action, loop: _Loop) -> dict:
        spec = action.loop
        span = step.index - self.workflow.step(action.step_id).index + 1
        cap = loop_iteration_cap(span)
        counter = f"{self.root}.loops.{loop.key}.iterations"  # since the loop was entered
        total = f"{self.root}.loops.{loop.key}.total"  # in the whole execution: the history budget
        limits = [{"Variable": total, "NumericGreaterThanEquals": cap}]
        wait: dict[str, Any] = {"Seconds": DEFAULT_LOOP_WAIT_SECONDS}
        error, cause = "LoopLimitExceeded", {}
        location = action.location
        if spec is not None:
            location = spec.location
            error, cause = spec.error, spec.cause
            wait = self._number_or_path(spec.wait_seconds, "waitSeconds", "Seconds", step, location)
            if spec.max_iterations is not None:
                bound = self._number_or_path(spec.max_iterations, "maxIterations", "NumericGreaterThanEquals", step, location)
                limits.insert(0, {"Variable": counter, **bound})
        if self._first_time(("loop", loop.key)):
            self._add(loop.count_state, {
                "Type": "Pass",
                "Parameters": {"iterations.$": f"States.MathAdd({counter}, 1)", "total.$": f"States.MathAdd({total}, 1)"},
                "ResultPath": f"{self.root}.loops.{loop.key}",
                "Next": loop.wait_state,
            }, location)
            self._add(loop.wait_state, {"Type": "Wait", **wait, "Next": action.step_id}, location)
            self.loop_entries.setdefault(action.step_id, []).append((loop.key, loop.wait_state, location))
            self._failure(
                loop.limit_state, error, cause, step, location,
                extra={"step": step.step_id, "iterations.$": counter, "maxIterationsAllowedByHistory": cap},
            )
        return {"Or": limits} if len(limits) > 1 else limits[0]

    def _number_or_path(self, value: Any, field: str, key: str, step: Step, location: Location) -> dict:
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return {key: value}
        if is_expression(value):
            expression = parse_expression(value, location)
            if field == "waitSeconds" and expression.kind == "response_header" and expression.name.lower() == "retry-after":
                # Wait what the answer proposes: every step function gives Retry-After in seconds.
                return {key + "Path": f"{self._step_path(step.step_id)}.retryAfterSeconds"}
            if expression.kind != "inputs":
                raise UnsupportedConstruct(f"x-loop {field} must be a number, an $inputs expression or (waitSeconds) $response.header.Retry-After", location)
            prop = self.properties.get(expression.name)
            if not isinstance(prop, dict) or ("default" not in prop and expression.name not in (self.workflow.inputs.get("required") or [])):
                raise SemanticError(f"x-loop {field} uses input {expression.name!r}, which needs a default or must be required", location)
            return {key + "Path": self._value_path(expression, step, location)}
        raise SemanticError(f"x-loop {field} must be a non-negative integer or an $inputs expression", location)
