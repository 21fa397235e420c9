"""Pass: the workflow inputs, the first states of the machine. A Choice checks what ASL can
check of the inputs schema (each failure a Fail naming the field), then the schema's defaults
are merged in, and the state data is set up. It runs last: the defaults cover the inputs the
other passes read, and the data holds the counts of the loops they built."""

from __future__ import annotations

from typing import Any

from arazzo_sfn.errors import Location, UnsupportedConstruct
from arazzo_sfn.lower import loops
from arazzo_sfn.lower.common import INVALID_INPUT_ERROR, compact_json, member
from arazzo_sfn.lower.context import Context, State
from arazzo_sfn.model import Workflow


def lower(ctx: Context) -> None:
    first = ctx.order[0]
    schema = ctx.workflow.inputs or {}
    location = ctx.workflow.location
    fails: dict[str, State] = {}
    rules: list[dict[str, Any]] = []
    for name in schema.get("required") or []:
        rules.append(_invalid_input(fails, {"Not": {"Variable": member("$", name), "IsPresent": True}}, name, "required", f"{name} is required", location))
    for name, prop in ctx.properties.items():
        if isinstance(prop, dict):
            rules.extend(_input_checks(fails, name, prop, location))
    defaults = input_defaults(ctx.workflow, ctx.read_inputs)
    data: dict[str, Any] = {
        "inputs.$": "States.JsonMerge($.defaults, $.given, false)" if defaults else "$",
        "steps": loops.initial_steps(ctx),
        "loops": loops.initial_counters(ctx),
    }
    if ctx.calls or ctx.child_dependencies:
        data["calls"] = {}
    if ctx.transferred_workflows():
        data["transfers"] = ctx.initial_transfers()
    start = "StartWorkflow"
    states: dict[str, State] = {}
    if defaults:
        start = "ApplyInputDefaults"
        states[start] = {
            "Type": "Pass",
            "Comment": "Keep the defaults beside the input, so the next state can merge them.",
            "Parameters": {"defaults": defaults, "given.$": "$"},
            "Next": "StartWorkflow",
        }
    states["StartWorkflow"] = {"Type": "Pass", "Parameters": data, "Next": ctx.start}
    if rules:
        states = {"CheckInput": {"Type": "Choice", "Choices": rules, "Default": start}, **fails, **states}
        start = "CheckInput"
    for name, state in states.items():
        ctx.add(name, state, location, before=first, machine=True)
    ctx.start = start


def _input_checks(fails: dict[str, State], name: str, prop: dict[str, Any], location: Location) -> list[dict[str, Any]]:
    var = member("$", name)

    def check(rule: dict[str, Any], kind: str, message: str) -> dict[str, Any]:
        return _invalid_input(fails, rule, name, kind, message, location)

    present = {"Variable": var, "IsPresent": True}
    rules = []
    kind = prop.get("type")
    type_tests = {"string": ("IsString", "a string"), "number": ("IsNumeric", "a number"), "integer": ("IsNumeric", "an integer"), "boolean": ("IsBoolean", "true or false")}
    if kind in type_tests:
        test, noun = type_tests[kind]
        rules.append(check({"And": [present, {"Not": {"Variable": var, test: True}}]}, "type", f"{name} must be {noun}"))
    typed = {"Variable": var, type_tests[kind][0]: True} if kind in type_tests else present
    if kind == "string" and prop.get("minLength", 0) >= 1:
        rules.append(check({"And": [present, typed, {"Variable": var, "StringEquals": ""}]}, "empty", f"{name} must not be empty"))
    if kind in ("number", "integer"):
        if "minimum" in prop:
            rules.append(check({"And": [present, typed, {"Variable": var, "NumericLessThan": prop["minimum"]}]}, "minimum", f"{name} must be at least {prop['minimum']}"))
        if "maximum" in prop:
            rules.append(check({"And": [present, typed, {"Variable": var, "NumericGreaterThan": prop["maximum"]}]}, "maximum", f"{name} must be at most {prop['maximum']}"))
    if isinstance(prop.get("enum"), list) and all(isinstance(v, str) for v in prop["enum"]):
        allowed = [{"Variable": var, "StringEquals": v} for v in prop["enum"]]
        rules.append(check({"And": [present, {"Not": {"Or": allowed} if len(allowed) > 1 else allowed[0]}]}, "enum", f"{name} must be one of {', '.join(prop['enum'])}"))
    return rules


def _invalid_input(fails: dict[str, State], rule: dict[str, Any], field: str, check: str, message: str, location: Location) -> dict[str, Any]:
    name = f"{INVALID_INPUT_ERROR}.{field}.{check}"
    if name in fails:
        raise UnsupportedConstruct(f"two generated states would both be named {name!r}, which Step Functions does not allow: rename the step or action whose id makes it", location)
    fails[name] = {"Type": "Fail", "Error": INVALID_INPUT_ERROR, "Cause": compact_json({"field": field, "message": message})}
    return {**rule, "Next": name}


def input_defaults(workflow: Workflow, read: set[str]) -> dict[str, Any]:
    """The schema's defaults, and null for every other input the workflow reads: an input
    that is absent (optional, or allowed but not declared) reads as null, so no path into
    the state data leads nowhere. The functions leave null parameters and body members out."""
    properties = (workflow.inputs or {}).get("properties") or {}
    defaults = {name: prop["default"] for name, prop in properties.items() if isinstance(prop, dict) and "default" in prop}
    required = set((workflow.inputs or {}).get("required") or ())  # checked present already
    defaults.update({name: None for name in sorted(read) if name not in defaults and name not in required})
    return defaults
