"""Stage 4, lower: a workflow model becomes an ASL state machine (JSONPath query language).

The state data of every execution has one layout:
    $.inputs              the workflow inputs, with the schema's defaults applied
    $.steps.<step>        the latest answer of each step: {statusCode, headers, body,
                          retryAfterSeconds, criteria}, or {Error, Cause} when its function failed
    $.loops.<key>         {iterations, total} of each backward goto (since the loop was entered,
                          and in the whole execution); {iterations} of each retry action
    $.calls.<step>        a called workflow's own inputs, steps, loops and outputs, same layout
    $.failure             the cause of a failure, built just before a Fail state
Step outputs are not copied anywhere: `$steps.s.outputs.o` is resolved at compile time to
the place in `$.steps.s` that the output's expression points at, so a poll loop costs
no extra state per iteration.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any, Callable

from arazzo_runtime import conditions as cr
from arazzo_runtime.expressions import EMBEDDED_EXPRESSION, ExpressionSyntaxError, RuntimeExpression, is_expression
from arazzo_runtime.expressions import parse_expression as _parse_expression
from arazzo_sfn.errors import ExpressionError, Location, SemanticError, UnsupportedConstruct
from arazzo_sfn.model import Action, Criterion, Step, Workflow

# Step Functions fails an execution at 25,000 history events. One pass of a poll loop
# (Task 5, Choice 2, counting Pass 2, Wait 2 events) costs 11; keep 8% of the history
# for retries of failed attempts (3 events each) and for the states outside the loop.
HISTORY_EVENT_LIMIT = 25_000
HISTORY_RESERVE = 2_000
EVENTS_PER_LOOP_PASS = 11

# Retry the Lambda service's own transient errors, as AWS recommends for Lambda tasks.
LAMBDA_SERVICE_RETRY = {
    "ErrorEquals": [
        "Lambda.ClientExecutionTimeoutException",
        "Lambda.ServiceException",
        "Lambda.AWSLambdaException",
        "Lambda.SdkClientException",
        "Lambda.TooManyRequestsException",
    ],
    "IntervalSeconds": 2,
    "BackoffRate": 2,
    "MaxAttempts": 6,
}
# What every step function returns; the Task keeps exactly these in $.steps.<step>.
RESPONSE_KEYS = ("statusCode", "headers", "body", "retryAfterSeconds", "criteria")
DEFAULT_LOOP_WAIT_SECONDS = 30
STEP_FAILED_ERROR = "StepFailed"
INVALID_INPUT_ERROR = "InvalidInput"
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def lower_workflow(workflow: Workflow, resolve: Callable[[str], Workflow] | None = None) -> dict:
    """`resolve` gives the other workflows of the document, for workflowId steps and dependsOn."""
    return _Lowering(workflow, resolve).run()


def loop_iteration_cap(span: int = 1) -> int:
    """The most times a backward goto over `span` steps may be taken within the history budget."""
    return (HISTORY_EVENT_LIMIT - HISTORY_RESERVE) // (EVENTS_PER_LOOP_PASS * span)


def function_placeholder(step_id: str) -> str:
    pascal = "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", step_id) if part)
    return f"{pascal}FunctionArn"


@dataclass(frozen=True)
class _Loop:
    key: str
    count_state: str
    wait_state: str
    limit_state: str


class _Lowering:
    def __init__(self, workflow: Workflow, resolve: Callable[[str], Workflow] | None = None, *, root: str = "$", placeholder_prefix: str = "", call_stack: tuple[str, ...] = ()):
        self.workflow = workflow
        self.resolve = resolve
        self.root = root  # where this workflow's inputs, steps and loops live in the state data
        self.placeholder_prefix = placeholder_prefix
        self.call_stack = call_stack + (workflow.workflow_id,)
        self.calls: dict[str, str] = {}  # called workflow id -> where its last call's data is
        self.states: dict[str, dict] = {}
        self.step_keys = _data_keys([s.step_id for s in workflow.steps], workflow)
        self.properties: dict = (workflow.inputs or {}).get("properties") or {}
        self.guaranteed = _guaranteed_before(workflow)
        self.counters: dict[tuple[str, str, str], str] = {}  # (step, action, kind) -> state-data key
        self.tasks: dict[str, list[dict]] = {}  # step id -> its Task states (a retry target has two)
        self.evaluated: dict[str, dict] = {}  # step id -> criteria its function evaluates
        self.built: set[tuple] = set()  # what has its states already, so it is built once
        self.loop_entries: dict[str, list[tuple]] = {}  # loop target step -> (counter key, its Wait, location)
        placeholders: dict[str, str] = {}
        for step in workflow.steps:
            placeholder = self._placeholder(step)
            if placeholder in placeholders:
                raise SemanticError(
                    f"steps {placeholders[placeholder]!r} and {step.step_id!r} would share the function placeholder "
                    f"${{{placeholder}}}: rename one of them",
                    step.location,
                )
            placeholders[placeholder] = step.step_id

    def _add(self, name: str, state: dict, location: Location) -> None:
        """Every generated state goes through here, so no name can silently replace another."""
        if name in self.states:
            raise SemanticError(
                f"two generated states would both be named {name!r}: rename the step or action whose id makes it",
                location,
            )
        self.states[name] = state

    def _first_time(self, key: tuple) -> bool:
        """True once per key: states shared by several routes are built by the first."""
        if key in self.built:
            return False
        self.built.add(key)
        return True

    # --- the whole machine ---------------------------------------------------------------

    def _placeholder(self, step: Step) -> str:
        return function_placeholder(f"{self.placeholder_prefix}{step.step_id}")

    def run(self) -> dict:
        self._refuse_workflow_constructs()
        if not self.workflow.steps:
            raise SemanticError("the workflow has no steps", self.workflow.location)
        first = self._lower_dependencies(self.workflow.steps[0].step_id)
        start = self._lower_inputs(first)
        for step in self.workflow.steps:
            self._lower_step(step)
        self._lower_outputs()
        start = self._reset_loops_on_entry(start)
        self.states["StartWorkflow"]["Parameters"]["loops"].update(self._initial_counters())
        if self.calls:
            self.states["StartWorkflow"]["Parameters"]["calls"] = {}
        self._attach_evaluated_criteria()
        comment = f"{self.workflow.workflow_id}: {self.workflow.summary or ''}".strip()
        comment += f" Generated from {self.workflow.source_file} by arazzo-sfn; do not edit."
        return {"Comment": comment, "StartAt": start, "States": self.states}

    def _refuse_workflow_constructs(self) -> None:
        w = self.workflow
        at = w.field_locations.get
        if "parameters" in w.extras:
            raise UnsupportedConstruct("workflow-level parameters are not supported yet", at("parameters", w.location))

    # --- inputs: validate what ASL can check, then apply the schema's defaults ------------------

    def _lower_inputs(self, first_step: str) -> str:
        schema = self.workflow.inputs or {}
        schema_location = self.workflow.location
        rules: list[dict] = []
        for name in schema.get("required") or []:
            rules.append(self._invalid_input({"Not": {"Variable": _member("$", name), "IsPresent": True}}, name, "required", f"{name} is required"))
        for name, prop in self.properties.items():
            if isinstance(prop, dict):
                rules.extend(self._input_checks(name, prop))
        defaults = {name: prop["default"] for name, prop in self.properties.items() if isinstance(prop, dict) and "default" in prop}
        loops: dict = {}  # filled once every step is lowered and each counter is known
        init = "StartWorkflow"
        if defaults:
            self._add("ApplyInputDefaults", {
                "Type": "Pass",
                "Comment": "Keep the defaults beside the input, so the next state can merge them.",
                "Parameters": {"defaults": defaults, "given.$": "$"},
                "Next": init,
            }, schema_location)
            inputs = {"inputs.$": "States.JsonMerge($.defaults, $.given, false)"}
        else:
            inputs = {"inputs.$": "$"}
        self._add(init, {"Type": "Pass", "Parameters": {**inputs, "steps": {}, "loops": loops}, "Next": first_step}, schema_location)
        after_checks = "ApplyInputDefaults" if defaults else init
        if not rules:
            return after_checks
        fails = {name: self.states.pop(name) for name in list(self.states) if name.startswith(INVALID_INPUT_ERROR + ".")}
        checks = {"CheckInput": {"Type": "Choice", "Choices": rules, "Default": after_checks}}
        # Reading order: the check first, then its failures, then the rest.
        self.states = {**checks, **fails, **self.states}
        return "CheckInput"

    def _input_checks(self, name: str, prop: dict) -> list[dict]:
        var = _member("$", name)
        present = {"Variable": var, "IsPresent": True}
        rules = []
        kind = prop.get("type")
        type_tests = {"string": ("IsString", "a string"), "number": ("IsNumeric", "a number"), "integer": ("IsNumeric", "an integer"), "boolean": ("IsBoolean", "true or false")}
        if kind in type_tests:
            test, noun = type_tests[kind]
            rules.append(self._invalid_input({"And": [present, {"Not": {"Variable": var, test: True}}]}, name, "type", f"{name} must be {noun}"))
        typed = {"Variable": var, type_tests[kind][0]: True} if kind in type_tests else present
        if kind == "string" and prop.get("minLength", 0) >= 1:
            rules.append(self._invalid_input({"And": [present, typed, {"Variable": var, "StringEquals": ""}]}, name, "empty", f"{name} must not be empty"))
        if kind in ("number", "integer"):
            if "minimum" in prop:
                rules.append(self._invalid_input({"And": [present, typed, {"Variable": var, "NumericLessThan": prop["minimum"]}]}, name, "minimum", f"{name} must be at least {prop['minimum']}"))
            if "maximum" in prop:
                rules.append(self._invalid_input({"And": [present, typed, {"Variable": var, "NumericGreaterThan": prop["maximum"]}]}, name, "maximum", f"{name} must be at most {prop['maximum']}"))
        if isinstance(prop.get("enum"), list) and all(isinstance(v, str) for v in prop["enum"]):
            allowed = [{"Variable": var, "StringEquals": v} for v in prop["enum"]]
            rules.append(self._invalid_input({"And": [present, {"Not": {"Or": allowed} if len(allowed) > 1 else allowed[0]}]}, name, "enum", f"{name} must be one of {', '.join(prop['enum'])}"))
        return rules

    def _invalid_input(self, rule: dict, field: str, check: str, message: str) -> dict:
        name = f"{INVALID_INPUT_ERROR}.{field}.{check}"
        self._add(name, {"Type": "Fail", "Error": INVALID_INPUT_ERROR, "Cause": _json({"field": field, "message": message})}, self.workflow.location)
        return {**rule, "Next": name}

    # --- steps -----------------------------------------------------------------------------

    def _lower_step(self, step: Step) -> None:
        if step.target_kind == "workflowId":
            self._lower_workflow_step(step)
            return
        self._add_task(step, step.step_id, self._route_name(step))
        self._lower_routing(step)

    # --- other workflows: workflowId steps and dependsOn, inlined ---------------------------

    def _lower_workflow_step(self, step: Step) -> None:
        """The called workflow's states are inlined under `<step>.`; its inputs are the step's
        parameters, its data lives under $.calls.<step>, and its outputs are the step's
        `$outputs`. A failure inside it fails the execution (an inlined Fail cannot be caught)."""
        at = step.field_locations.get
        if step.success_criteria:
            raise UnsupportedConstruct("successCriteria on a workflowId step are not supported yet", at("successCriteria", step.location))
        if step.on_failure or self.workflow.failure_actions:
            raise UnsupportedConstruct("failure actions on a workflowId step are not supported yet (the called workflow's failures end the execution)", at("onFailure", step.location))
        given = {}
        for parameter in step.parameters:
            if parameter.where is not None:
                raise SemanticError(f"a workflowId step passes inputs: parameter {parameter.name!r} must not have `in`", parameter.location)
            key, value = self._template_entry(parameter.name, parameter.value, step, parameter.location)
            given[key] = value
        data = f"{self.root}.calls.{self.step_keys[step.step_id]}"
        self._call(step.operation_ref, f"{step.step_id}", data, given, self._route_name(step), step.location)
        self.calls[step.operation_ref] = data
        self._lower_routing(step)

    def _lower_dependencies(self, first_step: str) -> str:
        """dependsOn workflows run first, in order, each given this workflow's inputs."""
        following = first_step
        for workflow_id in reversed(self.workflow.depends_on):
            data = f"{self.root}.calls.{_safe_key('dependsOn_' + workflow_id)}"
            entry = self._call(workflow_id, f"dependsOn.{workflow_id}", data, {"inputs.$": f"{self.root}.inputs"}, following, self.workflow.field_locations.get("dependsOn", self.workflow.location), unwrap="inputs")
            self.calls.setdefault(workflow_id, data)
            following = entry
        return following

    def _call(self, workflow_id: str, prefix: str, data: str, given: dict, then: str, location: Location, unwrap: str | None = None) -> str:
        if self.resolve is None:
            raise UnsupportedConstruct("calling another workflow needs the whole document", location)
        if workflow_id.startswith("$"):
            raise UnsupportedConstruct(f"workflowId {workflow_id!r}: workflows of other Arazzo documents are not supported yet", location)
        if workflow_id in self.call_stack:
            raise SemanticError(f"workflow {workflow_id!r} calls itself (through {' -> '.join(self.call_stack)})", location)
        callee = self.resolve(workflow_id)
        child = _Lowering(callee, self.resolve, root=data, placeholder_prefix=f"{self.placeholder_prefix}{prefix}-", call_stack=self.call_stack)
        child_start = child.run_embedded()
        properties = (callee.inputs or {}).get("properties") or {}
        defaults = {name: prop["default"] for name, prop in properties.items() if isinstance(prop, dict) and "default" in prop}
        given_path = f"{data}.given.{unwrap}" if unwrap else f"{data}.given"
        self._add(prefix, {
            "Type": "Pass",
            "Comment": f"Call workflow {workflow_id}: its inputs, with its defaults.",
            "Parameters": {"given": given, "defaults": defaults},
            "ResultPath": data,
            "Next": f"{prefix}.Start",
        }, location)
        self._add(f"{prefix}.Start", {
            "Type": "Pass",
            "Parameters": {
                "inputs.$": f"States.JsonMerge({data}.defaults, {given_path}, false)",
                "steps": {},
                "loops": child._initial_counters(),
                **({"calls": {}} if child.calls else {}),
            },
            "ResultPath": data,
            "Next": f"{prefix}.{child_start}",
        }, location)
        for name, state in child.states.items():
            self._add(f"{prefix}.{name}", _renamed(state, prefix, then), location)
        return prefix

    def run_embedded(self) -> str:
        """Lower as a called workflow: no input states (the caller builds them), and the
        outputs go to <data>.outputs before control returns. Returns the first state."""
        self._refuse_workflow_constructs()
        if not self.workflow.steps:
            raise SemanticError("the workflow has no steps", self.workflow.location)
        start = self._lower_dependencies(self.workflow.steps[0].step_id)
        for step in self.workflow.steps:
            self._lower_step(step)
        self._lower_outputs()
        outputs = self.states["WorkflowOutputs"]
        del outputs["End"]
        outputs.update({"ResultPath": f"{self.root}.outputs", "Next": _RETURN})
        self._attach_evaluated_criteria()
        return self._reset_loops_on_entry(start)

    def _add_task(self, step: Step, name: str, next_state: str) -> None:
        """The Lambda task that performs the step's operation; its answer lands in $.steps.<step>."""
        task: dict[str, Any] = {"Type": "Task"}
        if step.description and name == step.step_id:
            task["Comment"] = " ".join(step.description.split())
        task.update({
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "${" + self._placeholder(step) + "}", "Payload": self._payload(step)},
            "ResultSelector": {key + ".$": f"$.Payload.{key}" for key in RESPONSE_KEYS},
            "ResultPath": self._step_path(step.step_id),
            "Retry": [dict(LAMBDA_SERVICE_RETRY)] + [self._retrier(r) for r in (self.workflow.retry if step.retry is None else step.retry)],
        })
        if self._failure_actions(step):
            # Errors that survive the retries are step failures too, so failure actions apply.
            task["Catch"] = [{"ErrorEquals": ["States.ALL"], "ResultPath": self._step_path(step.step_id), "Next": self._failure_route_name(step)}]
        task["Next"] = next_state
        self._add(name, task, step.location)
        self.tasks.setdefault(step.step_id, []).append(task)

    def _payload(self, step: Step) -> dict:
        operation = step.operation
        request: dict[str, Any] = {"method": operation.method, "path": operation.path}
        groups = {"path": "pathParameters", "query": "query", "header": "headers", "cookie": "cookies"}
        for parameter in step.parameters:
            if parameter.where not in groups:
                raise UnsupportedConstruct(f"step {step.step_id!r}: parameter {parameter.name!r} needs `in` (path, query, header or cookie)", parameter.location)
            group = request.setdefault(groups[parameter.where], {})
            key, value = self._template_entry(parameter.name, parameter.value, step, parameter.location)
            group[key] = value
        if step.request_body is not None:
            body = step.request_body
            if body.content_type:
                request["contentType"] = body.content_type
            payload = _apply_replacements(body.payload, body.replacements, body.location)
            key, value = self._template_entry("body", payload, step, body.location)
            request[key] = value
        return {
            "step": step.step_id,
            "operationId": operation.operation_id,
            "source": operation.source,
            "request": request,
            "executionId.$": "$$.Execution.Id",
            # A retried attempt knows it is one, and since when the run goes: a function can
            # then look for what an earlier attempt did before its answer was lost.
            "attempt.$": "$$.State.RetryCount",
            "executionStartTime.$": "$$.Execution.StartTime",
        }

    def _retrier(self, policy) -> dict:
        retrier = {"ErrorEquals": list(policy.errors), "IntervalSeconds": policy.interval_seconds, "BackoffRate": policy.backoff_rate, "MaxAttempts": policy.max_attempts}
        if policy.max_delay_seconds is not None:
            retrier["MaxDelaySeconds"] = policy.max_delay_seconds
        if policy.jitter is not None:
            retrier["JitterStrategy"] = policy.jitter
        return retrier

    # --- routing: success criteria, then actions ---------------------------------------------

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
        # A called workflow has no HTTP answer to judge: its own failures end the execution.
        rules: list[dict] = [] if step.target_kind == "workflowId" else [{"Not": self._success_rule(step), "Next": self._lower_failure_routing(step)}]
        retry_actions = [action for action in self._failure_actions(step) if action.type == "retry"]
        if retry_actions:
            # A success gives the step's retry budget back, for the next time it runs.
            names = [f"{step.step_id}.{action.name}.Reset" for action in retry_actions] + [f"{step.step_id}.Actions"]
            for action, name, following in zip(retry_actions, names, names[1:]):
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
        return _status_2xx(self._step_path(step.step_id))

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
        loop = self._loop(step, action)
        limit = self._loop_limit(step, action, loop)
        rules.append({**({"And": [condition, limit]} if condition else limit), "Next": loop.limit_state})
        return loop.count_state

    def _next_after(self, step: Step) -> str:
        following = step.index + 1
        return self.workflow.steps[following].step_id if following < len(self.workflow.steps) else "WorkflowOutputs"

    # --- failure: failure actions, then the spec's default (the workflow fails) --------------------

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
                "message.$": f"States.Format('Step {_format_literal(step.step_id)} ({_format_literal(operation)}) failed its success criteria: HTTP {{}}', {at}.statusCode)",
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

    def _failure(self, name: str, error: str, cause: dict, step: Step, location: Location, extra: dict | None = None) -> None:
        parameters = dict(extra or {})
        for key, value in cause.items():
            entry, lowered = self._template_entry(key, value, step, location)
            parameters[entry] = lowered
        self._add(name, {"Type": "Pass", "Parameters": parameters, "ResultPath": "$.failure", "Next": f"{name}.Fail"}, location)
        self._add(f"{name}.Fail", {"Type": "Fail", "Error": error, "CausePath": "States.JsonToString($.failure)"}, location)

    # --- loops: every backward goto waits, counts, and is bounded ----------------------------

    def _is_backward(self, step: Step, action: Action) -> bool:
        if action.type != "goto" or action.step_id is None:
            return False
        return self.workflow.step(action.step_id).index <= step.index

    def _counter(self, step: Step, action: Action, kind: str) -> str:
        """The state-data key of the counter of one loop or retry action of one step."""
        key = (step.step_id, action.name, kind)
        if key not in self.counters:
            data_key = _safe_key(f"{step.step_id}_{action.name}" + ("_retry" if kind == "retry" else ""))
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
                    _retarget(state, target, following)
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

    # --- outputs ---------------------------------------------------------------------------------

    def _lower_outputs(self) -> None:
        at_end = self.guaranteed["$end"]
        parameters = {}
        for name, value in self.workflow.outputs.items():
            location = self.workflow.location
            key, lowered = self._template_entry(name, value, None, location, guaranteed=at_end)
            parameters[key] = lowered
        self._add("WorkflowOutputs", {"Type": "Pass", "Parameters": parameters, "End": True}, self.workflow.location)

    # --- values: literals and runtime expressions --------------------------------------------

    def _template_entry(self, key: str, value: Any, step: Step | None, location: Location, guaranteed: frozenset | None = None) -> tuple[str, Any]:
        """One field of a Parameters template: a literal, a path (`key.$`), or an intrinsic."""
        if key.endswith(".$"):
            raise UnsupportedConstruct(f"a field name ending in '.$' ({key!r}) cannot be expressed in ASL", location)
        if is_expression(value) and not EMBEDDED_EXPRESSION.search(value):
            return key + ".$", self._value_path(parse_expression(value, location), step, location, guaranteed)
        if isinstance(value, dict):
            return key, dict(self._template_entry(k, v, step, location, guaranteed) for k, v in value.items())
        if isinstance(value, list):
            if not any(_contains_expression(item) for item in value):
                return key, value
            return key + ".$", f"States.Array({', '.join(self._intrinsic_argument(item, step, location, guaranteed) for item in value)})"
        if isinstance(value, str) and EMBEDDED_EXPRESSION.search(value):
            return key + ".$", self._format(value, step, location, guaranteed)
        return key, value

    def _format(self, text: str, step: Step | None, location: Location, guaranteed: frozenset | None) -> str:
        """`"job-{$inputs.id}"` becomes States.Format('job-{}', $.inputs.id): always a string."""
        pieces, arguments, position = [], [], 0
        for match in EMBEDDED_EXPRESSION.finditer(text):
            pieces.append(_format_literal(text[position:match.start()]))
            pieces.append("{}")
            arguments.append(self._value_path(parse_expression(match.group(1), location), step, location, guaranteed))
            position = match.end()
        pieces.append(_format_literal(text[position:]))
        return f"States.Format('{''.join(pieces)}', {', '.join(arguments)})"

    def _intrinsic_argument(self, item: Any, step: Step | None, location: Location, guaranteed: frozenset | None) -> str:
        if is_expression(item) and not EMBEDDED_EXPRESSION.search(item):
            return self._value_path(parse_expression(item, location), step, location, guaranteed)
        if isinstance(item, str):
            return self._format(item, step, location, guaranteed) if EMBEDDED_EXPRESSION.search(item) else f"'{_format_literal(item)}'"
        if item is None:
            raise UnsupportedConstruct("null cannot stand in an array that holds runtime expressions (States.Array has no null literal)", location)
        if isinstance(item, (bool, int, float)):
            return json.dumps(item)
        raise UnsupportedConstruct("runtime expressions in arrays that also hold objects or arrays are not supported yet", location)

    def _value_path(self, expression: RuntimeExpression, step: Step | None, location: Location, guaranteed: frozenset | None = None, seen: tuple = ()) -> str:
        kind = expression.kind
        if kind == "inputs":
            if self.properties and expression.name not in self.properties:
                raise ExpressionError(f"{expression.text!r}: the workflow has no input {expression.name!r}", location)
            return _append_pointer(_member(f"{self.root}.inputs", expression.name), expression.pointer)
        if kind in ("status_code", "response_body", "response_header"):
            if step is None:
                raise ExpressionError(f"{expression.text!r} means the current step's response; there is none here", location)
            at = self._step_path(step.step_id)
            if kind == "status_code":
                return f"{at}.statusCode"
            if kind == "response_header":
                return _member(f"{at}.headers", expression.name.lower())
            return _append_pointer(f"{at}.body", expression.pointer)
        if kind == "step_output":
            return self._step_output_path(expression, step, location, guaranteed, seen)
        if kind == "outputs":
            # In a workflowId step's outputs: the called workflow's outputs.
            if step is None or step.target_kind != "workflowId":
                raise ExpressionError(f"{expression.text!r}: $outputs means a called workflow's outputs, in a workflowId step's outputs", location)
            return _append_pointer(_member(f"{self.root}.calls.{self.step_keys[step.step_id]}.outputs", expression.name), expression.pointer)
        if kind == "workflow_output":
            workflow_id = expression.text.split(".")[1]
            if workflow_id not in self.calls:
                raise ExpressionError(f"{expression.text!r}: workflow {workflow_id!r} has not been called (by a workflowId step or dependsOn) before this point", location)
            return _member(f"{self.calls[workflow_id]}.outputs", expression.name)
        raise UnsupportedConstruct(f"{expression.text!r}: {kind.replace('_', ' ')} expressions are not supported yet", location)

    def _step_output_path(self, expression, step, location, guaranteed, seen) -> str:
        target_id = expression.step
        if target_id not in self.step_keys:
            raise ExpressionError(f"{expression.text!r}: there is no step {target_id!r}", location)
        target = self.workflow.step(target_id)
        if expression.name not in target.outputs:
            raise ExpressionError(f"{expression.text!r}: step {target_id!r} has no output {expression.name!r}", location)
        available = guaranteed if guaranteed is not None else self.guaranteed[step.step_id] | {step.step_id}
        if target_id not in available:
            raise ExpressionError(f"{expression.text!r}: step {target_id!r} has not always run by this point", location)
        if (target_id, expression.name) in seen:
            raise ExpressionError(f"{expression.text!r}: step outputs refer to each other in a cycle", location)
        inner = parse_expression(target.outputs[expression.name], target.location)
        if inner.kind in ("status_code", "response_body", "response_header", "inputs", "step_output", "outputs", "workflow_output"):
            path = self._value_path(inner, target, target.location, self.guaranteed[target_id] | {target_id}, seen + ((target_id, expression.name),))
            return _append_pointer(path, expression.pointer)
        raise UnsupportedConstruct(f"output {expression.name!r} of step {target_id!r}: {inner.kind} expressions are not supported yet", target.location)

    def _step_path(self, step_id: str) -> str:
        return f"{self.root}.steps.{self.step_keys[step_id]}"

    # --- criteria ----------------------------------------------------------------------------

    def _criteria_rule(self, criteria: tuple[Criterion, ...], step: Step) -> dict:
        rules = [self._criterion_rule(c, step) for c in criteria]
        return rules[0] if len(rules) == 1 else {"And": rules}

    def _criterion_rule(self, criterion: Criterion, step: Step) -> dict:
        """A native Choice rule where ASL can say what the criterion means; otherwise the
        step's function evaluates it on the response and the rule reads its verdict."""
        if criterion.type == "xpath":
            raise UnsupportedConstruct("xpath criteria are not supported yet", criterion.location)
        if criterion.type not in ("simple", "regex", "jsonpath"):
            raise UnsupportedConstruct(f"{criterion.type} criteria are not supported", criterion.location)
        if criterion.type in ("regex", "jsonpath") and criterion.context is None:
            raise SemanticError(f"a {criterion.type} criterion needs a context", criterion.location)
        try:
            if criterion.type == "simple":
                tree = parse_condition(criterion.condition, criterion.location)
                return _rule(tree, lambda operand: self._simple_operand(operand, step, criterion), criterion, case_insensitive=True)
            if criterion.type == "jsonpath" and not _is_rfc9535_query(criterion.condition):
                if criterion.version not in (None, "draft-goessner-dispatch-jsonpath-00"):
                    raise UnsupportedConstruct(f"jsonpath version {criterion.version!r} is not supported", criterion.location)
                tree = parse_condition(criterion.condition, criterion.location)
                base = self._value_path(parse_expression(criterion.context, criterion.location), step, criterion.location)
                return _rule(tree, lambda operand: _jsonpath_operand(operand, base, criterion), criterion, case_insensitive=False)
        except _NotNative:
            pass
        return self._evaluated_rule(criterion, step)

    def _evaluated_rule(self, criterion: Criterion, step: Step) -> dict:
        """Send the criterion to the step's function; branch on `criteria.<id>` it returns."""
        registry = self.evaluated.setdefault(step.step_id, {"evaluate": {}, "values": {}})
        spec = {"type": criterion.type, "condition": criterion.condition, "context": criterion.context}
        if criterion.version is not None:
            spec["version"] = criterion.version
        known = [cid for cid, existing in registry["evaluate"].items() if existing == spec]
        cid = known[0] if known else f"c{len(registry['evaluate'])}"
        registry["evaluate"][cid] = spec
        texts = [criterion.condition] if criterion.type != "regex" else []
        texts += [criterion.context] if criterion.context else []
        for text in texts:
            for expression_text in _NON_RESPONSE_EXPRESSION.findall(text):
                if any(v["expression"] == expression_text for v in registry["values"].values()):
                    continue
                expression = parse_expression(expression_text, criterion.location)
                path = self._value_path(expression, step, criterion.location)
                registry["values"][f"v{len(registry['values'])}"] = {"expression": expression_text, "value.$": path}
        verdict = f"{self._step_path(step.step_id)}.criteria.{cid}"
        return {"And": [{"Variable": verdict, "IsPresent": True}, {"Variable": verdict, "BooleanEquals": True}]}

    def _attach_evaluated_criteria(self) -> None:
        for step_id, registry in self.evaluated.items():
            for task in self.tasks.get(step_id, []):
                payload = task["Parameters"]["Payload"]
                payload["evaluate"] = registry["evaluate"]
                if registry["values"]:
                    payload["values"] = registry["values"]

    def _simple_operand(self, operand: cr.Operand, step: Step, criterion: Criterion) -> str:
        return self._value_path(parse_expression(operand.text, criterion.location), step, criterion.location)


