"""What the shared Lambda layer installs: the distributions its requirements file pulls in,
with their own requirements, resolved from the metadata of the distributions installed in
this environment (which installs the layer's requirements too)."""

from __future__ import annotations

import importlib.metadata as metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name


def read_requirements(requirements_path: Path) -> list[Requirement]:
    """The requirements of a pip requirements file (one per line, `#` comments)."""
    lines = (line.split("#", 1)[0].strip() for line in requirements_path.read_text().splitlines())
    return [Requirement(line) for line in lines if line]


def layer_distributions(requirements_path: Path) -> list[str]:
    """Canonical names of the distributions installing `requirements_path` brings, sorted.

    Each distribution's requirements are followed for the extras asked of it; one whose
    environment marker does not hold for this interpreter (another extra, another Python)
    is left out, as pip leaves it out. Raises `PackageNotFoundError` for a distribution
    that is not installed here, since its requirements cannot be known."""
    extras_followed: dict[str, set[str]] = {}  # distribution -> extras already followed ("" is none)
    pending = [requirement for requirement in read_requirements(requirements_path) if _applies(requirement, {""})]
    while pending:
        requirement = pending.pop()
        name = canonicalize_name(requirement.name)
        followed = extras_followed.setdefault(name, set())
        extras = ({""} | {canonicalize_name(extra) for extra in requirement.extras}) - followed
        if not extras:
            continue
        followed |= extras
        for line in metadata.distribution(name).requires or []:
            dependency = Requirement(line)
            if _applies(dependency, extras):
                pending.append(dependency)
    return sorted(extras_followed)


def _applies(requirement: Requirement, extras: set[str]) -> bool:
    return requirement.marker is None or any(requirement.marker.evaluate({"extra": extra}) for extra in extras)
