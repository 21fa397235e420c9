"""The one context the passes of the lowering share: the workflow and what is derived from it
once, the registries the passes fill (what each step's function is asked, the loops, the
calls), and the states produced, in reading order."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from arazzo_runtime.payload import RetryLoopTemplate
from arazzo_sfn.errors import ArazzoWarning, Location, UnsupportedConstruct
from arazzo_sfn.lower.common import function_placeholder, member, safe_key
from arazzo_sfn.lower.graph import backward_gotos, data_keys, guaranteed_before, reachable_steps
from arazzo_sfn.model import Action, Step, Workflow
from arazzo_sfn.openapi import Operation

State = dict[str, Any]
# A value a step's function resolves from its answer: an expression's text, or a wait
# {"seconds": expression, "fallback": seconds} it turns into whole seconds.
Read = str | dict[str, Any]
Resolve = Callable[[str], Workflow]


@dataclass
class Keep:
    """What the workflow reads of a step's answer; its function is sent it as `keep`."""

    body: list[str] = field(default_factory=list)  # JSON pointers into the body
    headers: list[str] = field(default_factory=list)  # lower-case header names
    outputs: dict[str, Read] = field(default_factory=dict)  # output name -> its expression (or a selection)
    reads: dict[str, Read] = field(default_factory=dict)  # key -> what the function resolves

    def wanted(self) -> dict[str, Any]:
        """The parts the workflow reads, as the function is sent them."""
        parts: dict[str, Any] = {"body": self.body, "headers": self.headers, "outputs": self.outputs, "reads": self.reads}
        return {part: wanted for part, wanted in parts.items() if wanted}


@dataclass
class Evaluation:
    """The criteria a step's function evaluates (`evaluate`, by id) and the values they read
    besides the response (`values`)."""

    evaluate: dict[str, dict[str, Any]] = field(default_factory=dict)
    values: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass(frozen=True)
class Loop:
    """One backward goto, in one of three forms (see `loops`)."""

    key: str
    form: str  # counted | folded | retry
    target: str  # the step the loop goes back to
    counts: str  # where its {iterations, total} live in the state data
    count_state: str
    wait_state: str
    limit_state: str


@dataclass(frozen=True)
class LoopEntry:
    """A loop whose count starts again when its target is entered from outside it; known
    before any state is built, so every transition into the target goes through it."""

    loop: Loop
    location: Location


@dataclass(frozen=True)
class RetryLoop:
    """What the Task of a step that loops in the retry form carries."""

    loop: Loop
    error: str
    spec: RetryLoopTemplate  # the payload's `loopAgain`
    retrier: dict[str, Any]
    budget: int


@dataclass(frozen=True)
class TaskSlot:
    """A Task the routing placed: its name, the step whose operation it performs, and what is
    known of it when it is placed; the tasks pass builds it once every registry is full."""

    step: Step
    name: str
    next_state: str
    request: dict[str, Any]
    catch: tuple[dict[str, Any], ...]


