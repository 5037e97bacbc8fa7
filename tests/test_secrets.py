""".env values are secrets (design.md, "Secrets"): nothing procexport prints shows one that goes
to a private file (--env-mode file, the Kubernetes Secret), and no world-readable file lets
someone who knows every other input confirm a guess."""

from __future__ import annotations

import base64
import getpass
import hashlib
import os
import re
import shutil
import tomllib
from pathlib import Path

import pytest
import yaml
from helpers import INIT_FORMATS, NASTY_VALUES, Run, dotenv_line, export, snapshot, write_app

from exporter.formation import EnvVar
from exporter.formats.kubernetes import HASH_ANNOTATION, HASH_NOT_SHOWN
from exporter.formats.shell import env_file_entries, sh_env_file
from exporter.formats.systemd import systemd_env_file_line
from exporter.secret_digest import KEY_FILE, KEY_VARIABLE

FORMATS = (*INIT_FORMATS, "kubernetes")
USER = getpass.getuser()
KEY = "k" * 16 + "0123456789abcdef0123456789abcdef"
OTHER_KEY = "o" * 16 + "fedcba9876543210fedcba9876543210"

# Distinctive values: found anywhere (as text, base64, hex or a plain digest), they leaked.
FIRST = {
    "DB_PASSWORD": "zqx-first-password-7741",
    "API_TOKEN": 'zqx-api-token\'with "quotes"\nand-a-line-break-5518',
    "DROPPED": "zqx-dropped-value-9902",
}
SECOND = {
    "DB_PASSWORD": "zqx-second-password-3318",
    "API_TOKEN": FIRST["API_TOKEN"],
    "ADDED": "zqx-added-value-6627",
}


def dotenv(values: dict[str, str]) -> str:
    return "".join(dotenv_line(name, value) for name, value in values.items())


def make_app(directory: Path, values: dict[str, str], **formation) -> Path:
    formation = {"app": "shop", "env_mode": "file", "env": {"PUBLIC": "public-value"}} | formation
    formation["kubernetes"] = {"image": "registry.test/shop:1"}
    return write_app(directory, "web: serve\nworker: work\n", formation, dotenv(values))


def run(procexport, fmt: str, app: Path, *args: str) -> Run:
    return export(procexport, app, fmt, None, *args, quiet=False, user=USER)


