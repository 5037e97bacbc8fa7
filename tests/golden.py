"""Golden output of the fixture apps. Regenerate after a deliberate change with

    python tests/golden.py

and review the diff like code.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
APPS = ("shop", "awkward")


def export_fixture(app: str, format_name: str, location: Path) -> None:
    """Export a fixture app from its own directory, as a user would."""
    from exporter.export import run_export
    from exporter.formation import Options

    previous = Path.cwd()
    os.chdir(FIXTURES / app)
    try:
        run_export(format_name, location, Options())
    finally:
        os.chdir(previous)


def expected_dir(app: str, format_name: str) -> Path:
    return FIXTURES / app / "expected" / format_name


def regenerate() -> None:
    from exporter.formats import FORMAT_NAMES

    for app in APPS:
        for format_name in FORMAT_NAMES:
            with tempfile.TemporaryDirectory() as scratch:
                export_fixture(app, format_name, Path(scratch) / "out")
                target = expected_dir(app, format_name)
                shutil.rmtree(target, ignore_errors=True)
                # the lock file is not output: it only keeps two exports apart
                shutil.copytree(
                    Path(scratch) / "out", target, ignore=shutil.ignore_patterns(".procexport.lock")
                )
            print(f"wrote {target.relative_to(FIXTURES.parent)}", file=sys.stderr)


if __name__ == "__main__":
    regenerate()
