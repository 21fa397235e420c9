"""What every pass of the lowering shares: limits, names, paths, and the small helpers that
turn document values into ASL."""

from __future__ import annotations

import json
import re
from typing import Any

from arazzo_runtime import conditions as cr
from arazzo_runtime.expressions import CONDITION_DELIMITERS, Expression, ExpressionSyntaxError, Template, is_expression, parse_pointer, parse_template, scan_expression
from arazzo_runtime.expressions import parse_expression as _parse_expression
from arazzo_sfn.errors import ExpressionError, Location, UnsupportedConstruct
from arazzo_sfn.model import Criterion

# Step Functions fails an execution at 25,000 history events. Keep 8% of the history for
# retries of failed attempts (3 events each) and for the states outside a loop; the loops
# pass knows what one pass of each form costs.
HISTORY_EVENT_LIMIT = 25_000
HISTORY_RESERVE = 2_000

# Retry the Lambda service's own transient errors, as AWS recommends for Lambda tasks.
LAMBDA_SERVICE_RETRY = {
    "ErrorEquals": [
        "Lambda.ClientExecutionTimeoutException",
        "Lambda.ServiceException",
        "Lambda.AWSLambdaException",
        "Lambda.SdkClientException",
        "Lambda.TooManyRequestsException",
    ],
    "IntervalSeconds": 2,
    "BackoffRate": 2,
    "MaxAttempts": 6,
}
DEFAULT_LOOP_WAIT_SECONDS = 30
STEP_FAILED_ERROR = "StepFailed"
# A step without successCriteria succeeds on an HTTP 2xx (its function is told so, for `keep`).
DEFAULT_SUCCESS = Criterion("$statusCode >= 200 && $statusCode < 300", "simple", None, Location("(default)"))
INVALID_INPUT_ERROR = "InvalidInput"
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


# Where an expression ends inside a condition or a JSONPath query: the condition's own syntax,
# and the quotes, brackets and commas of a query.
_EXPRESSION_ENDS = CONDITION_DELIMITERS + "'[],"


def expressions_in(text: str) -> list[Expression]:
    """The runtime expressions written in a condition or a JSONPath query, read by the grammar
    at each `$` that starts one (`$.a` and `$[0]` are JSONPath, not runtime expressions); text
    the grammar does not read as an expression is left to the condition's own parser."""
    found: list[Expression] = []
    position = text.find("$")
    while position >= 0:
        following = position + 1
        if text[following : following + 1].isalpha():
            try:
                expression, following = scan_expression(text, position, stop=_EXPRESSION_ENDS)
                found.append(expression)
            except ExpressionSyntaxError:
                pass
        position = text.find("$", following)
    return found


def function_placeholder(step_id: str) -> str:
    return f"{_pascal(step_id)}FunctionArn"


def state_machine_placeholder(workflow_id: str) -> str:
    """`${<WorkflowId>StateMachineArn}`: the state machine a child execution of that workflow runs."""
    return f"{_pascal(workflow_id)}StateMachineArn"


