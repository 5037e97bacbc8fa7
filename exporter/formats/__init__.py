"""The format registry: a format is one module here plus one folder under templates/."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import jinja2

    from exporter.plan import Plan

_MODULES = {
    "systemd": "exporter.formats.systemd",
    "upstart": "exporter.formats.upstart",
    "supervisord": "exporter.formats.supervisord",
}
FORMAT_NAMES = tuple(_MODULES)


@dataclass(frozen=True)
class File:
    text: str
    mode: int = 0o644


Rendering = dict[str, File]


@dataclass(frozen=True)
class Format:
    name: str
    filters: Mapping[str, Callable[..., str]]
    render: Callable[[Plan, jinja2.Environment], Rendering]
    # (app, changed paths, removed paths) -> the commands an operator runs after a write
    next_steps: Callable[[str, list[str], list[str]], list[str]]


def get_format(name: str) -> Format:
    return importlib.import_module(_MODULES[name]).FORMAT


def render(name: str, plan: Plan, template_dir: Path | None = None) -> Rendering:
    """Every file the format needs for the plan, by path relative to LOCATION."""
    from exporter.templating import template_environment

    fmt = get_format(name)
    return fmt.render(plan, template_environment(name, fmt.filters, template_dir))
