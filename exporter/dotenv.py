""".env parsing: KEY=value lines, with the quoting rules of design.md.

The values are secrets: an error names the file, the line and the key, never a value's text
(nor text that might be part of one, such as a line that is not a valid name).
"""

from __future__ import annotations

import re
from typing import NamedTuple

from exporter.errors import ExportError

ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ASSIGNMENT = re.compile(r"[ \t]*(?:export[ \t]+)?([^=]*?)[ \t]*=[ \t]*")
_DOUBLE_QUOTE_ESCAPES = {"n": "\n", '"': '"', "\\": "\\", "$": "$"}


class DotenvEntry(NamedTuple):
    name: str
    value: str
    line: int


def parse_dotenv(text: str, label: str) -> tuple[DotenvEntry, ...]:
    """Every assignment of a .env file in order (a later one of a name wins when merged)."""
    text = text.replace("\r\n", "\n")
    entries: list[DotenvEntry] = []
    pos, line = 0, 1
    while pos < len(text):
        end = text.find("\n", pos)
        end = len(text) if end == -1 else end
        raw = text[pos:end]
        stripped = raw.strip(" \t")
        if not stripped or stripped.startswith("#"):
            pos, line = end + 1, line + 1
            continue
        match = _ASSIGNMENT.match(raw)
        if match is None or "=" not in raw:
            raise ExportError("expected KEY=value", label, line)
        name = match.group(1)
        if not ENV_NAME.fullmatch(name):
            raise ExportError(
                "invalid variable name: use letters, digits and '_', not starting with a digit",
                label,
                line,
            )
        value, end = _parse_value(text, pos + match.end(), label, line, name)
        entries.append(DotenvEntry(name, value, line))
        line += text.count("\n", pos, end) + 1
        pos = end + 1
    return tuple(entries)


def _parse_value(text: str, pos: int, label: str, line: int, name: str) -> tuple[str, int]:
    """The value starting at `pos` and the position of the newline (or end) after it."""
    quote = text[pos] if pos < len(text) else ""
    if quote == "'":
        close = text.find("'", pos + 1)
        newline = text.find("\n", pos + 1)
        if close == -1 or (newline != -1 and newline < close):
            raise ExportError(f"{name}: unterminated single quote", label, line)
        return text[pos + 1 : close], _end_after_quote(text, close + 1, label, line, name)
    if quote == '"':
        chars: list[str] = []
        i = pos + 1
        while i < len(text):
            char = text[i]
            if char == '"':
                return "".join(chars), _end_after_quote(text, i + 1, label, line, name)
            if char == "\\" and i + 1 < len(text) and text[i + 1] in _DOUBLE_QUOTE_ESCAPES:
                chars.append(_DOUBLE_QUOTE_ESCAPES[text[i + 1]])
                i += 2
                continue
            chars.append(char)
            i += 1
        raise ExportError(f"{name}: unterminated double quote", label, line)
    end = text.find("\n", pos)
    end = len(text) if end == -1 else end
    value = re.split(r"[ \t]#", text[pos:end], maxsplit=1)[0]
    return value.rstrip(" \t"), end


def _end_after_quote(text: str, pos: int, label: str, line: int, name: str) -> int:
    """After a closing quote only blanks or a comment may follow on that line."""
    end = text.find("\n", pos)
    end = len(text) if end == -1 else end
    rest = text[pos:end]
    if rest.strip(" \t") and not re.match(r"[ \t]+#", rest):
        raise ExportError(f"{name}: unexpected text after the closing quote", label, line)
    return end
