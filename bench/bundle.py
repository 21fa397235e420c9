"""What each function deploys and how long it takes to import, as Lambda would load it.

The project's own layers are installed the way `sam build` installs them: their requirements
(pinned by constraints.txt) as arm64 wheels for the Lambda's Python, unpacked, with no
bytecode. Powertools is not in them: it comes from AWS's published layer, which is sized
apart and not counted. Printed for each function: its own code and the project's layers,
unpacked and zipped (target: at most 2.5 MiB of the project's layers).

The cold import is timed here, with this machine's Python, on a copy of the same layout built
for this platform: the function's folder and the project's layers without bytecode (Lambda
cannot write any next to them, so every cold start compiles them), Powertools and boto3 with
bytecode, as AWS ships its layer and the runtime. Each time is the median of fresh
interpreters, as a ratio to a bare interpreter that starts with the same path (target: at
most 4x). Prints figures; asserts nothing."""

from __future__ import annotations

import argparse
import io
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LAYERS = ("arazzo_runtime", "airbyte_client")
MiB = 1_048_576
TARGET_LAYERS_MIB = 2.5
TARGET_RATIO = 4.0


def pin(name: str) -> str:
    match = re.search(rf"^{re.escape(name)}==(\S+)$", (ROOT / "constraints.txt").read_text(), re.M)
    if not match:
        raise SystemExit(f"bundle: {name} is not pinned in constraints.txt")
    return f"{name}=={match.group(1)}"


def pip_install(target: Path, *arguments: str, lambda_platform: bool, compile_bytecode: bool) -> None:
    command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
               "--target", str(target), "-c", str(ROOT / "constraints.txt")]
    if lambda_platform:
        # What `sam build` fetches for an arm64 python3.12 function.
        command += ["--platform", "manylinux2014_aarch64", "--implementation", "cp", "--python-version", "3.12",
                    "--only-binary=:all:"]
    if not compile_bytecode:
        command.append("--no-compile")
    done = subprocess.run([*command, *arguments], capture_output=True, text=True)
    if done.returncode:
        # pip's own warnings (an index folder this machine lacks) are noise; its errors are not.
        raise SystemExit(f"bundle: pip install {' '.join(arguments)} failed:\n{done.stderr}")
    for scripts in target.glob("bin"):
        shutil.rmtree(scripts)  # console scripts: a layer build leaves them out


def build_layer(layer: str, into: Path, lambda_platform: bool) -> Path:
    """A project layer laid out as Lambda mounts it (<layer>/python)."""
    python = into / layer / "python"
    requirements = ROOT / "layers" / layer / "requirements.txt"
    if any(line.split("#", 1)[0].strip() for line in requirements.read_text().splitlines()):
        pip_install(python, "-r", str(requirements), lambda_platform=lambda_platform, compile_bytecode=False)
    shutil.copytree(ROOT / "layers" / layer, python, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "requirements.txt"))
    return python


def sizes(directory: Path) -> tuple[int, int]:
    """(unpacked bytes, zipped bytes) of a folder's files."""
    files = [path for path in sorted(directory.rglob("*")) if path.is_file()]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in files:
            archive.write(path, path.relative_to(directory))
    return sum(path.stat().st_size for path in files), len(buffer.getvalue())


