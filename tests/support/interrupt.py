"""Ctrl-C sent to the airbyte-resync command at a chosen moment of its run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

CLI = Path(sys.executable).parent / "airbyte-resync"
# Left out of the command's environment, so that it uses the Airbyte it is given without credentials.
CREDENTIAL_VARIABLES = ("AIRBYTE_CLIENT_ID", "AIRBYTE_CLIENT_SECRET", "AIRBYTE_API_TOKEN")


def interrupted(arguments: Sequence[str], ready: Callable[[], bool], *, wait_seconds: float = 120) -> subprocess.CompletedProcess[str]:
    """Run `airbyte-resync <arguments>`, send it SIGINT once `ready()` holds (checked every
    tenth of a second, for at most `wait_seconds`), and return what it answered."""
    environment = {name: value for name, value in os.environ.items() if name not in CREDENTIAL_VARIABLES}
    process = subprocess.Popen([str(CLI), *arguments], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment)
    try:
        deadline = time.monotonic() + wait_seconds
        while not ready() and time.monotonic() < deadline:
            time.sleep(0.1)
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=wait_seconds)
    finally:
        process.kill()
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
