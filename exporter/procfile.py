"""Procfile parsing: `name: command` lines in file order; blank, `#` and `//` lines skipped."""

from __future__ import annotations

import re
from typing import NamedTuple

from exporter.errors import ExportError
from exporter.textfile import numbered_lines

PROCESS_NAME = re.compile(r"[A-Za-z0-9_-]+")


class ProcfileEntry(NamedTuple):
    name: str
    command: str
    line: int


def parse_procfile(text: str, label: str) -> tuple[ProcfileEntry, ...]:
    """Every process type of a Procfile, in file order; errors name `label`:LINE."""
    entries: list[ProcfileEntry] = []
    seen: dict[str, int] = {}
    for number, line in numbered_lines(text):
        stripped = line.strip(" \t")
        if not stripped or stripped.startswith(("#", "//")):  # `//`: procfile-util
            continue
        name, colon, command = stripped.partition(":")
        name, command = name.rstrip(" \t"), command.strip(" \t")
        if not colon:
            raise ExportError("expected 'name: command', found no colon", label, number)
        if not PROCESS_NAME.fullmatch(name):
            raise ExportError(
                f"invalid process type name {name!r}: use letters, digits, '_' and '-'",
                label,
                number,
            )
        if not command:
            raise ExportError(f"process type {name!r} has an empty command", label, number)
        if name in seen:
            raise ExportError(
                f"duplicate process type {name!r} (first defined on line {seen[name]})",
                label,
                number,
            )
        seen[name] = number
        entries.append(ProcfileEntry(name, command, number))
    if not entries:
        raise ExportError("no process types defined", label)
    return tuple(entries)
