"""Stage 5, verify: graph checks on the generated ASL that Step Functions' own parser (and
moto's) does not make: every transition lands on a state, every state is reachable, and
every non-terminal state goes somewhere."""

from __future__ import annotations

from typing import Any

from arazzo_sfn.errors import LoweringError

TERMINAL_TYPES = {"Succeed", "Fail"}
MAX_STATE_NAME = 80


def verify_state_machine(asl: dict[str, Any]) -> None:
    states: dict[str, dict[str, Any]] = asl["States"]
    problems = []
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
    if problems:
        raise LoweringError("the generated state machine is inconsistent: " + "; ".join(problems))


def transitions(state: dict[str, Any]) -> list[str]:
    targets = [state["Next"]] if "Next" in state else []
    targets += [choice["Next"] for choice in state.get("Choices", [])]
    if "Default" in state:
        targets.append(state["Default"])
    targets += [catcher["Next"] for catcher in state.get("Catch", [])]
    return targets
