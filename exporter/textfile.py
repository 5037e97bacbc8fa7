"""Reading the line-based input files: strict UTF-8, BOM and CRLF tolerated."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

from exporter.errors import ExportError


def read_text(path: Path, label: str) -> str:
    """The file's text, or an ExportError naming `label` (the path as the user wrote it)."""
    try:
        data = _read_regular_file(path, label)
    except FileNotFoundError:
        raise ExportError("no such file", label) from None
    except IsADirectoryError:
        raise ExportError("is a directory, not a file", label) from None
    except OSError as exc:
        raise ExportError(f"cannot read: {exc.strerror}", label) from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ExportError("not valid UTF-8", label, line) from None
    if "\x00" in text:
        raise ExportError("contains a NUL byte", label, text.count("\n", 0, text.index("\x00")) + 1)
    return text.removeprefix("\ufeff")


def _read_regular_file(path: Path, label: str) -> bytes:
    """The bytes of a regular file; a FIFO, device or socket is refused before it is opened
    for reading (and opened without blocking, in case it was swapped in meanwhile)."""
    if not stat.S_ISREG(os.stat(path).st_mode):
        if stat.S_ISDIR(os.stat(path).st_mode):
            raise IsADirectoryError
        raise ExportError("is not a regular file (a FIFO, device or socket?): give a file", label)
    handle = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    with open(handle, "rb") as stream:
        if not stat.S_ISREG(os.fstat(handle).st_mode):
            raise ExportError(
                "is not a regular file (a FIFO, device or socket?): give a file", label
            )
        return stream.read()


def numbered_lines(text: str) -> Iterator[tuple[int, str]]:
    """(line number, line) pairs, split on LF only, with one trailing CR removed.

    str.splitlines() is not used: it also splits on form feeds, U+2028 and other characters
    that are ordinary bytes inside a command or a value.
    """
    for number, line in enumerate(text.split("\n"), start=1):
        yield number, line.removesuffix("\r")
