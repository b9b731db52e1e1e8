"""Regenerate a curated profile: trace each of its workloads (profiles/workloads/curated.toml).

    python profiles/make.py NAME --python ENV/bin/python [-o OUT]

Run from the repository root, with lean-install installed. The environment at ENV is made
as profiles/README.md says (its `requirements`, the venv's own setuptools uninstalled when
no requirement brings it). Each workload runs traced once (``lean-install trace --append``)
in a fresh temporary directory; a workload that fails stops the run: a profile is made of
passing workloads only.
"""

from __future__ import annotations

import argparse
import glob
import os
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

PROFILES = Path(__file__).resolve().parent
WORKLOADS = PROFILES / "workloads"


def workloads(name: str) -> tuple[list[str], list[str]]:
    """The traced and the held-out workloads of profile ``name`` (paths relative to the
    repository root, sorted)."""
    entry = tomllib.loads((WORKLOADS / "curated.toml").read_text())[name]
    held = {f"profiles/workloads/{w}" for w in entry["held-out"]}
    found: list[str] = []
    for pattern in entry["workloads"]:
        matches = sorted(glob.glob(str(WORKLOADS / pattern)))
        found += [str(Path(m).relative_to(PROFILES.parent)) for m in matches]
    traced = [w for w in dict.fromkeys(found) if w not in held]
    return traced, sorted(held)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("name")
    parser.add_argument("--python", required=True)
    parser.add_argument("-o", "--output")
    args = parser.parse_args()
    out = Path(args.output or PROFILES / f"{args.name}.toml")
    out.unlink(missing_ok=True)
    traced, _ = workloads(args.name)
    for workload in traced:
        with tempfile.TemporaryDirectory(prefix="lean-profile-") as tmp:
            command = [sys.executable, "-m", "lean_install", "trace", "--append", "-o",
                       str(out), "--", args.python, workload]  # fmt: skip
            done = subprocess.run(command, cwd=PROFILES.parent, env={**os.environ, "TMPDIR": tmp})
        if done.returncode != 0:
            print(f"{workload} failed: {args.name} not written", file=sys.stderr)
            out.unlink(missing_ok=True)
            return 1
    print(f"wrote {out}: {len(traced)} workloads traced")
    return 0


if __name__ == "__main__":
    sys.exit(main())
