"""The lowering of one workflow: each pass adds its states (inputs, tasks, routing, loops,
calls, outputs; values and criteria serve them all), in reading order."""

from __future__ import annotations

import warnings
from collections.abc import Callable

from arazzo_sfn.errors import ArazzoWarning, Location, SemanticError
from arazzo_sfn.lower.calls import CallsPass
from arazzo_sfn.lower.common import function_placeholder
from arazzo_sfn.lower.criteria import CriteriaPass
from arazzo_sfn.lower.graph import backward_gotos, data_keys, guaranteed_before, reachable_steps
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
        self.lowered_steps = self._reachable_steps()
        self.counters: dict[tuple[str, str, str], str] = {}  # (step, action, kind) -> state-data key
        self.tasks: dict[str, list[dict]] = {}  # step id -> its Task states (a retry target has two)
        self.evaluated: dict[str, dict] = {}  # step id -> criteria its function evaluates
        self.built: set[tuple] = set()  # what has its states already, so it is built once
        self.loop_entries: dict[str, list[tuple]] = {}  # loop target step -> (its loop, location)
        self.loop_targets = backward_gotos(workflow)  # step id -> how many backward gotos lead to it
        self.loop_forms: dict[tuple[str, str], str] = {}  # (step, action) -> counted | folded | retry
        self.folded: dict[str, list[str]] = {}  # target step -> keys of the counts its Task carries
        self.retry_loops: dict[str, dict] = {}  # step -> its retry-form loop
        self.children: set[str] = set()  # workflows started as child executions
        self.keeps: dict[str, dict] = {}  # step id -> what the workflow reads of its answer
        self.read_inputs: set[str] = set()  # the inputs the workflow reads
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
        if not self.workflow.steps:
            raise SemanticError("the workflow has no steps", self.workflow.location)
        first = self._lower_dependencies(self.workflow.steps[0].step_id)
        start = self._lower_inputs(first)
        for step in self.lowered_steps:
            self._lower_step(step)
        self._lower_outputs()
        start = self._reset_loops_on_entry(start)
        start = self._finish_inputs(start)
        self.states["StartWorkflow"]["Parameters"]["loops"].update(self._initial_counters())
        self.states["StartWorkflow"]["Parameters"]["steps"].update(self._initial_steps())
        if self.calls:
            self.states["StartWorkflow"]["Parameters"]["calls"] = {}
        self._attach_payload_extras()
        self._attach_loops()
        comment = f"{self.workflow.workflow_id}: {self.workflow.summary or ''}".strip()
        comment += f" Generated from {self.workflow.source_file} by arazzo-sfn; do not edit."
        return {"Comment": comment, "StartAt": start, "States": self.states}

    def _reachable_steps(self) -> tuple[Step, ...]:
        """The steps some route reaches; the others are valid Arazzo, left out with a warning."""
        reachable = reachable_steps(self.workflow)
        for step in self.workflow.steps:
            if step.step_id not in reachable:
                warnings.warn(ArazzoWarning(
                    f"step {step.step_id!r} can never be reached (no action and no step before it leads to it): it is left out of the state machine",
                    step.location,
                ), stacklevel=2)
        return tuple(step for step in self.workflow.steps if step.step_id in reachable)

    # --- steps -----------------------------------------------------------------------------

    def _lower_step(self, step: Step) -> None:
        if self._is_child_step(step):
            self._lower_child_step(step)
            return
        if step.target_kind == "workflowId":
            self._lower_workflow_step(step)
            return
        self._add_task(step, step.step_id, self._route_name(step))
        self._lower_routing(step)

    def _step_path(self, step_id: str) -> str:
        return f"{self.root}.steps.{self.step_keys[step_id]}"
