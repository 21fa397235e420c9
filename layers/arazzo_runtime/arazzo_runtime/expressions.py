"""Arazzo runtime expressions, parsed by one grammar into a typed tree.

The grammar is the specification's ABNF ("Runtime Expressions"), read as 1.1.0 states it
more precisely than 1.0.1 (which has `"$steps." name` with `name = *CHAR` and gives the
structure only in its examples):

    expression   = "$url" / "$method" / "$statusCode"
                 / "$request." source / "$response." source
                 / "$inputs." identifier [ "#" json-pointer ]
                 / "$outputs." identifier [ "#" json-pointer ]
                 / "$steps." step-id ".outputs." identifier [ "#" json-pointer ]
                 / "$workflows." workflow-id "." ( "inputs" / "outputs" ) "." identifier [ "#" json-pointer ]
                 / "$sourceDescriptions." identifier-strict "." 1*CHAR
                 / "$components." component-type "." identifier
                 / "$self" / "$message." source                 ; 1.1 only
    source       = "header." token / "query." name / "path." name
                 / "body" [ "#" json-pointer ] / "payload" [ "#" json-pointer ]   ; payload: 1.1, $message only
    identifier   = 1*( ALPHA / DIGIT / "." / "-" / "_" )
    identifier-strict = 1*( ALPHA / DIGIT / "-" / "_" )
    name         = 1*CHAR          ; 1.0: CHAR is RFC 5234's %x01-7F; 1.1 adds any non-ASCII character
    token        = 1*tchar         ; RFC 9110
    json-pointer = *( "/" reference-token )   ; RFC 6901: "~" only as "~0" or "~1"

Two readings go beyond the letter of the ABNF, both as 1.0.1 documents are written: a step
or workflow id may hold any CHAR but `{` and `}` (ids with spaces and dots are valid Arazzo
1.0.1; such an id ends at the first `.outputs.` / `.inputs.`), and a `$components` type may
also be `inputs` (1.0.1's Components Object has them).

`{$expr}` inside a string embeds an expression (`parse_template`); in a condition an
expression ends where the condition's syntax goes on (`scan_expression`). The compiler
resolves the expressions to state-data paths; the functions evaluate the ones about a
request or response. Text the grammar forbids raises `ExpressionSyntaxError`, whose message
says what is wrong and where.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import ClassVar

VERSIONS = ("1.0", "1.1")

_ALPHA_DIGIT = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
_IDENTIFIER = _ALPHA_DIGIT | frozenset(".-_")
_IDENTIFIER_STRICT = _ALPHA_DIGIT | frozenset("-_")
_TCHAR = _ALPHA_DIGIT | frozenset("!#$%&'*+-.^_`|~")
COMPONENT_TYPES = ("inputs", "parameters", "successActions", "failureActions")


class ExpressionSyntaxError(ValueError):
    """Text that the runtime-expression grammar forbids."""


# --- the tree -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Header:
    name: str  # an RFC 9110 token; compared case-insensitively


@dataclass(frozen=True)
class Query:
    name: str


@dataclass(frozen=True)
class Path:
    name: str


@dataclass(frozen=True)
class Body:
    pointer: tuple[str, ...] = ()  # decoded RFC 6901 tokens; () is the whole body


@dataclass(frozen=True)
class Payload:
    pointer: tuple[str, ...] = ()


Source = Header | Query | Path | Body | Payload


@dataclass(frozen=True)
class Expression:
    """A parsed runtime expression. `kind` names the form; `name`, `step` and `pointer` are
    the parts most forms have, so code that only needs them can stay generic."""

    text: str
    KIND: ClassVar[str] = ""

    @property
    def kind(self) -> str:
        return self.KIND

    @property
    def name(self) -> str | None:
        return None

    @property
    def step(self) -> str | None:
        return None

    @property
    def pointer(self) -> tuple[str, ...]:
        return ()

    def with_pointer(self, tokens: tuple[str, ...]) -> Expression:
        """The same value, followed further by `tokens`: `$response.body` with ('a',) is
        `$response.body#/a`. Only forms that can carry a JSON pointer can be followed."""
        raise ExpressionSyntaxError(f"{self.text!r} takes no JSON pointer")

    def _pointer_text(self, tokens: tuple[str, ...]) -> str:
        """This expression's text with `tokens` as its pointer. What comes before the pointer
        holds no '#' but in a step or workflow id, which ends before the output name."""
        head = self.text if not self.pointer and "#" not in self.text[-1:] else self.text[: self._pointer_start()]
        return head.rstrip("#") + "#" + format_pointer(tokens)

    def _pointer_start(self) -> int:
        name = self.name or ""
        return self.text.index("#", self.text.rindex("." + name) + len(name) + 1 if name else 0)


@dataclass(frozen=True)
class StatusCode(Expression):
    KIND: ClassVar[str] = "status_code"


@dataclass(frozen=True)
class Url(Expression):
    KIND: ClassVar[str] = "url"


@dataclass(frozen=True)
class Method(Expression):
    KIND: ClassVar[str] = "method"


@dataclass(frozen=True)
class Self(Expression):
    """`$self` (1.1): the canonical URI of the document."""

    KIND: ClassVar[str] = "self"


@dataclass(frozen=True)
class _SourceExpression(Expression):
    source: Source = Body()

    @property
    def name(self) -> str | None:
        return None if isinstance(self.source, (Body, Payload)) else self.source.name

    @property
    def pointer(self) -> tuple[str, ...]:
        return self.source.pointer if isinstance(self.source, (Body, Payload)) else ()

    def with_pointer(self, tokens: tuple[str, ...]) -> Expression:
        if not isinstance(self.source, (Body, Payload)):
            return super().with_pointer(tokens)
        pointer = self.source.pointer + tokens
        return replace(self, text=self._pointer_text(pointer), source=replace(self.source, pointer=pointer))


@dataclass(frozen=True)
class RequestRef(_SourceExpression):
    """`$request.<source>`: what the step sent."""

    KIND: ClassVar[str] = "request"


@dataclass(frozen=True)
class ResponseRef(_SourceExpression):
    """`$response.<source>`: what the step received. Its `kind` tells body, header and the
    rest apart, because what a step can answer differs between them."""

    @property
    def kind(self) -> str:
        if isinstance(self.source, Body):
            return "response_body"
        if isinstance(self.source, Header):
            return "response_header"
        return "response_other"


@dataclass(frozen=True)
class MessageRef(_SourceExpression):
    """`$message.<source>` (1.1, AsyncAPI steps)."""

    KIND: ClassVar[str] = "message"


@dataclass(frozen=True)
class _FollowedRef(Expression):
    """A reference to a value that a JSON pointer may follow into (`#/a/0`): `tokens`."""

    tokens: tuple[str, ...] = ()

    @property
    def pointer(self) -> tuple[str, ...]:
        return self.tokens

    def with_pointer(self, tokens: tuple[str, ...]) -> Expression:
        return replace(self, text=self._pointer_text(self.tokens + tokens), tokens=self.tokens + tokens)


@dataclass(frozen=True)
class InputRef(_FollowedRef):
    """`$inputs.<name>[#pointer]`: the workflow's own input."""

    KIND: ClassVar[str] = "inputs"
    input: str = ""

    @property
    def name(self) -> str:
        return self.input


