"""README's Packaging section, run as written: its debian/rules through make and its RPM
%install through sh, against the sample app, in a tree of their own with a fake HOME."""

from __future__ import annotations

import fnmatch
import os
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import systemd_oracle
from helpers import FIXTURES, REPO, read_tree, snapshot

README = (REPO / "README.md").read_text(encoding="utf-8")
SECTION = README[README.index("\n## Packaging\n") : README.index("\n## Error messages\n")]
SOURCE_FILES = ("Procfile", "formation.toml", ".env")
# What rpm expands the macros in README's spec to on Fedora and RHEL.
RPM_MACROS = {"%{_unitdir}": "/usr/lib/systemd/system", "%{_localstatedir}": "/var"}

pytestmark = pytest.mark.skipif(shutil.which("make") is None, reason="needs make")


def block(language: str) -> str:
    """The one fenced block of that language in the Packaging section."""
    (text,) = re.findall(rf"```{language}\n(.*?)```", SECTION, re.S)
    return text


def shown_summary() -> str:
    """The summary README shows after its debian/rules command."""
    (text,) = re.findall(r"```\n(procexport: .*?)```", SECTION, re.S)
    return text


class Build:
    """A clean machine for one package build: the app's source tree, HOME, TMPDIR, and a
    `procexport` on PATH that runs this checkout."""

    def __init__(self, parent: Path) -> None:
        self.source = parent / "shop-1.0"
        self.source.mkdir(parents=True)
        for name in SOURCE_FILES:
            shutil.copy2(FIXTURES / "shop" / name, self.source / name)
        self.home, self.tmp, bin_dir = parent / "home", parent / "tmp", parent / "bin"
        for directory in (self.home, self.tmp, bin_dir):
            directory.mkdir()
        wrapper = bin_dir / "procexport"
        wrapper.write_text(f'#!/bin/sh\nexec {sys.executable} -m exporter "$@"\n')
        wrapper.chmod(0o755)
        self.env = {
            "PATH": f"{bin_dir}:/usr/bin:/bin",
            "HOME": str(self.home),
            "TMPDIR": str(self.tmp),
            "PYTHONPATH": str(REPO),
            "PYTHONDONTWRITEBYTECODE": "1",
            "LC_ALL": "C.UTF-8",
        }

    def run(self, argv: list[str]) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            argv, cwd=self.source, env=self.env, capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, result.stderr
        return result

    def outside(self, tree: Path) -> dict:
        """Everything the build could touch besides the staging tree."""
        source = {k: v for k, v in snapshot(self.source).items() if not k.startswith("debian/")}
        return {
            "source": source,
            "home": snapshot(self.home),
            "tmp": snapshot(self.tmp),
            "fixture": snapshot(FIXTURES / "shop"),
        }


def debian_build(parent: Path) -> tuple[Build, Path, str]:
    build = Build(parent)
    (build.source / "debian").mkdir()
    rules = build.source / "debian" / "rules"
    rules.write_text(block("make"))
    rules.chmod(0o755)
    before = build.outside(build.source / "debian")
    result = build.run(["make", "-f", "debian/rules", "override_dh_auto_install"])
    assert build.outside(build.source / "debian") == before
    assert sorted(os.listdir(build.source / "debian")) == ["rules", "shop"]
    return build, build.source / "debian" / "shop", result.stderr


def rpm_build(parent: Path) -> Path:
    build = Build(parent)
    buildroot = parent / "BUILDROOT"
    macros = RPM_MACROS | {"%{buildroot}": str(buildroot)}
    before = build.outside(buildroot)
    for command in section_lines(block("spec"), "%install"):
        expanded = expand(command, macros)
        build.run(["sh", "-e", "-c", expanded])  # rpmbuild runs %install with sh -e
    assert build.outside(buildroot) == before
    return buildroot


def section_lines(spec: str, name: str) -> list[str]:
    """The lines of one spec section, up to the next blank line."""
    lines = spec.split("\n")
    start = lines.index(name) + 1
    end = lines.index("", start)
    return lines[start:end]


def expand(text: str, macros: dict[str, str]) -> str:
    for macro, value in macros.items():
        text = text.replace(macro, value)
    assert "%{" not in text, text
    return text


def tree(directory: Path) -> dict[str, tuple[bytes, int]]:
    """Every file with its bytes and permission bits: what a package would carry."""
    return {
        str(p.relative_to(directory)): (p.read_bytes(), stat.S_IMODE(p.stat().st_mode))
        for p in sorted(directory.rglob("*"))
        if p.is_file()
    }


