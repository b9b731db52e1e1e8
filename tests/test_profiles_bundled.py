"""The curated profiles in profiles/: valid, listed, bundled in the wheel, and reproducible.

Each bundled profile must be exactly what ``lean-install trace`` wrote (no hand edits), name
a workload kept in ``profiles/workloads/``, and be documented in ``profiles/README.md``.
The slow tests regenerate the tabular profile from its workload in a fresh venv and build
lean-install's wheel to check the profiles ship inside it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest
from conftest import create_venv

from lean_install.catalog import bundled_profiles, bundled_profiles_dir
from lean_install.cli import main
from lean_install.profile import Profile

REPO = Path(__file__).resolve().parent.parent
PROFILES = REPO / "profiles"
WORKLOADS = PROFILES / "workloads"
CURATED = {
    "torch-cpu-train": "torch_train.py",
    "torch-cpu-infer": "torch_infer.py",
    "tabular": "tabular_sklearn.py",
    "transformers-small": "transformers_finetune.py",
}
"""Each curated profile and the workload it is traced from."""
UNTRACED = {
    "torch-cpu-train": (
        "torch_train_extra.py",
        "torch_infer.py",
        "torch_infer_extra.py",
        "torch_compile_extra.py",
    ),
    "torch-cpu-infer": ("torch_infer_extra.py", "torch_train_extra.py"),
    "tabular": ("tabular_extra.py",),
    "transformers-small": ("transformers_extra.py", "transformers_gpt2_extra.py"),
}
"""The workloads each profile is checked against without having traced them."""


def _workload_of(profile: Profile) -> str:
    (trace,) = profile.traces
    return trace.command[1]


def test_the_curated_profiles_are_bundled_from_the_source_tree() -> None:
    assert bundled_profiles_dir() == PROFILES
    assert set(bundled_profiles()) == set(CURATED)


@pytest.mark.parametrize("name", sorted(CURATED))
def test_a_bundled_profile_is_valid_and_exactly_what_trace_wrote(name: str) -> None:
    path = bundled_profiles()[name]
    profile = Profile.load(path)  # raises ProfileError on any invalid field
    assert profile.dumps() == path.read_text(encoding="utf-8"), "edited by hand?"
    (trace,) = profile.traces
    assert trace.status == "passed"
    assert trace.environment.prefix_kind == "venv"
    assert [d for d in profile.distributions if d.used]


@pytest.mark.parametrize("name", sorted(CURATED))
def test_a_bundled_profile_was_traced_on_its_workload_kept_in_the_repository(name: str) -> None:
    profile = Profile.load(bundled_profiles()[name])
    (trace,) = profile.traces
    assert Path(trace.command[0]).name.startswith("python")
    assert trace.command[1:] == (f"profiles/workloads/{CURATED[name]}",)
    assert (REPO / _workload_of(profile)).is_file()


@pytest.mark.parametrize("name", sorted(CURATED))
def test_the_readme_documents_each_profile_its_command_and_its_untraced_workloads(
    name: str,
) -> None:
    readme = (PROFILES / "README.md").read_text(encoding="utf-8")
    assert f"`{name}`" in readme
    assert f"lean-install trace -o profiles/{name}.toml -- " in readme
    for workload in (CURATED[name], *UNTRACED[name]):
        assert (WORKLOADS / workload).is_file()
        assert workload in readme


def test_untraced_workloads_are_not_part_of_any_trace() -> None:
    traced = {_workload_of(Profile.load(p)) for p in bundled_profiles().values()}
    for name, workloads in UNTRACED.items():
        assert f"profiles/workloads/{CURATED[name]}" in traced
        for workload in workloads:
            if workload not in CURATED.values():
                assert f"profiles/workloads/{workload}" not in traced


def test_profile_list_names_each_profile_with_what_it_was_traced_on(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["profile", "list"]) == 0
    out = capsys.readouterr().out
    for name, path in bundled_profiles().items():
        profile = Profile.load(path)
        (trace,) = profile.traces
        block = out.split(f"{name}: ", 1)[1].split("\n    traced: ", 1)
        assert block[1].splitlines()[0] == " ".join(trace.command)
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
    (trace,) = committed.traces
    here = ".".join(map(str, sys.version_info[:3]))
    if trace.environment.python != here:
        pytest.skip(f"traced on Python {trace.environment.python}, this is {here}")
    python = create_venv(tmp_path / "venv")
    pins = [f"{d.name}=={d.version}" for d in committed.distributions]
    pip = [str(python), "-m", "pip"]
    subprocess.run([*pip, "install", "-q", *pins], check=True, capture_output=True)
    # As documented in profiles/README.md: the venv's own setuptools is not part of the stack.
    subprocess.run([*pip, "uninstall", "-y", "-q", "setuptools"], check=True, capture_output=True)
    out = tmp_path / "tabular.toml"
    workdir = tmp_path / "tmp"
    workdir.mkdir()
    command = [sys.executable, "-m", "lean_install", "trace", "-o", str(out), "--",
               str(python), _workload_of(committed)]  # fmt: skip
    env = {**os.environ, "TMPDIR": str(workdir)}  # the workload writes its CSV there
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    regenerated = Profile.load(out)
    assert regenerated.distributions == committed.distributions
    assert _comparable(regenerated) == _comparable(committed)
    assert regenerated.traces[0].command[0] == str(python)


@pytest.mark.slow
def test_the_wheel_ships_the_profiles_and_the_installed_cli_lists_them(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels),
                    str(REPO)], check=True, capture_output=True)  # fmt: skip
    (wheel,) = wheels.glob("lean_install-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        members = set(zf.namelist())
        for name in CURATED:
            packed = zf.read(f"lean_install/profiles/{name}.toml")
            assert packed == (PROFILES / f"{name}.toml").read_bytes()
    for workload in (*CURATED.values(), *(w for ws in UNTRACED.values() for w in ws)):
        assert f"lean_install/profiles/workloads/{workload}" in members
    python = create_venv(tmp_path / "venv")
    subprocess.run([str(python), "-m", "pip", "install", "-q", str(wheel)], check=True,
                   capture_output=True)  # fmt: skip
    listed = subprocess.run([str(python), "-m", "lean_install", "profile", "list"], cwd=tmp_path,
                            check=True, capture_output=True, text=True).stdout  # fmt: skip
    for name in CURATED:
        assert f"{name}: " in listed
    code = "from lean_install.catalog import bundled_profiles_dir as d; print(d())"
    where = subprocess.run([str(python), "-c", code], cwd=tmp_path, check=True,
                           capture_output=True, text=True).stdout.strip()  # fmt: skip
    assert "site-packages" in where and where.endswith("lean_install/profiles")
