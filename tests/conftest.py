"""Shared fixtures: real wheels built in tmp_path, real venvs with the real pip."""

from __future__ import annotations

import base64
import functools
import hashlib
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest


def pytest_report_header() -> list[str]:
    """The free disk where the tests write (tmp_path, the caches in HOME): a run that
    fails for want of space says so in its first lines."""
    places = {"tmp": Path(tempfile.gettempdir()), "home": Path.home()}
    return [
        "free disk: "
        + ", ".join(
            f"{name} {shutil.disk_usage(p).free / 2**30:.1f} GiB" for name, p in places.items()
        )
    ]


WheelFiles = Mapping[str, "bytes | str"]


def record_hash(data: bytes) -> str:
    digest = hashlib.sha256(data).digest()
    return "sha256=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def build_wheel(
    directory: Path,
    name: str,
    version: str,
    files: WheelFiles,
    *,
    requires: tuple[str, ...] = (),
    extras: Mapping[str, tuple[str, ...]] | None = None,
    entry_points: str = "",
    tag: str = "py3-none-any",
) -> Path:
    """Write a valid wheel: METADATA, WHEEL, optional entry_points.txt, a correct RECORD."""
    dist = name.replace("-", "_")
    info = f"{dist}-{version}.dist-info"
    metadata = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
    metadata += [f"Requires-Dist: {r}" for r in requires]
    for extra, reqs in (extras or {}).items():
        metadata.append(f"Provides-Extra: {extra}")
        metadata += [f'Requires-Dist: {r}; extra == "{extra}"' for r in reqs]
    members: dict[str, bytes] = {
        path: data.encode() if isinstance(data, str) else data for path, data in files.items()
    }
    members[f"{info}/METADATA"] = ("\n".join(metadata) + "\n").encode()
    members[f"{info}/WHEEL"] = (
        f"Wheel-Version: 1.0\nGenerator: lean-install-tests\nRoot-Is-Purelib: true\nTag: {tag}\n"
    ).encode()
    if entry_points:
        members[f"{info}/entry_points.txt"] = entry_points.encode()
    record = [f"{p},{record_hash(d)},{len(d)}" for p, d in members.items()]
    record.append(f"{info}/RECORD,,")
    members[f"{info}/RECORD"] = ("\n".join(record) + "\n").encode()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{dist}-{version}-{tag}.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for member, data in members.items():
            zf.writestr(member, data)
    return path


@pytest.fixture
def make_wheel(tmp_path: Path) -> Callable[..., Path]:
    """Build a real wheel into ``tmp_path/wheels``: ``make_wheel("pkg", "1.0", {...})``."""

    def make(name: str, version: str, files: WheelFiles, **kwargs: object) -> Path:
        return build_wheel(tmp_path / "wheels", name, version, files, **kwargs)  # type: ignore[arg-type]

    return make


def create_venv(path: Path) -> Path:
    """A real venv with its own pip; returns its interpreter."""
    subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
    return path / "bin" / "python"


@pytest.fixture
def venv(tmp_path: Path) -> Path:
    """A fresh venv (with pip) in tmp_path; the value is its python."""
    return create_venv(tmp_path / "venv")


def pip_install(python: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Install into ``python``'s venv with its own pip, offline."""
    return subprocess.run(
        [str(python), "-m", "pip", "install", "--no-index", "--no-deps", "-q", *args],
        check=True,
        capture_output=True,
        text=True,
    )


@functools.cache  # a venv's purelib does not change; asking takes a process
def site_packages(python: Path) -> Path:
    out = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    return Path(out)