def _pascal(text: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[^A-Za-z0-9]+", text) if part)



def parse_expression(text: str, location: Location | None, version: str = "1.0") -> Expression:
    """The expression `text` is, whole, by the grammar of the document's Arazzo `version`; text
    the grammar forbids is an error at `location`."""
    try:
        return _parse_expression(text, version)
    except ExpressionSyntaxError as error:
        raise ExpressionError(str(error), location) from None


def template(text: str, location: Location | None, version: str = "1.0") -> Template:
    """A string's literal text and the `{$...}` expressions embedded in it."""
    try:
        return parse_template(text, version)
    except ExpressionSyntaxError as error:
        raise ExpressionError(str(error), location) from None


def whole_expression(value: Any) -> bool:
    """A value that is one runtime expression (it starts with `$`), not text that embeds some."""
    return is_expression(value) and not parse_template_expressions(value)


def parse_template_expressions(text: str) -> tuple[Expression, ...]:
    try:
        return parse_template(text).expressions
    except ExpressionSyntaxError:
        return ()


def parse_condition(text: str, location: Location | None, version: str = "1.0") -> cr.Condition:
    try:
        return cr.parse_condition(text, version)
    except cr.ConditionSyntaxError as error:
        raise ExpressionError(str(error), location) from None


RETURN = "$return"  # where an inlined workflow's last state goes: replaced by the caller's next state


def renamed(state: dict[str, Any], prefix: str, then: str) -> dict[str, Any]:
    """A called workflow's state, its transitions moved under `prefix.`; `$return` becomes `then`."""
    def name(target: str) -> str:
        return then if target == RETURN else f"{prefix}.{target}"

    state = json.loads(json.dumps(state))
    if "Next" in state:
        state["Next"] = name(state["Next"])
    if "Default" in state:
        state["Default"] = name(state["Default"])
    for rule in state.get("Choices", []):
        rule["Next"] = name(rule["Next"])
    for catcher in state.get("Catch", []):
        catcher["Next"] = name(catcher["Next"])
    return state


def format_literal(text: str) -> str:
    """Escape text for a single-quoted intrinsic string argument."""
    return re.sub(r"([\\'{}])", r"\\\1", text)


def safe_key(text: str) -> str:
    key = re.sub(r"[^A-Za-z0-9_]", "_", text)
    return key if _IDENTIFIER.match(key) else f"_{key}"


def member(base: str, name: str) -> str:
    return f"{base}.{name}" if _IDENTIFIER.match(name) else f"{base}['{name}']"


def append_pointer(path: str, tokens: tuple[str, ...], location: Location | None = None) -> str:
    for token in tokens:
        if token.isdigit():
            path += f"[{token}]"
        elif "'" in token or "\\" in token:
            raise UnsupportedConstruct(f"JSON pointer token {token!r} is not supported: it cannot be expressed as an ASL path", location)
        else:
            path = member(path, token)
    return path


def replacement_target(target: Any, location: Location) -> str:
    if not isinstance(target, str) or not (target == "" or target.startswith("/")):
        raise UnsupportedConstruct(f"replacement target {target!r}: only JSON Pointer targets are supported (XPath is not)", location)
    return target


def apply_replacements(payload: Any, replacements: tuple[dict[str, Any], ...], location: Location) -> Any:
    """Apply requestBody.replacements (JSON Pointer targets) to the payload template, at compile
    time: the payload is a literal structure, so each target is a fixed place in it."""
    if not replacements:
        return payload
    result = json.loads(json.dumps(payload))
    for replacement in replacements:
        target = replacement.get("target", "")
        if not isinstance(target, str) or not (target == "" or target.startswith("/")):
            raise UnsupportedConstruct(f"replacement target {target!r}: only JSON Pointer targets are supported (XPath is not)", location)
        if target == "":  # RFC 6901: the whole document, here the whole payload
            result = json.loads(json.dumps(replacement.get("value")))
            continue
        # Validation found each target a place in the payload as the replacements before left it.
        tokens = parse_pointer(target)
        parent = result
        for token in tokens[:-1]:
            parent = parent[int(token)] if isinstance(parent, list) else parent[token]
            if is_expression(parent):
                raise UnsupportedConstruct(
                    f"replacement target {target!r} is inside {parent!r}, a value known only at run time: "
                    "replacing a part of it is not supported (replace the whole member, or give the whole payload by one expression)",
                    location,
                )
        last = tokens[-1]
        if isinstance(parent, list):
            index = len(parent) if last == "-" else int(last)
            if index == len(parent):
                parent.append(replacement.get("value"))
            else:
                parent[index] = replacement.get("value")
        else:
            parent[last] = replacement.get("value")
    return result


def contains_expression(value: Any) -> bool:
    if is_expression(value) or (isinstance(value, str) and parse_template_expressions(value)):
        return True
    if isinstance(value, dict):
        return any(contains_expression(v) for v in value.values())
    if isinstance(value, list):
        return any(contains_expression(v) for v in value)
    return False


def compact_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))
