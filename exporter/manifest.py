"""The manifest: which files procexport wrote into LOCATION for one app and format.

One TOML file per app and format, `.procexport.APP.FORMAT.toml`, versioned like pipx's
metadata: `version = 2` since the destination became journaled. A manifest without a version
is version 1 (same `[files]` table) and is upgraded in place by the next export that writes;
a newer version than this procexport knows is refused, never overwritten, since the
protection the manifest gives would be lost.

The manifest is read and written as bytes: where it lives (inside LOCATION or elsewhere) is
the caller's business.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

from exporter.errors import ExportError
from exporter.rendering import is_private

VERSION = 2
_HEADER = (
    "# Written by procexport: the files it wrote in this directory for one app and format,\n"
    "# each with its mode and SHA-256 (keyed for a file others may not read). procexport\n"
    "# removes only files listed here, and refuses to touch them once edited.\n"
)
NAME_MAX = 255  # bytes in one path component (Linux, macOS)
PATH_MAX = 4096


class Recorded(NamedTuple):
    """A file as the manifest remembers writing it."""

    digest: str
    mode: int


class Unreadable(Exception):
    """The manifest is damaged: --force may start a new one."""


def manifest_name(app: str, format_name: str) -> str:
    return f".procexport.{app}.{format_name}.toml"


def file_digest(content: bytes, mode: int, key_dir: Path | str) -> str:
    """What the manifest records of a file's content. The one place a digest is computed:
    SHA-256 of a world-readable file, a keyed digest (`hmac-sha256:HEX`, the key in
    `key_dir` or PROCEXPORT_SECRET_KEY) of a file others may not read, whose unsalted hash
    would let anyone confirm a guessed secret."""
    if not is_private(mode):
        return hashlib.sha256(content).hexdigest()
    from exporter.secret_digest import KEYED_PREFIX, keyed_digest

    return KEYED_PREFIX + str(keyed_digest(key_dir, content))


def is_recorded(entry: Recorded, content: bytes, mode: int, key_dir: Path | str) -> bool:
    """Whether a file holding `content` with `mode` is the one the entry remembers. A private
    file recorded by version 1 (a plain SHA-256) still matches until the next write."""
    if mode != entry.mode:
        return False
    if entry.digest.startswith("hmac-sha256:") or not is_private(mode):
        return file_digest(content, mode, key_dir) == entry.digest
    return hashlib.sha256(content).hexdigest() == entry.digest


def parse_manifest(data: bytes, label: str) -> dict[str, Recorded]:
    """The files a manifest lists. Raises Unreadable for a damaged manifest, ExportError for
    one written by a newer procexport."""
    import tomllib  # only needed from the second export on

    try:
        parsed = tomllib.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError, RecursionError):
        raise Unreadable from None
    version = parsed.get("version", 1)
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise Unreadable
    if version > VERSION:
        raise ExportError(
            f"this manifest has format version {version}, newer than this procexport "
            f"understands ({VERSION}): export with the procexport that wrote it, or upgrade",
            label,
        )
    files = parsed.get("files")
    if not isinstance(files, dict) or set(parsed) - {"version", "files"}:
        raise Unreadable
    recorded = {}
    for name, entry in files.items():
        if not isinstance(entry, str) or not is_safe_relative(name):
            raise Unreadable
        mode, _, digest = entry.partition(" ")
        if len(mode) != 4 or not mode.isdigit() or "8" in mode or "9" in mode or not digest:
            raise Unreadable
        recorded[name] = Recorded(digest, int(mode, 8))
    return recorded


def manifest_bytes(files: Mapping[str, Recorded]) -> bytes:
    """The manifest listing `files` (relative path -> what was written).

    Written directly, byte for byte what `tomli_w.dumps` gives for
    `{"version": VERSION, "files": {name: "MODE DIGEST"}}` (tested against it with hostile
    names): its per-character loop was a fifth of a large export."""
    lines = [_HEADER, f"version = {VERSION}\n\n[files]\n"]
    for name in sorted(files):  # strings only: much faster to sort than (name, entry) pairs
        entry = files[name]
        lines.append(f"{toml_key(name)} = {toml_string(f'{entry.mode:04o} {entry.digest}')}\n")
    text = "".join(lines)
    del lines  # gone before the bytes are made: not three copies of a megabyte at once
    return text.encode("utf-8")


_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
# tomli-w's basic-string escapes: the compact ones, \uXXXX for other control characters
# (not tab), every other character as it is
_TOML_ESCAPES = str.maketrans(
    {chr(c): f"\\u{c:04x}" for c in [*range(0x20), 0x7F] if c != 0x09}
    | {"\b": "\\b", "\n": "\\n", "\f": "\\f", "\r": "\\r", '"': '\\"', "\\": "\\\\"}
)


def toml_string(value: str) -> str:
    """A TOML basic string, as tomli-w writes it."""
    if value.isascii() and value.isprintable() and '"' not in value and "\\" not in value:
        return f'"{value}"'  # nothing to escape: most paths, every mode and digest
    return f'"{value.translate(_TOML_ESCAPES)}"'


def toml_key(name: str) -> str:
    """A TOML key, bare when it may be (as tomli-w decides), else a basic string."""
    return name if _BARE_KEY.fullmatch(name) else toml_string(name)


def is_safe_relative(relative: str, limits: bool = True) -> bool:
    """A path that stays inside LOCATION: relative, '/'-separated, no empty, '.' or '..'
    parts, no NUL, and (with `limits`) each part and the whole within the kernel's limits."""
    if not relative or "\x00" in relative:
        return False
    if relative.isascii():  # a byte per character: no encoding to count them
        parts = relative.split("/")
        if "" in parts or "." in parts or ".." in parts:
            return False
        return not limits or (len(relative) <= PATH_MAX and max(map(len, parts)) <= NAME_MAX)
    if limits and len(relative.encode("utf-8", "replace")) > PATH_MAX:
        return False
    return all(
        part not in ("", ".", "..")
        and (not limits or len(part.encode("utf-8", "replace")) <= NAME_MAX)
        for part in relative.split("/")
    )
