"""The verify stage checks the graphs nested in a machine (a Map's item processor) as it
checks the machine's own, and state names across all of them."""

from __future__ import annotations

import pytest

from arazzo_sfn.errors import LoweringError
from arazzo_sfn.verify import verify_state_machine


def machine(processor_states: dict, outer_name: str = "Done") -> dict:
    return {
        "StartAt": "Each",
        "States": {
            "Each": {"Type": "Map", "ItemProcessor": {"StartAt": "Item", "States": processor_states}, "Next": outer_name},
            outer_name: {"Type": "Succeed"},
        },
    }


def test_a_sound_map_passes():
    verify_state_machine(machine({"Item": {"Type": "Pass", "End": True}}))


def test_a_transition_inside_the_map_to_a_missing_state_is_found():
    with pytest.raises(LoweringError, match="state 'Item' goes to missing state 'Gone'"):
        verify_state_machine(machine({"Item": {"Type": "Pass", "Next": "Gone"}}))


def test_an_unreachable_state_inside_the_map_is_found():
    with pytest.raises(LoweringError, match="state 'Orphan' can never be reached"):
        verify_state_machine(machine({"Item": {"Type": "Pass", "End": True}, "Orphan": {"Type": "Succeed"}}))


def test_a_name_used_inside_and_outside_the_map_is_found():
    with pytest.raises(LoweringError, match="state name 'Item' is used twice"):
        verify_state_machine(machine({"Item": {"Type": "Pass", "End": True}}, outer_name="Item"))
