"""``pip install --lean torch`` as people type it: the CUDA build, through the shell hook.

Unpinned ``torch`` resolves here to 2.14.1's CUDA 13 build (29 wheels, 3 GB, from a local
index); no CPU build of that release is reachable, so the bundled ``torch-cuda-on-cpu``
profile leans the CUDA build. lean-install's cache of the original wheels is kept between
runs (``LEAN_INSTALL_TEST_CACHE``, by default ``~/.cache/lean-install-tests``): the first
run copies the 3 GB, later ones read them from there. About 4 minutes on 2 cores.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
from conftest import create_venv, site_packages

pytestmark = pytest.mark.slow

WORKLOAD = Path(__file__).parents[1] / "profiles" / "workloads" / "torch_train.py"
DEV_PYTHON = Path(sys.executable)


def _bytes(directory: Path) -> int:
    return sum(p.stat().st_size for p in directory.rglob("*") if p.is_file() and not p.is_symlink())


def _wheel_bytes(python: Path, requirement: str, downloads: Path) -> tuple[int, list[str]]:
    """What plain pip would install for ``requirement`` into ``python``'s venv, in bytes
    (the files of the wheels it resolves, uncompressed; no bytecode), by pip's own report."""
    pip = [str(python), "-m", "pip"]
    report = [*pip, "install", "--dry-run", "-q", "--ignore-installed", "--report", "-"]
    done = subprocess.run([*report, requirement], capture_output=True, text=True, check=True)
    total, names = 0, []
    for item in json.loads(done.stdout)["install"]:
        url = urlparse(item["download_info"]["url"])
        path = Path(unquote(url.path))
        if url.scheme != "file":  # a newer small dependency from the package index
            subprocess.run([*pip, "download", "-q", "--no-deps", "-d", str(downloads),
                            url.geturl()], check=True)  # fmt: skip
            path = downloads / path.name
        with zipfile.ZipFile(path) as wheel:
            total += sum(i.file_size for i in wheel.infolist())
        names.append(item["metadata"]["name"])
    return total, names


def _activated(python: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["VIRTUAL_ENV"] = str(python.parent.parent)
    env["PATH"] = os.pathsep.join([str(python.parent), str(DEV_PYTHON.parent), env["PATH"]])
    return env | extra


def test_unpinned_torch_through_the_shell_hook(tmp_path: Path) -> None:
    cache = Path(
        os.environ.get("LEAN_INSTALL_TEST_CACHE", Path.home() / ".cache/lean-install-tests")
    )
    python = create_venv(tmp_path / "venv")
    seeds = _bytes(site_packages(python))  # pip and setuptools, as in plain pip's venv
    full, names = _wheel_bytes(python, "torch", tmp_path / "downloads")
    assert any(n.startswith("nvidia-") for n in names), names  # the CUDA build
    env = _activated(python, LEAN_INSTALL_CACHE_DIR=str(cache / "cuda"))
    script = f'eval "$("{DEV_PYTHON}" -m lean_install shell-hook bash)"; pip install --lean torch'
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr[-4000:]
    said = [line for line in done.stderr.splitlines() if "no CPU build of torch 2.14.1" in line]
    assert len(said) == 1, done.stderr[-4000:]
    strict = _activated(python, LEAN_INSTALL_ON_MISS="error")
    imported = subprocess.run([str(python), "-c", "import torch; print(torch.__version__)"],
                              capture_output=True, text=True, env=strict)  # fmt: skip
    assert imported.returncode == 0 and imported.stdout.startswith("2.14.1"), imported.stderr
    trained = subprocess.run([str(python), str(WORKLOAD), str(tmp_path)], capture_output=True,
                             text=True, env=strict, cwd=tmp_path)  # fmt: skip
    assert trained.returncode == 0 and "OK" in trained.stdout, trained.stderr[-3000:]
    ratio = _bytes(site_packages(python)) / (seeds + full)
    assert ratio <= 0.60, ratio
    check = subprocess.run([str(python), "-m", "pip", "check"], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout
