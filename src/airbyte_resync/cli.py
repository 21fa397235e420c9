"""airbyte-resync: run the reset-and-resync state machine locally, or serve the Airbyte stub."""

from __future__ import annotations

import argparse
import errno
import json
import logging
import math
import os
import re
import signal
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any, TextIO

from airbyte_client.ids import UUID_PATTERN

if TYPE_CHECKING:  # imported when a command needs them: the local engine (moto), AWS's and the display's modules are slow to import
    from airbyte_resync.credentials import Credentials
    from airbyte_resync.local import HandlerWrapper
    from airbyte_resync.operate import ChildrenFinder, FleetChild, StepFunctionsOnAws
    from airbyte_resync.progress import Progress
    from airbyte_resync.scenario import Scenario
    from airbyte_resync.stub import AirbyteStub
    from airbyte_resync.transitions import Transition
    from arazzo_sfn.engine import Handler
    from arazzo_sfn.history import RunResult

# With the built-in stub nothing real is waited for; keep the demo short.
EMBEDDED_POLL_INTERVAL = 2
# How long a local run against the built-in stub may take before it is stopped: its jobs are
# the stub's, seconds long. Against a real Airbyte a run takes as long as its jobs, bounded by
# the workflow's own maxResetSeconds and maxResyncSeconds as on AWS: stopping it sooner would
# leave a reset running, the destination emptied and not refilled.
EMBEDDED_RUN_SECONDS = 3600.0


def local_time_bound(stub: AirbyteStub | None) -> float:
    """The seconds a local run may take before it is stopped."""
    return EMBEDDED_RUN_SECONDS if stub is not None else math.inf


# The shell's convention for a command ended by Ctrl-C (128 + SIGINT).
EXIT_INTERRUPTED = 130


class UsageError(Exception):
    """Bad arguments or environment: exit 2, naming what is wrong."""


