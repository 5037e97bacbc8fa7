"""The destination: preview on stdout, or write into LOCATION atomically."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from exporter.errors import ExportError
from exporter.formats import Rendering


def preview(rendering: Rendering) -> str:
    """Every file under a header line naming its path, content verbatim."""
    return "".join(f"==> {path} <==\n{file.text}" for path, file in rendering.items())


def write_rendering(location: Path, rendering: Rendering) -> None:
    """Write every file into LOCATION: all to temporaries first, then renamed into place."""
    if location.exists() and not location.is_dir():
        raise ExportError("is not a directory", str(location))
    temporaries: list[tuple[Path, Path]] = []
    try:
        for relative, file in rendering.items():
            target = location / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            handle, name = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
            temporary = Path(name)
            temporaries.append((temporary, target))
            with os.fdopen(handle, "w", encoding="utf-8", newline="") as out:
                out.write(file.text)
            os.chmod(temporary, file.mode)
        for temporary, target in temporaries:
            os.replace(temporary, target)
    except OSError as exc:
        for temporary, _ in temporaries:
            temporary.unlink(missing_ok=True)
        raise ExportError(f"cannot write: {exc.strerror}", exc.filename) from None