def parse_expression(text: str, location: Location | None) -> RuntimeExpression:
    try:
        return _parse_expression(text)
    except ExpressionSyntaxError as error:
        raise ExpressionError(str(error), location) from None


def parse_condition(text: str, location: Location | None) -> cr.Condition:
    try:
        return cr.parse_condition(text)
    except cr.ConditionSyntaxError as error:
        raise ExpressionError(str(error), location) from None


_RETURN = "$return"  # where an inlined workflow's last state goes: replaced by the caller's next state


def _retarget(state: dict, old: str, new: str) -> None:
    """Point every transition of `state` that goes to `old` at `new` instead."""
    if state.get("Next") == old:
        state["Next"] = new
    if state.get("Default") == old:
        state["Default"] = new
    for rule in state.get("Choices", []) + state.get("Catch", []):
        if rule.get("Next") == old:
            rule["Next"] = new


def _renamed(state: dict, prefix: str, then: str) -> dict:
    """A called workflow's state, its transitions moved under `prefix.`; `$return` becomes `then`."""
    def name(target: str) -> str:
        return then if target == _RETURN else f"{prefix}.{target}"

    state = json.loads(json.dumps(state))
    if "Next" in state:
        state["Next"] = name(state["Next"])
    if "Default" in state:
        state["Default"] = name(state["Default"])
    for rule in state.get("Choices", []):
        rule["Next"] = name(rule["Next"])
    for catcher in state.get("Catch", []):
        catcher["Next"] = name(catcher["Next"])
    return state