class InterruptedRun(KeyboardInterrupt):
    """Ctrl-C during a local run against a real Airbyte; the message says what became of its reset."""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="airbyte-resync", description="Reset and re-sync an Airbyte connection with the project's Step Functions state machine, locally.")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("run", help=("execute the state machine locally (moto) against the built-in stub or a real Airbyte: one "
                                           "connection's run, or a fleet for several connections or a workspace's or tag's"))
    _add_selection_arguments(run)
    run.add_argument("--scenario", type=Path, help="the built-in stub's connections, jobs and faults, as `stub --scenario` takes them (docs: Rehearse the runbook)")
    run.add_argument("--airbyte-url", help="Airbyte public API base URL, e.g. http://127.0.0.1:8000/api/public/v1 (default: start the built-in stub)")
    run.add_argument("--poll-interval", help=("the shortest wait between two reads of a job, in seconds (0 allowed; the wait grows with the job's age "
                           "up to 5 minutes; default: the workflow's 5, or 2 with the built-in stub)"))
    run.add_argument("--no-wait-for-resync", action="store_true", help="end once the sync has started, instead of watching it to its end (the default)")
    run.add_argument("--json", action="store_true", help="print exactly one JSON object: status, output, error, cause, events")
    start = commands.add_parser("start", help=("start a run on AWS: one connection's, or one fleet execution for several connections or a "
                                               "workspace's or tag's (attached to the one running if there is); optionally watch it"))
    _add_selection_arguments(start)
    _add_machine_arguments(start)
    start.add_argument("--poll-interval", help="the shortest wait between two reads of a job, in seconds (default: the workflow's 5)")
    start.add_argument("--no-wait-for-resync", action="store_true", help="each run ends once its sync has started")
    start.add_argument("--wait", action="store_true", help="watch the execution to its end (a fleet: one line per connection), then print its outputs")
    start.add_argument("--json", action="store_true", help="print exactly one JSON object: the execution (a fleet's with its connections)")
    watch = commands.add_parser("watch", help="follow an execution on AWS to its end")
    watch.add_argument("execution_arn", metavar="EXECUTION_ARN")
    watch.add_argument("--json", action="store_true", help="print exactly one JSON object at the end")
    status = commands.add_parser("status", help="an execution's status, outputs or error (exit 0 succeeded, 1 failed, 3 running)")
    status.add_argument("execution_arn", metavar="EXECUTION_ARN")
    status.add_argument("--json", action="store_true", help="print exactly one JSON object: the execution, its connection, status, times, error, cause and output")
    listing = commands.add_parser("list", help="the state machine's executions, newest first")
    _add_machine_arguments(listing)
    listing.add_argument("--fleet", action="store_true", help="the fleet state machine's executions (implied by --fleet-state-machine-arn)")
    listing.add_argument("--connection-id", help="only this connection's (a fleet's: those that run it)")
    listing.add_argument("--status", choices=["RUNNING", "SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED", "PENDING_REDRIVE"])
    listing.add_argument("--limit", default="50", help="show at most this many, newest first (default 50)")
    listing.add_argument("--json", action="store_true", help="print one JSON list of runs, each as status --json prints it")
    redrive = commands.add_parser("redrive", help="resume a failed, aborted or timed-out execution where it stopped, if that is safe (else says what to do)")
    redrive.add_argument("execution_arn", metavar="EXECUTION_ARN")
    redrive.add_argument("--wait", action="store_true", help="watch it to its end, then print its outputs")
    redrive.add_argument("--json", action="store_true", help="print exactly one JSON object (at the end with --wait)")
    request = commands.add_parser("request", help="put the EventBridge event that requests a run, or a fleet for a selection (the stack's rules start it)")
    _add_selection_arguments(request)
    request.add_argument("--poll-interval")
    request.add_argument("--no-wait-for-resync", action="store_true")
    stub = commands.add_parser("stub", help="serve the Airbyte stub over HTTP until interrupted")
    stub.add_argument("--port", type=int, default=8000, help="TCP port on 127.0.0.1 (default 8000; 0 = any free port)")
    stub.add_argument("--host", default="127.0.0.1", help="loopback address to bind (default 127.0.0.1)")
    stub.add_argument("--scenario", type=Path, help="a YAML or JSON file: connections, running jobs, job outcomes, faults (docs: Rehearse the runbook)")
    stub.add_argument("--connection", action="append", default=[], metavar="ID[=STATUS][@WORKSPACE][#TAG...]",
                      help=("a connection that exists (active unless STATUS: inactive, deprecated, locked), in WORKSPACE (a UUID; default the stub's one), "
                            "carrying the tags named (e.g. C=inactive@W#finance#nightly); given, any other id is unknown (404)"))
    stub.add_argument("--running", action="append", default=[], metavar="ID[=TYPE]", help="a job (sync unless TYPE) already running for the connection")
    stub.add_argument("--reset", action="append", default=[], metavar="[ID=]STATUS,...",
                      help="the statuses of the next reset (of connection ID, if given), one per poll (repeat for the one after)")
    stub.add_argument("--sync", action="append", default=[], metavar="[ID=]STATUS,...",
                      help="the statuses of the next sync (of connection ID, if given), one per poll (repeat for the one after)")
    stub.add_argument("--fault", action="append", default=[], metavar="OPERATION=FAULT,...",
                      help="what the next requests of an operation get: an HTTP status, ok, disconnect, truncated, invalid-json, delay:SECONDS, slow-answer:SECONDS")
    args = parser.parse_args(argv)
    if threading.current_thread() is threading.main_thread():  # signals reach only the main thread
        signal.signal(signal.SIGINT, _interrupted)

    try:
        if args.command == "stub":
            return serve_stub(args)
        if args.command in AWS_COMMANDS:
            from airbyte_resync.operate import OperationError

            try:
                return AWS_COMMANDS[args.command](args, sys.stdout)
            except OperationError as error:
                raise UsageError(str(error)) from None
        return run_command(args, sys.stdout)
    except UsageError as error:
        print(f"airbyte-resync: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as interrupted:
        # A local run keeps nothing between runs; against a real Airbyte, what became of the
        # reset it started is said. Watching on AWS stops only the watching, which the line says.
        on_aws = " (only the watching: what runs on AWS goes on; `airbyte-resync watch <execution arn>` follows it again)"
        detail = f": {interrupted}" if isinstance(interrupted, InterruptedRun) else on_aws if args.command in AWS_COMMANDS else ""
        print(f"\nairbyte-resync: interrupted{detail}", file=sys.stderr)
        return EXIT_INTERRUPTED


def _interrupted(signum: int, frame: FrameType | None) -> None:
    """Ctrl-C: the run's engine threads are about to fail their states as the process ends;
    what they would log is noise after the one line this command prints. A function still
    under way in one of them prints its metrics when it ends, to whatever standard output is
    then: not this command's, whose output ends here (`--json` prints nothing more)."""
    logging.disable(logging.CRITICAL)
    sys.stdout = _DISCARDED
    raise KeyboardInterrupt


_DISCARDED = open(os.devnull, "w", encoding="utf-8")  # open for the life of the process


def serve_stub(args: argparse.Namespace) -> int:
    from airbyte_resync.stub import serve

    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port must be between 0 and 65535, got {args.port}")
    scenario = _stub_scenario(args)
    try:
        serve(args.port, host=args.host, prepare=scenario.start_playing, known_connections=None if scenario.connections is None else list(scenario.connections),
              client_id=_env("AIRBYTE_CLIENT_ID"), client_secret=_env("AIRBYTE_CLIENT_SECRET"), api_token=_env("AIRBYTE_API_TOKEN"))
    except ValueError as error:  # not a loopback address
        raise UsageError(f"--host: {error}; use 127.0.0.1 or ::1") from None
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            raise UsageError(f"port {args.port} on {args.host} is already in use: stop what listens there, or pick another --port (0 = any free port)") from None
        raise UsageError(f"cannot listen on {args.host} port {args.port}: {error.strerror or error}") from None
    return 0


def _stub_scenario(args: argparse.Namespace) -> Scenario:
    """The scenario of the file, with what the flags add to it."""
    from airbyte_resync import scenario

    try:
        document = scenario.load(args.scenario) if args.scenario else {}
        where = f"scenario {args.scenario}" if args.scenario else "scenario"
        if args.connection:
            connections = document.setdefault("connections", {}) or {}
            document["connections"] = connections
            for item in args.connection:
                connection, described = _described_connection(item)
                existing = connections.get(connection)
                merged: dict[str, Any] = dict(existing) if isinstance(existing, dict) else {}  # the file's scripts stay
                connections[connection] = {**merged, **described}
        for item in args.running:
            connection, _, job_type = item.partition("=")
            document.setdefault("running", []).append({"connectionId": connection.strip(), "jobType": job_type.strip() or "sync"})
        for job_type in ("reset", "sync"):
            for item in getattr(args, job_type):
                connection, equals, statuses = item.rpartition("=")
                script = [status.strip() for status in statuses.split(",")]
                if not equals:
                    document.setdefault("jobs", {}).setdefault(job_type, []).append(script)
                    continue
                connections = document.setdefault("connections", {}) or {}
                document["connections"] = connections
                described = connections.get(connection.strip(), "active")
                described = dict(described) if isinstance(described, dict) else {"status": described}
                described.setdefault(job_type, []).append(script)
                connections[connection.strip()] = described
        for item in args.fault:
            operation, equals, faults = item.partition("=")
            if not equals:
                raise scenario.ScenarioError(f"--fault {item!r}: write OPERATION=FAULT,... (e.g. createJob=503,ok)")
            document.setdefault("faults", {}).setdefault(operation.strip(), []).extend(fault.strip() for fault in faults.split(","))
        return scenario.parse(document, where)
    except scenario.ScenarioError as error:
        raise UsageError(str(error)) from None


def _described_connection(item: str) -> tuple[str, dict[str, Any]]:
    """`ID[=STATUS][@WORKSPACE][#TAG...]` as a scenario's connection."""
    head, *tags = item.split("#")
    head, at, workspace = head.partition("@")
    connection, _, status = head.partition("=")
    described: dict[str, Any] = {"status": status.strip() or "active"}
    if at:
        described["workspace"] = workspace.strip()
    if tags:
        described["tags"] = [tag.strip() for tag in tags]
    return connection.strip(), described


def run_command(args: argparse.Namespace, out: TextIO) -> int:
    fleet_input = _fleet_input(args)  # every argument checked before anything starts
    if args.scenario is not None and args.airbyte_url is not None:
        raise UsageError("--scenario describes the built-in stub: leave out --airbyte-url")
    played = _stub_scenario(argparse.Namespace(scenario=args.scenario, connection=[], running=[], reset=[], sync=[], fault=[])) if args.scenario else None
    if fleet_input is not None:
        return _run_fleet(args, fleet_input, played, out)
    execution_input: dict[str, Any] = {"connectionId": _connection_id(args.connection_id[0])}
    poll_interval = _non_negative_int("--poll-interval", args.poll_interval, minimum=0, maximum=3600)
    stub, url, credentials = _airbyte(args, played)
    if stub is not None:
        poll_interval = EMBEDDED_POLL_INTERVAL if poll_interval is None else poll_interval
    if poll_interval is not None:
        execution_input["pollIntervalSeconds"] = poll_interval
    if args.no_wait_for_resync:
        execution_input["waitForResync"] = False
    _check_contract(execution_input)

    where = f"the built-in Airbyte stub at {url}" if stub else url
    progress = None if args.json else _progress(out)
    from airbyte_resync.interrupted import JobsSeen, settle
    from airbyte_resync.local import run_state_machine
    from arazzo_sfn.history import print_result

    seen = JobsSeen()

    def on_transition(transition: Transition) -> None:
        seen(transition)
        if progress is not None:
            progress.transition("run", transition)

    try:
        bound = local_time_bound(stub)
        if progress is None:
            result = run_state_machine(execution_input, url, credentials, on_transition=on_transition, timeout_seconds=bound)
        else:
            with progress:
                progress.add_run("run", f"Resetting and re-syncing connection {execution_input['connectionId']} against {where}")
                result = run_state_machine(execution_input, url, credentials, on_transition=on_transition,
                                           wrap_function=_reporting_failures(progress, "run"), timeout_seconds=bound)
                progress.end("run", result.status)
    except KeyboardInterrupt:
        if stub is not None:  # the stub ends with the process: nothing in it outlives the run
            raise
        # Against a real Airbyte, the reset this run started must not go on unwatched.
        raise InterruptedRun(settle(url, credentials, execution_input["connectionId"], seen)) from None
    finally:
        if stub is not None:
            stub.stop()
    if args.json:
        from airbyte_resync.operate import run_document

        out.write(json.dumps(run_document(result)) + "\n")
    else:
        print_result(out, result)
    return 0 if result.status == "SUCCEEDED" else 1


def _airbyte(args: argparse.Namespace, played: Scenario | None) -> tuple[AirbyteStub | None, str, Credentials]:
    """The Airbyte a local run talks to: the URL given (even empty: never the stub silently
    instead), reachable, with the environment's credentials; else the built-in stub, started,
    playing the scenario if one was given."""
    if args.airbyte_url is not None:
        url = _airbyte_url(args.airbyte_url)
        credentials = credentials_from_environment()
        _check_reachable(url)
        return None, url, credentials
    from airbyte_resync.local import start_embedded_stub

    stub, credentials = start_embedded_stub()
    if played is not None:
        played.start_playing(stub)
    return stub, stub.url, credentials


# A local fleet's watch: the pause between two looks and the fewest seconds between two
# searches for its children (moto answers at once; AWS's pace is seconds).
LOCAL_FLEET_PAUSE_SECONDS = 0.5
LOCAL_FLEET_REFRESH_SECONDS = 1.0


def _run_fleet(args: argparse.Namespace, fleet_input: dict[str, Any], played: Scenario | None, out: TextIO) -> int:
    """A fleet on one machine: the fleet's state machine in moto, each connection's run a
    child execution of the run's, against the built-in stub (a scenario's connections) or a
    real Airbyte. Followed and answered as `start --wait` follows and answers a fleet on AWS:
    one line per connection as it goes, and the counts."""
    from airbyte_resync.interrupted import JobsSeen, settle_fleet
    from airbyte_resync.local import FLEET_MACHINE, run_machine_arn, run_state_machine
    from airbyte_resync.operate import children_of_machine

    stub, url, credentials = _airbyte(args, played)
    if stub is not None:
        fleet_input.setdefault("pollIntervalSeconds", EMBEDDED_POLL_INTERVAL)
    where = f"the built-in Airbyte stub at {url}" if stub else url
    if not args.json:
        chosen = ", ".join(f"{len(fleet_input[key])} {label}" for key, label in (("connectionIds", "connection(s)"), ("workspaceIds", "workspace(s)"), ("tagIds", "tag(s)")) if key in fleet_input)
        out.write(f"Resetting and re-syncing every connection of {chosen} against {where}, {fleet_input.get('maxConcurrent', 5)} at once...\n")
        out.flush()
    # The children are the run machine's executions in this run's own moto (which lists no Map Run iterations).
    find_children = children_of_machine(run_machine_arn())
    followed: dict[str, FleetChild] = {}
    # What each connection's run did to Airbyte, by connection, for an interruption to settle.
    started_at = datetime.now(UTC)
    seen: dict[str, JobsSeen] = {}
    connection_of: dict[str, str] = {}  # child execution -> its connection

    def on_child(child: FleetChild) -> None:
        connection_of[child.execution_arn] = child.connection_id
        seen.setdefault(child.connection_id, JobsSeen(started_at=started_at))

    def on_transition(child_arn: str, transition: Transition) -> None:
        if child_arn in connection_of:
            seen[connection_of[child_arn]](transition)

    def follow(client: Any, fleet_arn: str) -> RunResult:
        result, children = follow_fleet(client, fleet_arn, out, args.json, find_children, pause=LOCAL_FLEET_PAUSE_SECONDS,
                                        refresh=LOCAL_FLEET_REFRESH_SECONDS, on_transition=on_transition, on_child=on_child)
        followed.update(children)
        return result

    try:
        result = run_state_machine(fleet_input, url, credentials, machine=FLEET_MACHINE, follow_with=follow)
    except KeyboardInterrupt:
        if stub is not None:  # the stub ends with the process: nothing in it outlives the run
            raise
        # Against a real Airbyte, no connection's reset may go on unwatched, nor end unsaid.
        lines = settle_fleet(url, credentials, fleet_input, seen, started_at)
        raise InterruptedRun("the fleet's runs were stopped where they stood; each connection in Airbyte now:\n" + "\n".join(lines)) from None
    finally:
        if stub is not None:
            stub.stop()
    return report_fleet(out, result, followed, args.json)


def _check_contract(execution_input: dict[str, Any], schema: str = "execution-input.schema.json") -> None:
    """The input meets its contract (schemas/: a run's, or a fleet's), before anything starts."""
    from airbyte_client.contract import load_contract, problems
    from airbyte_resync.files import SCHEMAS

    refused = problems(execution_input, load_contract(SCHEMAS / schema))
    if refused:
        raise UsageError(f"the execution input breaks its contract: {'; '.join(refused)}")


def _add_machine_arguments(parser: argparse.ArgumentParser) -> None:
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument("--stack-name", help="the deployed stack (its StateMachineArn and ResetAndResyncFleetStateMachineArn outputs)")
    where.add_argument("--state-machine-arn", help="the run's state machine (one connection)")
    where.add_argument("--fleet-state-machine-arn", help="the fleet's state machine (several connections, a workspace, a tag)")


def _add_selection_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--connection-id", action="append", default=[], help="UUID of a connection; repeat for several (then one fleet runs them)")
    parser.add_argument("--workspace-id", action="append", default=[], help="every connection of this workspace (repeat for several): a fleet")
    parser.add_argument("--tag-id", action="append", default=[], help="every connection with this tag (repeat for several): a fleet")
    parser.add_argument("--max-concurrent", help=f"a fleet: how many connections are reset or synced at once ({MAX_CONCURRENT[0]} to {MAX_CONCURRENT[1]}; default 5)")
    parser.add_argument("--tolerated-failures", help="a fleet: how many connections may fail before the fleet does (default 0)")


# A fleet's bounds on maxConcurrent (Distributed Map's MaxConcurrency goes to 10,000; the
# workflow allows 1,000).
MAX_CONCURRENT = (1, 1000)


def _fleet_input(args: argparse.Namespace) -> dict[str, Any] | None:
    """The fleet's input when the arguments ask for a fleet (a workspace, a tag, or more than
    one connection), else None (one connection: a single run). Every argument is checked
    here, before anything is asked of AWS."""
    connections = list(dict.fromkeys(_connection_id(item).lower() for item in args.connection_id))
    workspaces = list(dict.fromkeys(_uuid("--workspace-id", item).lower() for item in args.workspace_id))
    tags = list(dict.fromkeys(_uuid("--tag-id", item).lower() for item in args.tag_id))
    if not (connections or workspaces or tags):
        raise UsageError("give --connection-id ID (repeat for several), or --workspace-id ID and/or --tag-id ID for every connection they hold")
    max_concurrent = _non_negative_int("--max-concurrent", args.max_concurrent, minimum=MAX_CONCURRENT[0], maximum=MAX_CONCURRENT[1])
    tolerated = _non_negative_int("--tolerated-failures", args.tolerated_failures, minimum=0, maximum=1_000_000)
    if not (workspaces or tags) and len(connections) == 1:
        if max_concurrent is not None or tolerated is not None:
            raise UsageError("--max-concurrent and --tolerated-failures apply to a fleet: give several connections, --workspace-id or --tag-id")
        return None
    fleet_input: dict[str, Any] = {}
    for key, values in (("connectionIds", connections), ("workspaceIds", workspaces), ("tagIds", tags)):
        if values:
            fleet_input[key] = values
    if max_concurrent is not None:
        fleet_input["maxConcurrent"] = max_concurrent
    if tolerated is not None:
        fleet_input["toleratedFailures"] = tolerated
    poll_interval = _non_negative_int("--poll-interval", getattr(args, "poll_interval", None), minimum=0, maximum=3600)
    if poll_interval is not None:
        fleet_input["pollIntervalSeconds"] = poll_interval
    if getattr(args, "no_wait_for_resync", False):
        fleet_input["waitForResync"] = False
    _check_contract(fleet_input, "fleet-input.schema.json")
    return fleet_input


def _uuid(flag: str, value: str) -> str:
    if not UUID_PATTERN.fullmatch(value.strip()):
        raise UsageError(f"{flag} must be a UUID like 9f1c1e4a-3b2d-4c5e-8f60-7a8b9c0d1e2f, got {value[:60]!r}")
    return value.strip()


def _execution_input(connection_id: str, args: argparse.Namespace) -> dict[str, Any]:
    execution_input: dict[str, Any] = {"connectionId": _connection_id(connection_id)}
    poll_interval = _non_negative_int("--poll-interval", getattr(args, "poll_interval", None), minimum=0, maximum=3600)
    if poll_interval is not None:
        execution_input["pollIntervalSeconds"] = poll_interval
    if getattr(args, "no_wait_for_resync", False):
        execution_input["waitForResync"] = False
    _check_contract(execution_input)
    return execution_input


def start_command(args: argparse.Namespace, out: TextIO) -> int:
    from airbyte_resync import operate

    fleet_input = _fleet_input(args)  # every argument checked before anything starts
    if fleet_input is not None:
        return _start_fleet(args, fleet_input, out)
    execution_input = _execution_input(args.connection_id[0], args)
    if args.fleet_state_machine_arn:
        raise UsageError("one connection runs on the run's state machine: give --state-machine-arn or --stack-name")
    machine = operate.state_machine_arn(args.stack_name, args.state_machine_arn)
    client = operate.aws_client("stepfunctions", machine)
    [item] = operate.start(client, machine, [execution_input])
    if not args.json:
        verb = "already running, attached to" if item.attached else "started"
        out.write(f"{item.connection_id}: {verb} {item.execution_arn}\n")
    if not args.wait:
        if args.json:
            out.write(json.dumps({**operate.run_document(operate.result_of(client, item.execution_arn, read_history=False)), "attached": item.attached}) + "\n")
        return 0
    titles = {item.execution_arn: (f"Connection {item.connection_id}: {item.execution_arn}", item.connection_id[:8])}
    return _report(out, _watch(client, titles, out, args.json), args.json)


def _start_fleet(args: argparse.Namespace, fleet_input: dict[str, Any], out: TextIO) -> int:
    from airbyte_resync import operate

    if args.state_machine_arn:
        raise UsageError("several connections, a workspace or a tag run as one fleet: give --fleet-state-machine-arn or --stack-name")
    machine = operate.fleet_state_machine_arn(args.stack_name, args.fleet_state_machine_arn)
    client = operate.aws_client("stepfunctions", machine)
    started = operate.start_fleet(client, machine, fleet_input)
    if not args.json:
        verb = "already running, attached to" if started.attached else "started"
        out.write(f"fleet: {verb} {started.execution_arn}\n")
    if not args.wait:
        if args.json:
            result = operate.result_of(client, started.execution_arn, read_history=False)
            out.write(json.dumps({**operate.fleet_document(result), "attached": started.attached}) + "\n")
        return 0
    return report_fleet(out, *follow_fleet(client, started.execution_arn, out, args.json), args.json)


def watch_command(args: argparse.Namespace, out: TextIO) -> int:
    from airbyte_resync import operate

    arn = operate.checked_execution_arn(args.execution_arn)
    client = operate.aws_client("stepfunctions", arn)
    described = operate.result_of(client, arn, read_history=False)
    if operate.is_fleet_input(described.input):
        return report_fleet(out, *follow_fleet(client, arn, out, args.json), args.json)
    connection = operate.run_document(described)["connectionId"]
    return _report(out, _watch(client, {arn: (f"Connection {connection or '-'}: {arn}", "")}, out, args.json), args.json)


def status_command(args: argparse.Namespace, out: TextIO) -> int:
    from airbyte_resync import operate

    arn = operate.checked_execution_arn(args.execution_arn)
    client = operate.aws_client("stepfunctions", arn)
    result = operate.result_of(client, arn)
    if operate.is_fleet_input(result.input):
        # Under way, its children are read (fleet_children); an ended fleet's answer says it all.
        children = operate.fleet_children(client, arn) if result.status == "RUNNING" else None
        if args.json:
            out.write(json.dumps(operate.fleet_document(result, children)) + "\n")
        else:
            operate.print_fleet_status(out, result, children)
        return operate.exit_code(result)
    if args.json:
        out.write(json.dumps(operate.run_document(result)) + "\n")
    else:
        operate.print_status(out, result)
    return operate.exit_code(result)


def redrive_command(args: argparse.Namespace, out: TextIO) -> int:
    from airbyte_resync import operate

    arn = operate.checked_execution_arn(args.execution_arn)
    client = operate.aws_client("stepfunctions", arn)
    redriven = operate.redrive(client, arn)
    if not args.json:
        out.write(f"{redriven.connection_id or '-'}: redriven {arn}, resuming at {redriven.resumes_at}\n")
    if not args.wait:
        if args.json:
            out.write(json.dumps({**operate.run_document(operate.result_of(client, arn, read_history=False)), "resumesAt": redriven.resumes_at}) + "\n")
        return 0
    return _report(out, _watch(client, {arn: (f"Connection {redriven.connection_id or '-'}: {arn}", "")}, out, args.json), args.json)


def list_command(args: argparse.Namespace, out: TextIO) -> int:
    from airbyte_resync import operate

    connection = _connection_id(args.connection_id) if args.connection_id else None
    limit = _non_negative_int("--limit", args.limit, minimum=1, maximum=10000)
    if args.fleet or args.fleet_state_machine_arn:
        if args.state_machine_arn:
            raise UsageError("--fleet lists the fleet's state machine: give --fleet-state-machine-arn or --stack-name")
        machine = operate.fleet_state_machine_arn(args.stack_name, args.fleet_state_machine_arn)
    else:
        machine = operate.state_machine_arn(args.stack_name, args.state_machine_arn)
    client = operate.aws_client("stepfunctions", machine)
    runs, truncated = operate.listed_runs(client, operate.iter_executions(client, machine, args.status), connection, limit)
    if args.json:
        out.write(json.dumps([operate.any_run_document(run) for run in runs]) + "\n")
    else:
        operate.print_listing(out, runs, truncated, limit)
    return 0


def request_command(args: argparse.Namespace, out: TextIO) -> int:
    from airbyte_resync import operate

    fleet_input = _fleet_input(args)
    if fleet_input is not None:
        event_id = operate.request_fleet(operate.aws_client("events"), fleet_input)
        out.write(f"requested: fleet event {event_id}; its execution is named event-{event_id}\n")
        return 0
    execution_input = _execution_input(args.connection_id[0], args)
    event_id = operate.request(operate.aws_client("events"), execution_input)
    out.write(f"requested: event {event_id}; its execution is named event-{event_id}\n")
    return 0


def _watch(client: StepFunctionsOnAws, titles: dict[str, tuple[str, str]], out: TextIO, as_json: bool) -> list[RunResult]:
    """Follow executions on AWS to their end: with progress for a person, silently for --json.
    `titles`: execution ARN -> (what heads its progress, the label of its plain lines)."""
    from airbyte_resync import operate
    from airbyte_resync.progress import Progress, committed_states, wants_live, workflow_steps

    arns = list(titles)
    if as_json:
        return operate.watch(client, arns)
    try:
        states = operate.states_of(client, arns[0])
    except operate.OperationError:
        # Without states:DescribeStateMachine: the committed machines' retries are the deployed ones
        # unless the stack runs another version.
        states = committed_states()
    progress = Progress(out, workflow_steps(), states, live=wants_live(out, as_json=False))
    with progress:
        for arn, (title, label) in titles.items():
            started = operate.aws_call("describe-execution", lambda: client.describe_execution(executionArn=arn))["startDate"]  # noqa: B023 - aws_call calls it at once
            progress.add_run(arn, title, label, started_at=started.timestamp())
        results = operate.watch(client, arns, progress.transition, on_failure=progress.failed_attempt)
        for result in results:
            progress.end(result.execution_arn, result.status)
    return results


def _report(out: TextIO, results: list[RunResult], as_json: bool) -> int:
    from airbyte_resync import operate
    from arazzo_sfn.history import print_result

    if as_json:
        documents = [operate.run_document(result) for result in results]
        out.write(json.dumps(documents[0] if len(documents) == 1 else documents) + "\n")
    else:
        for result in results:
            out.write(f"\n{result.execution_arn}")
            print_result(out, result)
    return max(operate.exit_code(result) for result in results)


def follow_fleet(client: StepFunctionsOnAws, fleet_arn: str, out: TextIO, as_json: bool,
                 find_children: ChildrenFinder | None = None, *, pause: float | None = None, refresh: float | None = None,
                 on_transition: Callable[[str, Transition], None] | None = None,
                 on_child: Callable[[FleetChild], None] | None = None) -> tuple[RunResult, dict[str, FleetChild]]:
    """Follow a fleet to its end: one line per connection and the counts for a person,
    silently for --json. `find_children`, `pause` and `refresh`: see operate.watch_fleet (a
    local run gives its own); `on_transition(child execution, transition)` and `on_child(child)`
    hear of each connection's run as the display does (a local run keeps what each did)."""
    from airbyte_resync import operate
    from airbyte_resync.progress import Progress, committed_states, wants_live, workflow_steps

    progress = None if as_json else Progress(out, workflow_steps(), committed_states(), live=wants_live(out, as_json=False), fleet=True)

    def found(child: FleetChild, started: datetime) -> None:
        if on_child is not None:
            on_child(child)
        if progress is not None:
            progress.add_run(child.execution_arn, child.connection_id, child.connection_id[:8], started_at=started.timestamp())

    def heard(child_arn: str, transition: Transition) -> None:
        if on_transition is not None:
            on_transition(child_arn, transition)
        if progress is not None:
            progress.transition(child_arn, transition)

    if progress is None:
        return operate.watch_fleet(client, fleet_arn, on_child=found, on_transition=heard, pause=pause, refresh=refresh, find_children=find_children)
    shown = progress
    if not shown.live:
        out.write(f"Fleet {fleet_arn}\n{'':<8}  {'elapsed':>8}  {'state':<36} {'job':>8}  status\n")

    def on_end(child: FleetChild) -> None:
        if child.execution_arn in shown.runs:
            # Its elapsed time runs to its execution's stop date, not to when it was read.
            shown.end(child.execution_arn, child.status, child.stop_date.timestamp() if child.stop_date else None)

    with shown:
        return operate.watch_fleet(client, fleet_arn, on_child=found, on_transition=heard, on_failure=shown.failed_attempt,
                                   on_end=on_end, on_counts=shown.set_counts, pause=pause, refresh=refresh, find_children=find_children)


def report_fleet(out: TextIO, result: RunResult, children: dict[str, FleetChild], as_json: bool) -> int:
    from airbyte_resync import operate

    if as_json:
        out.write(json.dumps(operate.fleet_document(result, children)) + "\n")
    else:
        operate.print_fleet_result(out, result, children)
    return operate.exit_code(result)


AWS_COMMANDS = {"start": start_command, "watch": watch_command, "status": status_command, "list": list_command,
                "request": request_command, "redrive": redrive_command}


def credentials_from_environment() -> Credentials:
    from airbyte_resync.credentials import Credentials

    client_id, client_secret, token = _env("AIRBYTE_CLIENT_ID"), _env("AIRBYTE_CLIENT_SECRET"), _env("AIRBYTE_API_TOKEN")
    if client_id or client_secret:
        if not (client_id and client_secret):
            missing = "AIRBYTE_CLIENT_SECRET" if client_id else "AIRBYTE_CLIENT_ID"
            raise UsageError(f"{missing} is not set, but client credentials need both AIRBYTE_CLIENT_ID and AIRBYTE_CLIENT_SECRET")
        return Credentials(client_id=client_id, client_secret=client_secret)
    if token:
        return Credentials(api_token=token)
    return Credentials()


def _env(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None  # empty variables count as unset


def _connection_id(value: str) -> str:
    if not UUID_PATTERN.fullmatch(value.strip()):
        raise UsageError(f"--connection-id must be a UUID like 9f1c1e4a-3b2d-4c5e-8f60-7a8b9c0d1e2f, got {value[:60]!r}")
    return value.strip()


def _non_negative_int(flag: str, value: str | None, *, minimum: int, maximum: int) -> int | None:
    if value is None:
        return None
    if not re.fullmatch(r"\d+", value.strip()):
        raise UsageError(f"{flag} must be a whole number of at least {minimum}, got {value!r}")
    number = int(value)
    if not minimum <= number <= maximum:
        raise UsageError(f"{flag} must be between {minimum} and {maximum}, got {number}")
    return number


def _airbyte_url(value: str) -> str:
    from airbyte_client.config import validate_api_url
    from airbyte_client.errors import AirbyteConfigurationError

    if not value.strip():
        raise UsageError("--airbyte-url is empty: give Airbyte's API URL (e.g. https://api.airbyte.com/v1), or leave the option out to run against the built-in stub")
    try:
        return validate_api_url(value)
    except AirbyteConfigurationError as error:
        raise UsageError(f"--airbyte-url: {str(error).replace('AIRBYTE_API_URL', 'the URL')}") from None


# How long the first look at Airbyte may take before the run starts anyway (and retries as usual).
REACHABLE_TIMEOUT_SECONDS = 5.0


def _check_reachable(url: str) -> None:
    """Before anything starts: a host that does not exist or refuses every connection will not
    come round within the run's retries, so say at once what to check instead of retrying for
    minutes. A slow answer is left to the run, whose retries are made for it."""
    import socket
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((host, port), timeout=REACHABLE_TIMEOUT_SECONDS).close()
    except socket.gaierror:
        raise UsageError(f"--airbyte-url: no such host {host!r}: check the host name (nothing was sent to Airbyte)") from None
    except ConnectionRefusedError:
        raise UsageError(f"--airbyte-url: connection refused by {host}:{port}; is Airbyte running there, and is the port right? (nothing was sent to Airbyte)") from None
    except OSError:
        return  # unreachable for now, or slow: the run's own retries say what happens


def _progress(out: TextIO) -> Progress:
    from airbyte_resync.progress import Progress, committed_states, wants_live, workflow_steps

    return Progress(out, workflow_steps(), committed_states(), live=wants_live(out, as_json=False))


def _reporting_failures(progress: Progress, key: str) -> HandlerWrapper:
    """Wrap each function so a failed attempt is shown at once (what failed, on which host, and
    when the next attempt comes), not minutes of silence while Step Functions retries it."""

    def wrap(logical_id: str, handler: Handler) -> Handler:
        def invoke(event: Any, context: Any) -> Any:
            try:
                return handler(event, context)
            except Exception as error:
                step = event.get("step", logical_id) if isinstance(event, dict) else logical_id
                attempt = event.get("attempt", 0) if isinstance(event, dict) else 0
                # The event's attempt counts the state's retries so far, whatever their errors.
                earlier = [type(error).__name__] * (attempt if isinstance(attempt, int) else 0)
                progress.failed_attempt(key, step, type(error).__name__, str(error), earlier)
                raise

        return invoke

    return wrap


if __name__ == "__main__":
    sys.exit(main())
