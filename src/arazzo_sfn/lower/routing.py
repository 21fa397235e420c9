"""Pass: routing after each step. Success criteria, then the success actions in order; on
failure, the failure actions, retries, and the Fail states that end the workflow."""

from __future__ import annotations

import math
from typing import Any

from arazzo_sfn.errors import Location, SemanticError, UnsupportedConstruct
from arazzo_sfn.lower.common import STEP_FAILED_ERROR, format_literal
from arazzo_sfn.lower.criteria import status_2xx
from arazzo_sfn.model import Action, Step


class RoutingPass:

    def _route_name(self, step: Step) -> str:
        return f"{step.step_id}.Route"

    def _success_actions(self, step: Step) -> tuple[Action, ...]:
        # Step-level actions come first; workflow-level ones still apply after them.
        return tuple(step.on_success or ()) + self.workflow.success_actions

    def _failure_actions(self, step: Step) -> tuple[Action, ...]:
        return tuple(step.on_failure or ()) + self.workflow.failure_actions

    def _lower_routing(self, step: Step) -> None:
        """One Choice after the task: success criteria first, then the success actions in
        order (the first whose criteria hold wins), then the spec's default (next step)."""
        choice: dict[str, Any] = {"Type": "Choice"}
        self._add(self._route_name(step), choice, step.location)  # right after the task, for reading order
        # An inlined workflow has no answer to judge: its own failures end the execution. A child
        # execution that failed is caught; one that succeeded is judged by the step's criteria.
        judged = step.target_kind != "workflowId" or (self._is_child_step(step) and step.success_criteria)
        rules: list[dict] = [{"Not": self._success_rule(step), "Next": self._lower_failure_routing(step)}] if judged else []
        retry_actions = [action for action in self._failure_actions(step) if action.type == "retry"]
        if retry_actions:
            # A success gives the step's retry budget back, for the next time it runs.
            names = [f"{step.step_id}.{action.name}.Reset" for action in retry_actions] + [f"{step.step_id}.Actions"]
            for action, name, following in zip(retry_actions, names, names[1:], strict=False):
                self._add(name, {
                    "Type": "Pass",
                    "Parameters": {"iterations": 0},
                    "ResultPath": f"{self.root}.loops.{self._counter(step, action, 'retry')}",
                    "Next": following,
                }, action.location)
            choice.update({"Choices": rules, "Default": names[0]})
            choice = {"Type": "Choice"}
            self._add(names[-1], choice, step.location)
            rules = []
        default = None
        for action in self._success_actions(step):
            condition = self._criteria_rule(action.criteria, step) if action.criteria else None
            target = self._goto_or_end(step, action, rules, condition)
            if condition is None:
                default = target
                break  # the actions after one without criteria can never be chosen
            rules.append({**condition, "Next": target})
        if default is None:
            default = self._next_after(step)
        if rules:
            choice.update({"Choices": rules, "Default": default})
        else:
            choice.update({"Type": "Pass", "Next": default})

    def _success_rule(self, step: Step) -> dict:
        """The step's successCriteria as one Choice rule; without any, an HTTP 2xx."""
        if step.success_criteria:
            return self._criteria_rule(step.success_criteria, step)
        return status_2xx(self._step_path(step.step_id))

    def _goto_or_end(self, step: Step, action: Action, rules: list[dict], condition: dict | None) -> str:
        """The state an end or goto action leads to; a backward goto also adds its bound rule."""
        if action.type == "retry":
            raise SemanticError("retry actions belong in onFailure", action.location)
        if action.type == "end":
            if action.loop is not None:
                raise SemanticError("x-loop belongs on a goto that goes back to this or an earlier step", action.loop.location)
            if action.fail is None:
                return "WorkflowOutputs"
            name = f"{step.step_id}.{action.name}"
            if self._first_time(("fail", step.step_id, action.name)):
                self._failure(name, action.fail.error, action.fail.cause, step, action.fail.location)
            return name
        if action.fail is not None:
            raise SemanticError("x-fail belongs on an end action", action.fail.location)
        if action.workflow_id is not None:
            raise UnsupportedConstruct("goto a workflow is not supported yet", action.location)
        if not self._is_backward(step, action):
            if action.loop is not None:
                raise SemanticError("x-loop belongs on a goto that goes back to this or an earlier step", action.loop.location)
            return action.step_id
        return self._lower_loop(step, action, rules, condition)

    def _next_after(self, step: Step) -> str:
        following = step.index + 1
        return self.workflow.steps[following].step_id if following < len(self.workflow.steps) else "WorkflowOutputs"


    def _failure_route_name(self, step: Step) -> str:
        return f"{step.step_id}.OnFailure"

    def _lower_failure_routing(self, step: Step) -> str:
        actions = self._failure_actions(step)
        if not actions:
            return self._step_failed(step)
        name = self._failure_route_name(step)
        if not self._first_time(("on failure", step.step_id)):
            return name
        choice: dict[str, Any] = {"Type": "Choice"}
        self._add(name, choice, step.location)
        rules: list[dict] = []
        default = None
        for action in actions:
            condition = self._criteria_rule(action.criteria, step) if action.criteria else None
            if action.type == "retry":
                counter = f"{self.root}.loops.{self._counter(step, action, 'retry')}.iterations"
                limit = 1 if action.retry_limit is None else action.retry_limit  # the spec: one retry when absent
                budget = {"Variable": counter, "NumericLessThan": limit}
                rules.append({**({"And": [condition, budget]} if condition else budget), "Next": self._retry_states(step, action, counter)})
                continue  # once the budget is spent, the later actions apply
            if action.type == "end" and action.fail is None:
                target = self._step_failed(step)  # ending on failure ends the workflow failed
            else:
                target = self._goto_or_end(step, action, rules, condition)
            if condition is None:
                default = target
                break
            rules.append({**condition, "Next": target})
        choice.update({"Choices": rules, "Default": default or self._step_failed(step)})
        if not rules:
            choice.clear()
            choice.update({"Type": "Pass", "Next": default or self._step_failed(step)})
        return name

    def _retry_states(self, step: Step, action: Action, counter: str) -> str:
        """Count, wait (Retry-After wins over retryAfter), run the action's target if it has
        one, then run the step again."""
        base = f"{step.step_id}.{action.name}"
        at = self._step_path(step.step_id)
        seconds = math.ceil(action.retry_after or 0)
        again = step.step_id
        if action.step_id is not None:
            target = self.workflow.step(action.step_id)
            again = f"{base}.{target.step_id}"
            self._retry_target_task(target, again, step.step_id)
        elif action.workflow_id is not None:
            raise UnsupportedConstruct("a retry that runs a workflow first is not supported yet", action.location)
        self._add(f"{base}.Count", {
            "Type": "Pass",
            "Parameters": {"iterations.$": f"States.MathAdd({counter}, 1)"},
            "ResultPath": counter.rsplit(".", 1)[0],
            "Next": f"{base}.Delay",
        }, action.location)
        self._add(f"{base}.Delay", {
            "Type": "Choice",
            "Choices": [{
                "And": [{"Variable": f"{at}.retryAfterSeconds", "IsPresent": True}, {"Variable": f"{at}.retryAfterSeconds", "IsNumeric": True}],
                "Next": f"{base}.WaitRetryAfter",
            }],
            "Default": f"{base}.Wait",
        }, action.location)
        self._add(f"{base}.WaitRetryAfter", {"Type": "Wait", "SecondsPath": f"{at}.retryAfterSeconds", "Next": again}, action.location)
        self._add(f"{base}.Wait", {"Type": "Wait", "Seconds": seconds, "Next": again}, action.location)
        return f"{base}.Count"

    def _retry_target_task(self, target: Step, name: str, then: str) -> None:
        """A retry naming a step runs that step's operation first; when its success criteria
        hold, the failed step is retried, otherwise the workflow fails on the target."""
        check = f"{name}.Check"
        self._add_task(target, name, check)
        self._add(check, {"Type": "Choice", "Choices": [{"Not": self._success_rule(target), "Next": self._step_failed(target)}], "Default": then}, target.location)

    def _step_failed(self, step: Step) -> str:
        """Where a failed step ends the workflow: StepFailed naming the step and the HTTP answer,
        or, when the function itself failed, that error and cause unchanged."""
        name = f"{step.step_id}.Failed"
        if not self._first_time(("failed", step.step_id)):
            return name
        at = self._step_path(step.step_id)
        if self._is_child_step(step):
            self._child_step_failed(step, name, at)
            return name
        operation = step.operation.operation_id or f"{step.operation.method} {step.operation.path}"
        cause_state = name
        if self._failure_actions(step):
            # With failure actions the task catches errors, so there may be no HTTP answer.
            cause_state = f"{name}.Cause"
            self._add(name, {
                "Type": "Choice",
                "Choices": [{"Variable": f"{at}.statusCode", "IsPresent": True, "Next": cause_state}],
                "Default": f"{name}.Error",
            }, step.location)
        self._add(cause_state, {
            "Type": "Pass",
            "Comment": "The step's successCriteria do not hold: say which step, and what the server answered.",
            "Parameters": {
                "message.$": f"States.Format('Step {format_literal(step.step_id)} ({format_literal(operation)}) failed its success criteria: HTTP {{}}', {at}.statusCode)",
                "step": step.step_id,
                "operationId": step.operation.operation_id,
                "statusCode.$": f"{at}.statusCode",
                "response.$": f"{at}.body",
            },
            "ResultPath": "$.failure",
            "Next": f"{name}.Fail",
        }, step.location)
        self._add(f"{name}.Fail", {"Type": "Fail", "Error": STEP_FAILED_ERROR, "CausePath": "States.JsonToString($.failure)"}, step.location)
        if self._failure_actions(step):
            # The function's own error and cause, unchanged.
            self._add(f"{name}.Error", {"Type": "Fail", "ErrorPath": f"{at}.Error", "CausePath": f"{at}.Cause"}, step.location)
        return name

    def _child_step_failed(self, step: Step, name: str, at: str) -> None:
        """A child execution that failed ends the workflow with the child's error and cause;
        one that succeeded but not by the step's criteria, with StepFailed and its outputs."""
        choices = [{"Variable": f"{at}.child", "IsPresent": True, "Next": f"{name}.Child"}]
        if self._failure_actions(step):
            choices.append({"Variable": f"{at}.Error", "IsPresent": True, "Next": f"{name}.Error"})
        self._add(name, {"Type": "Choice", "Choices": choices, "Default": f"{name}.Cause"}, step.location)
        self._add(f"{name}.Child", {"Type": "Fail", "ErrorPath": f"{at}.child.Error", "CausePath": f"{at}.child.Cause"}, step.location)
        if self._failure_actions(step):
            self._add(f"{name}.Error", {"Type": "Fail", "ErrorPath": f"{at}.Error", "CausePath": f"{at}.Cause"}, step.location)
        self._add(f"{name}.Cause", {
            "Type": "Pass",
            "Comment": "The child execution succeeded, but not by the step's successCriteria.",
            "Parameters": {
                "message": f"Step {step.step_id} (workflow {step.operation_ref}) failed its success criteria",
                "step": step.step_id,
                "workflowId": step.operation_ref,
                "executionArn.$": f"{at}.executionArn",
                "outputs.$": f"{at}.outputs",
            },
            "ResultPath": "$.failure",
            "Next": f"{name}.Fail",
        }, step.location)
        self._add(f"{name}.Fail", {"Type": "Fail", "Error": STEP_FAILED_ERROR, "CausePath": "States.JsonToString($.failure)"}, step.location)

    def _failure(self, name: str, error: str, cause: dict, step: Step, location: Location, extra: dict | None = None) -> None:
        parameters = dict(extra or {})
        for key, value in cause.items():
            entry, lowered = self._template_entry(key, value, step, location)
            parameters[entry] = lowered
        self._add(name, {"Type": "Pass", "Parameters": parameters, "ResultPath": "$.failure", "Next": f"{name}.Fail"}, location)
        self._add(f"{name}.Fail", {"Type": "Fail", "Error": error, "CausePath": "States.JsonToString($.failure)"}, location)