def leaked_forms(secret: str) -> set[str]:
    """The secret, each long piece of it, and encodings someone could search for: base64 at
    every alignment (the characters that depend on the secret alone), hex, SHA-256."""
    raw = secret.encode("utf-8")
    forms = {piece for piece in re.split(r"[^A-Za-z0-9-]+", secret) if len(piece) >= 8}
    forms |= {secret, raw.hex(), hashlib.sha256(raw).hexdigest()}
    for shift in range(3):
        encoded = base64.b64encode(b"\0" * shift + raw).decode("ascii")
        forms.add(encoded[-(-8 * shift // 6) : 8 * (shift + len(raw)) // 6])
    return forms


def world_readable(location: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(location)): path.read_bytes()
        for path in sorted(location.rglob("*"))
        if path.is_file() and path.stat().st_mode & 0o004
    }


def private_files(location: Path) -> set[str]:
    return {
        str(path.relative_to(location))
        for path in location.rglob("*")
        if path.is_file() and not path.stat().st_mode & 0o004
    }


def assert_no_secret_in(texts: dict[str, str | bytes], *secrets: dict[str, str]) -> None:
    for where, text in texts.items():
        text = text.decode("utf-8", errors="replace") if isinstance(text, bytes) else text
        for values in secrets:
            for name, value in values.items():
                for form in leaked_forms(value):
                    assert form not in text, f"{name} ({form!r}) in {where}"


@pytest.mark.parametrize("fmt", FORMATS)
def test_no_output_stream_and_no_world_readable_file_holds_a_secret(procexport, tmp_path, fmt):
    app = make_app(tmp_path / "app", FIRST)
    out = tmp_path / "out"
    printed = {}
    printed["preview"] = run(procexport, fmt, app)
    printed["write"] = run(procexport, fmt, app, str(out))
    assert printed["write"].status == 0, printed["write"].stderr
    (app / ".env").write_text(dotenv(SECOND))
    printed["dry-run"] = run(procexport, fmt, app, str(out), "--dry-run", "--color", "never")
    printed["dry-run colour"] = run(
        procexport, fmt, app, str(out), "--dry-run", "--color", "always"
    )
    printed["rewrite"] = run(procexport, fmt, app, str(out))
    assert printed["rewrite"].status == 0, printed["rewrite"].stderr
    (app / ".env").write_text(dotenv(SECOND) + "\n# a change of the file's text only\n")
    printed["unchanged"] = run(procexport, fmt, app, str(out), "--dry-run")
    (app / ".env").write_text("")
    printed["no secrets left"] = run(procexport, fmt, app, str(out), "--dry-run")

    streams = {f"{step} {stream}": getattr(result, stream) for step, result in printed.items()
               for stream in ("stdout", "stderr")}  # fmt: skip
    assert_no_secret_in(streams, FIRST, SECOND)
    assert_no_secret_in(world_readable(out), FIRST, SECOND)
    assert_no_secret_in({"the file names": "\n".join(map(str, out.rglob("*")))}, FIRST, SECOND)
    for name in private_files(out):  # and the manifest keeps no plain digest of one
        digest = hashlib.sha256((out / name).read_bytes()).hexdigest()
        assert_no_secret_in(world_readable(out), {name: digest})

    diff = printed["dry-run"].stdout
    assert printed["dry-run"].status == 1
    assert "  changed DB_PASSWORD\n" in diff and "  added ADDED\n" in diff
    assert "  removed DROPPED\n" in diff and "API_TOKEN" not in diff
    assert "values not shown" in diff
    assert printed["unchanged"].stdout == ""
    removal = printed["no secrets left"].stdout
    assert "deleted file mode 0600\nvalues not shown (the file is not world-readable)\n" in removal


@pytest.mark.parametrize("fmt", FORMATS)
def test_only_the_secrets_and_the_key_are_private(procexport, tmp_path, fmt):
    app = make_app(tmp_path / "app", FIRST)
    out = tmp_path / "out"
    assert run(procexport, fmt, app, str(out), "-q").status == 0
    secret_file = "shop-secret.yaml" if fmt == "kubernetes" else "shop.env"
    assert private_files(out) == {secret_file, KEY_FILE}
    for name in private_files(out):
        assert (out / name).stat().st_mode & 0o777 == 0o600
    manifest = tomllib.loads((out / f".procexport.shop.{fmt}.toml").read_text())["files"]
    assert manifest[secret_file].startswith("0600 hmac-sha256:")
    assert KEY_FILE not in manifest


# .env lines that break the syntax with a secret's text in the way: the error names the file,
# the line and the key, never the text.
BROKEN_DOTENV = {
    "after the closing quote": (
        "DB_PASSWORD='zqx-quoted-part-1234'zqx-tail-after-quote-5678\n",
        ".env:1: DB_PASSWORD: unexpected text after the closing quote",
    ),
    "port": (
        "A=1\nPORT=zqx-not-a-port-secret-4321\n",
        ".env:2: PORT: not a port number (1-65535)",
    ),
    "a value's next line": (
        "CERT=-----BEGIN\nzqx+MIIB/continuationOfAKey0987==\n",
        ".env:2: invalid variable name: use letters, digits and '_', not starting with a digit",
    ),
    "open quote": (
        'TOKEN="zqx-never-closed-secret-2468\n',
        ".env:1: TOKEN: unterminated double quote",
    ),
}


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("case", BROKEN_DOTENV)
def test_an_error_in_a_dotenv_file_never_quotes_it(procexport, tmp_path, fmt, case):
    text, message = BROKEN_DOTENV[case]
    app = make_app(tmp_path / "app", {})
    (app / ".env").write_text(text)
    result = run(procexport, fmt, app, str(tmp_path / "out"))
    assert (result.status, result.stderr) == (2, f"procexport: error: {message}\n")
    for piece in re.findall(r"zqx[A-Za-z0-9-]+", text):
        assert_no_secret_in({"stderr": result.stderr}, {"piece": piece})
    assert not (tmp_path / "out").exists()


def test_a_value_supervisord_cannot_carry_inline_is_named_not_shown(procexport, tmp_path):
    app = make_app(tmp_path / "app", FIRST, env_mode="inline")
    result = run(procexport, "supervisord", app, str(tmp_path / "out"))
    assert result.status == 2
    assert "API_TOKEN (.env:2)" in result.stderr
    assert_no_secret_in({"stderr": result.stderr}, FIRST)


@pytest.mark.parametrize("key_source", ["key file", "environment"])
@pytest.mark.parametrize("fmt", ["systemd", "supervisord", "kubernetes"])
def test_a_guess_cannot_be_confirmed_from_world_readable_files(
    procexport, tmp_path, monkeypatch, fmt, key_source
):
    """The attack: knowing every input but the password, export each candidate into a fresh
    directory the way the victim's was exported (but without the victim's private key), and
    look for a world-readable file that matches the victim's for one candidate only."""
    candidates = ["letmein", "hunter2", "password1", "correct horse"]
    real = "hunter2"
    if key_source == "environment":
        monkeypatch.setenv(KEY_VARIABLE, KEY)
    location = tmp_path / "etc"  # every input the same, paths included
    victim = make_app(tmp_path / "app", {"DB_PASSWORD": real})
    assert run(procexport, fmt, victim, str(location), "-q").status == 0
    seen = world_readable(location)
    location.rename(tmp_path / "victim-etc")

    def matches(key: str | None) -> dict[str, list[str]]:
        """Per world-readable file, the candidates whose export reproduces it."""
        if key is not None:
            monkeypatch.setenv(KEY_VARIABLE, key)
        found: dict[str, list[str]] = {name: [] for name in seen}
        for candidate in candidates:
            app = make_app(tmp_path / "app", {"DB_PASSWORD": candidate})
            assert run(procexport, fmt, app, str(location), "-q").status == 0
            for name, content in world_readable(location).items():
                if seen.get(name) == content:
                    found[name].append(candidate)
            shutil.rmtree(location)
        return found

    attacker_key = OTHER_KEY if key_source == "environment" else None
    if attacker_key is None:
        monkeypatch.delenv(KEY_VARIABLE, raising=False)
    for name, who in matches(attacker_key).items():
        assert who in ([], candidates), f"{name} singles out {who}"
    # The same attack with the victim's key does single the password out: the keyed digest
    # (and nothing else) is what stands in the way, and this test would see a plain one.
    victim_key = KEY if key_source == "environment" else _key_in(tmp_path / "victim-etc")
    singled_out = {name: who for name, who in matches(victim_key).items() if who == [real]}
    assert f".procexport.shop.{fmt}.toml" in singled_out


def _key_in(location: Path) -> str:
    lines = (location / KEY_FILE).read_text().splitlines()
    return next(line for line in lines if not line.startswith("#"))


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_re_export_is_byte_identical_and_keeps_its_key(procexport, tmp_path, fmt):
    app = make_app(tmp_path / "app", FIRST)
    out = tmp_path / "out"
    assert run(procexport, fmt, app, str(out), "-q").status == 0
    before = snapshot(out)
    result = run(procexport, fmt, app, str(out))
    assert result.status == 0
    assert " 0 created, 0 changed, 0 removed, " in result.stderr
    assert snapshot(out) == before
    assert run(procexport, fmt, app, str(out), "--dry-run").status == 0


@pytest.mark.parametrize("fmt", ["systemd", "upstart", "kubernetes"])
def test_the_keyed_digest_still_detects_a_hand_edit_of_the_private_file(procexport, tmp_path, fmt):
    app = make_app(tmp_path / "app", FIRST)
    out = tmp_path / "out"
    assert run(procexport, fmt, app, str(out), "-q").status == 0
    private = out / ("shop-secret.yaml" if fmt == "kubernetes" else "shop.env")
    private.write_text(private.read_text() + "# edited by hand\n")
    (app / ".env").write_text(dotenv(SECOND))
    before = snapshot(out)
    result = run(procexport, fmt, app, str(out))
    assert result.status == 2
    assert result.stderr == (
        f"procexport: error: {private}: refusing to overwrite a file that was edited since "
        "procexport wrote it (use --force to discard the edit)\n"
    )
    assert snapshot(out) == before
    assert run(procexport, fmt, app, str(out), "-q", "--force").status == 0


def annotations(location: Path) -> set[str]:
    return {
        yaml.safe_load(path.read_text())["spec"]["template"]["metadata"]["annotations"][
            HASH_ANNOTATION
        ]
        for path in location.glob("*-deployment.yaml")
    }


def test_a_changed_secret_rolls_the_pods_and_an_unchanged_one_does_not(procexport, tmp_path):
    app = make_app(tmp_path / "app", FIRST)
    out = tmp_path / "out"
    assert run(procexport, "kubernetes", app, str(out), "-q").status == 0
    first = annotations(out)
    assert run(procexport, "kubernetes", app, str(out), "-q").status == 0
    assert annotations(out) == first
    (app / ".env").write_text(dotenv(FIRST | {"DB_PASSWORD": "zqx-rotated-password-1"}))
    assert run(procexport, "kubernetes", app, str(out), "-q").status == 0
    assert annotations(out).isdisjoint(first)


def test_with_the_key_in_the_environment_fresh_locations_give_the_same_bytes(
    procexport, tmp_path, monkeypatch
):
    """A pipeline that exports into an empty directory on every build: with
    PROCEXPORT_SECRET_KEY every build gives the same manifests (no pod rolls for nothing),
    a changed secret still changes the annotation, and no key file is written."""
    monkeypatch.setenv(KEY_VARIABLE, KEY)
    app = make_app(tmp_path / "app", FIRST)
    for build in ("one", "two"):
        assert run(procexport, "kubernetes", app, str(tmp_path / build), "-q").status == 0
    assert snapshot(tmp_path / "one") == snapshot(tmp_path / "two")
    assert not (tmp_path / "one" / KEY_FILE).exists()
    (app / ".env").write_text(dotenv(FIRST | {"DB_PASSWORD": "zqx-rotated-password-2"}))
    assert run(procexport, "kubernetes", app, str(tmp_path / "three"), "-q").status == 0
    assert annotations(tmp_path / "three").isdisjoint(annotations(tmp_path / "one"))


def test_without_the_key_fresh_locations_differ_only_where_secrets_are_digested(
    procexport, tmp_path
):
    """What README says happens without PROCEXPORT_SECRET_KEY: every fresh LOCATION has its own
    key, so the Deployments' annotations (and the manifest) differ, and every pod rolls."""
    app = make_app(tmp_path / "app", FIRST)
    for build in ("one", "two"):
        assert run(procexport, "kubernetes", app, str(tmp_path / build), "-q").status == 0
    one, two = snapshot(tmp_path / "one"), snapshot(tmp_path / "two")
    differ = {name for name in one if one[name] != two[name]}
    assert differ == {
        KEY_FILE,
        ".procexport.shop.kubernetes.toml",
        "shop-web-deployment.yaml",
        "shop-worker-deployment.yaml",
    }


def test_the_preview_shows_a_private_file_s_keys_and_no_digest(procexport, tmp_path):
    app = make_app(tmp_path / "app", FIRST)
    result = run(procexport, "kubernetes", app)
    assert result.status == 0
    assert (
        "==> shop-secret.yaml <==\n"
        "# values not shown (the file is not world-readable); keys:\n"
        "DB_PASSWORD\nAPI_TOKEN\nDROPPED\n==> "
    ) in result.stdout
    assert f"{HASH_ANNOTATION}: '{HASH_NOT_SHOWN}'" in result.stdout


def test_a_dry_run_of_a_first_export_writes_no_key(procexport, tmp_path):
    app = make_app(tmp_path / "app", FIRST)
    assert run(procexport, "systemd", app, str(tmp_path / "out"), "--dry-run").status == 1
    assert not (tmp_path / "out").exists()


def test_an_app_without_secrets_gets_no_key_file(procexport, tmp_path):
    app = make_app(tmp_path / "app", {})
    assert run(procexport, "kubernetes", app, str(tmp_path / "out"), "-q").status == 0
    assert not (tmp_path / "out" / KEY_FILE).exists()


def test_the_key_file_is_0600_whatever_the_umask_and_never_removed(procexport, tmp_path):
    app = make_app(tmp_path / "app", FIRST)
    out = tmp_path / "out"
    previous = os.umask(0)
    try:
        assert run(procexport, "systemd", app, str(out), "-q").status == 0
    finally:
        os.umask(previous)
    key = out / KEY_FILE
    assert key.stat().st_mode & 0o777 == 0o600
    content = key.read_bytes()
    assert not [p for p in out.iterdir() if "tmp" in p.name]
    (app / ".env").unlink()  # no more secrets: the env file goes, the key stays
    assert run(procexport, "systemd", app, str(out), "-q").status == 0
    assert not (out / "shop.env").exists()
    assert key.read_bytes() == content


@pytest.mark.parametrize("target", ["dangling", "elsewhere"])
def test_a_link_in_place_of_the_key_file_is_refused_not_followed(procexport, tmp_path, target):
    app = make_app(tmp_path / "app", FIRST)
    out = tmp_path / "out"
    out.mkdir()
    aim = tmp_path / "aim"
    if target == "elsewhere":
        aim.write_text("# not procexport's\n" + "a" * 64 + "\n")
        aim.chmod(0o600)
    (out / KEY_FILE).symlink_to(aim)
    result = run(procexport, "systemd", app, str(out))
    assert result.stderr == (
        f"procexport: error: {out / KEY_FILE}: is not a regular file (a link?); refusing to read "
        "a key from it\n"
    )
    assert [p.name for p in out.iterdir()] == [KEY_FILE]
    assert aim.exists() == (target == "elsewhere")


def test_a_key_others_can_read_is_refused(procexport, tmp_path):
    app = make_app(tmp_path / "app", FIRST)
    out = tmp_path / "out"
    assert run(procexport, "systemd", app, str(out), "-q").status == 0
    (out / KEY_FILE).chmod(0o644)
    (app / ".env").write_text(dotenv(SECOND))
    result = run(procexport, "systemd", app, str(out))
    assert result.status == 2
    assert "others may read or change this key, so it protects nothing" in result.stderr


def test_a_short_key_in_the_environment_is_refused_without_showing_it(
    procexport, tmp_path, monkeypatch
):
    monkeypatch.setenv(KEY_VARIABLE, "zqx-short")
    app = make_app(tmp_path / "app", FIRST)
    result = run(procexport, "kubernetes", app, str(tmp_path / "out"))
    assert result.stderr == (
        f"procexport: error: {KEY_VARIABLE} is too short: use at least 32 random characters "
        "(openssl rand -hex 32)\n"
    )


@pytest.mark.parametrize(
    "writer",
    [
        lambda env: "# header\n" + "".join(systemd_env_file_line(var) for var in env),
        lambda env: sh_env_file("# header\n", env),
    ],
    ids=["systemd", "sh"],
)
def test_the_env_file_reader_finds_every_key_and_no_piece_of_a_value(writer):
    """A value holding a line break, quotes, `NAME=`-like text or `#` must not make up a key."""
    values = NASTY_VALUES | {"TRAP": "x\nFAKE_KEY=1 # y\n'OTHER=2'", "Q": "a'b"}
    env = [EnvVar(name, value, ".env:1", secret=True) for name, value in values.items()]
    entries = env_file_entries(writer(env))
    assert list(entries) == list(values)
    changed = env_file_entries(writer([*env[:-1], EnvVar("Q", "a'c", ".env:1", True)]))
    assert [k for k in entries if entries[k] != changed[k]] == ["Q"]


def test_a_key_file_without_a_usable_key_is_refused(procexport, tmp_path):
    app = make_app(tmp_path / "app", FIRST)
    out = tmp_path / "out"
    out.mkdir()
    (out / KEY_FILE).write_text("# only a comment\nshort\n")
    (out / KEY_FILE).chmod(0o600)
    result = run(procexport, "kubernetes", app, str(out))
    assert result.stderr == (
        f"procexport: error: {out / KEY_FILE}: is not a key procexport can use: remove it to "
        "make a new one\n"
    )
    assert [p.name for p in out.iterdir()] == [KEY_FILE]


def test_readme_lists_the_key_errors():
    from helpers import REPO
    from test_errors import _stable_part

    readme = (REPO / "README.md").read_text()
    for message in (
        f"{KEY_VARIABLE} is too short: use at least 32 random characters (openssl rand -hex 32)",
        "others may read or change this key, so it protects nothing: chmod 600 it, or remove it "
        "to make a new one",
        "is not a regular file (a link?); refusing to read a key from it",
        "is not a key procexport can use: remove it to make a new one",
    ):
        assert _stable_part(message) in readme, message


def test_a_private_diff_says_when_only_other_lines_changed_or_the_old_file_is_unreadable():
    from exporter.private_view import key_changes

    old = b"# header one\nA='zqx-1'\n"
    assert key_changes(old, b"# header two\nA='zqx-1'\n", env_file_entries) == [
        "values not shown (the file is not world-readable)\n",
        "  no key changed; other lines did\n",
    ]
    edited_beyond_recognition = b"A='zqx-unclosed\nzqx-secret\n"
    assert key_changes(edited_beyond_recognition, old, env_file_entries) == [
        "values not shown (the file is not world-readable)\n"
    ]
    not_a_name = b"A=1\nzqx+secret/part=2\n"

    def by_line(text: str) -> dict[str, str]:
        return {line.partition("=")[0]: line for line in text.splitlines() if "=" in line}

    assert key_changes(not_a_name, old, by_line) == [
        "values not shown (the file is not world-readable)\n",
        "  changed A\n",
        "  removed (a key that is not a variable name)\n",
    ]


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a file to another account needs root")
def test_a_key_file_that_another_account_owns_is_refused(procexport, tmp_path):
    """Whoever planted it knows the key, and could test guesses against the manifest."""
    app = make_app(tmp_path / "app", FIRST)
    out = tmp_path / "out"
    out.mkdir()
    (out / KEY_FILE).write_text("a" * 64 + "\n")
    (out / KEY_FILE).chmod(0o600)
    os.chown(out / KEY_FILE, 65534, 65534)
    result = run(procexport, "systemd", app, str(out))
    assert result.stderr == (
        f"procexport: error: {out / KEY_FILE}: belongs to another account, which could read the "
        "secrets' digests with it: remove it to make a new one\n"
    )
    assert sorted(p.name for p in out.iterdir()) == [KEY_FILE]
