"""Stage 5, verify: graph checks on the generated ASL that Step Functions' own parser (and
moto's) does not make: every transition lands on a state, every state is reachable, and
every non-terminal state goes somewhere; in the machine's graph and in each graph nested in
it (a Map's item processor), whose state names are distinct from every other."""

from __future__ import annotations

from typing import Any

from arazzo_sfn.errors import LoweringError

TERMINAL_TYPES = {"Succeed", "Fail"}
MAX_STATE_NAME = 80


def verify_state_machine(asl: dict[str, Any]) -> None:
    graphs = _graphs(asl)
    problems = [problem for graph in graphs for problem in _graph_problems(graph)]
    names = [name for graph in graphs for name in graph["States"]]
    problems += [f"state name {name!r} is used twice (names are unique in the whole machine, a Map's own states included)" for name in sorted({n for n in names if names.count(n) > 1})]
    if problems:
        raise LoweringError("the generated state machine is inconsistent: " + "; ".join(problems))


def _graphs(asl: dict[str, Any]) -> list[dict[str, Any]]:
    """The machine's graph and every graph nested in it (a Map's item processor)."""
    found = [asl]
    for state in asl["States"].values():
        processor = state.get("ItemProcessor") or state.get("Iterator")
        if isinstance(processor, dict):
            found += _graphs(processor)
        for branch in state.get("Branches") or []:
            found += _graphs(branch)
    return found


def _graph_problems(asl: dict[str, Any]) -> list[str]:
    """The checks of one graph (a Map's states go only to states of its own graph)."""
    states: dict[str, dict[str, Any]] = asl["States"]
    problems: list[str] = []
    if asl["StartAt"] not in states:
        problems.append(f"StartAt {asl['StartAt']!r} is not a state")
    for name, state in states.items():
        if len(name) > MAX_STATE_NAME:
            problems.append(f"state name {name!r} is longer than {MAX_STATE_NAME} characters")
        for target in transitions(state):
            if target not in states:
                problems.append(f"state {name!r} goes to missing state {target!r}")
        if state["Type"] not in TERMINAL_TYPES | {"Choice"} and not state.get("End") and "Next" not in state:
            problems.append(f"state {name!r} has neither Next nor End")
    reachable: set[str] = set()
    frontier: list[str] = [asl["StartAt"]]
    while frontier:
        name = frontier.pop()
        if name in reachable or name not in states:
            continue
        reachable.add(name)
        frontier.extend(transitions(states[name]))
    for name in states:
        if name not in reachable:
            problems.append(f"state {name!r} can never be reached")
    return problems


def transitions(state: dict[str, Any]) -> list[str]:
    targets = [state["Next"]] if "Next" in state else []
    targets += [choice["Next"] for choice in state.get("Choices", [])]
    if "Default" in state:
        targets.append(state["Default"])
    targets += [catcher["Next"] for catcher in state.get("Catch", [])]
    return targets
