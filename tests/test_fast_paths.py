"""The speed-ups keep their answers: each fast path gives what the general code gives, for
hostile input (names with quotes, dots, NUL, unicode, overlong parts)."""

import itertools
import json
import os
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from exporter.errors import ExportError
from exporter.journal import Step, _step_line
from exporter.manifest import NAME_MAX, PATH_MAX, is_safe_relative
from exporter.rendering import File
from exporter.sync import Blocked, Destination, _plan_dirs


def _reference_is_safe_relative(relative: str, limits: bool = True) -> bool:
    """The rule, as stated, with no fast path."""
    if not relative or "\x00" in relative:
        return False
    if limits and len(relative.encode("utf-8", "replace")) > PATH_MAX:
        return False
    return all(
        part not in ("", ".", "..")
        and (not limits or len(part.encode("utf-8", "replace")) <= NAME_MAX)
        for part in relative.split("/")
    )


PATHS = [
    "app.target",
    "app-web@1.service.d/instance.conf",
    "",
    "/",
    "/etc/passwd",
    "a//b",
    "a/",
    ".",
    "..",
    "./a",
    "a/..",
    "a/../b",
    "...",
    "..a/b..",
    ".hidden/.x",
    "a\x00b",
    "a\nb/c\td",
    "x" * NAME_MAX,
    "x" * (NAME_MAX + 1),
    "a/" + "y" * (NAME_MAX + 1),
    "/".join(["z" * 200] * 20),  # over PATH_MAX in total, each part fine
    "/".join(["z" * 200] * 21),
    "é" * 128,  # 256 bytes in one part
    "é" * 127,
    "ünïcødé/☃",
]
PATH_TEXT = st.lists(
    st.sampled_from(["a", ".", "/", "\x00", "é", "☃", "\n", "x" * 100, "\ud800"]), max_size=12
).map("".join)


def test_the_fast_safe_path_check_agrees_with_the_rule_on_hostile_paths():
    for path in PATHS:
        for limits in (True, False):
            assert is_safe_relative(path, limits) == _reference_is_safe_relative(path, limits), (
                path,
                limits,
            )


@given(PATH_TEXT, st.booleans())
def test_the_fast_safe_path_check_agrees_with_the_rule_on_any_path(path, limits):
    assert is_safe_relative(path, limits) == _reference_is_safe_relative(path, limits)


BACKUP = st.none() | st.just(".procexport-old-12-40")
# in the key order write_through_journal makes them
STEPS = st.one_of(
    st.builds(lambda p, b: {"op": "mkdir", "path": p, "backup": b}, st.text(), BACKUP),
    st.builds(
        lambda p, b: {"op": "write", "path": p, "temp": ".procexport-new-1-3", "backup": b},
        st.text(),
        BACKUP,
    ),
    st.builds(lambda p: {"op": "remove", "path": p, "backup": ".procexport-old-7-8"}, st.text()),
    st.builds(lambda p: {"op": "prune", "path": p}, st.text()),
)


@given(STEPS)
def test_a_journal_line_is_what_json_dumps_writes(step):
    line = _step_line(Step(step["op"], step["path"], step.get("temp"), step.get("backup")))
    assert line == json.dumps(step) + "\n"
    assert json.loads(line) == step


def _reference_names_the_manifest(directory: str, relative: str, manifest: str) -> bool:
    """--manifest's rule as stated: a rendered path that, made real, is the manifest."""
    return os.path.realpath(os.path.join(directory, relative)) == os.path.realpath(manifest)


MANIFEST_DIRECTORIES = ["/srv/units", "/srv/units/", "/", "rel/dir", "/srv/./units/../units"]
MANIFEST_RENDERED = [*PATHS[:2], "a.service.d/x.conf", ".procexport.app.systemd.toml"]
MANIFESTS = [
    "/srv/units/app.target",
    "/app.target",
    "/srv/units-app.target",
    "/srv/app.target",
    "/srv/units/app-web@1.service.d/instance.conf",
    "/srv/units/a.service.d/x.conf",
    os.path.abspath("rel/dir/app.target"),
    "/.procexport.app.systemd.toml",
]


def test_the_manifest_check_refuses_what_the_realpath_rule_refuses():
    """For the plain relative paths a rendering holds (plan_sync refuses any other)."""
    from exporter.packaging import Destination, check_manifest_is_not_written

    outcomes = set()
    for directory, relative, manifest in itertools.product(
        MANIFEST_DIRECTORIES, MANIFEST_RENDERED, MANIFESTS
    ):
        assert is_safe_relative(relative)
        target = Destination(Path(directory), Path(directory), Path(manifest), None)
        rendering = {relative: File("x\n"), "other.target": File("y\n")}
        refused = True
        try:
            check_manifest_is_not_written(target, rendering, ".procexport.app.systemd.toml")
        except ExportError as exc:
            assert "the export writes a file there" in exc.message, exc.message
        else:
            refused = False
        assert refused == _reference_names_the_manifest(directory, relative, manifest), (
            directory,
            relative,
            manifest,
        )
        outcomes.add(refused)
    assert outcomes == {True, False}


def _reference_plan_dirs(relative: str, blocked: Blocked, make_dirs: dict[str, bool]) -> None:
    """The directories to make for `relative`, as first written: every prefix from the blocked
    one down to the file's directory."""
    if blocked.kind == "link":
        make_dirs.setdefault(blocked.prefix, True)
    parts = relative.split("/")[:-1]
    start = blocked.prefix.count("/") + 1 if blocked.prefix else 0
    for index in range(start, len(parts) + 1):
        prefix = "/".join(parts[:index])
        if prefix:
            make_dirs.setdefault(prefix, False)


def _blocked_at(relative: str, existing: set[str], links: set[str]) -> Blocked | None:
    """What Destination.inspect says of `relative` in a tree of `existing` directories, with
    `links` where a directory would be, and LOCATION itself missing when '' is not existing."""
    if "" not in existing:
        return Blocked("", "missing")
    parts = relative.split("/")
    for index in range(1, len(parts)):
        prefix = "/".join(parts[:index])
        if prefix in links:
            return Blocked(prefix, "link")
        if prefix not in existing:
            return Blocked(prefix, "missing")
    return None


DIRECTORY_PATHS = st.lists(
    st.lists(st.sampled_from(["a", "b", "é", "a.d"]), min_size=1, max_size=4).map("/".join),
    max_size=12,
)


@given(DIRECTORY_PATHS, DIRECTORY_PATHS, DIRECTORY_PATHS, st.booleans())
def test_the_directories_planned_are_those_of_the_general_rule(files, present, linked, fresh):
    """The walk up from each file's directory plans the same directories, in the same order
    (parents first) and with the same marks, as adding every prefix from the blocked one."""
    existing = set() if fresh else {""}
    for path in present:  # a directory exists with its parents
        parts = path.split("/")
        existing.update("/".join(parts[:i]) for i in range(1, len(parts) + 1))
    links = set(linked) - existing
    dest = Destination(Path("/nowhere"), None, created=False)
    planned: dict[str, bool] = {}
    reference: dict[str, bool] = {}
    for directory in files:
        relative = f"{directory}/f"
        blocked = _blocked_at(relative, existing, links)
        if blocked is None:
            continue
        _plan_dirs(dest, relative, blocked, planned, force=True)
        _reference_plan_dirs(relative, blocked, reference)
        assert list(planned.items()) == list(reference.items()), relative
