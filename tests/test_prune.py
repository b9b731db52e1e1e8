"""``install --prune``: what was in the venv before, unused by the profile and required by
nothing left, is uninstalled; pip, what the install put there, what the profile used and
what any of those require stay. Use through a distribution's own ``.pth`` startup hook
alone (setuptools' ``_distutils_hack``, seen by every trace) is not use."""

from __future__ import annotations

import contextlib
import io
import json
import subprocess
from pathlib import Path

import pytest
from conftest import build_wheel, create_venv, pip_install, site_packages

from lean_install.cli import main
from lean_install.profile import DistributionUsage, Profile


def _names(python: Path) -> set[str]:
    out = subprocess.run([str(python), "-m", "pip", "list", "--format=json"],
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    return {d["name"].lower() for d in json.loads(out)}


def test_prune_removes_unused_preinstalled_distributions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEAN_INSTALL_CACHE_DIR", str(tmp_path / "cache"))
    wheels = tmp_path / "wheels"
    build_wheel(wheels, "app", "1.0", {"app/__init__.py": "import shared\n"}, requires=("shared",))
    build_wheel(wheels, "shared", "1.0", {"shared/__init__.py": ""})
    build_wheel(wheels, "oldtool", "1.0", {"oldtool/__init__.py": ""}, requires=("oldlib",))
    build_wheel(wheels, "oldlib", "1.0", {"oldlib/__init__.py": ""})
    build_wheel(wheels, "handy", "1.0", {"handy/__init__.py": ""}, requires=("handylib",))
    build_wheel(wheels, "handylib", "1.0", {"handylib/__init__.py": ""})
    venv = create_venv(tmp_path / "venv")
    pip_install(
        venv, "--no-index", "--find-links", str(wheels), "oldtool", "oldlib", "handy", "handylib"
    )
    assert "setuptools" in _names(venv)  # python -m venv seeds it on 3.11
    build_wheel(wheels, "hooked", "1.0", {
        "hooked.pth": "import _hooked_hack; _hooked_hack.run()\n",
        "_hooked_hack/__init__.py": "def run():\n    pass\n",
        "hooked/__init__.py": "",
    })  # fmt: skip
    pip_install(venv, "--no-index", "--find-links", str(wheels), "hooked")
    used = [
        DistributionUsage(name=n, version="1.0", files=(f"{n}/__init__.py",))  # type: ignore[arg-type]
        for n in ("app", "shared", "handy", "hooked")
    ]
    info = next(site_packages(venv).glob("setuptools-*.dist-info")).name
    setuptools = info.removeprefix("setuptools-").removesuffix(".dist-info")
    startup = ("distutils-precedence.pth", "_distutils_hack/__init__.py")  # as a trace sees it
    used.append(DistributionUsage(name="setuptools", version=setuptools, files=startup))  # type: ignore[arg-type]
    profile = tmp_path / "p.toml"
    Profile(distributions=tuple(used)).dump(profile)
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(["install", "--python", str(venv), "--profile", str(profile), "--prune",
                     "--installer", "pip", "-q", "app", "--no-index",
                     "--find-links", str(wheels)])  # fmt: skip
    assert code == 0, err.getvalue()
    names = _names(venv)
    assert {"app", "shared", "pip", "handy", "handylib", "hooked"} <= names
    assert not names & {"oldtool", "oldlib", "setuptools"}
    assert not (site_packages(venv) / "setuptools").exists()
    assert "pruned oldlib==1.0, oldtool==1.0, setuptools==" in err.getvalue()
    state = json.loads((venv.parent.parent / "lean-install" / "state.json").read_text())
    assert set(state["pruned"]) == {"oldlib", "oldtool", "setuptools"}
    check = subprocess.run([str(venv), "-m", "pip", "check"], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout
