"""``lean-install demo``: the whole job, end to end, on a small real package set.

It creates a full environment with ``rich`` (and its dependencies: pygments,
markdown-it-py, mdurl), traces a small workload there, lean-installs ``rich`` into a
new environment from that profile, runs the workload there and compares the two. Each
step prints the command it runs, so the demo doubles as a tutorial.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from lean_install.environment import Environment
from lean_install.errors import LeanInstallError
from lean_install.measure import build_report

__all__ = ["run_demo", "DEMO_REQUIREMENT", "DEMO_WORKLOAD"]

DEMO_REQUIREMENT = "rich"
DEMO_WORKLOAD = Path(__file__).parent / "_demo" / "workload.py"


class DemoStepError(LeanInstallError):
    def __init__(self, title: str, command: Sequence[object], code: int) -> None:
        self.hint = "run the command above by hand to see the whole output"
        shown = " ".join(str(c) for c in command)
        super().__init__(f"demo step failed ({title}): {shown} exited {code}")


def _step(title: str, command: Sequence[object]) -> None:
    argv = [str(c) for c in command]
    print(f"\n== {title}\n$ {' '.join(argv)}", flush=True)
    code = subprocess.call(argv)
    if code != 0:
        raise DemoStepError(title, argv, code)


def _lean_install(*args: object) -> list[object]:
    return [sys.executable, "-m", "lean_install", *args]


def _venv(path: Path) -> Path:
    _step(f"create the environment {path.name}", [sys.executable, "-m", "venv", path])
    return path / "bin" / "python"


def _sizes(full: Path, lean: Path) -> str:
    a = build_report(Environment.inspect(full)).totals
    b = build_report(Environment.inspect(lean)).totals
    return (
        f"full environment: {a.bytes / 1e6:.1f} MB in {a.files} files\n"
        f"lean environment: {b.bytes / 1e6:.1f} MB in {b.files} files "
        f"({b.bytes / a.bytes:.2f}x the bytes)"
    )


def run_demo(workdir: Path | None = None, *, keep: bool = False) -> int:
    """Run the demo in ``workdir`` (a new temporary directory by default)."""
    work = workdir or Path(tempfile.mkdtemp(prefix="lean-install-demo-"))
    work.mkdir(parents=True, exist_ok=True)
    profile = work / "demo-profile.toml"
    try:
        full = _venv(work / "full")
        _step("install rich in full", [full, "-m", "pip", "install", "-q", DEMO_REQUIREMENT])
        _step(
            "trace the workload", _lean_install("trace", "-o", profile, "--", full, DEMO_WORKLOAD)
        )
        lean = _venv(work / "lean")
        _step(
            "lean-install rich from the profile",
            _lean_install("install", "--python", lean, "--profile", profile, DEMO_REQUIREMENT),
        )
        _step("run the workload in the lean environment", [lean, DEMO_WORKLOAD])
        _step(
            "report the lean environment against the profile",
            _lean_install("report", "--python", lean, "--profile", profile),
        )
        print("\n== result\n" + _sizes(full, lean))
        print(f"\nThe lean environment is in {work / 'lean'}; try: {lean} -c 'import pygments'")
        return 0
    finally:
        if not keep and workdir is None:
            print(f"(removing {work}; keep it with --keep)")
            shutil.rmtree(work, ignore_errors=True)
