"""Pass: values. Literals and runtime expressions become Parameters template fields: literal
values, paths into the state data, or intrinsic functions."""

from __future__ import annotations

import json
from typing import Any

from arazzo_runtime.expressions import EMBEDDED_EXPRESSION, RuntimeExpression, is_expression
from arazzo_sfn.errors import ExpressionError, Location, UnsupportedConstruct
from arazzo_sfn.lower.common import append_pointer, contains_expression, format_literal, member, parse_expression
from arazzo_sfn.model import Step


class ValuesPass:

    def _template_entry(self, key: str, value: Any, step: Step | None, location: Location, guaranteed: frozenset | None = None) -> tuple[str, Any]:
        """One field of a Parameters template: a literal, a path (`key.$`), or an intrinsic."""
        if key.endswith(".$"):
            raise UnsupportedConstruct(f"a field name ending in '.$' ({key!r}) cannot be expressed in ASL", location)
        if is_expression(value) and not EMBEDDED_EXPRESSION.search(value):
            return key + ".$", self._value_path(parse_expression(value, location), step, location, guaranteed)
        if isinstance(value, dict):
            return key, dict(self._template_entry(k, v, step, location, guaranteed) for k, v in value.items())
        if isinstance(value, list):
            refuse_path_keys(value, location)
            if not any(contains_expression(item) for item in value):
                return key, value
            return key + ".$", f"States.Array({', '.join(self._intrinsic_argument(item, step, location, guaranteed) for item in value)})"
        if isinstance(value, str) and EMBEDDED_EXPRESSION.search(value):
            return key + ".$", self._format(value, step, location, guaranteed)
        return key, value

    def _format(self, text: str, step: Step | None, location: Location, guaranteed: frozenset | None) -> str:
        """`"job-{$inputs.id}"` becomes States.Format('job-{}', $.inputs.id): always a string."""
        pieces, arguments, position = [], [], 0
        for match in EMBEDDED_EXPRESSION.finditer(text):
            pieces.append(format_literal(text[position:match.start()]))
            pieces.append("{}")
            arguments.append(self._value_path(parse_expression(match.group(1), location), step, location, guaranteed))
            position = match.end()
        pieces.append(format_literal(text[position:]))
        return f"States.Format('{''.join(pieces)}', {', '.join(arguments)})"

    def _intrinsic_argument(self, item: Any, step: Step | None, location: Location, guaranteed: frozenset | None) -> str:
        if is_expression(item) and not EMBEDDED_EXPRESSION.search(item):
            return self._value_path(parse_expression(item, location), step, location, guaranteed)
        if isinstance(item, str):
            return self._format(item, step, location, guaranteed) if EMBEDDED_EXPRESSION.search(item) else f"'{format_literal(item)}'"
        if item is None:
            raise UnsupportedConstruct("null cannot stand in an array that holds runtime expressions (States.Array has no null literal)", location)
        if isinstance(item, (bool, int, float)):
            return json.dumps(item)
        raise UnsupportedConstruct("runtime expressions in arrays that also hold objects or arrays are not supported yet", location)

    def _value_path(self, expression: RuntimeExpression, step: Step | None, location: Location, guaranteed: frozenset | None = None, seen: tuple = (), *, choice: bool = False) -> str:
        """The state-data path of an expression's value. A Choice rule (`choice`) may read a
        path that leads nowhere (its rules test IsPresent first); anything else may not, so
        what it reads of a response is resolved by the step's function (null when it does
        not resolve) and read from the step's `outputs` or `reads`."""
        kind = expression.kind
        if kind == "inputs":
            schema = self.workflow.inputs or {}
            if expression.name not in self.properties and schema.get("additionalProperties") is False:
                raise ExpressionError(f"{expression.text!r}: the workflow has no input {expression.name!r}", location)
            self.read_inputs.add(expression.name)
            return append_pointer(member(f"{self.root}.inputs", expression.name), expression.pointer)
        if kind in ("status_code", "response_body", "response_header"):
            if step is None or step.target_kind == "workflowId":
                raise ExpressionError(f"{expression.text!r} means the current step's HTTP response; there is none here", location)
            at = self._step_path(step.step_id)
            if kind == "status_code":
                return f"{at}.statusCode"
            if not choice:
                return member(f"{at}.reads", self._read(step, expression.text))
            keep = self._keep(step)
            if kind == "response_header":
                name = expression.name.lower()
                if name not in keep["headers"]:
                    keep["headers"].append(name)
                return member(f"{at}.headers", name)
            pointer = "".join("/" + token.replace("~", "~0").replace("/", "~1") for token in expression.pointer)
            if pointer not in keep["body"]:
                keep["body"].append(pointer)
            return append_pointer(f"{at}.body", expression.pointer)
        if kind == "step_output":
            return self._step_output_path(expression, step, location, guaranteed, seen)
        if kind == "outputs":
            # In a workflowId step's outputs: the called workflow's outputs.
            if step is None or step.target_kind != "workflowId":
                raise ExpressionError(f"{expression.text!r}: $outputs means a called workflow's outputs, in a workflowId step's outputs", location)
            if self._is_child_step(step):
                declared = self.resolve(step.operation_ref).outputs
                if expression.name not in declared:
                    raise ExpressionError(f"{expression.text!r}: workflow {step.operation_ref!r} has no output {expression.name!r}", location)
                return append_pointer(member(f"{self._step_path(step.step_id)}.outputs", expression.name), expression.pointer)
            return append_pointer(member(f"{self.root}.calls.{self.step_keys[step.step_id]}.outputs", expression.name), expression.pointer)
        if kind == "workflow_output":
            workflow_id = expression.text.split(".")[1]
            if workflow_id not in self.calls:
                raise ExpressionError(f"{expression.text!r}: workflow {workflow_id!r} has not been called (by a workflowId step or dependsOn) before this point", location)
            return member(f"{self.calls[workflow_id]}.outputs", expression.name)
        raise UnsupportedConstruct(f"{expression.text!r}: {kind.replace('_', ' ')} expressions are not supported yet", location)

    def _step_output_path(self, expression, step, location, guaranteed, seen) -> str:
        target_id = expression.step
        if target_id not in self.step_keys:
            raise ExpressionError(f"{expression.text!r}: there is no step {target_id!r}", location)
        target = self.workflow.step(target_id)
        if expression.name not in target.outputs:
            raise ExpressionError(f"{expression.text!r}: step {target_id!r} has no output {expression.name!r}", location)
        available = guaranteed if guaranteed is not None else self.guaranteed[step.step_id] | {step.step_id}
        if target_id not in available:
            raise ExpressionError(f"{expression.text!r}: step {target_id!r} has not always run by this point", location)
        if (target_id, expression.name) in seen:
            raise ExpressionError(f"{expression.text!r}: step outputs refer to each other in a cycle", location)
        inner = parse_expression(target.outputs[expression.name], target.location)
        if inner.kind in ("status_code", "response_body", "response_header") and target.target_kind != "workflowId":
            # The step's function resolves what its outputs read of its answer: null when it does not resolve.
            at = self._step_path(target_id)
            if not expression.pointer:
                self._keep(target)["outputs"][expression.name] = inner.text
                return member(f"{at}.outputs", expression.name)
            if inner.kind != "response_body":
                raise ExpressionError(f"{expression.text!r}: output {expression.name!r} of step {target_id!r} is {inner.text}, which has no members to point into", location)
            tokens = inner.pointer + expression.pointer
            text = "$response.body#" + "".join("/" + token.replace("~", "~0").replace("/", "~1") for token in tokens)
            return member(f"{at}.reads", self._read(target, text))
        if inner.kind in ("status_code", "response_body", "response_header", "inputs", "step_output", "outputs", "workflow_output"):
            path = self._value_path(inner, target, target.location, self.guaranteed[target_id] | {target_id}, seen + ((target_id, expression.name),))
            return append_pointer(path, expression.pointer)
        raise UnsupportedConstruct(f"output {expression.name!r} of step {target_id!r}: {inner.kind} expressions are not supported yet", target.location)

    def _keep(self, step: Step) -> dict:
        """What the workflow reads of the step's answer (sent to its function as `keep`)."""
        return self.keeps.setdefault(step.step_id, {"body": [], "headers": [], "outputs": {}, "reads": {}})

    def _read(self, step: Step, text: str) -> str:
        """The key under `reads` of a response expression the step's function resolves."""
        reads = self._keep(step)["reads"]
        known = [key for key, existing in reads.items() if existing == text]
        if known:
            return known[0]
        key = f"r{len(reads)}"
        reads[key] = text
        return key


def refuse_path_keys(value: Any, location: Location) -> None:
    """A literal that Step Functions would read as paths: a member name ending in `.$`, at any
    depth (arrays included), cannot be written in a Parameters template."""
    if isinstance(value, dict):
        for key, item in value.items():
            if str(key).endswith(".$"):
                raise UnsupportedConstruct(f"a field name ending in '.$' ({key!r}) cannot be expressed in ASL", location)
            refuse_path_keys(item, location)
    elif isinstance(value, list):
        for item in value:
            refuse_path_keys(item, location)
