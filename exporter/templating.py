"""The Jinja environment a format renders with: built-in templates, user overrides, filters."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from pathlib import Path

import jinja2

_PACKAGED = Path(__file__).parent / "templates"
_SOURCE_TREE = Path(__file__).parent.parent / "templates"


def builtin_templates() -> Path:
    """templates/ inside the installed wheel, or at the top of a source checkout."""
    return _PACKAGED if _PACKAGED.is_dir() else _SOURCE_TREE


def template_environment(
    format_name: str,
    filters: Mapping[str, Callable[..., str]],
    override_dir: Path | None = None,
    bytecode_cache: bool = True,
    variant: str | None = None,
) -> jinja2.Environment:
    """Templates are looked up in OVERRIDE/VARIANT/ (systemd-user, which renders systemd's
    templates), OVERRIDE/FORMAT/, then OVERRIDE/, then the built-in ones.

    Without `bytecode_cache` nothing is written anywhere (a packaging build)."""
    search = [builtin_templates() / format_name]
    if override_dir is not None:
        search[:0] = [override_dir / format_name, override_dir]
        if variant is not None and variant != format_name:
            search.insert(0, override_dir / variant)
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader([str(path) for path in search]),
        bytecode_cache=_bytecode_cache() if bytecode_cache else None,
        auto_reload=False,  # one process renders once: no stat() of the template per file
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(filters)
    environment.filters["comment"] = comment_text
    return environment


def _bytecode_cache() -> jinja2.BytecodeCache | None:
    """Compiled templates, reused across runs (a third of a small export's run time), in
    Jinja's private per-user temporary directory; without one, templates are compiled."""
    try:
        return jinja2.FileSystemBytecodeCache()
    except (OSError, RuntimeError):
        return None


@functools.cache
def comment_text(value: str) -> str:
    """Text for a `#` comment line: control characters shown as escapes, never a line break."""
    return "".join(
        char if char.isprintable() else char.encode("unicode_escape").decode("ascii")
        for char in value
    )
