"""The lowering of one workflow: each pass adds its states (inputs, tasks, routing, loops,
calls, outputs; values and criteria serve them all), in reading order."""

from __future__ import annotations

from typing import Callable

from arazzo_sfn.errors import Location, SemanticError, UnsupportedConstruct
from arazzo_sfn.lower.calls import CallsPass
from arazzo_sfn.lower.common import function_placeholder
from arazzo_sfn.lower.criteria import CriteriaPass
from arazzo_sfn.lower.graph import data_keys, guaranteed_before
from arazzo_sfn.lower.inputs import InputsPass
from arazzo_sfn.lower.loops import LoopsPass
from arazzo_sfn.lower.outputs import OutputsPass
from arazzo_sfn.lower.routing import RoutingPass
from arazzo_sfn.lower.tasks import TasksPass
from arazzo_sfn.lower.values import ValuesPass
from arazzo_sfn.model import Step, Workflow


class _Lowering(InputsPass, TasksPass, RoutingPass, LoopsPass, CallsPass, OutputsPass, ValuesPass, CriteriaPass):
    def __init__(self, workflow: Workflow, resolve: Callable[[str], Workflow] | None = None, *, root: str = "$", placeholder_prefix: str = "", call_stack: tuple[str, ...] = ()):
        self.workflow = workflow
        self.resolve = resolve
        self.root = root  # where this workflow's inputs, steps and loops live in the state data
        self.placeholder_prefix = placeholder_prefix
        self.call_stack = call_stack + (workflow.workflow_id,)
        self.calls: dict[str, str] = {}  # called workflow id -> where its last call's data is
        self.states: dict[str, dict] = {}
        self.step_keys = data_keys([s.step_id for s in workflow.steps], workflow)
        self.properties: dict = (workflow.inputs or {}).get("properties") or {}
        self.guaranteed = guaranteed_before(workflow)
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

    # --- steps -----------------------------------------------------------------------------

    def _lower_step(self, step: Step) -> None:
        if step.target_kind == "workflowId":
            self._lower_workflow_step(step)
            return
        self._add_task(step, step.step_id, self._route_name(step))
        self._lower_routing(step)

    def _step_path(self, step_id: str) -> str:
        return f"{self.root}.steps.{self.step_keys[step_id]}"
