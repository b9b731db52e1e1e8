"""Never break, on real torch: a lean environment from a training trace alone runs programs
it never traced (on-miss ``restore``, the default); in mode ``error`` they fail with
lean-install's message; their misses, folded into the profile, make the next lean install
need no restore at all.

The programs are in ``tests/data/torch_untraced`` (see its README): each uses a torch
feature that ``torch_train.py`` never touches, checks a result and prints ``OK``. Slow
(about six minutes): marked; CI runs it.
"""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from conftest import create_venv

from lean_install.cli import main

pytestmark = pytest.mark.slow

HERE = Path(__file__).parent
WORKLOAD = HERE.parent / "profiles" / "workloads" / "torch_train.py"
PROGRAMS = [
    *sorted((HERE / "data" / "torch_untraced").glob("[0-9][0-9]_*.py")),
    # torch.compile with Inductor (C++ code generation: needs gcc), which reaches
    # setuptools/_vendor/jaraco through the sys.path entry setuptools adds at run time
    HERE.parent / "profiles" / "workloads" / "torch" / "34_compile_inductor.py",
]
REQUIREMENT = "torch==2.13.0"


def _run_all(python: Path, cwd: Path) -> dict[str, subprocess.CompletedProcess[str]]:
    """Every program, two at a time (their restores of the same files meet at the
    environment's restore lock)."""

    def run(program: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run([str(python), str(program)], capture_output=True, text=True,
                              cwd=cwd)  # fmt: skip

    with ThreadPoolExecutor(2) as pool:
        return dict(zip([p.name for p in PROGRAMS], pool.map(run, PROGRAMS), strict=True))


def _misses(python: Path) -> list[dict[str, object]]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["misses", "--python", str(python), "--json"]) == 0
    return list(json.loads(out.getvalue()))


def test_untraced_torch_programs_pass_with_restore_then_without(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEAN_INSTALL_CACHE_DIR", str(tmp_path / "cache"))
    # 04_benchmark_timer reaches setuptools/_vendor/jaraco, which setuptools puts on
    # sys.path: no stub stands there, the startup hook's finder brings it back
    assert len(PROGRAMS) >= 10
    full = create_venv(tmp_path / "full")
    subprocess.run([str(full), "-m", "pip", "install", "-q", REQUIREMENT], check=True)
    profile = tmp_path / "train.toml"
    assert main(["trace", "-o", str(profile), "--", str(full), str(WORKLOAD)]) == 0

    lean = create_venv(tmp_path / "lean")
    assert main(["install", "--python", str(lean), "--profile", str(profile), "-q",
                 REQUIREMENT]) == 0  # fmt: skip
    assert main(["config", "--python", str(lean), "on-miss", "error"]) == 0
    # on-miss error: what the programs need was removed, and they say so
    failed = {n: d.stderr[-3000:] for n, d in _run_all(lean, tmp_path).items() if d.returncode}
    assert len(failed) >= 10, sorted(failed)
    for name, stderr in failed.items():
        assert "lean-install removed module" in stderr or "cannot import name" in stderr, name
    raised = _misses(lean)
    assert {m["outcome"] for m in raised} == {"raised"}

    assert main(["config", "--python", str(lean), "on-miss", "restore"]) == 0  # the default
    for name, done in _run_all(lean, tmp_path).items():
        assert done.returncode == 0 and "OK" in done.stdout, (name, done.stderr[-3000:])
    restored = _misses(lean)[len(raised) :]
    assert restored and {m["outcome"] for m in restored} == {"restored"}
    missed_by = {Path(str(m["argv"][0])).name for m in restored}  # type: ignore[index]
    assert len(missed_by) >= 10, sorted(missed_by)
    files = sum(len(m["files"]) for m in restored)  # type: ignore[misc, arg-type]
    print(
        f"{len(failed)} of {len(PROGRAMS)} programs failed without restore; with it all "
        f"passed: {len(restored)} misses from {len(missed_by)} programs, {files} files"
    )

    updated = tmp_path / "updated.toml"
    assert main(["profile", "update", str(profile), "--from-misses", "--python", str(lean),
                 "-o", str(updated)]) == 0  # fmt: skip
    again = create_venv(tmp_path / "again")
    assert main(["install", "--python", str(again), "--profile", str(updated), "-q",
                 REQUIREMENT]) == 0  # fmt: skip
    for name, done in _run_all(again, tmp_path).items():
        assert done.returncode == 0 and "OK" in done.stdout, (name, done.stderr[-3000:])
    assert _misses(again) == []
