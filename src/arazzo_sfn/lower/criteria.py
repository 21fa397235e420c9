"""Criteria: native Choice rules where ASL can say what a criterion means; otherwise
the step's function evaluates it and the rule reads its verdict."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from arazzo_runtime import conditions as cr
from arazzo_runtime import criteria_1_1 as c11
from arazzo_runtime.expressions import Expression, ExpressionSyntaxError
from arazzo_runtime.jsonpath_versions import GOESSNER, script_expression
from arazzo_runtime.payload import ANSWER_EXPRESSION_KINDS
from arazzo_sfn.errors import ExpressionError, UnsupportedConstruct
from arazzo_sfn.lower.common import expressions_in, parse_condition, parse_expression
from arazzo_sfn.lower.context import Context
from arazzo_sfn.lower.values import refuse_answer_of_call, value_path
from arazzo_sfn.model import Criterion, Step

ToPath = Callable[[cr.Operand], str]
# What a step's function reads of the request it sent and the answer it received: the forms
# the payload contract lets it resolve, and no other (`$response.query` is refused here, located).
ANSWER_KINDS = ANSWER_EXPRESSION_KINDS


def criteria_rule(ctx: Context, criteria: tuple[Criterion, ...], step: Step) -> dict[str, Any]:
    rules = [criterion_rule(ctx, c, step) for c in criteria]
    return rules[0] if len(rules) == 1 else {"And": rules}


def criterion_rule(ctx: Context, criterion: Criterion, step: Step) -> dict[str, Any]:
    """A native Choice rule where ASL can say what the criterion means; otherwise the
    step's function evaluates it on the response and the rule reads its verdict."""
    for expression in _expressions_of(criterion):
        refuse_answer_of_call(expression, step, criterion.location)
    if criterion.arazzo == c11.READING:
        return _criterion_rule_1_1(ctx, criterion, step)
    if criterion.type == "xpath":
        raise UnsupportedConstruct("xpath criteria are not supported yet", criterion.location)
    if criterion.type not in ("simple", "regex", "jsonpath"):
        raise UnsupportedConstruct(f"{criterion.type} criteria are not supported", criterion.location)
    try:
        if criterion.type == "simple":
            tree = parse_condition(criterion.condition, criterion.location, ctx.workflow.version)

            def operand_path(operand: cr.Operand) -> str:
                return value_path(ctx, parse_expression(operand.text, criterion.location, ctx.workflow.version), step, criterion.location, choice=True)

            return _rule(tree, operand_path, criterion, case_insensitive=True)
        if criterion.type == "jsonpath" and not _is_rfc9535_query(criterion.condition):
            if criterion.version not in (None, "draft-goessner-dispatch-jsonpath-00"):
                raise UnsupportedConstruct(f"jsonpath version {criterion.version!r} is not supported", criterion.location)
            tree = parse_condition(criterion.condition, criterion.location, ctx.workflow.version)
            context = parse_expression(criterion.context or "", criterion.location, ctx.workflow.version)

            def member_path(operand: cr.Operand) -> str:
                # The member itself is what the rule reads (and the step keeps), not the context.
                try:
                    member = context.with_pointer(_jsonpath_tokens(operand))
                except ExpressionSyntaxError:
                    raise _NotNative() from None  # a context with no members (`$statusCode`): the function reads it
                return value_path(ctx, member, step, criterion.location, choice=True)

            return _rule(tree, member_path, criterion, case_insensitive=False)
    except _NotNative:
        pass
    return _evaluated_rule(ctx, criterion, step)


def _criterion_rule_1_1(ctx: Context, criterion: Criterion, step: Step) -> dict[str, Any]:
    """Arazzo 1.1's reading (docs/compiler/arazzo-1.1-criteria.md): a simple condition is a
    native rule where ASL says the same thing; every other criterion is judged by the step's
    function, which reads it as 1.1 does (`arazzo_runtime.criteria_1_1`)."""
    if criterion.type == "xpath":
        raise UnsupportedConstruct("xpath criteria need an XPath 3.1 evaluator, which is not supported", criterion.type_location or criterion.location)
    # A Goessner query with embedded expressions is read once they are substituted; a script
    # expression in its own text is refused now.
    goessner = criterion.type == "jsonpath" and criterion.version == GOESSNER
    if goessner and (script_expression(criterion.condition) or not _embedded(criterion)):
        try:
            c11.compile_query(criterion.condition, GOESSNER)
        except c11.QueryError as error:
            raise UnsupportedConstruct(f"{GOESSNER} query: {error}, which is not supported", criterion.condition_location or criterion.location) from None
    if criterion.type == "simple":
        tree = parse_condition(criterion.condition, criterion.location, ctx.workflow.version)

        def operand_path(operand: cr.Operand) -> str:
            return value_path(ctx, parse_expression(operand.text, criterion.location, ctx.workflow.version), step, criterion.location, choice=True)

        try:
            return _rule(tree, operand_path, criterion, case_insensitive=True)
        except _NotNative:
            pass
    return _evaluated_rule(ctx, criterion, step)


