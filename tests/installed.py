"""The command as a user runs it: `python3 -m exporter` in a subprocess, importing this
checkout (the `procexport` console script runs the same `exporter.cli:main`)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from helpers import REPO, Run


def run_installed(*args: str, cwd: Path, env: dict[str, str] | None = None) -> Run:
    environment = os.environ | {"PYTHONPATH": str(REPO), "COLUMNS": "100"} | (env or {})
    result = subprocess.run(
        [sys.executable, "-m", "exporter", *args],
        cwd=cwd,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return Run(result.returncode, result.stdout, result.stderr)
