"""What a format renders and sync writes: a File per path.

Neutral ground between the two halves of an export: the formats (exporter/formats/) produce a
Rendering, sync (exporter/sync.py) compares one with LOCATION and writes it, and each imports
this module rather than the other. It imports neither, nor Jinja.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    import jinja2

    from exporter.plan import Process


def is_private(mode: int) -> bool:
    """A file others may not read holds secrets: procexport never prints its content, and
    the manifest keeps only a keyed digest of it."""
    return not mode & 0o004


class File(NamedTuple):
    text: str
    mode: int = 0o644
    # (user, group) the installed file must belong to, when root writes it: an env file that
    # only the app's account may read. It is part of the file, like `mode`, because only the
    # format knows which account reads it; sync applies it (or names the chown it could not
    # do), a package build drops it (packaging.without_owners) and names it in its steps.
    owner: tuple[str, str | None] | None = None
    # a private file's reader: its text (as rendered or as found) -> {key: that entry's text},
    # so that a preview or diff can name keys without values; None: show no keys
    entries: Callable[[str], dict[str, str]] | None = None

    @property
    def private(self) -> bool:
        return is_private(self.mode)


Rendering = dict[str, File]


class Install(NamedTuple):
    """Where the rendered files will be installed, as the configuration names them: all a
    rendering needs to know of LOCATION. With --destdir that is the installed LOCATION, not
    the staging tree the files are written to, which only sync knows."""

    location: str | None = None  # absolute; None: a preview, installed nowhere
    # where the private key of keyed digests lives (beside the manifest); None: only
    # PROCEXPORT_SECRET_KEY (a preview, or --destdir without --manifest)
    key_dir: str | None = None

    @classmethod
    def at(cls, location: Path, key_dir: Path | None = None) -> Install:
        keys = os.path.abspath(key_dir) if key_dir is not None else None
        return cls(os.path.abspath(location), keys)


class RenderContext(NamedTuple):
    """What a format needs besides the plan: its templates and where its files will live."""

    templates: jinja2.Environment | None  # None for a format without templates
    env_dir: str | None  # the absolute installed LOCATION, where env files go; None: a preview
    key_dir: str | None = None  # Install.key_dir

    def env_file_path(self, process: Process) -> str | None:
        """The absolute path the configuration names for a process's env file, if it has one."""
        if process.env_file is None or self.env_dir is None:
            return None
        return f"{self.env_dir}/{process.env_file}"
