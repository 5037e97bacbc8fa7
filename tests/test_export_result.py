"""The core returns what an export did and prints nothing; the command line prints it."""

from __future__ import annotations

from pathlib import Path

import pytest

from exporter.cli import main
from exporter.export import ExportResult, run_export
from exporter.formation import Options


def _app(directory: Path) -> Path:
    directory.mkdir(parents=True)
    (directory / "Procfile").write_text("web: serve\nworker: work\n", encoding="utf-8")
    return directory


def _cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_:
        main(list(args))
    captured = capsys.readouterr()
    return exit_.value.code, captured.out, captured.err


def test_a_preview_is_returned_as_output_and_not_printed(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(_app(tmp_path / "shop"))
    capsys.readouterr()
    result = run_export("systemd", None, Options())
    assert capsys.readouterr() == ("", "")
    assert isinstance(result, ExportResult)
    assert result.status == 0
    assert result.output.startswith("==> shop.target <==\n")
    assert result.report == ""
    assert _cli(capsys, "systemd") == (0, result.output, "")


def test_a_write_returns_its_summary_as_the_report(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(_app(tmp_path / "shop"))
    capsys.readouterr()
    result = run_export("systemd", tmp_path / "a", Options(user="nobody"), quiet=False)
    assert capsys.readouterr() == ("", "")
    assert result.status == 0
    assert result.output == ""
    assert result.report.startswith(f"procexport: {tmp_path / 'a'}: 7 created, 0 changed")
    assert "next:\n  systemctl daemon-reload\n" in result.report
    status, out, err = _cli(capsys, "systemd", str(tmp_path / "b"), "-u", "nobody")
    assert (status, out) == (0, "")
    assert err == result.report.replace(str(tmp_path / "a"), str(tmp_path / "b"))
    quiet = run_export("systemd", tmp_path / "c", Options(user="nobody"))
    assert quiet == ExportResult(0, "", "")


def test_a_dry_run_returns_the_diff_and_status_one(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(_app(tmp_path / "shop"))
    run_export("systemd", tmp_path / "out", Options(user="nobody"))
    monkeypatch.chdir(_app(tmp_path / "shop2"))
    capsys.readouterr()
    options = Options(user="nobody", app="shop", formation=("web=2",))
    result = run_export("systemd", tmp_path / "out", options, dry_run=True)
    assert capsys.readouterr() == ("", "")
    assert result.status == 1
    assert "+Wants=shop-web@2.service\n" in result.output
    assert result.report == ""
    assert _cli(
        capsys,
        "systemd",
        str(tmp_path / "out"),
        "-u",
        "nobody",
        "-a",
        "shop",
        "-m",
        "web=2",
        "--dry-run",
    ) == (1, result.output, "")


def test_an_uninstall_returns_its_summary_and_prints_nothing(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(_app(tmp_path / "shop"))
    run_export("supervisord", tmp_path / "out", Options(user="nobody"))
    capsys.readouterr()
    dry = run_export("supervisord", tmp_path / "out", Options(), uninstall=True, dry_run=True)
    assert dry.status == 1
    assert "deleted file mode 0644\n--- a/shop.conf\n" in dry.output
    result = run_export("supervisord", tmp_path / "out", Options(), uninstall=True, quiet=False)
    assert capsys.readouterr() == ("", "")
    assert result.status == 0
    assert result.output == ""
    assert result.report.startswith(
        f"procexport: {tmp_path / 'out'}: 0 created, 0 changed, 1 removed"
    )
    assert "next:\n" in result.report
    assert not (tmp_path / "out" / "shop.conf").exists()
