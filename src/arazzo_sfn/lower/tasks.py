"""Pass: the Task that performs each step's operation, and the payload it sends."""

from __future__ import annotations

from typing import Any

from arazzo_runtime.expressions import EMBEDDED_EXPRESSION, is_expression
from arazzo_sfn.errors import UnsupportedConstruct
from arazzo_sfn.lower.common import DEFAULT_SUCCESS, KEPT_KEYS, LAMBDA_SERVICE_RETRY, RESPONSE_KEYS, apply_replacements, replacement_target
from arazzo_sfn.model import Step


class TasksPass:
    def _add_task(self, step: Step, name: str, next_state: str) -> None:
        """The Lambda task that performs the step's operation; its answer lands in $.steps.<step>."""
        task: dict[str, Any] = {"Type": "Task"}
        if step.description and name == step.step_id:
            task["Comment"] = " ".join(step.description.split())
        task.update({
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "${" + self._placeholder(step) + "}", "Payload": self._payload(step)},
            "ResultSelector": {key + ".$": f"$.Payload.{key}" for key in RESPONSE_KEYS + KEPT_KEYS},
            "ResultPath": self._step_path(step.step_id),
            "Retry": [dict(LAMBDA_SERVICE_RETRY)] + [self._retrier(r) for r in (self.workflow.retry if step.retry is None else step.retry)],
        })
        if self._failure_actions(step):
            # Errors that survive the retries are step failures too, so failure actions apply.
            unresolved = {name: None for name in sorted(step.outputs)}
            task["Catch"] = [{"ErrorEquals": ["States.ALL"], "ResultPath": self._step_path(step.step_id),
                              "Next": self._caught(step, unresolved, self._failure_route_name(step))}]
        task["Next"] = next_state
        self._add(name, task, step.location)
        self.tasks.setdefault(step.step_id, []).append(task)

    def _caught(self, step: Step, unresolved: dict[str, None], failure_route: str) -> str:
        """Where a caught error goes: it takes the place of the step's answer, so when the step
        has outputs, a Pass first gives them as null (later steps and the workflow's outputs
        read them as outputs that do not resolve), then the failure actions apply."""
        if not unresolved:
            return failure_route
        name = f"{step.step_id}.Caught"
        if self._first_time(("caught", step.step_id)):
            self._add(name, {
                "Type": "Pass",
                "Comment": "The error took the place of the step's answer: its outputs are null.",
                "Result": unresolved,
                "ResultPath": f"{self._step_path(step.step_id)}.outputs",
                "Next": failure_route,
            }, step.location)
        return name

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
            payload = body.payload
            if is_expression(payload) and body.replacements:
                # The payload is only known at run time: the function applies the replacements.
                replacements = []
                for replacement in body.replacements:
                    entry = {"target": replacement_target(replacement.get("target"), body.location)}
                    key, value = self._template_entry("value", replacement.get("value"), step, body.location)
                    entry[key] = value
                    replacements.append(entry)
                request["replacements"] = replacements
            else:
                payload = apply_replacements(payload, body.replacements, body.location)
            key, value = self._template_entry("body", payload, step, body.location)
            request[key] = value
            omitted = expression_members(payload, "") + [r["target"] for r in request.get("replacements", []) if "value.$" in r]
            if omitted:
                # A member given by a runtime expression that has no value is left out.
                request["omitNull"] = omitted
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

    def _attach_payload_extras(self) -> None:
        """Once every step is lowered, what each step's function is asked besides its request:
        the criteria it evaluates, and what the workflow reads of its answer (`keep`)."""
        for step_id, tasks in self.tasks.items():
            step = self.workflow.step(step_id)
            keep = {part: wanted for part, wanted in self._keep(step).items() if wanted}
            criteria = step.success_criteria or (DEFAULT_SUCCESS,)
            keep["success"] = [self._criterion_spec(criterion, step) for criterion in criteria]
            registry = self.evaluated.get(step_id, {"evaluate": {}, "values": {}})
            for task in tasks:
                payload = task["Parameters"]["Payload"]
                if registry["evaluate"]:
                    payload["evaluate"] = registry["evaluate"]
                if registry["values"]:
                    payload["values"] = registry["values"]
                payload["keep"] = keep


def expression_members(value: Any, pointer: str) -> list[str]:
    """JSON Pointers of the members of a payload template given by a plain runtime expression."""
    if is_expression(value) and not EMBEDDED_EXPRESSION.search(value):
        return [pointer]
    if isinstance(value, dict):
        return [found for key, item in value.items() for found in expression_members(item, f"{pointer}/{str(key).replace('~', '~0').replace('/', '~1')}")]
    return []
