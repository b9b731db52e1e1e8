"""End to end on real packages from the index: trace, lean install, run, pip's own checks.

torch==2.13.0 resolves to a local CPU wheel on these machines; the tabular stack comes
from the index. Slow (about a minute each), so marked; CI runs them.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from conftest import create_venv, site_packages
from packaging.utils import canonicalize_name

from lean_install.cli import main

pytestmark = pytest.mark.slow

WORKLOADS = Path(__file__).parents[1] / "profiles" / "workloads"


def _bytes(directory: Path) -> int:
    total = 0
    for root, _, files in os.walk(directory):
        for name in files:
            path = Path(root) / name
            if not path.is_symlink():
                total += path.stat().st_size
    return total


def _run(python: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(python), *args], capture_output=True, text=True, env={**os.environ, **env}
    )


def _lean_case(
    tmp: Path, requirements: list[str], workload: Path, max_ratio: float
) -> tuple[Path, Path, Path]:
    full = create_venv(tmp / "full")
    subprocess.run([str(full), "-m", "pip", "install", "-q", *requirements], check=True)
    profile = tmp / "profile.toml"
    assert main(["trace", "-o", str(profile), "--", str(full), str(workload)]) == 0
    lean = create_venv(tmp / "lean")
    assert main(["install", "--python", str(lean), "--profile", str(profile), "-q",
                 *requirements]) == 0  # fmt: skip
    result = _run(lean, str(workload), str(tmp))
    assert result.returncode == 0 and "OK" in result.stdout, result.stderr[-3000:]
    ratio = _bytes(site_packages(lean)) / _bytes(site_packages(full))
    assert ratio <= max_ratio, ratio
    check = _run(lean, "-m", "pip", "check")
    assert check.returncode == 0, check.stdout
    return full, lean, profile


def _freeze(python: Path) -> dict[str, str]:
    """``pip freeze --all`` by normalized name (stub distributions spell names normalized)."""
    out = _run(python, "-m", "pip", "freeze", "--all").stdout
    pins = (line.split("==", 1) for line in out.splitlines() if "==" in line)
    return {canonicalize_name(name): version for name, version in pins}


@pytest.fixture
def cold_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LEAN_INSTALL_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_torch_training_lean(tmp_path: Path, cold_cache: Path) -> None:
    full, lean, _ = _lean_case(tmp_path, ["torch==2.13.0"], WORKLOADS / "torch_train.py", 0.66)
    frozen, original = _freeze(lean), _freeze(full)
    assert set(original) <= set(frozen)  # pip freeze lists every distribution
    assert frozen["torch"].startswith("2.13.0+cpu.lean.")
    refused = _run(lean, "-c", "import networkx", LEAN_INSTALL_ON_MISS="error")
    assert refused.returncode != 0
    assert "lean-install removed module 'networkx'" in refused.stderr
    assert "lean-install restore --python" in refused.stderr
    came_back = _run(lean, "-c", "import networkx; print(networkx.__version__)")  # the default
    assert came_back.returncode == 0, came_back.stderr
    assert came_back.stdout.strip() == original["networkx"]
    assert "lean-install: brought back networkx (networkx " in came_back.stderr
    assert main(["restore", "--python", str(lean), "-q", "networkx"]) == 0
    assert _run(lean, "-c", "import networkx", LEAN_INSTALL_ON_MISS="error").returncode == 0
    assert _freeze(lean)["networkx"] == original["networkx"]
    subprocess.run([str(lean), "-m", "pip", "uninstall", "-y", "-q", "torch"], check=True)
    site = site_packages(lean)  # once: it asks the interpreter
    left = [p for p in site.rglob("*")
            if p.relative_to(site).parts[0] == "torch" or p.name.startswith("torch-")]  # fmt: skip
    assert left == []


def test_tabular_lean(tmp_path: Path, cold_cache: Path) -> None:
    requirements = ["numpy", "pandas", "scikit-learn"]
    _lean_case(tmp_path, requirements, WORKLOADS / "tabular_sklearn.py", 0.60)
