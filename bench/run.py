#!/usr/bin/env python3
"""Benchmark procexport against honcho and foreman, side by side, on this machine.

    python3 bench/run.py [--reps N] [--quick] [--scaling-only] [--instructions]

Installs what it compares (procexport from this checkout and honcho[export] into venvs
under bench/work/, foreman from Debian's ruby-foreman when run as root), then times each
whole command from process start to exit, interleaved over N repetitions, and reports
medians, the ratio procexport/peer and peak memory. Beside the peers: the small export with
its settings in formation.toml (procexport reads the file; the peers get the same settings as
flags), and bench/floor.py, a bare script that only creates the large systemd layout. The
table is printed and written to bench/results.md with the machine and versions. The scaling
run exports 1, 10, 100, 1,000 and 10,000 instances with each tool and draws time against
instances (log-log) into bench/scaling.png with matplotlib (`pip install '.[bench]'`).
Nothing here is part of the test suite.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
WORK = BENCH / "work"
FORMATS = ("systemd", "supervisord", "upstart", "runit")  # every format honcho exports
LARGE_TYPES, LARGE_INSTANCES = 100, 100
SCALING_INSTANCES = (1, 10, 100, 1_000, 10_000)
SCALING_FORMAT = "systemd"
FLOOR_FORMAT = "systemd"  # bench/floor.py makes this format's layout
# Output on tmpfs when there is one: on this kind of virtual disk the kernel's share of
# creating 10,000 files varies by a factor of two from run to run, whoever creates them.
DEFAULT_OUT = Path("/dev/shm/procexport-bench") if Path("/dev/shm").is_dir() else WORK / "out"


@dataclass
class Case:
    scenario: str
    tool: str
    argv: list[str]
    cwd: Path
    fresh_output: Path | None  # removed before every run, so each run writes everything
    times: list[float] = field(default_factory=list)
    peak_kb: int = 0
    instructions: int | None = None  # user-space instructions, counted by valgrind


def count_instructions(case: Case) -> None:
    """One run under valgrind's cachegrind: the instructions the process executes in user
    space. A count, not a time: the same on a busy machine as on a quiet one (the kernel's
    share, the file system's work, is not in it)."""
    if case.fresh_output is not None:
        shutil.rmtree(case.fresh_output, ignore_errors=True)
    argv = list(case.argv)
    with open(argv[0], "rb") as head:  # a script: valgrind runs its interpreter
        first = head.readline()
    if first.startswith(b"#!"):
        argv[:0] = first[2:].decode().split()
    out = subprocess.run(
        [
            "valgrind",
            "--tool=cachegrind",
            "--cache-sim=no",
            "--cachegrind-out-file=/dev/null",
            *argv,
        ],
        cwd=case.cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=True,
    )
    for line in out.stderr.splitlines():
        if "I   refs:" in line or "I refs:" in line:
            case.instructions = int(line.rpartition(":")[2].replace(",", ""))


def run(argv: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(argv, check=True, **kwargs)


def setup() -> dict[str, str]:
    """Install the tools; return their command paths."""
    WORK.mkdir(exist_ok=True)
    tools = {}
    for name, requirement in (("procexport", str(REPO)), ("honcho", "honcho[export]")):
        venv = WORK / f"venv-{name}"
        if not (venv / "bin" / name).exists():
            run([sys.executable, "-m", "venv", str(venv)])
        run(
            [str(venv / "bin" / "pip"), "install", "-q", "--upgrade", requirement],
            stdout=subprocess.DEVNULL,
        )
        tools[name] = str(venv / "bin" / name)
    if shutil.which("foreman") is None and os.geteuid() == 0:
        env = os.environ | {"DEBIAN_FRONTEND": "noninteractive"}
        run(["apt-get", "update", "-qq"], env=env)
        run(["apt-get", "install", "-y", "-qq", "ruby-foreman"], env=env, stdout=subprocess.DEVNULL)
    if shutil.which("foreman"):
        tools["foreman"] = shutil.which("foreman")
    return tools


def versions(tools: dict[str, str]) -> dict[str, str]:
    found = {}
    for name, path in tools.items():
        flag = ["version"] if name == "foreman" else ["--version"]
        out = subprocess.run([path, *flag], capture_output=True, text=True)
        found[name] = (out.stdout or out.stderr).strip().splitlines()[-1]
    return found


def make_apps() -> tuple[Path, Path]:
    small = WORK / "small"
    small.mkdir(parents=True, exist_ok=True)
    (small / "Procfile").write_text("web: python3 -m http.server $PORT\nworker: sleep 1000\n")
    large = WORK / "large"
    large.mkdir(parents=True, exist_ok=True)
    (large / "Procfile").write_text(
        "".join(f"t{i}: python3 -m http.server $PORT\n" for i in range(LARGE_TYPES))
    )
    return small, large


def make_formation_file_app() -> Path:
    """The small app with its settings in formation.toml (pydantic validates it)."""
    app = WORK / "small-toml"
    app.mkdir(parents=True, exist_ok=True)
    (app / "Procfile").write_text("web: python3 -m http.server $PORT\nworker: sleep 1000\n")
    (app / "formation.toml").write_text('app = "app"\n\n[formation]\nweb = 2\nworker = 1\n')
    return app


def make_scaling_apps() -> dict[int, tuple[Path, str]]:
    """Per instance count N: an app of min(N, 100) types sharing N instances, and its -m."""
    apps = {}
    for total in SCALING_INSTANCES:
        types = min(total, LARGE_TYPES)
        app = WORK / f"scale-{total}"
        app.mkdir(parents=True, exist_ok=True)
        (app / "Procfile").write_text(
            "".join(f"t{i}: python3 -m http.server $PORT\n" for i in range(types))
        )
        apps[total] = (app, spec(types, total // types))
    return apps


def scaling_cases(tools: dict[str, str], out: Path) -> list[Case]:
    found = []
    for total, (app, formation) in make_scaling_apps().items():
        for tool in ("procexport", "honcho", "foreman"):
            if tool in tools:
                found.append(
                    export_case(
                        f"scaling {total}",
                        tool,
                        tools,
                        app,
                        formation,
                        SCALING_FORMAT,
                        out / f"scale-{total}-{tool}",
                    )
                )
    return found


def export_case(
    scenario: str,
    tool: str,
    tools: dict[str, str],
    app: Path,
    formation: str,
    fmt: str,
    target: Path,
) -> Case:
    """One tool exporting `formation` of `app` to `fmt` into a fresh `target` every run."""
    argv = {
        "procexport": [fmt, str(target), "-a", "app", "-m", formation, "-q"],
        "honcho": ["export", "-a", "app", "-c", formation, fmt, str(target)],
        "foreman": ["export", fmt, str(target), "-a", "app", "-m", formation],
    }[tool]
    return Case(scenario, tool, [tools[tool], *argv], app, target)


def spec(types: int, instances: int) -> str:
    return ",".join(f"t{i}={instances}" for i in range(types))


def cases(tools: dict[str, str], small: Path, large: Path, out: Path) -> list[Case]:
    small_spec = "web=2,worker=1"
    large_spec = spec(LARGE_TYPES, LARGE_INSTANCES)
    half_spec = spec(LARGE_TYPES, LARGE_INSTANCES // 2)  # shows whether time is linear
    scenarios = (
        ("small", small, small_spec, ("procexport", "honcho", "foreman")),
        (f"{LARGE_TYPES}x{LARGE_INSTANCES // 2}", large, half_spec, ("procexport",)),
        (
            f"{LARGE_TYPES}x{LARGE_INSTANCES}",
            large,
            large_spec,
            ("procexport", "honcho", "foreman"),
        ),
    )
    found: list[Case] = []
    for fmt in FORMATS:
        for scenario, app, formation, compared in scenarios:
            for tool in compared:
                if tool in tools:
                    target = out / f"{scenario}-{fmt}-{tool}"
                    found.append(
                        export_case(f"{scenario} {fmt}", tool, tools, app, formation, fmt, target)
                    )
        if fmt == FLOOR_FORMAT:
            target = out / "floor"
            python = str(Path(tools["procexport"]).parent / "python")
            floor = [python, str(BENCH / "floor.py"), str(target)]
            found.append(
                Case(
                    f"{LARGE_TYPES}x{LARGE_INSTANCES} {fmt}",
                    "floor",
                    [*floor, str(LARGE_TYPES), str(LARGE_INSTANCES)],
                    large,
                    target,
                )
            )
        toml_app = make_formation_file_app()
        for tool in ("procexport", "honcho", "foreman"):
            if tool in tools:
                target = out / f"small-toml-{fmt}-{tool}"
                case = export_case(
                    f"small {fmt}, formation.toml", tool, tools, toml_app, small_spec, fmt, target
                )
                if tool == "procexport":  # the same export, its settings read from the file
                    case.argv = [tools["procexport"], fmt, str(target), "-q"]
                found.append(case)
        unchanged = out / f"dry-{fmt}"
        export = [tools["procexport"], fmt, str(unchanged), "-a", "app", "-m", large_spec]
        run([*export, "-q"], cwd=large)
        found.append(
            Case(
                f"{LARGE_TYPES}x{LARGE_INSTANCES} {fmt} --dry-run, unchanged",
                "procexport",
                [*export, "--dry-run"],
                large,
                None,
            )
        )
    return found


def time_once(case: Case) -> None:
    if case.fresh_output is not None:
        shutil.rmtree(case.fresh_output, ignore_errors=True)
    start = time.perf_counter()
    process = subprocess.Popen(
        case.argv, cwd=case.cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        raise SystemExit(f"{case.tool} failed ({process.returncode}): {' '.join(case.argv[:6])}")
    case.times.append(elapsed)
    case.peak_kb = max(case.peak_kb, usage.ru_maxrss)


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{platform.system()} {platform.release()}, {cpu}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}"
    )


def report(all_cases: list[Case], reps: int, tools: dict[str, str], out: Path) -> str:
    counted = any(case.instructions is not None for case in all_cases)
    lines = [
        "# Benchmark results",
        "",
        f"Machine: {machine()}  ",
        "Versions: " + ", ".join(f"{k} {v}" for k, v in versions(tools).items()) + "  ",
        f"Method: whole command from process start to exit, {reps} interleaved repetitions, "
        "median (and fastest); a fresh output directory for every export, on "
        f"`{out}`; peak RSS from wait4.  ",
        f"Large formation: {LARGE_TYPES} process types x {LARGE_INSTANCES} instances.  ",
        "Reproduce: `python3 bench/run.py`",
        "",
        "| scenario | tool | median s | fastest s | procexport / tool | peak MB |"
        + (" instructions (M) | procexport / tool |" if counted else ""),
        "|---|---|---:|---:|---:|---:|" + ("---:|---:|" if counted else ""),
    ]
    by_scenario: dict[str, dict[str, Case]] = {}
    for case in all_cases:
        by_scenario.setdefault(case.scenario, {})[case.tool] = case
    for scenario, group in by_scenario.items():
        ours = statistics.median(group["procexport"].times)
        for tool, case in group.items():
            median = statistics.median(case.times)
            ratio = "" if tool == "procexport" else f"{ours / median:.2f}"
            if tool == "floor":  # how far above the floor procexport is, not a peer's ratio
                ratio = f"{ours / median:.2f} (floor)"
            line = (
                f"| {scenario} | {tool} | {median:.3f} | {min(case.times):.3f} | {ratio} | "
                f"{case.peak_kb / 1024:.0f} |"
            )
            if counted:
                line += _instructions_cells(group["procexport"], case)
            lines.append(line)
    return "\n".join(lines) + "\n"


def _instructions_cells(ours: Case, case: Case) -> str:
    if case.instructions is None:
        return " | |"
    ratio = ""
    if case is not ours and ours.instructions is not None:
        ratio = f"{ours.instructions / case.instructions:.2f}"
    return f" {case.instructions / 1e6:,.0f} | {ratio} |"


def plot_scaling(all_cases: list[Case], path: Path) -> None:
    """Median time against instances, log-log, one line per tool."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lines: dict[str, list[tuple[int, float]]] = {}
    for case in all_cases:
        if case.scenario.startswith("scaling "):
            total = int(case.scenario.split()[1])
            lines.setdefault(case.tool, []).append((total, statistics.median(case.times)))
    figure, axes = plt.subplots(figsize=(6.4, 4.2), dpi=100)
    for tool, points in lines.items():
        points.sort()
        axes.plot([n for n, _ in points], [t for _, t in points], marker="o", label=tool)
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("instances exported (systemd; up to 100 types)")
    axes.set_ylabel("median seconds, start to exit")
    axes.set_title("Export time against formation size")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, metadata={"Software": None})
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=15)
    parser.add_argument("--quick", action="store_true", help="small scenarios only, 5 reps")
    parser.add_argument(
        "--scaling-only", action="store_true", help="only the scaling curve (bench/scaling.png)"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where exports go")
    parser.add_argument(
        "--instructions",
        action="store_true",
        help="also count each command's instructions once under valgrind (slow; a busy "
        "machine's timings vary, counts do not)",
    )
    args = parser.parse_args()
    tools = setup()
    small, large = make_apps()
    all_cases = [] if args.scaling_only else cases(tools, small, large, args.out)
    if args.quick:
        all_cases = [c for c in all_cases if c.scenario.startswith("small")]
        args.reps = 5
    else:
        all_cases += scaling_cases(tools, args.out)
    for case in all_cases:  # warm-up: page cache, Jinja's bytecode cache, Ruby gems
        time_once(case)
        case.times.clear()
    for _ in range(args.reps):
        for case in all_cases:
            time_once(case)
    if args.instructions:
        for case in all_cases:
            if not case.scenario.startswith("scaling") and case.tool != "foreman":
                count_instructions(case)
    text = report(all_cases, args.reps, tools, args.out)
    shutil.rmtree(args.out, ignore_errors=True)
    if not args.quick:  # results.md and the plot hold full runs only
        plot_scaling(all_cases, BENCH / "scaling.png")
        if not args.scaling_only:
            (BENCH / "results.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