def startup_seconds(python: str, path: list[str], cwd: Path, repeats: int) -> tuple[float, float]:
    """(bare start, start with `import app`): medians of fresh interpreters, the two taken in
    turn so that the machine's load weighs on both alike."""
    prefix = f"import sys; sys.path[:0] = {path!r}; "
    times: dict[str, list[float]] = {"pass": [], "import app": []}
    for _ in range(repeats):
        for code in times:
            started = time.perf_counter()
            # -I: no environment and no user site: only the path given; -B: write no bytecode.
            subprocess.run([python, "-I", "-B", "-c", prefix + code], cwd=cwd, check=True)
            times[code].append(time.perf_counter() - started)
    return statistics.median(times["pass"]), statistics.median(times["import app"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=21, help="fresh interpreters per median (default 21)")
    arguments = parser.parse_args()
    functions = sorted(path for path in (ROOT / "functions").iterdir() if (path / "app.py").exists())
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        lambda_layers = [build_layer(layer, scratch / "lambda", lambda_platform=True) for layer in LAYERS]
        powertools = scratch / "lambda" / "powertools" / "python"
        pip_install(powertools, pin("aws_lambda_powertools"), lambda_platform=True, compile_bytecode=False)

        print("Deployment bundle (arm64, python3.12 wheels, as `sam build` unpacks them):")
        layer_sizes = {layer: sizes(path) for layer, path in zip(LAYERS, lambda_layers, strict=False)}
        for layer, (unpacked, zipped) in layer_sizes.items():
            print(f"  layer {layer:<15} {unpacked / MiB:5.2f} MiB unpacked {zipped / MiB:5.2f} MiB zipped")
        own_unpacked = sum(unpacked for unpacked, _ in layer_sizes.values())
        own_zipped = sum(zipped for _, zipped in layer_sizes.values())
        print(f"  the project's layers  {own_unpacked / MiB:5.2f} MiB unpacked {own_zipped / MiB:5.2f} MiB zipped"
              f"   (target: at most {TARGET_LAYERS_MIB} MiB: {'met' if own_unpacked <= TARGET_LAYERS_MIB * MiB else 'NOT met'})")
        unpacked, zipped = sizes(powertools)
        print(f"  AWS's Powertools layer {unpacked / MiB:4.2f} MiB unpacked {zipped / MiB:5.2f} MiB zipped"
              f"   (published by AWS, not deployed by this stack; {pin('aws_lambda_powertools')} without extras)")
        distributions = sorted({path.name.split("-")[0] for layer in lambda_layers for path in layer.glob("*.dist-info")})
        print(f"  installed in the project's layers: {', '.join(distributions) or 'nothing'}")
        print(f"  {'function':<17} {'own code':>9} {'with the layers (unpacked)':>27}")
        for function in functions:
            code, _ = sizes(function)
            print(f"  {function.name:<17} {code / 1024:6.1f} KiB {(code + own_unpacked) / MiB:21.2f} MiB")

        local_layers = [build_layer(layer, scratch / "local", lambda_platform=False) for layer in LAYERS]
        local_powertools = scratch / "local" / "powertools" / "python"
        pip_install(local_powertools, pin("aws_lambda_powertools"), lambda_platform=False, compile_bytecode=True)
        runtime = scratch / "local" / "runtime"
        pip_install(runtime, pin("boto3"), lambda_platform=False, compile_bytecode=True)
        # Lambda's order: the function, then the layers under /opt/python, then the runtime's boto3.
        # Merged as Lambda merges layers into one folder would be the same lookups, folder by folder.
        python = getattr(sys, "_base_executable", sys.executable)
        print(f"\nCold import of each handler (Python {sys.version.split()[0]} here; median of {arguments.repeats};"
              " ratio to a bare interpreter):")
        for function in functions:
            path = [str(function), *map(str, local_layers), str(local_powertools), str(runtime)]
            bare, loaded = startup_seconds(python, path, function, arguments.repeats)
            ratio = loaded / bare
            # boto3 at import, not at first use: Lambda runs imports in its init phase at full
            # CPU, the handler at the CPU share of the function's memory.
            uses_boto3 = re.search(r"^import boto3", (function / "app.py").read_text(), re.M) is not None
            print(f"  {function.name:<17} {loaded * 1000:6.0f} ms against {bare * 1000:4.0f} ms  {ratio:4.1f} x"
                  f"   (target: at most {TARGET_RATIO:g} x: {'met' if ratio <= TARGET_RATIO else 'NOT met'})"
                  + ("; imports boto3 (the runtime's), which every invocation calls" if uses_boto3 else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