def _evaluated_rule(ctx: Context, criterion: Criterion, step: Step) -> dict[str, Any]:
    """Send the criterion to the step's function; branch on `criteria.<id>` it returns. A
    step that runs a child execution has a Task of its own that sends its function the
    criteria after the child ends (`calls.child_step`); an inlined workflow has none."""
    if step.target_kind == "workflowId" and not ctx.is_child_step(step) and criterion.arazzo == c11.READING:
        raise UnsupportedConstruct(
            f"criterion {criterion.condition!r} needs a function to judge it (Arazzo 1.1 compares strings ignoring case, coerces "
            "numeric strings, and reads regex and jsonpath conditions as Choice rules cannot), which is not supported on a step whose "
            "workflow is inlined: mark the workflow `x-child-execution: true` (the step then runs it as a child execution, and a function "
            "judges the criteria on its outputs), or compare with a boolean or null",
            criterion.location,
        )
    if step.target_kind == "workflowId" and not ctx.is_child_step(step):
        raise UnsupportedConstruct(
            f"criterion {criterion.condition!r} needs a function to judge it (Choice rules compare strings exactly, "
            "and simple criteria compare them ignoring case), which is not supported on a step whose workflow is inlined: "
            "mark the workflow `x-child-execution: true` (the step then runs it as a child execution, and a function judges "
            "the criteria on its outputs), or compare with a jsonpath criterion (context: $outputs.<name>, condition: $ == 'done'), "
            "a number or a boolean",
            criterion.location,
        )
    verdict = f"{ctx.step_path(step.step_id)}.criteria.{evaluated_id(ctx, criterion, step)}"
    return {"And": [{"Variable": verdict, "IsPresent": True}, {"Variable": verdict, "BooleanEquals": True}]}


def evaluated_id(ctx: Context, criterion: Criterion, step: Step) -> str:
    """The id under which the step's function evaluates `criterion` (`evaluate.<id>`)."""
    evaluate = ctx.evaluation(step).evaluate
    spec = criterion_spec(ctx, criterion, step)
    known = [cid for cid, existing in evaluate.items() if existing == spec]
    cid = known[0] if known else f"c{len(evaluate)}"
    evaluate[cid] = spec
    return cid


def criterion_spec(ctx: Context, criterion: Criterion, step: Step) -> dict[str, Any]:
    """The criterion as a step function evaluates it; the values it reads besides the
    response are sent along (`values`)."""
    values = ctx.evaluation(step).values
    spec: dict[str, Any] = {"type": criterion.type, "condition": criterion.condition, "context": criterion.context}
    if criterion.version is not None:
        spec["version"] = criterion.version
    if criterion.arazzo == c11.READING:
        spec[c11.ARAZZO_FIELD] = c11.READING
    for expression in _expressions_of(criterion):
        # The function resolves what is about the response; the rest it is sent.
        if expression.kind in ANSWER_KINDS or any(v["expression"] == expression.text for v in values.values()):
            continue
        path = value_path(ctx, expression, step, criterion.location)
        values[f"v{len(values)}"] = {"expression": expression.text, "value.$": path}
    return spec


def _expressions_of(criterion: Criterion) -> list[Expression]:
    """The runtime expressions a criterion reads, in its condition and its context."""
    if criterion.arazzo == c11.READING:
        # 1.1 embeds expressions in a regex, jsonpath or jsonpointer condition as `{$...}`.
        used = expressions_in(criterion.condition) if criterion.type == "simple" else list(_embedded(criterion))
    else:
        used = expressions_in(criterion.condition) if criterion.type != "regex" else []
    return used + (expressions_in(criterion.context) if criterion.context else [])


def _embedded(criterion: Criterion) -> tuple[Expression, ...]:
    try:
        return c11.condition_template(criterion.condition).expressions
    except ExpressionSyntaxError as error:
        raise ExpressionError(str(error), criterion.condition_location or criterion.location) from None


class _NotNative(Exception):
    """The criterion means something Choice rules cannot say; its function evaluates it."""




def _is_rfc9535_query(condition: str) -> bool:
    """The comparison form compares members of the context; anything with a filter selector,
    or a bare query with no comparison, is an RFC 9535 query."""
    return "[?" in condition or not re.search(r"==|!=|<|>", condition)


