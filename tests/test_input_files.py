"""What every input file (Procfile, .env, formation.toml) is read as, before any parser sees
it: a UTF-8 byte order mark is not part of the text, and a NUL byte is refused at its line."""

from __future__ import annotations

import pytest
from helpers import export, snapshot, write_app

BOM = b"\xef\xbb\xbf"

# The first line of each file says something the output shows, so a BOM left in the text
# would change it (or be refused), not just sit in a comment.
PROCFILE = b"web: serve --port $PORT\nworker: work\n"
DOTENV = b"FIRST=from-dotenv\nSECOND=two\n"
FORMATION = b'app = "shop"\n[env]\nTOML = "from-toml"\n'
INPUTS = {"Procfile": PROCFILE, ".env": DOTENV, "formation.toml": FORMATION}


def app_with(tmp_path, name: str, **replaced: bytes):
    """An app with the three INPUTS, some replaced (`dotenv=` for .env, `Procfile=`, ...)."""
    app = write_app(tmp_path / name, "")
    names = {"dotenv": ".env", "formation": "formation.toml"}
    files = INPUTS | {names.get(key, key): data for key, data in replaced.items()}
    for file_name, data in files.items():
        (app / file_name).write_bytes(data)
    return app


@pytest.mark.parametrize("file_name", sorted(INPUTS))
@pytest.mark.parametrize("fmt", ["systemd", "supervisord"])
def test_a_file_starting_with_a_bom_is_read_exactly_as_without_it(
    procexport, tmp_path, file_name, fmt
):
    app = app_with(tmp_path, "app")
    without = export(procexport, app, fmt, tmp_path / "without", quiet=False)
    (app / file_name).write_bytes(BOM + INPUTS[file_name])
    with_bom = export(procexport, app, fmt, tmp_path / "with", quiet=False)
    assert with_bom.status == 0, with_bom.stderr
    assert with_bom.files == without.files
    text = "".join(with_bom.files.values())
    for shown in ("serve --port", "FIRST", "from-dotenv", "from-toml", "shop-web"):
        assert shown in text
    assert "\ufeff" not in text


def test_only_a_leading_bom_is_dropped_one_inside_a_value_is_kept(procexport, tmp_path):
    app = app_with(tmp_path, "app", dotenv=BOM + b"FIRST=a\xef\xbb\xbfb\n")
    files = export(procexport, app, "systemd", tmp_path / "out").files
    assert 'Environment="FIRST=a\ufeffb"\n' in files["shop-web@.service"]


@pytest.mark.parametrize(
    ("file_name", "data", "line"),
    [
        ("Procfile", b"web: serve\n# comment\nworker: work \x00 here\n", 3),
        ("Procfile", b"\x00web: serve\n", 1),
        (".env", b"FIRST=one\n\nSECOND=a\x00b\n", 3),
        (".env", b"# comment\nFIRST=one\nSECOND=two\n\n\n\x00", 6),
        ("formation.toml", b'app = "shop"\n[env]\nTOML = "a\x00b"\n', 3),
        ("formation.toml", b'app = "shop"\n\n[process.web]\nuser = "\x00"\n', 4),
        ("formation.toml", BOM + b'app = "shop"\n[env]\nX = "\x00"\n', 3),
    ],
)
def test_a_nul_byte_in_any_input_file_is_refused_at_its_line_and_nothing_is_written(
    procexport, tmp_path, file_name, data, line
):
    app = app_with(tmp_path, "app")
    (app / file_name).write_bytes(data)
    out = tmp_path / "out"
    out.mkdir()
    (out / "unrelated.conf").write_text("mine\n")
    before = snapshot(out)
    for fmt in ("systemd", "supervisord", "upstart"):
        result = procexport(fmt, str(out), cwd=app)
        assert (result.status, result.stdout, result.stderr) == (
            2,
            "",
            f"procexport: error: {file_name}:{line}: contains a NUL byte\n",
        )
        assert snapshot(out) == before


def test_a_nul_byte_in_a_file_named_by_an_option_is_refused_under_that_name(procexport, tmp_path):
    app = app_with(tmp_path, "app")
    (app / "more.env").write_bytes(b"A=1\nB=\x00\n")
    (app / "Procfile.prod").write_bytes(b"web: a\x00\n")
    result = procexport("systemd", "-e", "more.env", cwd=app)
    assert result.stderr == "procexport: error: more.env:2: contains a NUL byte\n"
    result = procexport("systemd", "-f", "Procfile.prod", cwd=app)
    assert result.stderr == "procexport: error: Procfile.prod:1: contains a NUL byte\n"
