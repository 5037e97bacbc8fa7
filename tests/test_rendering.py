"""exporter/rendering.py: what the formats render and sync writes, without either importing the
other; the one generated-by header every file opens with."""

import subprocess
import sys
import textwrap
from pathlib import Path

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
