"""The curated profiles in profiles/: valid, listed, bundled in the wheel, and reproducible.

Each bundled profile is what ``python profiles/make.py NAME`` wrote (no hand edits): one
trace for each workload its recipe in ``profiles/workloads/curated.toml`` names, none for
the workloads it holds out, and it is documented in ``profiles/README.md``. The slow tests
regenerate the tabular profile in a fresh venv and build lean-install's wheel to check the
profiles ship inside it.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from conftest import create_venv

from lean_install.catalog import bundled_profiles, bundled_profiles_dir
from lean_install.cli import main
from lean_install.profile import Profile

REPO = Path(__file__).resolve().parent.parent
PROFILES = REPO / "profiles"
WORKLOADS = PROFILES / "workloads"
RECIPES = tomllib.loads((WORKLOADS / "curated.toml").read_text(encoding="utf-8"))
"""Each curated profile: what it is made from (its requirements, workloads, held-out)."""


def _make() -> ModuleType:
    spec = importlib.util.spec_from_file_location("profiles_make", PROFILES / "make.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


MAKE = _make()


def _programs(profile: Profile) -> list[str]:
    """The workload of each trace, in the order traced."""
    return [trace.command[1] for trace in profile.traces]


def test_the_curated_profiles_are_bundled_from_the_source_tree() -> None:
    assert bundled_profiles_dir() == PROFILES
    assert set(bundled_profiles()) == set(RECIPES)


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_a_bundled_profile_is_valid_and_exactly_what_trace_wrote(name: str) -> None:
    path = bundled_profiles()[name]
    profile = Profile.load(path)  # raises ProfileError on any invalid field
    assert profile.dumps() == path.read_text(encoding="utf-8"), "edited by hand?"
    assert profile.traces
    for trace in profile.traces:
        assert trace.status == "passed", trace.command
        assert trace.environment.prefix_kind == "venv"
        assert Path(trace.command[0]).name.startswith("python")
    assert [d for d in profile.distributions if d.used]


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_a_bundled_profile_traced_each_workload_of_its_recipe_and_no_held_out_one(
    name: str,
) -> None:
    traced, held_out = MAKE.workloads(name)
    assert traced and held_out
    programs = _programs(Profile.load(bundled_profiles()[name]))
    assert programs == traced
    assert not set(held_out) & set(programs)
    for workload in (*traced, *held_out):
        assert (REPO / workload).is_file(), workload


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_the_readme_documents_each_profile_its_command_and_its_held_out_workloads(
    name: str,
) -> None:
    readme = (PROFILES / "README.md").read_text(encoding="utf-8")
    assert f"`{name}`" in readme
    assert f"python profiles/make.py {name} --python " in readme
    for requirement in RECIPES[name]["requirements"]:
        assert requirement in readme
    for workload in RECIPES[name]["held-out"]:
        assert workload in readme


def test_profile_list_names_each_profile_with_what_it_was_traced_on(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["profile", "list"]) == 0
    out = capsys.readouterr().out
    for name, path in bundled_profiles().items():
        profile = Profile.load(path)
        block = out.split(f"{name}: ", 1)[1].split("\n    traced: ", 1)
        programs = _programs(profile)
        assert block[1].splitlines()[0] == f"{len(programs)} workloads: {', '.join(programs)}"
        for dist in profile.distributions:
            if dist.used:
                assert f"{dist.name} {dist.version}" in block[0].splitlines()[0]


# -- slow: regenerate, and build the wheel ------------------------------------------------


def _comparable(profile: Profile) -> dict[str, Any]:
    """The profile without what differs between two runs: when, by whom, with which
    lean-install release, and where the venv's interpreter was."""
    data = profile.to_dict()
    for trace in data["traces"]:
        del trace["created"], trace["user"], trace["tool"]
        trace["command"] = trace["command"][1:]  # [0] is the venv's python, wherever it was
    return data


@pytest.mark.slow
def test_regenerating_the_tabular_profile_gives_the_committed_file(tmp_path: Path) -> None:
    committed = Profile.load(bundled_profiles()["tabular"])
    here = ".".join(map(str, sys.version_info[:3]))
    if committed.traces[0].environment.python != here:
        pytest.skip(f"traced on Python {committed.traces[0].environment.python}, this is {here}")
    python = create_venv(tmp_path / "venv")
    pins = [f"{d.name}=={d.version}" for d in committed.distributions]
    pip = [str(python), "-m", "pip"]
    subprocess.run([*pip, "install", "-q", *pins], check=True, capture_output=True)
    # As documented in profiles/README.md: the venv's own setuptools is not part of the stack.
    subprocess.run([*pip, "uninstall", "-y", "-q", "setuptools"], check=True, capture_output=True)
    out = tmp_path / "tabular.toml"
    command = [sys.executable, str(PROFILES / "make.py"), "tabular", "--python", str(python),
               "-o", str(out)]  # fmt: skip
    done = subprocess.run(command, cwd=REPO, env=dict(os.environ), capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    regenerated = Profile.load(out)
    assert regenerated.distributions == committed.distributions
    assert _comparable(regenerated) == _comparable(committed)
    assert {t.command[0] for t in regenerated.traces} == {str(python)}


@pytest.mark.slow
def test_the_wheel_ships_the_profiles_and_the_installed_cli_lists_them(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels),
                    str(REPO)], check=True, capture_output=True)  # fmt: skip
    (wheel,) = wheels.glob("lean_install-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        members = set(zf.namelist())
        for name in RECIPES:
            packed = zf.read(f"lean_install/profiles/{name}.toml")
            assert packed == (PROFILES / f"{name}.toml").read_bytes()
    assert "lean_install/profiles/workloads/curated.toml" in members
    for name in RECIPES:
        for workload in (w for ws in MAKE.workloads(name) for w in ws):
            assert f"lean_install/{workload}" in members
    python = create_venv(tmp_path / "venv")
    subprocess.run([str(python), "-m", "pip", "install", "-q", str(wheel)], check=True,
                   capture_output=True)  # fmt: skip
    listed = subprocess.run([str(python), "-m", "lean_install", "profile", "list"], cwd=tmp_path,
                            check=True, capture_output=True, text=True).stdout  # fmt: skip
    for name in RECIPES:
        assert f"{name}: " in listed
    code = "from lean_install.catalog import bundled_profiles_dir as d; print(d())"
    where = subprocess.run([str(python), "-c", code], cwd=tmp_path, check=True,
                           capture_output=True, text=True).stdout.strip()  # fmt: skip
    assert "site-packages" in where and where.endswith("lean_install/profiles")
