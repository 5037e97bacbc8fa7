"""exporter/rendering.py: what the formats render and sync writes, without either importing the
other; the one generated-by header every file opens with."""

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_sync_writes_and_rewrites_a_rendering_without_importing_a_format_or_jinja(tmp_path):
    """sync knows File and Rendering from exporter.rendering only: a whole write (a public and a
    private file, the manifest, the key, the journal), an unchanged second run and a removal
    run in a fresh interpreter that never imports exporter.formats or jinja2."""
    script = textwrap.dedent(
        """
        import sys
        from pathlib import Path

        from exporter.rendering import File
        from exporter.sync import Action, apply_sync, open_destination, plan_sync

        location = Path(sys.argv[1])
        renderings = [
            {"a.conf": File("[Unit]\\n"), "a.env": File("SECRET=1\\n", mode=0o600)},
            {"a.conf": File("[Unit]\\n"), "a.env": File("SECRET=1\\n", mode=0o600)},
            {"a.conf": File("[Unit]\\nDescription=a\\n")},
        ]
        for rendering in renderings:
            with open_destination(location, write=True) as dest:
                sync = plan_sync(dest, rendering, ".procexport.a.systemd.toml", False)
                apply_sync(dest, sync)
            print(*sorted(c.action.value for c in sync.changes))
        print(*sorted(name for name in sys.modules if name.startswith(("exporter", "jinja2"))))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "out")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    created, unchanged, changed, loaded = done.stdout.splitlines()
    assert (created, unchanged, changed) == (
        "created created",
        "unchanged unchanged",
        "changed removed",
    )
    assert "exporter.journal" in loaded.split()  # the write itself ran in this interpreter
    assert not [name for name in loaded.split() if name.startswith(("exporter.formats", "jinja2"))]
    assert (tmp_path / "out" / "a.conf").read_text() == "[Unit]\nDescription=a\n"
    assert not (tmp_path / "out" / "a.env").exists()


def test_the_formats_package_still_offers_file_and_rendering_to_format_modules():
    import exporter.formats
    import exporter.rendering

    for name in ("File", "Rendering", "RenderContext", "is_private"):
        assert getattr(exporter.formats, name) is getattr(exporter.rendering, name)


SHOP = ROOT / "fixtures" / "shop"


def _shop_plan(monkeypatch, env_mode: str):
    from exporter.formation import Options, load_formation
    from exporter.plan import build_plan

    monkeypatch.chdir(SHOP)
    return build_plan(load_formation(Options(env_mode=env_mode), SHOP))


@pytest.mark.parametrize("format_name", ["systemd", "supervisord", "upstart", "runit", "launchd"])
def test_where_the_files_are_installed_changes_only_the_env_file_paths(monkeypatch, format_name):
    """render is a function of the plan, the templates and where the files will be installed:
    two install places differ only where the configuration names its env file."""
    from exporter.formats import Install, render

    plan = _shop_plan(monkeypatch, "file")
    first = render(format_name, plan, install=Install.at(Path("/etc/one")), bytecode_cache=False)
    second = render(format_name, plan, install=Install.at(Path("/opt/two")), bytecode_cache=False)
    assert first.keys() == second.keys()
    named = [path for path in first if "/etc/one/shop.env" in first[path].text]
    assert named
    for path, file in first.items():
        assert file._replace(text=file.text.replace("/etc/one/", "/opt/two/")) == second[path]


def test_a_preview_with_env_files_still_needs_a_location(monkeypatch):
    from exporter.errors import ExportError
    from exporter.formats import render

    plan = _shop_plan(monkeypatch, "file")
    with pytest.raises(ExportError, match=r"^--env-mode file needs a LOCATION: the configuration"):
        render("systemd", plan, bytecode_cache=False)
    assert render("kubernetes", plan)  # its .env values go to a Secret: no path to name
