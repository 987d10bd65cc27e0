"""The pins are written once, in requirements.txt; the package's metadata is made from it."""

from __future__ import annotations

import re
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s;#]+)")


def pins(lines) -> dict[str, str]:
    found = {}
    for line in lines:
        match = PIN.match(line.strip())
        if match:
            found[match.group(1).lower().replace("_", "-")] = match.group(2)
    return found


def requirement_pins() -> dict[str, str]:
    return pins((ROOT / "requirements.txt").read_text().splitlines())


def test_requirements_pin_every_line():
    lines = [line.strip() for line in (ROOT / "requirements.txt").read_text().splitlines()]
    loose = [line for line in lines if line and not line.startswith("#") and not PIN.match(line)]
    assert not loose, f"requirements.txt lines that are not exact pins (name==version): {loose}"
    assert "torch" in requirement_pins(), "requirements.txt pins no torch"


def test_package_metadata_reads_the_requirements():
    """pyproject.toml declares its dependencies from requirements.txt; the installed metadata
    (pip install -e .) carries the same pins."""
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert 'dependencies = { file = ["requirements.txt"] }' in pyproject, (
        "pyproject.toml does not read requirements.txt"
    )
    installed = pins(requirement.split(";")[0] for requirement in metadata.requires("acai-repro") or [])
    assert installed == requirement_pins(), (
        "the installed package's pins differ from requirements.txt (reinstall with pip install -e .): "
        f"{set(installed.items()) ^ set(requirement_pins().items())}"
    )
