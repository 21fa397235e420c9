"""State names fit Step Functions' 80 characters, however long the ids they are built from."""

from __future__ import annotations

import warnings
from pathlib import Path

from arazzo_sfn.compiler import compile_bundle
from arazzo_sfn.lower.names import MAX_STATE_NAME, fitted

DOCUMENT = Path(__file__).parents[1] / "fixtures" / "documents" / "long-names" / "long-names.arazzo.yaml"


def transitions(asl: dict) -> set[str]:
    found = {asl["StartAt"]}
    for state in asl["States"].values():
        found |= {state[key] for key in ("Next", "Default") if key in state}
        found |= {rule["Next"] for rule in state.get("Choices", []) + state.get("Catch", [])}
    return found


def test_long_names_are_cut_to_fit_and_every_transition_follows():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        asl = compile_bundle(DOCUMENT, "order")["order"]
    names = list(asl["States"])
    assert max(len(name) for name in names) <= MAX_STATE_NAME
    assert any("~" in name for name in names), "the fixture must make names past the limit"
    assert transitions(asl) <= set(names)


def test_a_fitted_name_is_stable_and_tells_two_long_names_apart():
    first, second = "x" * 90 + ".ChildFailed", "x" * 90 + ".ChildFailed.Fail"
    assert fitted(first) == fitted(first) and len(fitted(first)) == MAX_STATE_NAME
    assert fitted(first) != fitted(second)
