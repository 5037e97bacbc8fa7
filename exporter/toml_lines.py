"""Where a key is set in a TOML text, for error messages (tomllib gives no positions)."""

from __future__ import annotations

import re


def key_line(text: str, loc: tuple[int | str, ...]) -> int | None:
    """Best effort: the line that sets the key at `loc` (or its nearest enclosing key)."""
    wanted = [str(part) for part in loc]
    table: list[str] = []
    best: tuple[int, int] | None = None
    for number, line in enumerate(text.split("\n"), start=1):
        stripped = line.strip()
        header = re.fullmatch(r"\[\[?\s*([^\]]+?)\s*\]\]?(?:\s*#.*)?", stripped)
        if header:
            table = [part.strip().strip("\"'") for part in header.group(1).split(".")]
            path = table
        else:
            assignment = re.match(r"([A-Za-z0-9_\-\"'. ]+?)\s*=", stripped)
            if not assignment:
                continue
            path = table + [p.strip().strip("\"'") for p in assignment.group(1).split(".")]
        depth = len(path)
        if wanted[:depth] == path and (best is None or depth > best[0]):
            best = (depth, number)
    return best[1] if best else None
