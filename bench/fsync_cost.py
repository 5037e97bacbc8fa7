#!/usr/bin/env python3
"""What durability costs: one export of TYPES x INSTANCES systemd units into a fresh directory,
- without the journal's intent (no step lines, no fsync: each file still staged and renamed,
  the write as it was before the journal; issue #19 allows the journal 10% over it),
- with the journal but no fsync at all,
- with the journal and directory fsync'd (what procexport ships),
- with every staged file fsync'd as well (what it does not do).
Median of REPS runs, in-process, interleaved.

    python3 bench/fsync_cost.py [--types 100] [--instances 10] [--reps 3] [--out DIR]

DIR must be on the file system you care about (not tmpfs, where fsync costs nothing).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import exporter.journal as journal
from exporter.cli import main


def run(app: Path, out: Path, instances: int) -> float:
    shutil.rmtree(out, ignore_errors=True)
    previous = Path.cwd()
    os.chdir(app)
    start = time.perf_counter()
    try:
        main(["systemd", str(out), "-q", "-m", f"all={instances}"])
    except SystemExit as exc:
        assert not exc.code, exc.code
    finally:
        os.chdir(previous)
    return time.perf_counter() - start


def main_bench() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--types", type=int, default=100)
    parser.add_argument("--instances", type=int, default=10)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()))
    args = parser.parse_args()
    real_fsync, real_stage, real_line = os.fsync, journal._stage, journal._step_line

    def stage_and_fsync(root, temp, change):
        result = real_stage(root, temp, change)
        handle = os.open(temp, os.O_RDONLY, dir_fd=root)
        real_fsync(handle)
        os.close(handle)
        return result

    def no_fsync(fd: int) -> None:
        return None

    variants = {
        "no journal (stage and rename only)": (no_fsync, real_stage, lambda step: ""),
        "journal, no fsync": (no_fsync, real_stage, real_line),
        "journal and directory fsync'd (shipped)": (real_fsync, real_stage, real_line),
        "every file fsync'd as well": (real_fsync, stage_and_fsync, real_line),
    }
    with tempfile.TemporaryDirectory(dir=args.out) as scratch:
        app = Path(scratch) / "app"
        app.mkdir()
        (app / "Procfile").write_text("".join(f"t{i:03}: serve\n" for i in range(args.types)))
        times: dict[str, list[float]] = {name: [] for name in variants}
        for _ in range(args.reps):  # interleaved, so that machine noise hits every variant
            for name, (fsync, stage, line) in variants.items():
                journal.os.fsync, journal._stage, journal._step_line = fsync, stage, line
                try:
                    times[name].append(run(app, Path(scratch) / "out", args.instances))
                finally:
                    journal.os.fsync, journal._stage = real_fsync, real_stage
                    journal._step_line = real_line
    files = args.types * (args.instances + 2) + 1
    print(f"{args.types} types x {args.instances} instances ({files} files), {args.reps} runs:")
    base = statistics.median(times["no journal (stage and rename only)"])
    for name, samples in times.items():
        median = statistics.median(samples)
        print(f"  {name}: median {median:.3f} s, {median / base:.2f}x")


if __name__ == "__main__":
    main_bench()