@dataclass(frozen=True)
class OutputRef(_FollowedRef):
    """`$outputs.<name>[#pointer]`: an output of the workflow."""

    KIND: ClassVar[str] = "outputs"
    output: str = ""

    @property
    def name(self) -> str:
        return self.output


@dataclass(frozen=True)
class StepOutputRef(_FollowedRef):
    """`$steps.<stepId>.outputs.<name>[#pointer]`."""

    KIND: ClassVar[str] = "step_output"
    step_id: str = ""
    output: str = ""

    @property
    def name(self) -> str:
        return self.output

    @property
    def step(self) -> str:
        return self.step_id


@dataclass(frozen=True)
class WorkflowRef(_FollowedRef):
    """`$workflows.<workflowId>.inputs|outputs.<name>[#pointer]`."""

    workflow: str = ""
    field: str = "outputs"  # inputs | outputs
    field_name: str = ""

    @property
    def kind(self) -> str:
        return "workflow_output" if self.field == "outputs" else "workflow_input"

    @property
    def name(self) -> str:
        return self.field_name


@dataclass(frozen=True)
class SourceDescriptionRef(Expression):
    """`$sourceDescriptions.<name>.<reference>`: an operation or workflow of that source, or
    (1.1) one of the Source Description Object's own fields such as `url`."""

    KIND: ClassVar[str] = "source_description"
    source_name: str = ""
    reference: str = ""

    @property
    def name(self) -> str:
        return self.reference

    @property
    def workflow_output(self) -> tuple[str, str] | None:
        """For a reference `<workflowId>.outputs.<output>` (the spelling other tools give an
        output of a workflow of another document): `$sourceDescriptions.<name>.<workflowId>`,
        which names the workflow as a dependsOn entry does, and the output as written (a `#`
        pointer kept). None for any other reference."""
        workflow, separator, output = self.reference.partition(".outputs.")
        return (f"$sourceDescriptions.{self.source_name}.{workflow}", output) if separator else None


