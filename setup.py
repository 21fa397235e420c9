"""The wheel's package data that lives outside the packages.

Besides their code, the two commands read at run time files that stay where SAM, the
Makefile and the tests read them: `airbyte-resync` the SAM template and what it names (the
state machines, the functions' code), the workflow, the API description it names and the
published schemas; `arazzo-sfn run` the generic operation function. Building the wheel
copies them into the packages (in the checkout's layout), so that an installed package
finds them through itself; an editable install reads the checkout instead. The rest of the
configuration is pyproject.toml's."""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
# Package -> (its folder for them, the checkout's folder they are copied from, the files and
# folders copied, with their paths below that folder kept).
SHIPPED = {
    "airbyte_resync": ("deployment", ".", ("template.yaml", "statemachine", "functions", "workflows", "openapi/airbyte-openapi.yml", "schemas")),
    "arazzo_sfn": ("operation_function", "functions/operation", ("app.py",)),
}


def shipped_files() -> dict[str, Path]:
    """Path in the wheel -> the checkout's file."""
    files = {}
    for package, (directory, base, sources) in SHIPPED.items():
        for source in sources:
            path = HERE / base / source
            found = sorted(item for item in path.rglob("*") if item.is_file() and "__pycache__" not in item.parts) if path.is_dir() else [path]
            for item in found:
                files[f"{package}/{directory}/{item.relative_to(HERE / base).as_posix()}"] = item
    return files


class BuildWithShippedFiles(build_py):
    def run(self) -> None:
        super().run()
        if self.editable_mode:
            return
        for target, source in shipped_files().items():
            if not source.is_file():
                raise FileNotFoundError(f"{source.relative_to(HERE)}: the wheel ships it; it is missing from the source tree")
            destination = Path(self.build_lib) / target
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, destination)


setup(cmdclass={"build_py": BuildWithShippedFiles})
