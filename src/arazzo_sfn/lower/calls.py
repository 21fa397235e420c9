"""Pass: other workflows. A workflowId step and each dependsOn workflow are lowered by a
lowering of their own and inlined under a prefix; their data lives under $.calls."""

from __future__ import annotations

from arazzo_sfn.errors import Location, SemanticError, UnsupportedConstruct
from arazzo_sfn.lower.common import RETURN, renamed, safe_key
from arazzo_sfn.model import Step


class CallsPass:

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
        child = type(self)(callee, self.resolve, root=data, placeholder_prefix=f"{self.placeholder_prefix}{prefix}-", call_stack=self.call_stack)
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
            self._add(f"{prefix}.{name}", renamed(state, prefix, then), location)
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
        outputs.update({"ResultPath": f"{self.root}.outputs", "Next": RETURN})
        self._attach_evaluated_criteria()
        return self._reset_loops_on_entry(start)

