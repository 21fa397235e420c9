"""The package as a person installs it: a wheel built from the repository, installed into a
clean virtual environment outside the checkout, runs both commands from there, with the
files they read (the template, the state machines, the functions, the workflow, the
operation function) found as package data."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import venv
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DEMO_CONNECTION = "9f1c1e4a-3b2d-4c5e-8f60-7a8b9c0d1e2f"
# What the wheel must carry besides code, as (path in the wheel, the checkout's file).
SHIPPED = {
    "airbyte_resync/deployment/template.yaml": "template.yaml",
    "airbyte_resync/deployment/statemachine/reset_and_resync.asl.json": "statemachine/reset_and_resync.asl.json",
    "airbyte_resync/deployment/statemachine/wait_for_job.asl.json": "statemachine/wait_for_job.asl.json",
    "airbyte_resync/deployment/workflows/airbyte-reset-and-resync.arazzo.yaml": "workflows/airbyte-reset-and-resync.arazzo.yaml",
    "airbyte_resync/deployment/openapi/airbyte-openapi.yml": "openapi/airbyte-openapi.yml",
    "airbyte_resync/deployment/schemas/execution-input.schema.json": "schemas/execution-input.schema.json",
    "arazzo_sfn/operation_function/app.py": "functions/operation/app.py",
}


def _index_reachable() -> bool:
    try:
        socket.create_connection(("pypi.org", 443), timeout=5).close()
    except OSError:
        return False
    return True


def needs_index(test: Callable[..., None]) -> Callable[..., None]:
    """Marked `network` (`make check` leaves it out) and skipped offline, saying why."""
    skip = pytest.mark.skipif(not _index_reachable(), reason="offline: installing the wheel's dependencies into a clean environment needs the package index (pypi.org)")
    return pytest.mark.network(skip(test))


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel `python -m build` makes (built from the source distribution, as a release is)."""
    out = tmp_path_factory.mktemp("dist")
    built = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(ROOT)], capture_output=True, text=True)
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    [path] = out.glob("*.whl")
    return path


def test_the_wheel_holds_every_subpackage(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    packages = {path.parent.relative_to(base).as_posix() for base in (ROOT / "src", ROOT / "layers/arazzo_runtime", ROOT / "layers/airbyte_client") for path in base.rglob("__init__.py")}
    assert "arazzo_sfn/lower" in packages
    missing = sorted(package for package in packages if f"{package}/__init__.py" not in names)
    assert missing == []


def test_the_wheel_ships_the_checkouts_files(wheel: Path) -> None:
    """The copies the build makes are the checkout's files, byte for byte, and every function the template names has its code."""
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        for inside, source in SHIPPED.items():
            assert archive.read(inside) == (ROOT / source).read_bytes(), inside
        for function in (ROOT / "functions").iterdir():
            if (function / "app.py").is_file():
                assert archive.read(f"airbyte_resync/deployment/functions/{function.name}/app.py") == (function / "app.py").read_bytes()
    assert not any("__pycache__" in name for name in names)


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtual environment with only the wheel and its dependencies (at the pinned versions): its bin folder."""
    environment = tmp_path_factory.mktemp("venv")
    venv.EnvBuilder(with_pip=False, system_site_packages=False).create(environment)
    python = environment / "bin" / "python"
    # This environment's pip installs into the new one (`--python`): the new one needs no pip of its own.
    done = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--disable-pip-version-check",
         "-c", str(ROOT / "constraints.txt"), str(wheel)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return environment / "bin"


def _run(bin_dir: Path, command: str, *arguments: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The command as a person runs it: from a folder outside the checkout, nothing of the checkout on the path."""
    environment = {key: value for key, value in os.environ.items() if key not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    environment["PATH"] = f"{bin_dir}{os.pathsep}{environment.get('PATH', '')}"
    return subprocess.run([str(bin_dir / command), *arguments], cwd=cwd, env=environment, capture_output=True, text=True, timeout=300)


@needs_index
def test_arazzo_sfn_compiles_the_packaged_workflow(installed: Path, tmp_path: Path) -> None:
    helped = _run(installed, "arazzo-sfn", "--help", cwd=tmp_path)
    assert helped.returncode == 0, helped.stderr
    assert "usage: arazzo-sfn" in helped.stdout
    # The workflow and the operation function (`arazzo-sfn run`) as the installed packages hold them: not in the checkout.
    found = _run(installed, "python", "-c", "from airbyte_resync import files; from arazzo_sfn import local_run; print(files.WORKFLOW); print(local_run.OPERATION_FUNCTION)", cwd=tmp_path)
    assert found.returncode == 0, found.stderr
    workflow, operation_function = (Path(line) for line in found.stdout.splitlines())
    assert workflow.is_file() and operation_function.is_file()
    assert not workflow.is_relative_to(ROOT) and not operation_function.is_relative_to(ROOT)
    compiled = _run(installed, "arazzo-sfn", "compile", str(workflow), "--workflow", "wait-for-job", cwd=tmp_path)
    assert compiled.returncode == 0, compiled.stderr
    assert '"StartAt":' in compiled.stdout


@needs_index
def test_airbyte_resync_runs_the_demo_against_the_built_in_stub(installed: Path, tmp_path: Path) -> None:
    helped = _run(installed, "airbyte-resync", "--help", cwd=tmp_path)
    assert helped.returncode == 0, helped.stderr
    assert "usage: airbyte-resync" in helped.stdout
    ran = _run(installed, "airbyte-resync", "run", "--connection-id", DEMO_CONNECTION, "--poll-interval", "0", cwd=tmp_path)
    assert ran.returncode == 0, ran.stdout[-3000:] + ran.stderr[-3000:]
    assert "Execution SUCCEEDED" in ran.stdout
    assert "resyncStatus: succeeded" in ran.stdout
