#!/usr/bin/env python3
"""What durability costs: one export of TYPES x INSTANCES systemd units into a fresh directory,
with no fsync at all, with the journal and directory fsync'd (what procexport ships), and with
every staged file fsync'd as well (what it does not do). Median of REPS runs, in-process.

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
    real_fsync, real_stage = os.fsync, journal._stage

    def stage_and_fsync(root, temp, change):
        result = real_stage(root, temp, change)
        handle = os.open(temp, os.O_RDONLY, dir_fd=root)
        real_fsync(handle)
        os.close(handle)
        return result

    variants = {
        "no fsync": (lambda fd: None, real_stage),
        "journal and directory fsync'd (shipped)": (real_fsync, real_stage),
        "every file fsync'd as well": (real_fsync, stage_and_fsync),
    }
    with tempfile.TemporaryDirectory(dir=args.out) as scratch:
        app = Path(scratch) / "app"
        app.mkdir()
        (app / "Procfile").write_text("".join(f"t{i:03}: serve\n" for i in range(args.types)))
        times: dict[str, list[float]] = {name: [] for name in variants}
        for _ in range(args.reps):  # interleaved, so that machine noise hits every variant
            for name, (fsync, stage) in variants.items():
                journal.os.fsync, journal._stage = fsync, stage
                try:
                    times[name].append(run(app, Path(scratch) / "out", args.instances))
                finally:
                    journal.os.fsync, journal._stage = real_fsync, real_stage
    files = args.types * (args.instances + 2) + 1
    print(f"{args.types} types x {args.instances} instances ({files} files), {args.reps} runs:")
    for name, samples in times.items():
        print(f"  {name}: median {statistics.median(samples):.2f} s")


if __name__ == "__main__":
    main_bench()
