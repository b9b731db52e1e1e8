"""Build variants: a CUDA-like build swapped for the CPU-like build of the same release
when the profile never used a GPU (tests/gpulike.py), and what is said when none is found."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import create_venv, site_packages
from gpulike import build_gpulike
from test_verify import WORKLOAD, cpu_profile, lean, run


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[dict[str, Path], Path]:
    monkeypatch.setenv("LEAN_INSTALL_CACHE_DIR", str(tmp_path / "cache"))
    wheels = build_gpulike(tmp_path / "wheels")
    return wheels, cpu_profile(tmp_path, wheels)


def _plan(said: str) -> dict[str, dict[str, object]]:
    data = json.loads(said[: said.rindex("}") + 1])["plan"]
    return {d["name"]: d for d in data["distributions"]} | {"": data}


def test_the_cpu_build_of_the_same_release_is_swapped_in(
    world: tuple[dict[str, Path], Path], tmp_path: Path
) -> None:
    wheels, profile = world
    python = create_venv(tmp_path / "lean")
    variants = ("--variant-find-links", str(wheels["cpu"].parent))
    code, said = lean(python, profile, wheels, "--dry-run", "--json", *variants)
    assert code == 0, said
    plan = _plan(said)
    tensorish = plan["tensorish"]
    assert (tensorish["decision"], tensorish["version"]) == ("swap", "1.0+cpu")
    swap = tensorish["swap"]
    assert swap["version"] == "1.0+cu13" and swap["dropped-dependencies"] == ["nvidia-gpulib"]
    assert swap["download-avoided"] > 0 and swap["bytes-avoided"] > 0
    assert "nvidia-gpulib" not in plan  # the CPU build's own dependencies: none
    code, said = lean(python, profile, wheels, *variants)
    assert code == 0, said
    assert run(python, WORKLOAD).stdout == "42 3\n"
    assert not (site_packages(python) / "nvidia").exists()


def test_no_variants_keeps_the_gpu_build(world: tuple[dict[str, Path], Path], tmp_path: Path) -> None:
    wheels, profile = world
    python = create_venv(tmp_path / "lean")
    variants = ("--variant-find-links", str(wheels["cpu"].parent), "--no-variants")
    code, said = lean(python, profile, wheels, "--dry-run", "--json", *variants)
    assert code == 0, said
    assert _plan(said)["tensorish"]["decision"] == "strip"


def test_without_a_cpu_build_one_line_says_so_and_how_to_point_at_one(
    world: tuple[dict[str, Path], Path], tmp_path: Path
) -> None:
    wheels, profile = world
    python = create_venv(tmp_path / "lean")
    empty = tmp_path / "empty"
    empty.mkdir()
    code, said = lean(python, profile, wheels, "--variant-find-links", str(empty))
    assert code == 0, said
    lines = [line for line in said.splitlines() if "no CPU build of tensorish 1.0" in line]
    assert lines and "--variant-index-url URL or --variant-find-links DIR" in lines[0]
    assert run(python, WORKLOAD).stdout == "42 3\n"  # the GPU build, leaned, works
