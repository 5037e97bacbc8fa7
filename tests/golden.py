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
# The keyed digests of secrets (manifest, kubernetes config-hash) need a key: a fixed one from
# the environment, so the golden files are reproducible and hold no key file.
FIXTURE_KEY = "golden-files-key-not-a-secret-0123456789abcdef"


def export_fixture(app: str, format_name: str, location: Path) -> None:
    """Export a fixture app from its own directory, as a user would."""
    from exporter.export import run_export
    from exporter.formation import Options
    from exporter.secret_digest import KEY_VARIABLE

    previous = Path.cwd(), os.environ.get(KEY_VARIABLE)
    os.chdir(FIXTURES / app)
    os.environ[KEY_VARIABLE] = FIXTURE_KEY
    try:
        run_export(format_name, location, Options())
    finally:
        os.chdir(previous[0])
        if previous[1] is None:
            del os.environ[KEY_VARIABLE]
        else:
            os.environ[KEY_VARIABLE] = previous[1]


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
    sys.path.insert(0, str(FIXTURES.parent))  # this checkout's exporter, not an installed one
    regenerate()
