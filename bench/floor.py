#!/usr/bin/env python3
"""The floor for a layout: a bare script that only creates it, as procexport's systemd export
of TYPES x INSTANCES does (one drop-in directory per instance, each file written to a
temporary and renamed into place), with nothing else: no parsing, no rendering, no checks,
no journal, no manifest.

    python3 bench/floor.py LOCATION TYPES INSTANCES

bench/run.py times it beside the tools: issue #19 asks for the large export within 1.4x of it.
"""

import os
import sys

TEXT = "[Service]\nEnvironment=PORT=5000 PS=web.1\n" * 4


def main() -> None:
    location, types, instances = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    os.makedirs(location, exist_ok=True)
    files = ["app.target"]
    for t in range(types):
        files += [f"app-t{t}.target", f"app-t{t}@.service"]
        for n in range(1, instances + 1):
            directory = os.path.join(location, f"app-t{t}@{n}.service.d")
            os.mkdir(directory)
            files.append(f"app-t{t}@{n}.service.d/instance.conf")
    for index, name in enumerate(files):
        temporary = os.path.join(location, f".tmp-{index}")
        with open(temporary, "w") as out:
            out.write(TEXT)
        os.replace(temporary, os.path.join(location, name))


if __name__ == "__main__":
    main()