def check_tree(files: dict[str, tuple[bytes, int]], build_dir: Path) -> None:
    """No manifest, no path of the build machine, the modes the package must install."""
    assert files
    for name, (content, mode) in files.items():
        assert not Path(name).name.startswith(".procexport"), name
        assert str(build_dir).encode() not in content, name
        assert mode == (0o600 if name.endswith(".env") else 0o644), name


def rpm_matches(pattern: str, name: str) -> bool:
    """rpm's %files glob: `*` within one path component; a trailing `/` takes the directory
    with everything under it."""
    wanted, parts = pattern.rstrip("/").split("/"), name.split("/")
    if pattern.endswith("/"):
        parts = parts[: len(wanted)] if len(parts) > len(wanted) else []
    return len(parts) == len(wanted) and all(map(fnmatch.fnmatchcase, parts, wanted))


def test_debian_rules_builds_the_tree_the_package_installs(tmp_path):
    build, staging, stderr = debian_build(tmp_path / "first")
    files = tree(staging)
    check_tree(files, tmp_path)
    assert {Path(name).parts[:3] for name in files} == {("lib", "systemd", "system")}
    units = staging / "lib/systemd/system"
    loaded, warnings = systemd_oracle.load_units(read_tree(units), "shop.target")
    assert warnings == []
    assert loaded["shop-web@1.service"].properties["EnvironmentFile"] == [
        "/lib/systemd/system/shop.env"
    ]
    assert stderr == shown_summary().replace("/build/shop-1.0", str(build.source))
    # a second build, from another directory, is the same package
    _, again, _ = debian_build(tmp_path / "second")
    assert tree(again) == files


def test_the_debian_rules_keep_env_files_0600_through_dh_fixperms(tmp_path):
    """dh_fixperms runs `chmod go=rX,u+rw,a-s` on every file whose name contains no -X item."""
    _, staging, _ = debian_build(tmp_path)
    excluded = re.findall(r"-X(\S+)", block("make"))
    for path in staging.rglob("*"):
        if path.is_file() and not any(item in path.name for item in excluded):
            mode = stat.S_IMODE(path.stat().st_mode)
            path.chmod(mode & 0o700 | 0o600 | 0o044)  # go=r (X adds nothing: no x bits)
    check_tree(tree(staging), tmp_path)


def test_the_tree_packs_into_a_deb_with_the_installed_modes(tmp_path):
    if shutil.which("dpkg-deb") is None:
        pytest.skip("needs dpkg-deb")
    _, staging, _ = debian_build(tmp_path / "build")
    package = tmp_path / "pkg"
    shutil.copytree(staging, package)
    (package / "DEBIAN").mkdir()
    (package / "DEBIAN" / "control").write_text(
        "Package: shop\nVersion: 1.0\nArchitecture: all\nMaintainer: t <t@example.com>\n"
        "Description: the sample app\n"
    )
    deb = tmp_path / "shop.deb"
    subprocess.run(
        ["dpkg-deb", "--root-owner-group", "--build", str(package), str(deb)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    listing = subprocess.run(
        ["dpkg-deb", "-c", str(deb)], check=True, capture_output=True, text=True
    ).stdout
    entries = {line.split()[-1]: line.split()[:2] for line in listing.splitlines()}
    assert entries["./lib/systemd/system/shop.env"] == ["-rw-------", "root/root"]
    assert entries["./lib/systemd/system/shop-web@.service"] == ["-rw-r--r--", "root/root"]
    assert not [name for name in entries if ".procexport" in name]


def test_the_rpm_install_section_builds_exactly_what_files_lists(tmp_path):
    buildroot = rpm_build(tmp_path / "first")
    files = tree(buildroot)
    check_tree(files, tmp_path)
    service = files["usr/lib/systemd/system/shop-web@.service"][0].decode()
    assert "EnvironmentFile=/usr/lib/systemd/system/shop.env\n" in service
    assert "StandardOutput=append:/var/log/shop/shop-web-%i.log\n" in service
    claimed: list[str] = []
    for line in section_lines(block("spec"), "%files"):
        if line.startswith("%dir "):
            assert (buildroot / expand(line[5:], RPM_MACROS).lstrip("/")).is_dir(), line
            continue
        attr = re.match(r"%attr\((\d+),(\w+),(\w+)\) ", line)
        pattern = expand(line[attr.end() :] if attr else line, RPM_MACROS).lstrip("/")
        matched = [name for name in files if rpm_matches(pattern, name)]
        assert matched, line
        if attr:
            assert {files[n][1] for n in matched} == {int(attr.group(1), 8)}, line
        claimed += matched
    assert sorted(claimed) == sorted(files)  # every file listed, none twice
    again = rpm_build(tmp_path / "second")
    assert tree(again) == files