@dataclass(frozen=True)
class ComponentRef(Expression):
    """`$components.<type>.<name>`."""

    KIND: ClassVar[str] = "components"
    component_type: str = ""
    component: str = ""

    @property
    def name(self) -> str:
        return self.component


# --- embedded expressions -----------------------------------------------------------------------


@dataclass(frozen=True)
class Template:
    """A string with `{$expr}` embedded: literal text and expressions, in order."""

    text: str
    parts: tuple[str | Expression, ...]

    @property
    def expressions(self) -> tuple[Expression, ...]:
        return tuple(part for part in self.parts if isinstance(part, Expression))


# --- the parser ---------------------------------------------------------------------------------


def is_expression(value: object) -> bool:
    """A value written where an expression may stand is one when it starts with `$`."""
    return isinstance(value, str) and value.startswith("$")


def parse_expression(text: str, version: str = "1.0") -> Expression:
    """The expression `text` is, whole; ExpressionSyntaxError when the grammar forbids it."""
    if not isinstance(text, str):
        raise ExpressionSyntaxError(f"{text!r} is not a runtime expression: expected text starting with '$'")
    expression, end = _Reader(text, 0, version, stop="").expression()
    if end != len(text):  # pragma: no cover - the reader consumes the whole text or raises
        raise ExpressionSyntaxError(f"{text!r}: unexpected {text[end:]!r}")
    return expression


# What ends an expression inside a condition: space and the condition's own operators.
CONDITION_DELIMITERS = " \t\r\n()=!<>&|"


def scan_expression(text: str, start: int, version: str = "1.0", stop: str = CONDITION_DELIMITERS) -> tuple[Expression, int]:
    """The expression that begins at `text[start]` (a `$`), read up to the first character of
    `stop` that the expression's grammar does not need (a step id may hold a space); returns it
    and the index just after it."""
    return _Reader(text, start, version, stop=stop).expression()


def parse_template(text: str, version: str = "1.0") -> Template:
    """Split a string into literal text and `{$expr}` embedded expressions. A `{` that does
    not open `{$` is literal text; an embedded expression ends at the first `}`."""
    parts: list[str | Expression] = []
    literal: list[str] = []
    position = 0
    while position < len(text):
        if text.startswith("{$", position):
            close = text.find("}", position)
            if close < 0:
                raise ExpressionSyntaxError(f"{text!r}: the expression embedded at offset {position} has no closing '}}'")
            if literal:
                parts.append("".join(literal))
                literal = []
            parts.append(parse_expression(text[position + 1 : close], version))
            position = close + 1
            continue
        literal.append(text[position])
        position += 1
    if literal:
        parts.append("".join(literal))
    return Template(text, tuple(parts))


def embedded_text(value: object) -> str:
    """A value embedded in a string, as Arazzo 1.1 says ("Runtime Expressions"): a string as
    it is, another scalar as its string representation (JSON's: `true`, `null`, `1.5`), an
    array or object serialized as JSON (RFC 8259)."""
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def has_embedded_expression(text: object) -> bool:
    return isinstance(text, str) and "{$" in text


def format_pointer(tokens: Iterable[str]) -> str:
    """RFC 6901, the inverse of `parse_pointer`: () is '', each token '/'-prefixed with '~' as
    '~0' and '/' as '~1'."""
    return "".join("/" + token.replace("~", "~0").replace("/", "~1") for token in tokens)


