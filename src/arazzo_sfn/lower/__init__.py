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

from collections.abc import Callable
from dataclasses import dataclass

from arazzo_sfn.lower.common import HISTORY_EVENT_LIMIT, HISTORY_RESERVE, function_placeholder, state_machine_placeholder
from arazzo_sfn.lower.loops import EVENTS_PER_PASS, loop_iteration_cap
from arazzo_sfn.lower.machine import _Lowering
from arazzo_sfn.model import Workflow

__all__ = ["EVENTS_PER_PASS", "HISTORY_EVENT_LIMIT", "HISTORY_RESERVE", "Lowered", "function_placeholder", "loop_iteration_cap", "lower", "lower_workflow", "state_machine_placeholder"]


def lower_workflow(workflow: Workflow, resolve: Callable[[str], Workflow] | None = None) -> dict:
    """`resolve` gives the other workflows of the document, for workflowId steps and dependsOn."""
    return lower(workflow, resolve).asl


@dataclass(frozen=True)
class Lowered:
    asl: dict
    children: frozenset[str]  # the workflows it starts as child executions (their own state machines)


def lower(workflow: Workflow, resolve: Callable[[str], Workflow] | None = None) -> Lowered:
    lowering = _Lowering(workflow, resolve)
    asl = lowering.run()
    return Lowered(asl, frozenset(lowering.children))