# --- Choice rules from condition trees -----------------------------------------------------------

_OPS = {"==": "Equals", "<": "LessThan", "<=": "LessThanEquals", ">": "GreaterThan", ">=": "GreaterThanEquals"}
_FLIP = {"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}


def _rule(tree: cr.Condition, to_path: ToPath, criterion: Criterion, case_insensitive: bool) -> dict[str, Any]:
    if isinstance(tree, cr.Or):
        return {"Or": [_rule(t, to_path, criterion, case_insensitive) for t in tree.terms]}
    if isinstance(tree, cr.And):
        return {"And": [_rule(t, to_path, criterion, case_insensitive) for t in tree.terms]}
    if isinstance(tree, cr.Not):
        return {"Not": _rule(tree.term, to_path, criterion, case_insensitive)}
    if isinstance(tree, cr.Operand):
        path = to_path(tree)
        return {"And": [{"Variable": path, "IsPresent": True}, {"Variable": path, "IsBoolean": True}, {"Variable": path, "BooleanEquals": True}]}
    if isinstance(tree, cr.Literal):
        always = {"Variable": "$", "IsPresent": True}
        return always if tree.value is True else {"Not": always}
    left, op, right = tree.left, tree.op, tree.right
    if isinstance(left, cr.Literal) and isinstance(right, cr.Operand):
        left, op, right = right, _FLIP[op], left
    if not (isinstance(left, cr.Operand) and isinstance(right, cr.Literal)):
        raise _NotNative()  # two values compared with each other
    reads_1_1 = criterion.arazzo == c11.READING
    if reads_1_1 and isinstance(right.value, (int, float)) and not isinstance(right.value, bool) and left.text != "$statusCode":
        # 1.1 coerces a numeric string compared with a number; Choice rules cannot. Only
        # $statusCode is always a number.
        raise _NotNative()
    path, value = to_path(left), right.value
    if reads_1_1 and value is None and op in ("==", "!="):
        # 1.1: an absent value reads as null ("null or undefined"); null equals only null.
        absent_or_null = {"Or": [{"Not": {"Variable": path, "IsPresent": True}}, {"Variable": path, "IsNull": True}]}
        return absent_or_null if op == "==" else {"Not": absent_or_null}
    if isinstance(value, bool):
        kind, test = "Boolean", "IsBoolean"
    elif isinstance(value, (int, float)):
        kind, test = "Numeric", "IsNumeric"
    elif isinstance(value, str):
        if case_insensitive:
            # Arazzo 1.0.1 compares strings case-insensitively; Choice rules cannot.
            raise _NotNative()
        kind, test = "String", "IsString"
    elif value is None:
        if op not in ("==", "!="):
            raise UnsupportedConstruct(f"condition {criterion.condition!r}: null can only be compared with == or !=", criterion.location)
        rule = {"And": [{"Variable": path, "IsPresent": True}, {"Variable": path, "IsNull": True}]}
        return rule if op == "==" else {"Not": rule}
    else:
        raise UnsupportedConstruct(f"condition {criterion.condition!r}: cannot compare with {value!r}", criterion.location)
    if kind == "Boolean" and op not in ("==", "!="):
        raise UnsupportedConstruct(f"condition {criterion.condition!r}: booleans can only be compared with == or !=", criterion.location)
    comparison = {"Variable": path, kind + _OPS["==" if op == "!=" else op]: value}
    # A missing value or one of another type makes the comparison false, not a runtime error.
    rule = {"And": [{"Variable": path, "IsPresent": True}, {"Variable": path, test: True}, comparison]}
    return {"Not": rule} if op == "!=" else rule


def _jsonpath_tokens(operand: cr.Operand) -> tuple[str, ...]:
    """The seed's comparison form: `$.a.b`, `$.a[0]`, `$['a b']` name a member of the context
    value; its JSON Pointer tokens relative to the context."""
    text = operand.text
    if not re.fullmatch(r"\$((?:\.[A-Za-z_][A-Za-z0-9_]*|\[\d+\]|\['(?:[^'\\]|'')*'\])*)", text):
        raise _NotNative()  # a query Choice rules cannot follow
    segments = re.findall(r"\.([A-Za-z_][A-Za-z0-9_]*)|\[(\d+)\]|\['((?:[^'\\]|'')*)'\]", text[1:])
    return tuple(name or index or quoted.replace("''", "'") for name, index, quoted in segments)


def status_2xx(at: str) -> dict[str, Any]:
    code = f"{at}.statusCode"
    return {"And": [{"Variable": code, "NumericGreaterThanEquals": 200}, {"Variable": code, "NumericLessThan": 300}]}

