"""arazzo-sfn: the compiler's command line."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from arazzo_sfn.compiler import compile_file, diagram_of
from arazzo_sfn.errors import ArazzoError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="arazzo-sfn", description="Compile Arazzo workflows into AWS Step Functions state machines.")
    commands = parser.add_subparsers(dest="command", required=True)
    compile_cmd = commands.add_parser("compile", help="compile one workflow into ASL JSON")
    compile_cmd.add_argument("workflow", type=Path, help="the Arazzo document (YAML or JSON)")
    compile_cmd.add_argument("--workflow", dest="workflow_id", help="the workflowId to compile (required when the document has several)")
    compile_cmd.add_argument("-o", "--output", type=Path, help="write the ASL here instead of standard output")
    compile_cmd.add_argument("--check", action="store_true", help="write nothing; exit 1 when OUTPUT differs from what would be written")
    diagram_cmd = commands.add_parser("diagram", help="print a Mermaid flowchart of one workflow")
    diagram_cmd.add_argument("workflow", type=Path, help="the Arazzo document (YAML or JSON)")
    diagram_cmd.add_argument("--workflow", dest="workflow_id", help="the workflowId to draw (required when the document has several)")
    args = parser.parse_args(argv)

    if args.command == "diagram":
        try:
            sys.stdout.write(diagram_of(args.workflow, args.workflow_id))
        except ArazzoError as error:
            print(f"arazzo-sfn: cannot draw {args.workflow}:\n{error}", file=sys.stderr)
            return 2
        return 0
    if args.check and args.output is None:
        parser.error("--check needs -o/--output, the file to compare with")
    try:
        text = compile_file(args.workflow, args.workflow_id)
    except ArazzoError as error:
        print(f"arazzo-sfn: cannot compile {args.workflow}:\n{error}", file=sys.stderr)
        return 2
    if args.check:
        current = args.output.read_text(encoding="utf-8") if args.output.exists() else None
        if current != text:
            print(f"arazzo-sfn: {args.output} is stale: run `arazzo-sfn compile {args.workflow} -o {args.output}`", file=sys.stderr)
            return 1
        return 0
    if args.output is None:
        sys.stdout.write(text)
    else:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
