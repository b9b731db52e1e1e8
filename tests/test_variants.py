"""Build variants: a CUDA-like build swapped for the CPU-like build of the same release
when the profile never used a GPU (tests/gpulike.py), and what is said when none is found."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from conftest import create_venv, pip_install, site_packages
from gpulike import build_gpulike
from test_verify import WORKLOAD, cli, cpu_profile, lean, run


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


def test_no_variants_keeps_the_gpu_build(
    world: tuple[dict[str, Path], Path], tmp_path: Path
) -> None:
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


def test_gpu_code_a_cpu_only_profile_saw_imported_stays_out_in_every_mode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """torch imports triton to ask whether a GPU is there (libtriton.so, 483 MB, mapped on
    a CPU-only machine): under a profile that never used a GPU, such a package is a stub
    that says no in every on-miss mode, and ``restore`` still brings it back."""
    monkeypatch.setenv("LEAN_INSTALL_CACHE_DIR", str(tmp_path / "cache"))
    wheels = build_gpulike(tmp_path / "wheels", probe=True)
    traced = create_venv(tmp_path / "traced")
    pip_install(traced, *(str(wheels[w]) for w in ("cuda", "gpulib", "probe")))
    profile = tmp_path / "cuda-on-cpu.toml"
    code, _, err = cli("trace", "-o", str(profile), "--", str(traced), "-c", WORKLOAD)
    assert code == 0, err
    assert "cuda_probe/_C/libprobe.so" in profile.read_text()  # seen mapped, in the trace

    python = create_venv(tmp_path / "lean")
    code, said = lean(python, profile, wheels, "--json", "--no-variants")
    assert code == 0, said
    probe = _plan(said)["cuda-probe"]
    assert (probe["decision"], probe.get("gpu-code")) == ("stub", True), probe
    assert "GPU code" in str(probe["reason"])
    gpu = "import tensorish; print(tensorish.answer(), tensorish.ops.add(1, 2), tensorish.GPU)"
    assert run(python, gpu).stdout == "42 3 False\n"
    restoring = {**os.environ, "LEAN_INSTALL_ON_MISS": "restore"}
    done = subprocess.run([str(python), "-c", "import cuda_probe"], capture_output=True,
                          text=True, env=restoring)  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert "it is GPU code and the profile never used a GPU" in done.stderr, done.stderr
    assert f"lean-install restore --python {python} cuda-probe" in done.stderr, done.stderr
    assert not (site_packages(python) / "cuda_probe" / "_C").exists()

    code, _, err = cli("restore", "--python", str(python), "cuda-probe")
    assert code == 0, err
    back = run(python, "import cuda_probe; print(cuda_probe.available())")
    assert back.stdout == "False\n", back.stderr
