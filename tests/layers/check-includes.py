#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""check-includes.py - fail when an #include runs up a floor

The tree is built in floors; a file may include headers of its own floor and of the floors
below it, never above (the picture in README.md and lib/meson.build):

    wormholed/  wormhole-cli/        the process, the client (neither includes the other)
    chains/                          one file per word
    lib/engine                       segments, endpoints, connections, runner, containers
    lib/tunnel                       kernel IPsec tunnels (xfrm, overlay addresses)
    lib/docker                       Docker Engine API client
    lib/net                          the data path
    lib/grammar                      the chain-spec language, the control protocol
    lib/base                         logging, errors, cleanup, lists, strings, addresses

Project headers are included by name ("segment.h"), found through the include path, so each
name must be unique across the tree; the check resolves every quoted include to the one file
of that name and compares floors. A name that is not a project header (config.h, generated) is
allowed. Exit 0 when every include goes down or sideways, 1 with one line per offence.
Usage: check-includes.py [REPO]
"""
import os
import re
import sys

FLOORS = [
    ("lib/base", 0),
    ("lib/grammar", 1),
    ("lib/net", 2),
    ("lib/docker", 3),
    ("lib/peer", 4),
    ("lib/tunnel", 4),
    ("lib/engine", 5),
    ("chains", 6),
    ("wormholed", 7),
    ("wormhole-cli", 7),
]
# same level, but still not allowed to include each other
SEPARATE = {("wormholed", "wormhole-cli"), ("wormhole-cli", "wormholed"),
            ("lib/peer", "lib/tunnel"), ("lib/tunnel", "lib/peer")}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def floor_of(rel):
    for prefix, level in FLOORS:
        if rel == prefix or rel.startswith(prefix + "/"):
            return prefix, level
    return None, None


def main():
    repo = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else
                           os.path.join(os.path.dirname(__file__), "..", ".."))
    files, by_name, errors = [], {}, []
    for prefix, _ in FLOORS:
        for root, _dirs, names in os.walk(os.path.join(repo, prefix)):
            for n in names:
                if n.endswith((".c", ".h")):
                    rel = os.path.relpath(os.path.join(root, n), repo)
                    files.append(rel)
                    if n.endswith(".h"):
                        by_name.setdefault(n, []).append(rel)
    for name, where in sorted(by_name.items()):
        if len(where) > 1:
            errors.append(f"header name '{name}' is not unique: {', '.join(where)}")
    edges = 0
    for rel in sorted(files):
        src_floor, src_level = floor_of(rel)
        with open(os.path.join(repo, rel), encoding="utf-8") as f:
            text = f.read()
        for m in INCLUDE.finditer(text):
            inc = m.group(1)
            base = os.path.basename(inc)
            if "/" in inc:
                errors.append(f"{rel}: #include \"{inc}\": include project headers by name")
                continue
            target = by_name.get(base)
            if not target:
                continue  # config.h and other generated or system-ish headers
            dst_floor, dst_level = floor_of(target[0])
            edges += 1
            if dst_level > src_level or (src_floor, dst_floor) in SEPARATE:
                line = text.count("\n", 0, m.start()) + 1
                errors.append(f"{rel}:{line}: includes '{inc}' from {dst_floor}/, a floor above "
                              f"{src_floor}/")
    for e in errors:
        print(e)
    print(f"check-includes: {len(files)} files, {edges} project includes, {len(errors)} offences")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
