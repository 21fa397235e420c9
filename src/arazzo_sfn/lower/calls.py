"""Pass: other workflows. A workflowId step and each dependsOn workflow are lowered by a
lowering of their own and inlined under a prefix; their data lives under $.calls."""

from __future__ import annotations

import re
from typing import Any

from arazzo_sfn.errors import Location, SemanticError, UnsupportedConstruct
from arazzo_sfn.lower.common import RETURN, format_literal, renamed, safe_key, state_machine_placeholder
from arazzo_sfn.lower.inputs import input_defaults
from arazzo_sfn.model import Step

# Retry what the Step Functions API may answer to StartExecution for a while; starting a
# child of the same name again is safe (an execution name is used once).
STEP_FUNCTIONS_SERVICE_RETRY = {
    "ErrorEquals": ["StepFunctions.SdkClientException", "StepFunctions.AWSStepFunctionsException", "StepFunctions.ExecutionLimitExceededException"],
    "IntervalSeconds": 2,
    "BackoffRate": 2,
    "MaxAttempts": 6,
}


class CallsPass:

    def _is_child_step(self, step: Step) -> bool:
        """A workflowId step whose workflow says `x-child-execution: true`."""
        if step.target_kind != "workflowId" or self.resolve is None or step.operation_ref.startswith("$"):
            return False
        return self.resolve(step.operation_ref).child_execution

    def _lower_child_step(self, step: Step) -> None:
        """The step starts the called workflow's own state machine and waits for it
        (`startExecution.sync:2`): its parameters are the child's input, its `$outputs` the
        child's output. The child execution is named after the step and the moment the step
        was entered, so a Task retried after a transient error starts no second child, while
        each pass of a loop starts a new one. A child that fails reaches the step with its own
        error and cause, so the step's criteria and failure actions apply."""
        workflow_id = step.operation_ref
        self.children.add(workflow_id)
        at = self._step_path(step.step_id)
        given: dict[str, Any] = {}
        for parameter in step.parameters:
            if parameter.where is not None:
                raise SemanticError(f"a workflowId step passes inputs: parameter {parameter.name!r} must not have `in`", parameter.location)
            key, value = self._template_entry(parameter.name, parameter.value, step, parameter.location)
            given[key] = value
        # Lets the console link the child to its parent, both ways.
        given["AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID.$"] = "$$.Execution.Id"
        tag = re.sub(r"[^A-Za-z0-9_-]", "-", step.step_id)[:40]
        task: dict[str, Any] = {"Type": "Task"}
        if step.description:
            task["Comment"] = " ".join(step.description.split())
        task.update({
            "Resource": "arn:aws:states:::states:startExecution.sync:2",
            "Parameters": {
                "StateMachineArn": "${" + state_machine_placeholder(workflow_id) + "}",
                "Name.$": f"States.Format('{format_literal(tag)}-{{}}', States.Hash(States.Format('{{}}/{{}}/{{}}', $$.Execution.Id, $$.State.Name, $$.State.EnteredTime), 'MD5'))",
                "Input": given,
            },
            "ResultSelector": {"status.$": "$.Status", "outputs.$": "$.Output", "executionArn.$": "$.ExecutionArn"},
            "ResultPath": at,
            "Retry": [dict(STEP_FUNCTIONS_SERVICE_RETRY)],
            # The child's failure arrives as States.TaskFailed with the child described in the cause.
            "Catch": [{"ErrorEquals": ["States.TaskFailed"], "ResultPath": at, "Next": f"{step.step_id}.ChildFailed"}],
            "Next": self._route_name(step),
        })
        self._add(step.step_id, task, step.location)
        # A caught failure takes the place of the step's answer: its outputs (the step's own
        # and the child's) read as null later, as outputs that do not resolve do.
        called_outputs = set(self.resolve(workflow_id).outputs)
        unresolved = {name: None for name in sorted(set(step.outputs) | called_outputs)}
        child_failed: dict[str, Any] = {
            "Type": "Pass",
            "Comment": "The child's own error and cause (the execution's description where it gave none).",
            "Parameters": {"child.$": f"States.JsonMerge({at}, States.StringToJson({at}.Cause), false)", "outputs": unresolved},
            "ResultPath": at,
        }
        self._add(f"{step.step_id}.ChildFailed", child_failed, step.location)
        self._lower_routing(step)
        failure_route = self._lower_failure_routing(step) if self._failure_actions(step) else None
        if failure_route is not None:
            task["Catch"].append({"ErrorEquals": ["States.ALL"], "ResultPath": at, "Next": self._caught(step, unresolved, failure_route)})
        child_failed["Next"] = failure_route or self._step_failed(step)

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
            data = f"{self.root}.calls.{safe_key('dependsOn_' + workflow_id)}"
            location = self.workflow.field_locations.get("dependsOn", self.workflow.location)
            entry = self._call(workflow_id, f"dependsOn.{workflow_id}", data, {"inputs.$": f"{self.root}.inputs"}, following, location, unwrap="inputs")
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
        child = type(self)(callee, self.resolve, root=data, placeholder_prefix=f"{self.placeholder_prefix}{prefix}-", call_stack=self.call_stack)
        child_start = child.run_embedded()
        self.children |= child.children
        defaults = input_defaults(callee, child.read_inputs)
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
                "steps": child._initial_steps(),
                "loops": child._initial_counters(),
                **({"calls": {}} if child.calls else {}),
            },
            "ResultPath": data,
            "Next": f"{prefix}.{child_start}",
        }, location)
        for name, state in child.states.items():
            self._add(f"{prefix}.{name}", renamed(state, prefix, then), location)
        return prefix

    def run_embedded(self) -> str:
        """Lower as a called workflow: no input states (the caller builds them), and the
        outputs go to <data>.outputs before control returns. Returns the first state."""
        if not self.workflow.steps:
            raise SemanticError("the workflow has no steps", self.workflow.location)
        start = self._lower_dependencies(self.workflow.steps[0].step_id)
        for step in self.lowered_steps:
            self._lower_step(step)
        self._lower_outputs()
        outputs = self.states["WorkflowOutputs"]
        del outputs["End"]
        outputs.update({"ResultPath": f"{self.root}.outputs", "Next": RETURN})
        self._attach_payload_extras()
        self._attach_loops()
        return self._reset_loops_on_entry(start)