class _NotNative(Exception):
    """The criterion means something Choice rules cannot say; its function evaluates it."""


_NON_RESPONSE_EXPRESSION = re.compile(r"\$(?:inputs|steps|workflows|outputs)\.[A-Za-z0-9_\-.]+(?:#/[^\s'\])]*)?")


def _is_rfc9535_query(condition: str) -> bool:
    """The comparison form compares members of the context; anything with a filter selector,
    or a bare query with no comparison, is an RFC 9535 query."""
    return "[?" in condition or not re.search(r"==|!=|<|>", condition)


def _format_literal(text: str) -> str:
    """Escape text for a single-quoted intrinsic string argument."""
    return re.sub(r"([\\'{}])", r"\\\1", text)


# --- Choice rules from condition trees -----------------------------------------------------------

_OPS = {"==": "Equals", "<": "LessThan", "<=": "LessThanEquals", ">": "GreaterThan", ">=": "GreaterThanEquals"}
_FLIP = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}


def _rule(tree: cr.Condition, to_path, criterion: Criterion, case_insensitive: bool) -> dict:
    if isinstance(tree, cr.Or):
        return {"Or": [_rule(t, to_path, criterion, case_insensitive) for t in tree.terms]}
    if isinstance(tree, cr.And):
        return {"And": [_rule(t, to_path, criterion, case_insensitive) for t in tree.terms]}
    if isinstance(tree, cr.Not):
        return {"Not": _rule(tree.term, to_path, criterion, case_insensitive)}
    if isinstance(tree, cr.Operand):
        path = to_path(tree)
        return {"And": [{"Variable": path, "IsPresent": True}, {"Variable": path, "IsBoolean": True}, {"Variable": path, "BooleanEquals": True}]}
    if isinstance(tree, cr.Literal):
        always = {"Variable": "$", "IsPresent": True}
        return always if tree.value is True else {"Not": always}
    left, op, right = tree.left, tree.op, tree.right
    if isinstance(left, cr.Literal) and isinstance(right, cr.Operand):
        left, op, right = right, _FLIP[op], left
    if not (isinstance(left, cr.Operand) and isinstance(right, cr.Literal)):
        raise _NotNative()  # two values compared with each other
    path, value = to_path(left), right.value
    if isinstance(value, bool):
        kind, test = "Boolean", "IsBoolean"
    elif isinstance(value, (int, float)):
        kind, test = "Numeric", "IsNumeric"
    elif isinstance(value, str):
        if case_insensitive:
            # Arazzo 1.0.1 compares strings case-insensitively; Choice rules cannot.
            raise _NotNative()
        kind, test = "String", "IsString"
    elif value is None:
        if op not in ("==", "!="):
            raise UnsupportedConstruct(f"condition {criterion.condition!r}: null can only be compared with == or !=", criterion.location)
        rule = {"And": [{"Variable": path, "IsPresent": True}, {"Variable": path, "IsNull": True}]}
        return rule if op == "==" else {"Not": rule}
    else:
        raise UnsupportedConstruct(f"condition {criterion.condition!r}: cannot compare with {value!r}", criterion.location)
    if kind == "Boolean" and op not in ("==", "!="):
        raise UnsupportedConstruct(f"condition {criterion.condition!r}: booleans can only be compared with == or !=", criterion.location)
    comparison = {"Variable": path, kind + _OPS["==" if op == "!=" else op]: value}
    # A missing value or one of another type makes the comparison false, not a runtime error.
    rule = {"And": [{"Variable": path, "IsPresent": True}, {"Variable": path, test: True}, comparison]}
    return {"Not": rule} if op == "!=" else rule


