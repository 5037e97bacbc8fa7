"""The manifest is written without tomli-w (a speed-up): byte for byte what tomli-w writes,
and read back by tomllib as the same names, for any file name."""

import tomllib

import tomli_w
from helpers import write_app
from hypothesis import given
from hypothesis import strategies as st

from exporter.manifest import _HEADER, VERSION, Recorded, manifest_bytes, parse_manifest

HOSTILE_NAMES = [
    "app.target",
    "app-web@1.service.d/instance.conf",
    "plain_bare-KEY09",
    "",
    'quote"and\\backslash',
    "tab\there",
    "line\nbreak\r\nand\x0c\x08feed",
    "\x00\x01\x1b\x1f\x7f",
    "\x80\x9f\u2028\u2029\ufeff",
    "ünïcødé ☃ 𝄞",
    "a = b # c [d] 'e'",
    "version",
    "files",
]
DIGESTS = st.sampled_from(["0" * 64, "hmac-sha256:" + "f" * 64])


def _tomli_w(files: dict[str, Recorded]) -> bytes:
    body = tomli_w.dumps(
        {
            "version": VERSION,
            "files": {
                name: f"{entry.mode:04o} {entry.digest}" for name, entry in sorted(files.items())
            },
        }
    )
    return (_HEADER + body).encode("utf-8")


def test_hostile_names_are_written_as_tomli_w_writes_them():
    files = {
        name: Recorded("a" * 64, 0o644 if i % 2 else 0o600) for i, name in enumerate(HOSTILE_NAMES)
    }
    assert manifest_bytes(files) == _tomli_w(files)
    assert manifest_bytes({}) == _tomli_w({})
    parsed = tomllib.loads(manifest_bytes(files).decode("utf-8"))
    assert set(parsed["files"]) == set(HOSTILE_NAMES)


@given(
    st.dictionaries(
        st.text(st.characters(exclude_categories=["Cs"]), max_size=12),
        st.tuples(DIGESTS, st.sampled_from([0o644, 0o600, 0o755, 0o400])),
        max_size=8,
    )
)
def test_any_names_are_written_as_tomli_w_writes_them(entries):
    files = {name: Recorded(digest, mode) for name, (digest, mode) in entries.items()}
    data = manifest_bytes(files)
    assert data == _tomli_w(files)
    assert tomllib.loads(data.decode("utf-8"))["files"] == {
        name: f"{entry.mode:04o} {entry.digest}" for name, entry in files.items()
    }


def test_a_written_manifest_reads_back():
    files = {"app-web@1.service.d/instance.conf": Recorded("b" * 64, 0o644)}
    assert parse_manifest(manifest_bytes(files), "m") == files


def test_an_unchanged_export_does_not_parse_its_manifest_again_and_still_refuses_an_edit(
    procexport, tmp_path, monkeypatch
):
    import exporter.sync

    app = write_app(tmp_path / "app", "web: serve\nworker: work\n", dotenv="SECRET=1\n")
    out = tmp_path / "out"
    args = ("systemd", str(out), "-q", "-m", "web=2,worker=1", "--env-mode", "file")
    assert procexport(*args, cwd=app).status == 0

    def no_parse(data, label):
        raise AssertionError("parsed")

    with monkeypatch.context() as patch:
        patch.setattr(exporter.sync, "parse_manifest", no_parse)
        dry = procexport(*args, "--dry-run", cwd=app)
        assert (dry.status, dry.stdout) == (0, "")
        edited = out / "app-web@2.service.d" / "instance.conf"
        edited.write_text(edited.read_text() + "# edit\n")
        refused = procexport(*args, cwd=app)
    assert refused.status == 2
    assert "edited since procexport wrote it" in refused.stderr
    (app / "Procfile").write_text("web: serve\n")  # a changed rendering: parsed as before
    assert procexport("systemd", str(out), "-q", "--env-mode", "file", cwd=app).status == 2
