"""Pass: the workflow inputs. A Choice checks what ASL can check of the inputs schema (each
failure a Fail naming the field), then the schema's defaults are merged in."""

from __future__ import annotations

from arazzo_sfn.lower.common import INVALID_INPUT_ERROR, compact_json, member
from arazzo_sfn.model import Workflow


class InputsPass:

    def _lower_inputs(self, first_step: str) -> str:
        schema = self.workflow.inputs or {}
        schema_location = self.workflow.location
        rules: list[dict] = []
        for name in schema.get("required") or []:
            rules.append(self._invalid_input({"Not": {"Variable": member("$", name), "IsPresent": True}}, name, "required", f"{name} is required"))
        for name, prop in self.properties.items():
            if isinstance(prop, dict):
                rules.extend(self._input_checks(name, prop))
        # The defaults are known once every step is lowered (`_finish_inputs`), like the loops.
        self._add("ApplyInputDefaults", {
            "Type": "Pass",
            "Comment": "Keep the defaults beside the input, so the next state can merge them.",
            "Parameters": {"defaults": {}, "given.$": "$"},
            "Next": "StartWorkflow",
        }, schema_location)
        self._add("StartWorkflow", {"Type": "Pass", "Parameters": {"inputs.$": "States.JsonMerge($.defaults, $.given, false)", "steps": {}, "loops": {}}, "Next": first_step}, schema_location)
        if not rules:
            return "ApplyInputDefaults"
        fails = {name: self.states.pop(name) for name in list(self.states) if name.startswith(INVALID_INPUT_ERROR + ".")}
        checks = {"CheckInput": {"Type": "Choice", "Choices": rules, "Default": "ApplyInputDefaults"}}
        # Reading order: the check first, then its failures, then the rest.
        self.states = {**checks, **fails, **self.states}
        return "CheckInput"

    def _finish_inputs(self, start: str) -> str:
        """Give the defaults to ApplyInputDefaults, or leave it out when there are none."""
        defaults = input_defaults(self.workflow, self.read_inputs)
        if defaults:
            self.states["ApplyInputDefaults"]["Parameters"]["defaults"] = defaults
            return start
        del self.states["ApplyInputDefaults"]
        self.states["StartWorkflow"]["Parameters"]["inputs.$"] = "$"
        if "CheckInput" in self.states:
            self.states["CheckInput"]["Default"] = "StartWorkflow"
        return "StartWorkflow" if start == "ApplyInputDefaults" else start

    def _input_checks(self, name: str, prop: dict) -> list[dict]:
        var = member("$", name)
        present = {"Variable": var, "IsPresent": True}
        rules = []
        kind = prop.get("type")
        type_tests = {"string": ("IsString", "a string"), "number": ("IsNumeric", "a number"), "integer": ("IsNumeric", "an integer"), "boolean": ("IsBoolean", "true or false")}
        if kind in type_tests:
            test, noun = type_tests[kind]
            rules.append(self._invalid_input({"And": [present, {"Not": {"Variable": var, test: True}}]}, name, "type", f"{name} must be {noun}"))
        typed = {"Variable": var, type_tests[kind][0]: True} if kind in type_tests else present
        if kind == "string" and prop.get("minLength", 0) >= 1:
            rules.append(self._invalid_input({"And": [present, typed, {"Variable": var, "StringEquals": ""}]}, name, "empty", f"{name} must not be empty"))
        if kind in ("number", "integer"):
            if "minimum" in prop:
                rules.append(self._invalid_input({"And": [present, typed, {"Variable": var, "NumericLessThan": prop["minimum"]}]}, name, "minimum", f"{name} must be at least {prop['minimum']}"))
            if "maximum" in prop:
                rules.append(self._invalid_input({"And": [present, typed, {"Variable": var, "NumericGreaterThan": prop["maximum"]}]}, name, "maximum", f"{name} must be at most {prop['maximum']}"))
        if isinstance(prop.get("enum"), list) and all(isinstance(v, str) for v in prop["enum"]):
            allowed = [{"Variable": var, "StringEquals": v} for v in prop["enum"]]
            rules.append(self._invalid_input({"And": [present, {"Not": {"Or": allowed} if len(allowed) > 1 else allowed[0]}]}, name, "enum", f"{name} must be one of {', '.join(prop['enum'])}"))
        return rules

    def _invalid_input(self, rule: dict, field: str, check: str, message: str) -> dict:
        name = f"{INVALID_INPUT_ERROR}.{field}.{check}"
        self._add(name, {"Type": "Fail", "Error": INVALID_INPUT_ERROR, "Cause": compact_json({"field": field, "message": message})}, self.workflow.location)
        return {**rule, "Next": name}


def input_defaults(workflow: Workflow, read: set[str]) -> dict:
    """The schema's defaults, and null for every other input the workflow reads: an input
    that is absent (optional, or allowed but not declared) reads as null, so no path into
    the state data leads nowhere. The functions leave null parameters and body members out."""
    properties = (workflow.inputs or {}).get("properties") or {}
    defaults = {name: prop["default"] for name, prop in properties.items() if isinstance(prop, dict) and "default" in prop}
    required = set((workflow.inputs or {}).get("required") or ())  # checked present already
    defaults.update({name: None for name in sorted(read) if name not in defaults and name not in required})
    return defaults