def _jsonpath_operand(operand: cr.Operand, base: str, criterion: Criterion) -> str:
    """The seed's comparison form: `$.a.b` names a member of the context value."""
    text = operand.text
    match = re.fullmatch(r"\$((?:\.[A-Za-z_][A-Za-z0-9_]*|\[\d+\]|\['(?:[^'\\]|'')*'\])*)", text)
    if not match:
        raise _NotNative()  # a query Choice rules cannot follow
    return base + match.group(1)


def _status_2xx(at: str) -> dict:
    code = f"{at}.statusCode"
    return {"And": [{"Variable": code, "NumericGreaterThanEquals": 200}, {"Variable": code, "NumericLessThan": 300}]}


# --- helpers -------------------------------------------------------------------------------------------


def _guaranteed_before(workflow: Workflow) -> dict[str, frozenset]:
    """For each step, the steps that have certainly run before it starts (a dominator
    analysis over the step graph, success and failure edges alike); under "$end", those
    certain at a successful end."""
    steps = workflow.steps
    ids = [s.step_id for s in steps]
    successors: dict[str, set[str]] = {}
    for step in steps:
        targets: set[str] = set()
        unconditional = False
        for action in tuple(step.on_success or ()) + workflow.success_actions:
            if action.type == "goto" and action.step_id:
                targets.add(action.step_id)
            elif action.type == "end" and action.fail is None:
                targets.add("$end")
            if not action.criteria:
                unconditional = True
                break
        if not unconditional:
            targets.add(ids[step.index + 1] if step.index + 1 < len(ids) else "$end")
        for action in tuple(step.on_failure or ()) + workflow.failure_actions:
            if action.type in ("goto", "retry") and action.step_id:
                targets.add(action.step_id)
        successors[step.step_id] = targets
    everything = frozenset(ids)
    before: dict[str, frozenset] = {sid: everything for sid in ids + ["$end"]}
    before[ids[0]] = frozenset()
    changed = True
    while changed:
        changed = False
        for node in ids[1:] + ["$end"]:
            preds = [p for p in ids if node in successors[p]]
            value = frozenset.intersection(*[before[p] | {p} for p in preds]) if preds else frozenset()
            if value != before[node]:
                before[node], changed = value, True
    return before


