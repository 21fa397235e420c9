"""Typed errors, each carrying where in the document the problem is."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Location:
    file: str
    pointer: str = ""
    line: int | None = None  # 1-based
    column: int | None = None  # 1-based

    def __str__(self) -> str:
        position = f"{self.file}:{self.line}:{self.column}" if self.line else self.file
        return f"{position} ({self.pointer or '/'})"


class ArazzoError(Exception):
    """Base class: a message and the document location it concerns."""

    def __init__(self, message: str, location: Location | None = None):
        super().__init__(message)
        self.message = message
        self.location = location

    def __str__(self) -> str:
        return f"{self.location}: {self.message}" if self.location else self.message


class LoadError(ArazzoError):
    """The document or a source description cannot be read or parsed."""


class SchemaError(ArazzoError):
    """The document does not conform to the Arazzo JSON Schema of its version (1.0 or 1.1)."""


class SemanticError(ArazzoError):
    """The document is well-formed but inconsistent (unknown targets, duplicate ids...)."""


class ExpressionError(ArazzoError):
    """A runtime expression or criterion condition cannot be parsed or resolved."""


class UnsupportedConstruct(ArazzoError):
    """Valid Arazzo that this compiler does not translate (yet); refused, never guessed."""


class LoweringError(ArazzoError):
    """The generated state machine failed its own consistency checks (a compiler bug)."""


class ArazzoWarning(UserWarning):
    """Valid Arazzo the compiler translates, with something the author should know (a step
    no route reaches, left out). Issued with `warnings.warn`; the command line prints it."""

    def __init__(self, message: str, location: Location | None = None):
        super().__init__(message)
        self.message = message
        self.location = location

    def __str__(self) -> str:
        return f"{self.location}: {self.message}" if self.location else self.message


Problem = ArazzoError


class ProblemList(ArazzoError):
    """Several problems found at once; validation reports them all, in document order."""

    def __init__(self, problems: list[ArazzoError]):
        self.problems = sorted(problems, key=_order)
        super().__init__(f"{len(self.problems)} problem(s)")

    def __str__(self) -> str:
        return "\n".join(f"{type(p).__name__}: {p}" for p in self.problems)


def _order(problem: ArazzoError) -> tuple[str, int, int]:
    loc = problem.location
    return (loc.file, loc.line or 0, loc.column or 0) if loc else ("", 0, 0)
