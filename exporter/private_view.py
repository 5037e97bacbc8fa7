"""How a private file (one others may not read: an env file, a Secret) appears in anything
procexport prints: its keys, never its values, and never an encoding of them.

Which files are private comes from the rendered File (its mode); which keys it holds, from
the File's own reader of its entries. A private file without a reader, or one whose text the
reader cannot split, is shown without keys.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from exporter.rendering import File, is_private

_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")  # what a .env name can be
Reader = Callable[[str], dict[str, str]]
NOT_SHOWN = "values not shown (the file is not world-readable)"


def shown_text(file: File) -> str:
    """What the preview prints for a file: its text, or for a private file its keys."""
    if not file.private:
        return file.text
    entries = _entries(file.entries, file.text)
    if entries is None:
        return f"# {NOT_SHOWN}\n"
    return f"# {NOT_SHOWN}; keys:\n" + "".join(f"{_name(key)}\n" for key in entries)


def is_private_change(old_mode: int | None, new_mode: int | None) -> bool:
    """Either side of a change is private: neither side's text may be printed."""
    return any(mode is not None and is_private(mode) for mode in (old_mode, new_mode))


def key_changes(old: bytes | None, new: bytes | None, reader: Reader | None) -> list[str]:
    """The lines of a private file's diff: which keys were added, changed or removed."""
    if old == new:
        return []
    lines = [f"{NOT_SHOWN}\n"]
    old_entries = {} if old is None else _entries(reader, _text(old))
    new_entries = {} if new is None else _entries(reader, _text(new))
    if old_entries is None or new_entries is None:
        return lines
    for key in new_entries:
        if key not in old_entries:
            lines.append(f"  added {_name(key)}\n")
        elif old_entries[key] != new_entries[key]:
            lines.append(f"  changed {_name(key)}\n")
    lines += [f"  removed {_name(key)}\n" for key in old_entries if key not in new_entries]
    if len(lines) == 1:
        lines.append("  no key changed; other lines did\n")
    return lines


def _name(key: str) -> str:
    """A key as printed: a hand-edited file's "key" might be anything, a value included."""
    return key if _KEY.fullmatch(key) else "(a key that is not a variable name)"


def _text(content: bytes | None) -> str:
    return (content or b"").decode("utf-8", errors="replace")


def _entries(reader: Reader | None, text: str) -> dict[str, str] | None:
    if reader is None:
        return None
    try:
        return reader(text)
    except ValueError:
        return None