def parse_pointer(pointer: str, text: str | None = None) -> tuple[str, ...]:
    """RFC 6901: '' is the whole value; '/a/b' are tokens, with ~1 -> '/' and ~0 -> '~'."""
    if pointer == "":
        return ()
    where = text if text is not None else pointer
    if not pointer.startswith("/"):
        raise ExpressionSyntaxError(f"{where!r}: a JSON pointer is empty or starts with '/'")
    tokens = pointer[1:].split("/")
    for token in tokens:
        index = token.find("~")
        while index >= 0:
            if token[index + 1 : index + 2] not in ("0", "1"):
                raise ExpressionSyntaxError(f"{where!r}: in a JSON pointer '~' is written only as '~0' or '~1'")
            index = token.find("~", index + 2)
    return tuple(token.replace("~1", "/").replace("~0", "~") for token in tokens)


class _Reader:
    """One expression, read from `text[start:]` by the grammar above."""

    def __init__(self, text: str, start: int, version: str, stop: str):
        if version not in VERSIONS:
            raise ValueError(f"unknown Arazzo version {version!r} for runtime expressions")
        self.text, self.start, self.position, self.version, self.stop = text, start, start, version, stop

    # -- helpers --

    def _fail(self, problem: str) -> ExpressionSyntaxError:
        shown = self.text[self.start :] if not self.stop else self._rest_of_word()
        return ExpressionSyntaxError(f"{shown!r} is not a runtime expression: {problem}")

    def _rest_of_word(self) -> str:
        end = self.start
        while end < len(self.text) and self.text[end] not in self.stop:
            end += 1
        return self.text[self.start : end]

    def _take(self, literal: str) -> bool:
        if self.text.startswith(literal, self.position):
            self.position += len(literal)
            return True
        return False

    def _at_end(self) -> bool:
        return self.position >= len(self.text) or self.text[self.position] in self.stop

    def _char(self, char: str) -> bool:
        """A CHAR of the grammar: 1.0 takes RFC 5234's %x01-7F, 1.1 any character; never the
        braces, which delimit embedded expressions."""
        if char in "{}":
            return False
        return self.version == "1.1" or "\x01" <= char <= "\x7f"

    def _run(self, allowed: frozenset[str] | None, what: str, *, until: str = "") -> str:
        """One or more characters of `allowed` (None: any CHAR), stopping at `until` too."""
        begin = self.position
        while self.position < len(self.text):
            char = self.text[self.position]
            if char in self.stop or char in until:
                break
            if allowed is not None and char not in allowed:
                break
            if allowed is None and not self._char(char):
                break
            self.position += 1
        if self.position == begin:
            raise self._fail(f"expected {what} at offset {begin - self.start}")
        return self.text[begin : self.position]

    def _pointer(self) -> tuple[str, ...]:
        """`#` and an RFC 6901 pointer, or nothing; the pointer runs to the end of the expression."""
        if not self._take("#"):
            return ()
        begin = self.position
        while not self._at_end():
            self.position += 1
        return parse_pointer(self.text[begin : self.position], self.text[self.start : self.position])

    def _finish(self, expression: Expression) -> tuple[Expression, int]:
        if not self._at_end():
            raise self._fail(f"unexpected {self.text[self.position]!r} at offset {self.position - self.start}")
        return expression, self.position

    def _text(self) -> str:
        return self.text[self.start : self.position]

    # -- the grammar --

    def expression(self) -> tuple[Expression, int]:
        if not self._take("$"):
            raise self._fail("a runtime expression starts with '$'")
        for literal, node in (("url", Url), ("method", Method), ("statusCode", StatusCode)):
            if self._take(literal):
                if not self._at_end():
                    raise self._fail(f"${literal} takes nothing after it")
                return node(self._text()), self.position
        if self._take("self"):
            if self.version != "1.1":
                raise self._fail("$self is Arazzo 1.1; this document is 1.0")
            return self._finish(Self(self._text()))
        for prefix, node_type in (("request.", RequestRef), ("response.", ResponseRef), ("message.", MessageRef)):
            if self._take(prefix):
                if node_type is MessageRef and self.version != "1.1":
                    raise self._fail("$message is Arazzo 1.1; this document is 1.0")
                source = self._source(payload=node_type is MessageRef)
                return self._finish(node_type(self._text(), source))
        if self._take("inputs."):
            name = self._run(_IDENTIFIER, "an input name (letters, digits, '.', '-', '_')")
            pointer = self._pointer()
            return self._finish(InputRef(self._text(), input=name, tokens=pointer))
        if self._take("outputs."):
            name = self._run(_IDENTIFIER, "an output name (letters, digits, '.', '-', '_')")
            pointer = self._pointer()
            return self._finish(OutputRef(self._text(), output=name, tokens=pointer))
        if self._take("steps."):
            return self._steps()
        if self._take("workflows."):
            return self._workflows()
        if self._take("sourceDescriptions."):
            source_name = self._run(_IDENTIFIER_STRICT, "a source description name (letters, digits, '-', '_')")
            if not self._take("."):
                raise self._fail("write $sourceDescriptions.<name>.<operationId, workflowId or field>")
            reference = self._run(None, "an operationId, workflowId or field name")
            return self._finish(SourceDescriptionRef(self._text(), source_name, reference))
        if self._take("components."):
            for component_type in COMPONENT_TYPES:
                if self._take(component_type + "."):
                    name = self._run(_IDENTIFIER, "a component name (letters, digits, '.', '-', '_')")
                    return self._finish(ComponentRef(self._text(), component_type, name))
            raise self._fail(f"a $components expression names one of {', '.join(COMPONENT_TYPES)}, then '.' and a name")
        raise self._fail(
            "expected $url, $method, $statusCode, $request., $response., $inputs., $outputs., $steps., "
            "$workflows., $sourceDescriptions. or $components." + (", $self or $message." if self.version == "1.1" else "")
        )

    def _source(self, *, payload: bool) -> Source:
        if self._take("header."):
            return Header(self._run(_TCHAR, "a header name (an RFC 9110 token)"))
        if self._take("query."):
            return Query(self._run(None, "a query parameter name"))
        if self._take("path."):
            return Path(self._run(None, "a path parameter name"))
        if self._take("body"):
            return Body(self._pointer())
        if payload and self._take("payload"):
            return Payload(self._pointer())
        return_what = "header.<token>, query.<name>, path.<name> or body[#/json/pointer]"
        raise self._fail(f"after '{self.text[self.start : self.position]}' comes {return_what}")

    def _steps(self) -> tuple[Expression, int]:
        marker = self.text.find(".outputs.", self.position)
        if marker <= self.position or not self._id_ends_at(marker):
            raise self._fail("write $steps.<stepId>.outputs.<name>[#/json/pointer]")
        step_id = self.text[self.position : marker]
        self.position = marker + len(".outputs.")
        name = self._run(_IDENTIFIER, "an output name (letters, digits, '.', '-', '_')")
        pointer = self._pointer()
        return self._finish(StepOutputRef(self._text(), step_id=step_id, output=name, tokens=pointer))

    def _workflows(self) -> tuple[Expression, int]:
        found = [(self.text.find(f".{field}.", self.position), field) for field in ("inputs", "outputs")]
        found = [(at, field) for at, field in found if at > self.position and self._id_ends_at(at)]
        if not found:
            raise self._fail("write $workflows.<workflowId>.inputs.<name> or $workflows.<workflowId>.outputs.<name>[#/json/pointer]")
        marker, field = min(found)
        workflow = self.text[self.position : marker]
        self.position = marker + len(field) + 2
        name = self._run(_IDENTIFIER, f"{'an input' if field == 'inputs' else 'an output'} name (letters, digits, '.', '-', '_')")
        pointer = self._pointer()
        return self._finish(WorkflowRef(self._text(), workflow=workflow, field=field, field_name=name, tokens=pointer))

    def _id_ends_at(self, marker: int) -> bool:
        """A step or workflow id: CHARs up to `marker`, none of them braces; inside a
        condition a space may belong to it, the condition's operators may not."""
        segment = self.text[self.position : marker]
        return all(self._char(char) and (char == " " or char not in self.stop) for char in segment)


def embedded_expressions(text: str, version: str = "1.0") -> tuple[Expression, ...]:
    return parse_template(text, version).expressions