def _data_keys(ids: list[str], workflow: Workflow) -> dict[str, str]:
    keys: dict[str, str] = {}
    for step_id in ids:
        key = _safe_key(step_id)
        if key in keys.values():
            raise UnsupportedConstruct(f"step ids {step_id!r} and another map to the same state data key {key!r}", workflow.location)
        keys[step_id] = key
    return keys


def _safe_key(text: str) -> str:
    key = re.sub(r"[^A-Za-z0-9_]", "_", text)
    return key if _IDENTIFIER.match(key) else f"_{key}"


def _member(base: str, name: str) -> str:
    return f"{base}.{name}" if _IDENTIFIER.match(name) else f"{base}['{name}']"


def _append_pointer(path: str, tokens: tuple[str, ...]) -> str:
    for token in tokens:
        if token.isdigit():
            path += f"[{token}]"
        elif "'" in token or "\\" in token:
            raise UnsupportedConstruct(f"JSON pointer token {token!r} cannot be expressed as an ASL path")
        else:
            path = _member(path, token)
    return path


def _apply_replacements(payload: Any, replacements: tuple[dict, ...], location: Location) -> Any:
    """Apply requestBody.replacements (JSON Pointer targets) to the payload template, at compile
    time: the payload is a literal structure, so each target is a fixed place in it."""
    if not replacements:
        return payload
    result = json.loads(json.dumps(payload))
    for replacement in replacements:
        target = replacement.get("target", "")
        if not isinstance(target, str) or not target.startswith("/"):
            raise UnsupportedConstruct(f"replacement target {target!r}: only JSON Pointer targets are supported (XPath is not)", location)
        tokens = [t.replace("~1", "/").replace("~0", "~") for t in target[1:].split("/")]
        parent = result
        try:
            for token in tokens[:-1]:
                parent = parent[int(token)] if isinstance(parent, list) else parent[token]
            last = tokens[-1]
            if isinstance(parent, list):
                index = len(parent) if last == "-" else int(last)
                if index == len(parent):
                    parent.append(replacement.get("value"))
                else:
                    parent[index] = replacement.get("value")
            elif isinstance(parent, dict):
                parent[last] = replacement.get("value")
            else:
                raise TypeError
        except (KeyError, IndexError, ValueError, TypeError):
            raise SemanticError(f"replacement target {target!r} is not a place in the payload", location) from None
    return result


def _contains_expression(value: Any) -> bool:
    if is_expression(value):
        return True
    if isinstance(value, dict):
        return any(_contains_expression(v) for v in value.values())
    if isinstance(value, list):
        return any(_contains_expression(v) for v in value)
    return False


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))
