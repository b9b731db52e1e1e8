"""The shell integration: `pip install --lean ...` in a real shell, everything else to pip."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import build_wheel, create_venv, site_packages

from lean_install.cli import main
from lean_install.profile import DistributionUsage, Profile, Trace, TraceEnvironment

DEV_PYTHON = Path(sys.executable)
"""The interpreter running the tests: lean-install is installed there (its bin on PATH)."""


@dataclass(frozen=True)
class Setup:
    wheels: Path
    profile: Path
    python: Path
    """The target venv's interpreter (the venv is "activated" by PATH)."""
    cache: Path


def _profile() -> Profile:
    trace = Trace(
        command=("python", "use_shellpkg.py"),
        exit_code=0,
        created="2026-01-01T00:00:00+00:00",
        tool="lean-install tests",
        environment=TraceEnvironment(python="3.11.7", platform="linux-x86_64"),
    )
    used = DistributionUsage(
        name="shellpkg",  # type: ignore[arg-type]
        version="1.0",
        files=("shellpkg/__init__.py", "shellpkg/core.py"),
    )
    return Profile(traces=(trace,), distributions=(used,))


@pytest.fixture(scope="module")
def setup(tmp_path_factory: pytest.TempPathFactory) -> Setup:
    root = tmp_path_factory.mktemp("hook")
    wheels = root / "wheels"
    build_wheel(wheels, "shellpkg", "1.0", {
        "shellpkg/__init__.py": "from shellpkg.core import VALUE\n",
        "shellpkg/core.py": "VALUE = 1\n",
        "shellpkg/unused.py": "X = 1\n",
    })  # fmt: skip
    build_wheel(wheels, "plainpkg", "1.0", {"plainpkg/__init__.py": "X = 1\n"})
    profile = root / "shell.toml"
    _profile().dump(profile)
    return Setup(wheels=wheels, profile=profile, python=create_venv(root / "venv"),
                 cache=root / "cache")  # fmt: skip


def _shell_env(setup: Setup) -> dict[str, str]:
    """The target venv first on PATH (activated), lean-install's bin after it."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = os.pathsep.join([str(setup.python.parent), str(DEV_PYTHON.parent), env["PATH"]])
    env.update(LEAN_INSTALL_CACHE_DIR=str(setup.cache), DEV_PYTHON=str(DEV_PYTHON),
               PROFILE=str(setup.profile), WHEELS=str(setup.wheels))  # fmt: skip
    return env


def _run_shell(program: str, script: str, setup: Setup) -> subprocess.CompletedProcess[str]:
    """``script`` in ``program`` (bash or sh) after ``eval "$(... shell-hook bash)"``."""
    hook = subprocess.run([str(DEV_PYTHON), "-m", "lean_install", "shell-hook", "bash"],
                          capture_output=True, text=True, check=True).stdout  # fmt: skip
    hooked = 'set -e\neval "$("$DEV_PYTHON" -m lean_install shell-hook bash)"\n' + script
    assert hook.strip(), "no hook printed: the eval would define nothing"
    return subprocess.run([program, "-c", hooked], capture_output=True, text=True,
                          env=_shell_env(setup), timeout=300)  # fmt: skip


def _version(python: Path, name: str) -> str:
    code = f"import importlib.metadata as m; print(m.version({name!r}))"
    return subprocess.run([str(python), "-c", code], capture_output=True, text=True,
                          check=True).stdout.strip()  # fmt: skip


def test_pip_install_lean_goes_to_lean_install_and_the_rest_to_pip(setup: Setup) -> None:
    script = """
echo "type: $(type pip | head -n 1)"
pip install --lean shellpkg --profile "$PROFILE" --no-index --find-links "$WHEELS" -q
echo "version: $(pip --version)"
pip install --no-index --find-links "$WHEELS" -q plainpkg
echo "list:"
pip list --format=freeze --disable-pip-version-check
"""
    done = _run_shell("bash", script, setup)
    assert done.returncode == 0, done.stderr
    out = done.stdout.splitlines()
    assert out[0] == "type: pip is a function"
    plan = out[1 : out.index(next(line for line in out if line.startswith("version: ")))]
    assert plan[0].split()[:3] == ["distribution", "version", "decision"]  # lean-install's table
    assert plan[1].split()[2] == "strip"
    sp = site_packages(setup.python)
    version = next(line for line in out if line.startswith("version: "))
    assert version.startswith("version: pip ") and f"from {sp}/pip " in version
    listed = dict(line.split("==", 1) for line in out[out.index("list:") + 1 :])
    assert listed["shellpkg"].startswith("1.0+lean.")  # the lean install
    assert listed["plainpkg"] == "1.0"  # `pip install` without --lean: the real pip
    assert _version(setup.python, "shellpkg") == listed["shellpkg"]
    assert not (sp / "shellpkg" / "unused.py").read_text().startswith("X = 1")  # a stub now
    state = json.loads((setup.python.parents[1] / "lean-install" / "state.json").read_text())
    assert set(state["distributions"]) == {"shellpkg"}


def test_posix_hook_runs_in_sh(setup: Setup) -> None:
    """The bash hook is plain POSIX sh (dash): the dry run goes to lean-install, the rest to pip."""
    if shutil.which("sh") is None:
        pytest.skip("no sh")
    script = """
pip install --lean shellpkg --profile "$PROFILE" --no-index --find-links "$WHEELS" --dry-run
pip --version
"""
    done = _run_shell("sh", script, setup)
    assert done.returncode == 0, done.stderr
    assert "policy profile; profile shell;" in done.stdout
    assert f"from {site_packages(setup.python)}/pip " in done.stdout


def test_plain_pip_install_errors_come_from_pip(setup: Setup) -> None:
    script = 'pip install --no-index --find-links "$WHEELS" nosuchpkg\n'
    done = _run_shell("bash", script, setup)
    assert done.returncode != 0
    assert "No matching distribution found for nosuchpkg" in done.stderr
    assert "lean-install" not in done.stderr


def test_bash_and_zsh_hooks_are_the_posix_hook(capsys: pytest.CaptureFixture[str]) -> None:
    outputs = []
    for argv in (["shell-hook"], ["shell-hook", "bash"], ["shell-hook", "zsh"]):
        assert main(argv) == 0
        outputs.append(capsys.readouterr().out)
    assert outputs[0] == outputs[1] == outputs[2]
    assert subprocess.run(["bash", "-n", "-c", outputs[0]]).returncode == 0


def _fish_blocks_balance(text: str) -> bool:
    depth = 0
    for line in text.splitlines():
        words = line.split()
        if not words or words[0].startswith("#"):
            continue
        if words[0] in ("function", "if", "for", "while", "begin", "switch"):
            depth += 1
        elif words[0] == "end":
            depth -= 1
            if depth < 0:
                return False
    return depth == 0


def test_fish_hook_is_plausible_fish(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["shell-hook", "fish"]) == 0
    text = capsys.readouterr().out
    assert text.splitlines()[1] == "function pip"
    assert _fish_blocks_balance(text)
    assert "contains -- --lean $argv" in text
    assert "command lean-install install --python $python $argv[2..-1]" in text
    assert "command pip $argv" in text
    assert "$@" not in text and "()" not in text and "{" not in text  # no POSIX syntax left
    if shutil.which("fish"):
        assert subprocess.run(["fish", "--no-execute", "-c", text]).returncode == 0
