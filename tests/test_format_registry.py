"""One registry line per format: the core knows formats only through the registry and the
Format record, never by name, so adding a format touches its module, templates, tests and
that line (issue #13). The help and completion list the registry: tests/test_cli_habits.py."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import exporter
from exporter.formats import _MODULES, FORMAT_NAMES, Format, get_format

CORE = sorted(Path(exporter.__file__).parent.glob("*.py"))


@pytest.mark.parametrize("module", CORE, ids=lambda path: path.name)
def test_the_core_never_names_a_format(module):
    """A format-specific rule in the core (`if fmt.name == "kubernetes"`) is a hook on Format
    instead; only the registry in exporter/formats/ maps names to formats."""
    named = [
        f"{module.name}:{node.lineno}: {node.value!r}"
        for node in ast.walk(ast.parse(module.read_text(encoding="utf-8")))
        if isinstance(node, ast.Constant) and node.value in FORMAT_NAMES
    ]
    assert named == []


def test_the_registry_is_the_list_of_formats():
    assert tuple(_MODULES) == FORMAT_NAMES
    for name in FORMAT_NAMES:
        assert isinstance(get_format(name), Format), name
