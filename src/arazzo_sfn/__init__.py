"""arazzo-sfn: compile Arazzo workflows into AWS Step Functions state machines (ASL)."""

from arazzo_sfn.compiler import compile_document, compile_file
from arazzo_sfn.errors import ArazzoError, Location, Problem, ProblemList

__all__ = ["ArazzoError", "Location", "Problem", "ProblemList", "compile_document", "compile_file"]
