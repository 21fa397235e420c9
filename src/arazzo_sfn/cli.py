"""arazzo-sfn: the compiler's command line."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
import warnings
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, TextIO

from arazzo_sfn.compiler import compile_all, compile_bundle, compile_file, diagram_of
from arazzo_sfn.emit import emit_json
from arazzo_sfn.errors import ArazzoError, ArazzoWarning

if TYPE_CHECKING:  # moto is only imported to run
    from arazzo_sfn.local_run import StepTransition

# The shell's convention for a command ended by Ctrl-C (128 + SIGINT).
EXIT_INTERRUPTED = 130


class UsageError(Exception):
    """An invalid argument: exit 2, naming the argument."""


# Set by Ctrl-C. The interrupt is raised in the main thread wherever it stands, and code there
# that catches every exception (moto's, while it runs an execution) can turn it into a failed
# run: the flag keeps the answer the user asked for.
_INTERRUPTED = threading.Event()


DOCUMENT_HELP = "an Arazzo document (or an OpenAPI description) a source description may name by its `$self` (Arazzo 1.1); repeat for each"


def main(argv: list[str] | None = None) -> int:
    _INTERRUPTED.clear()
    if threading.current_thread() is threading.main_thread():  # signals reach only the main thread
        signal.signal(signal.SIGINT, _on_interrupt)
    # A warning about the document (a step no route reaches) is one line on standard error.
    with warnings.catch_warnings():
        warnings.simplefilter("always", ArazzoWarning)
        warnings.showwarning = _show_warning
        try:
            code = _main(argv)
        except KeyboardInterrupt:
            _INTERRUPTED.set()
        if _INTERRUPTED.is_set():
            # Ctrl-C in any command: one line, no traceback. Nothing it did outlives it.
            logging.disable(logging.CRITICAL)
            print("\narazzo-sfn: interrupted", file=sys.stderr)
            return EXIT_INTERRUPTED
        return code


def _on_interrupt(signum: int, frame: FrameType | None) -> None:
    _INTERRUPTED.set()
    logging.disable(logging.CRITICAL)  # what the engine's threads log as the process ends is noise after the one line
    raise KeyboardInterrupt


def _show_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int, file: TextIO | None = None, line: str | None = None) -> None:
    print(f"arazzo-sfn: warning: {message}", file=sys.stderr)


def _main(argv: list[str] | None) -> int:
    parser = argparse.ArgumentParser(prog="arazzo-sfn", description="Compile Arazzo workflows into AWS Step Functions state machines.")
    commands = parser.add_subparsers(dest="command", required=True)
    compile_cmd = commands.add_parser("compile", help="compile one workflow into ASL JSON")
    compile_cmd.add_argument("workflow", type=Path, help="the Arazzo document (YAML or JSON)")
    compile_cmd.add_argument("--document", dest="documents", action="append", type=Path, default=[], metavar="PATH", help=DOCUMENT_HELP)
    compile_cmd.add_argument("--workflow", dest="workflow_id", help="the workflowId to compile (required when the document has several)")
    compile_cmd.add_argument("-o", "--output", type=Path, help="write the ASL here instead of standard output")
    compile_cmd.add_argument("--check", action="store_true", help="write nothing; exit 1 when OUTPUT differs from what would be written")
    compile_cmd.add_argument("--all", action="store_true", help="compile every workflow; -o names a directory that gets <workflowId>.asl.json each")
    diagram_cmd = commands.add_parser("diagram", help="print a Mermaid flowchart of one workflow")
    diagram_cmd.add_argument("workflow", type=Path, help="the Arazzo document (YAML or JSON)")
    diagram_cmd.add_argument("--document", dest="documents", action="append", type=Path, default=[], metavar="PATH", help=DOCUMENT_HELP)
    diagram_cmd.add_argument("--workflow", dest="workflow_id", help="the workflowId to draw (required when the document has several)")
    run_cmd = commands.add_parser("run", help="compile one workflow and execute it locally (moto) against an API server")
    run_cmd.add_argument("workflow", type=Path, help="the Arazzo document (YAML or JSON)")
    run_cmd.add_argument("--document", dest="documents", action="append", type=Path, default=[], metavar="PATH", help=DOCUMENT_HELP)
    run_cmd.add_argument("--workflow", dest="workflow_id", help="the workflowId to run (required when the document has several)")
    run_cmd.add_argument("--input", dest="input", default="{}", help="the workflow inputs: a JSON object, or @FILE to read it from FILE (default {})")
    run_cmd.add_argument("--server-url", required=True, help="base URL of the API every step calls: https, or http on a loopback address (e.g. http://127.0.0.1:8080/v1)")
    run_cmd.add_argument("--json", action="store_true", help="print exactly one JSON object: the execution, its status, start and stop, error, cause, output and history length")
    args = parser.parse_args(argv)

    if args.command == "run":
        try:
            return run_command(args, sys.stdout)
        except UsageError as error:
            print(f"arazzo-sfn: error: {error}", file=sys.stderr)
            return 2
    if args.command == "diagram":
        try:
            sys.stdout.write(diagram_of(args.workflow, args.workflow_id, args.documents))
        except ArazzoError as error:
            print(f"arazzo-sfn: cannot draw {args.workflow}:\n{error}", file=sys.stderr)
            return 2
        return 0
    if args.check and args.output is None:
        parser.error("--check needs -o/--output, the file to compare with")
    if args.all and args.workflow_id:
        parser.error("--all and --workflow exclude each other")
    if args.all and args.output is None:
        parser.error("--all needs -o/--output, the directory to write into")
    try:
        if args.all:
            outputs = {args.output / f"{workflow_id}.asl.json": emit_json(asl) for workflow_id, asl in compile_all(args.workflow, args.documents).items()}
        else:
            outputs = {args.output: compile_file(args.workflow, args.workflow_id, args.documents)}
    except ArazzoError as error:
        print(f"arazzo-sfn: cannot compile {args.workflow}:\n{error}", file=sys.stderr)
        return 2
    if args.check:
        stale = [path for path, text in outputs.items() if not path.exists() or path.read_text(encoding="utf-8") != text]
        which = " --all" if args.all else f" --workflow {args.workflow_id}" if args.workflow_id else ""
        for path in stale:
            print(f"arazzo-sfn: {path} is stale: run `arazzo-sfn compile {args.workflow}{which} -o {args.output}`", file=sys.stderr)
        return 1 if stale else 0
    for path, text in outputs.items():
        if path is None:
            sys.stdout.write(text)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    return 0


def run_command(args: argparse.Namespace, out: TextIO) -> int:
    execution_input = _workflow_input(args.input)
    server_url = _server_url(args.server_url)
    try:
        bundle = compile_bundle(args.workflow, args.workflow_id, args.documents)
    except ArazzoError as error:
        print(f"arazzo-sfn: cannot compile {args.workflow}:\n{error}", file=sys.stderr)
        return 2
    from arazzo_sfn.local_run import run_workflow  # moto: imported once the arguments and the document hold

    root = next(iter(bundle))  # the workflow asked for; the others are its children
    asl = bundle[root]
    children = {workflow_id: child for workflow_id, child in bundle.items() if workflow_id != root}
    if not args.json:
        out.write(f"Running {_workflow_name(asl)} against {server_url}\n")
        out.write(f"{'elapsed':>8}  {'state':<40} {'type':<8} HTTP\n")
    result = run_workflow(asl, execution_input, server_url, children=children, on_transition=None if args.json else lambda t: _print_transition(out, t))
    if args.json:
        out.write(json.dumps(result.to_json()) + "\n")
    else:
        from arazzo_sfn.history import print_result

        print_result(out, result)
    return 0 if result.status == "SUCCEEDED" else 1


def _workflow_input(value: str) -> dict[str, Any]:
    source = "--input"
    text = value
    if value.startswith("@"):
        path = Path(value[1:])
        source = f"--input file {path}"
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as error:
            raise UsageError(f"--input: cannot read {path}: {error.strerror}") from None
    try:
        data = json.loads(text)
    except ValueError as error:
        raise UsageError(f"{source} is not valid JSON: {error}") from None
    if not isinstance(data, dict):
        raise UsageError(f"{source} must be a JSON object of workflow inputs, got {_json_kind(data)}")
    return data


def _json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    return {list: "an array", str: "a string", type(None): "null"}.get(type(value), type(value).__name__)


def _server_url(value: str) -> str:
    # The operation function's own check, so a URL it would refuse never starts a run.
    from arazzo_runtime.errors import InvalidRequest
    from arazzo_runtime.http import validate_server_url

    try:
        validate_server_url(value)
    except InvalidRequest as error:
        raise UsageError(f"--server-url: {error}") from None  # the value may hold a password: never echoed
    return value.strip()


def _workflow_name(asl: dict[str, Any]) -> str:
    return str(asl.get("Comment") or "").split(":", 1)[0] or "the workflow"


def _print_transition(out: TextIO, transition: StepTransition) -> None:
    status = "" if transition.status_code is None else str(transition.status_code)
    out.write(f"{transition.elapsed:7.1f}s  {transition.state:<40} {transition.state_type:<8} {status}".rstrip() + "\n")
    out.flush()


if __name__ == "__main__":
    sys.exit(main())
