"""The step graph of a workflow: which steps have certainly run before each one, and the
state-data key of each step."""

from __future__ import annotations

from arazzo_sfn.errors import UnsupportedConstruct
from arazzo_sfn.lower.common import safe_key
from arazzo_sfn.model import Workflow


def step_successors(workflow: Workflow) -> dict[str, set[str]]:
    """The steps (and "$end", a successful end) each step can lead to, on success and on
    failure alike."""
    steps = workflow.steps
    ids = [s.step_id for s in steps]
    successors: dict[str, set[str]] = {}
    for step in steps:
        targets: set[str] = set()
        unconditional = False
        for action in tuple(step.on_success or ()) + workflow.success_actions:
            if action.type == "goto" and action.step_id:
                targets.add(action.step_id)
                if action.loop is not None and action.loop.on_limit == "end":
                    targets.add("$end")  # a loop at its bound may end the workflow
            elif action.type == "goto":  # to a workflow: this one ends once that one succeeds
                targets.add("$end")
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
            elif action.type == "goto":
                targets.add("$end")  # to a workflow: this one ends once that one succeeds
        successors[step.step_id] = targets
    return successors


def backward_gotos(workflow: Workflow) -> dict[str, int]:
    """For each step, how many backward gotos (loops) lead to it, counting a workflow-level
    action once for every step it applies to."""
    index = {step.step_id: step.index for step in workflow.steps}
    counts: dict[str, int] = {}
    for step in workflow.steps:
        actions = tuple(step.on_success or ()) + workflow.success_actions + tuple(step.on_failure or ()) + workflow.failure_actions
        for action in actions:
            if action.type == "goto" and action.step_id in index and index[action.step_id] <= step.index:
                counts[action.step_id] = counts.get(action.step_id, 0) + 1
    return counts


def reachable_steps(workflow: Workflow) -> set[str]:
    """The steps some route leads to from the first one."""
    successors = step_successors(workflow)
    reached, frontier = set(), [workflow.steps[0].step_id] if workflow.steps else []
    while frontier:
        step_id = frontier.pop()
        if step_id in reached or step_id not in successors:
            continue
        reached.add(step_id)
        frontier.extend(successors[step_id])
    return reached


def guaranteed_before(workflow: Workflow) -> dict[str, frozenset[str]]:
    """For each step, the steps that have certainly run before it starts (a dominator
    analysis over the step graph, success and failure edges alike, over the steps some route
    reaches); under "$end", those certain at a successful end."""
    reachable = reachable_steps(workflow)
    ids = [s.step_id for s in workflow.steps if s.step_id in reachable]
    successors = step_successors(workflow)
    everything = frozenset(ids)
    before: dict[str, frozenset[str]] = {sid: everything for sid in ids + ["$end"]}
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


def data_keys(ids: list[str], workflow: Workflow) -> dict[str, str]:
    keys: dict[str, str] = {}
    for step_id in ids:
        key = safe_key(step_id)
        if key in keys.values():
            raise UnsupportedConstruct(f"step ids {step_id!r} and another map to the same state data key {key!r}", workflow.location)
        keys[step_id] = key
    return keys