@dataclass
class Context:
    workflow: Workflow
    resolve: Resolve | None
    root: str = "$"  # where this workflow's inputs, steps and loops live in the state data
    placeholder_prefix: str = ""
    call_stack: tuple[str, ...] = ()
    called: bool = False  # inlined in a calling workflow: no input states, outputs return to the caller

    # Derived once from the workflow.
    step_keys: dict[str, str] = field(init=False)
    properties: dict[str, Any] = field(init=False)
    guaranteed: dict[str, frozenset[str]] = field(init=False)
    lowered_steps: tuple[Step, ...] = field(init=False)
    loop_targets: dict[str, int] = field(init=False)  # step id -> how many backward gotos lead to it
    step_placeholders: dict[str, str] = field(init=False)  # step id -> its function's placeholder, distinct

    # Registries the passes fill.
    counters: dict[tuple[str, str, str], str] = field(default_factory=dict)  # (step, action, kind) -> state-data key
    planned_loops: set[str] = field(default_factory=set)  # keys of the loops the routing will build
    loop_entries: dict[str, list[LoopEntry]] = field(default_factory=dict)  # loop target -> the loops entered through it
    loop_forms: dict[tuple[str, str], str] = field(default_factory=dict)  # (step, action) -> counted | folded | retry
    folded: dict[str, list[str]] = field(default_factory=dict)  # target step -> keys of the counts its Task carries
    retry_loops: dict[str, RetryLoop] = field(default_factory=dict)  # step -> its retry-form loop
    evaluations: dict[str, Evaluation] = field(default_factory=dict)  # step -> what its function evaluates
    keeps: dict[str, Keep] = field(default_factory=dict)  # step -> what the workflow reads of its answer
    read_inputs: set[str] = field(default_factory=set)  # the inputs the workflow reads
    calls: dict[str, str] = field(default_factory=dict)  # inlined workflow id -> where its last call's data is
    child_runs: dict[str, str] = field(default_factory=dict)  # child-execution workflow id -> the answer of the step that ran it last
    children: set[str] = field(default_factory=set)  # workflows started as child executions
    child_dependencies: dict[str, str] = field(default_factory=dict)  # dependsOn entry of another document -> its workflowId (answer under $.calls)
    task_slots: list[TaskSlot] = field(default_factory=list)
    for_each_steps: list[Step] = field(default_factory=list)  # x-for-each steps placed, built by their own pass
    built: set[tuple[str, ...]] = field(default_factory=set)  # what has its states already, so it is built once
    # While a Task's request is resolved (1.1): (where its text goes, the value's path) of each
    # embedded value whose type is known only at run time; None elsewhere.
    embedded_texts: list[tuple[str, str]] | None = None

    # What the passes produce.
    start: str = ""  # the first state
    order: list[str] = field(default_factory=list)  # state names in reading order
    states: dict[str, State] = field(default_factory=dict)
    reserved: set[str] = field(default_factory=set)  # names placed in `order`, not built yet

    def __post_init__(self) -> None:
        workflow = self.workflow
        self.call_stack = self.call_stack + (workflow.workflow_id,)
        self.step_keys = data_keys([s.step_id for s in workflow.steps], workflow)
        self.properties = (workflow.inputs or {}).get("properties") or {}
        self.guaranteed = guaranteed_before(workflow)
        self.lowered_steps = _reachable_steps(workflow)
        self.loop_targets = backward_gotos(workflow)
        # Step ids are case-sensitive and may hold any character; placeholders are PascalCase
        # letters and digits. Two ids that make the same one (`getPet`, `GetPet`, `get-pet`) are
        # two steps: the later gets a number after an underscore, which no id can make.
        self.step_placeholders = {}
        taken: set[str] = set()
        for step in workflow.steps:
            base = function_placeholder(f"{self.placeholder_prefix}{step.step_id}").removesuffix("FunctionArn")
            placeholder, number = f"{base}FunctionArn", 1
            while placeholder in taken:
                number += 1
                placeholder = f"{base}_{number}FunctionArn"
            taken.add(placeholder)
            self.step_placeholders[step.step_id] = placeholder

    # --- states ---------------------------------------------------------------------------

    def add(self, name: str, state: State, location: Location, *, before: str | None = None, machine: bool = False) -> None:
        """Every generated state goes through here (or `reserve` and `fill`), so no name can
        silently replace another. A state goes at the end of the reading order, or just
        `before` another. The machine's own states (`machine`) have names no step may make."""
        self._claim(name, location, machine)
        self.states[name] = state
        self.order.insert(self.order.index(before) if before is not None else len(self.order), name)

    def reserve(self, name: str, location: Location) -> None:
        """Keep `name` its place in the reading order; a later pass builds it (`fill`)."""
        self._claim(name, location, machine=False)
        self.order.append(name)
        self.reserved.add(name)

    def fill(self, name: str, state: State) -> None:
        self.reserved.remove(name)
        self.states[name] = state

    def _claim(self, name: str, location: Location, machine: bool) -> None:
        if name in self.order or (not machine and name in self._machine_states()):
            raise UnsupportedConstruct(
                f"two generated states would both be named {name!r}, which Step Functions does not allow: rename the step or action whose id makes it",
                location,
            )

    def _machine_states(self) -> tuple[str, ...]:
        return ("WorkflowOutputs",) if self.called else ("CheckInput", "ApplyInputDefaults", "StartWorkflow", "WorkflowOutputs")

    def ordered_states(self) -> dict[str, State]:
        if self.reserved:  # pragma: no cover - a pass reserved a state and no pass built it
            raise AssertionError(f"states reserved but never built: {sorted(self.reserved)}")
        return {name: self.states[name] for name in self.order}

    def first_time(self, key: tuple[str, ...]) -> bool:
        """True once per key: states shared by several routes are built by the first."""
        if key in self.built:
            return False
        self.built.add(key)
        return True

    # --- names and places ------------------------------------------------------------------

    def placeholder(self, step: Step) -> str:
        return self.step_placeholders[step.step_id]

    def step_path(self, step_id: str) -> str:
        return f"{self.root}.steps.{self.step_keys[step_id]}"

    def enter(self, step_id: str) -> str:
        """Where a transition into a step goes: through the entry of the loops that go back
        to it (their counts start again), except from the loops themselves."""
        loops = self.loop_entries.get(step_id)
        if not loops:
            return step_id
        return f"{step_id}.EnterLoop" if len(loops) == 1 else f"{step_id}.EnterLoop.{loops[0].loop.key}"

    def counter(self, step: Step, action: Action, kind: str) -> str:
        """The state-data key of the counter of one loop or retry action of one step."""
        key = (step.step_id, action.name, kind)
        if key not in self.counters:
            data_key = safe_key(f"{step.step_id}_{action.name}" + ("_retry" if kind == "retry" else ""))
            while data_key in self.counters.values():  # e.g. a/b_c and a_b/c: each keeps its own
                data_key += "_"
            self.counters[key] = data_key
        return self.counters[key]

    # --- what each step's function is asked -----------------------------------------------

    def keep(self, step: Step) -> Keep:
        return self.keeps.setdefault(step.step_id, Keep())

    def evaluation(self, step: Step) -> Evaluation:
        return self.evaluations.setdefault(step.step_id, Evaluation())

    def read(self, step: Step, wanted: Read) -> str:
        """The key under `reads` of a value the step's function resolves from its answer."""
        reads = self.keep(step).reads
        known = [key for key, existing in reads.items() if existing == wanted]
        if known:
            return known[0]
        key = f"r{len(reads)}"
        reads[key] = wanted
        return key

    # --- the workflow's shape --------------------------------------------------------------

    def success_actions(self, step: Step) -> tuple[Action, ...]:
        # Step-level actions come first; workflow-level ones still apply after them.
        return tuple(step.on_success or ()) + self.workflow.success_actions

    def failure_actions(self, step: Step) -> tuple[Action, ...]:
        return tuple(step.on_failure or ()) + self.workflow.failure_actions

    def transferred_workflows(self) -> dict[str, Workflow]:
        """The workflows a goto or retry action of this workflow runs as a child execution, by
        their own id: when one succeeds its outputs land at `transfer_outputs`, where
        `$workflows.<id>.outputs` reads them (null until it has run)."""
        if self.resolve is None:
            return {}
        found: dict[str, Workflow] = {}
        for step in self.workflow.steps:
            for action in (*self.success_actions(step), *self.failure_actions(step)):
                if action.workflow_id is not None and action.type in ("goto", "retry"):
                    target = self.resolve(action.workflow_id)
                    found.setdefault(target.workflow_id, target)
        return found

    def transfer_outputs(self, workflow_id: str) -> str:
        """Where the answer of the last child execution of `workflow_id` that a goto or retry
        ran lies: {status, executionArn, outputs}."""
        return member(f"{self.root}.transfers", workflow_id)

    def initial_transfers(self) -> dict[str, Any]:
        """`<root>.transfers` as the run starts: each workflow a goto or retry may run, its
        outputs null until it has (as outputs that do not resolve read), so a path to them
        always leads somewhere."""
        return {workflow_id: {"outputs": {name: None for name in target.outputs}} for workflow_id, target in self.transferred_workflows().items()}

    def is_child_step(self, step: Step) -> bool:
        """A workflowId step that starts its workflow as a child execution: the workflow says
        `x-child-execution: true`, or is a workflow of another document (which the resolver marks
        so), or the step judges its outcome (successCriteria) or acts on its failure (failure
        actions, the workflow's included). An inlined workflow has no outcome to judge and its
        failures end the execution, so only the others are inlined. A step with x-for-each
        starts one child per item, from a Map (lower/foreach.py), not one."""
        if step.target_kind != "workflowId" or self.resolve is None or step.for_each is not None:
            return False
        if step.success_criteria or self.failure_actions(step):
            return True
        return self.resolve(called_workflow(step)).child_execution

    def is_backward(self, step: Step, action: Action) -> bool:
        if action.type != "goto" or action.step_id is None:
            return False
        return self.workflow.step(action.step_id).index <= step.index


def called_workflow(step: Step) -> str:
    """The workflowId a workflowId step names (the model keeps it as the step's target)."""
    return step.operation_ref or ""


def operation(step: Step) -> Operation:
    """The operation a step performs; only workflowId steps have none."""
    if step.operation is None:  # pragma: no cover - the model resolves every operation step's
        raise AssertionError(f"step {step.step_id!r} performs no operation")
    return step.operation


def _reachable_steps(workflow: Workflow) -> tuple[Step, ...]:
    """The steps some route reaches; the others are valid Arazzo, left out with a warning."""
    reachable = reachable_steps(workflow)
    for step in workflow.steps:
        if step.step_id not in reachable:
            warnings.warn(ArazzoWarning(
                f"step {step.step_id!r} can never be reached (no action and no step before it leads to it): it is left out of the state machine",
                step.location,
            ), stacklevel=2)
    return tuple(step for step in workflow.steps if step.step_id in reachable)
