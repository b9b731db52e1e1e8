"""Warm installs of torch, alternated: a full install and lean-install, with uv (or pip).

    python bench/warm.py [--rounds N] [--profile FILE] [--compare PY] [--installer uv|pip]

bench/run.py times one warm install per round, so on a machine whose speed drifts its
median of 2 can say little. Here both warm caches are filled once (untimed), then each
round times a full install and a lean install with the same installer (``--installer``,
uv unless told; the profile given, by default the bundled ``torch-cpu``) into new venvs,
alternating which goes first; the table gives every time and the median ratio of the
rounds. Venvs are made before the clock starts. ``--compare PY``: each round also times the lean-install of ``PY``'s
environment (another commit, installed there), as ``other``. Run it outside the repository
(``python -m lean_install`` would take the checkout in the working directory).
Timings only report; nothing asserts.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from run import CASES, base_env, install_command, new_venv, run

PROFILE = Path(__file__).resolve().parents[1] / "profiles" / "torch-cpu.toml"


def timed(
    kind: str, work: Path, caches: dict[str, Path], profile: Path, other: str, installer: str
) -> float:
    """One install of ``kind`` (full, lean, or other: lean by ``other``'s lean-install),
    with ``installer``, into a new venv, in seconds."""
    python = new_venv(Path(tempfile.mkdtemp(prefix=f"{kind}-", dir=work)) / "venv")
    command = install_command("full" if kind == "full" else "lean", installer, python,
                              CASES["torch"], profile)  # fmt: skip
    if kind == "other":
        command[0] = other
    seconds, done = run(command, base_env(**caches))
    if done.returncode != 0:
        raise SystemExit(f"{kind} install failed:\n{done.stderr[-3000:]}")
    shutil.rmtree(python.parents[2], ignore_errors=True)
    return seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--profile", type=Path, default=PROFILE)
    parser.add_argument("--compare", default="", help="another interpreter with lean-install")
    parser.add_argument("--installer", choices=("uv", "pip"), default="uv")
    args = parser.parse_args(argv)
    kinds = ("full", "lean", "other") if args.compare else ("full", "lean")
    work = Path(tempfile.mkdtemp(prefix="lean-warm-"))
    try:
        caches = {k: work / k for k in ("PIP_CACHE_DIR", "UV_CACHE_DIR", "LEAN_INSTALL_CACHE_DIR")}
        for kind in kinds:  # fill the caches
            timed(kind, work, caches, args.profile, args.compare, args.installer)
        rows = []
        for round_ in range(args.rounds):
            order = kinds if round_ % 2 == 0 else kinds[::-1]
            times = {k: timed(k, work, caches, args.profile, args.compare, args.installer)
                     for k in order}  # fmt: skip
            rows.append(times)
            print(f"  round {round_ + 1}: " + ", ".join(f"{k} {times[k]:.1f} s" for k in kinds),
                  file=sys.stderr)  # fmt: skip
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"Command: `python bench/warm.py {' '.join(sys.argv[1:])}`\n")
    print("| round | " + " | ".join(f"{k} {args.installer} warm s" for k in kinds) + " | "
          + " | ".join(f"{k} / full" for k in kinds[1:]) + " |")  # fmt: skip
    print("|---" * (2 * len(kinds)) + "|")
    rows.append({k: statistics.median(r[k] for r in rows) for k in kinds})
    for index, times in enumerate(rows, 1):
        label = "median" if index == len(rows) else str(index)
        ratios = [f"{times[k] / times['full']:.2f}" for k in kinds[1:]]
        print(f"| {label} | " + " | ".join(f"{times[k]:.1f}" for k in kinds) + " | "
              + " | ".join(ratios) + " |")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
