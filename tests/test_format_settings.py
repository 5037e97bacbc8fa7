"""A format's own settings stay with the format: the core Formation and Plan carry what the
format's read_settings hook made of them, and nothing kubernetes-specific of their own."""

from __future__ import annotations

from pathlib import Path

from exporter.formation import Formation, Options, ProcessType, load_formation
from exporter.formats import get_format
from exporter.formats.kubernetes import Kubernetes, kubernetes_settings
from exporter.plan import Plan, build_plan

FORMATION = """\
[kubernetes]
image = "registry.example/shop:1"
namespace = "shop"
version = "1.33"

[process.web]
service = false

[process.worker]
service = true
"""


def _app(directory: Path, formation: str | None = FORMATION) -> Path:
    directory.mkdir(parents=True)
    (directory / "Procfile").write_text("web: serve\nworker: work\nclock: tick\n")
    if formation is not None:
        (directory / "formation.toml").write_text(formation)
    return directory


def test_the_core_carries_no_kubernetes_settings():
    kubernetes_only = {"kubernetes", "service", "image", "namespace", "version"}
    for core in (Formation, Plan, ProcessType):
        assert not kubernetes_only & set(core._fields), core.__name__
    assert "env_mode" not in Plan._fields  # build_plan routes the secrets; nothing reads it


def test_without_a_hook_the_formation_has_no_format_settings(tmp_path):
    formation = load_formation(Options(), _app(tmp_path / "shop"))
    assert formation.format_settings is None
    assert build_plan(formation).format_settings is None


def test_the_kubernetes_hook_reads_its_table_and_the_service_settings(tmp_path):
    hook = get_format("kubernetes").read_settings
    assert hook is kubernetes_settings
    plan = build_plan(load_formation(Options(), _app(tmp_path / "shop"), hook))
    settings = plan.format_settings
    assert settings == Kubernetes(
        image="registry.example/shop:1",
        namespace="shop",
        version=(1, 33),
        service={"web": False, "worker": True},
    )
    assert [settings.has_service(t) for t in ("web", "worker", "clock")] == [False, True, False]


def test_image_from_the_command_line_beats_the_file_and_web_serves_by_default(tmp_path):
    options = Options(image="cli:2")
    settings = kubernetes_settings({}, options)
    assert settings == Kubernetes(image="cli:2")
    assert settings.has_service("web") and not settings.has_service("worker")
    app = _app(tmp_path / "shop")
    from_file = load_formation(options, app, kubernetes_settings).format_settings
    assert from_file.image == "cli:2"
    assert from_file.namespace == "shop"


def test_formats_without_settings_have_no_hook():
    assert get_format("systemd").read_settings is None


def test_a_root_given_is_recorded_for_every_format(tmp_path):
    app = _app(tmp_path / "shop", formation=None)
    assert not load_formation(Options(), app).root_given
    assert load_formation(Options(root="/srv/shop"), app).root_given
    assert build_plan(load_formation(Options(root="/srv/shop"), app)).root_given
