"""Nothing is called done until it works: a CPU-only profile applied to a CUDA-like build
(tests/gpulike.py), verification after install, repair, and ``lean-install verify``."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest
from conftest import build_wheel, create_venv, pip_install, site_packages
from gpulike import _cc, build_gpulike

from lean_install.cli import main

WORKLOAD = "import tensorish; print(tensorish.answer(), tensorish.ops.add(1, 2))"


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def cpu_profile(root: Path, wheels: dict[str, Path]) -> Path:
    """A profile of the workload traced on the CPU-like build (no GPU used)."""
    python = create_venv(root / "traced")
    pip_install(python, "--no-deps", str(wheels["cpu"]))
    profile = root / "cpu.toml"
    code, _, err = cli("trace", "-o", str(profile), "--", str(python), "-c", WORKLOAD)
    assert code == 0, err
    return profile


def lean(python: Path, profile: Path, wheels: dict[str, Path], *extra: str) -> tuple[int, str]:
    code, out, err = cli("install", "--python", str(python), "--profile", str(profile),
                         "--installer", "pip", *extra, "tensorish==1.0", "--no-index",
                         "--find-links", str(wheels["cuda"].parent))  # fmt: skip
    return code, out + err


def run(python: Path, code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(python), "-c", code], capture_output=True, text=True)


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LEAN_INSTALL_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_a_cpu_profile_on_the_cuda_like_build_leaves_an_environment_that_imports(
    tmp_path: Path, cache: Path
) -> None:
    """The failure of issue 11: the GPU runtime wheel was stubbed as never used and
    ``import`` failed in the loader. The closure crosses distributions instead."""
    wheels = build_gpulike(tmp_path / "wheels")
    profile = cpu_profile(tmp_path, wheels)
    python = create_venv(tmp_path / "lean")
    code, said = lean(python, profile, wheels, "--json")
    assert code == 0, said
    plan = {d["name"]: d for d in json.loads(said[: said.rindex("}") + 1])["plan"]["distributions"]}
    gpulib = plan["nvidia-gpulib"]
    assert (gpulib["decision"], gpulib["rule"]) == ("strip", "needed")
    assert set(gpulib["drop"]) == {"nvidia/gpulib/lib/libgpu_engines.so",
                                   "nvidia/gpulib/lib/libgpu_extra.so",
                                   "nvidia/gpulib/include/gpu.h"}  # fmt: skip
    assert plan["tensorish"]["rule"] == "listing"  # traced on the +cpu build
    assert "tensorish/lib/libtensor_gpu.so" not in plan["tensorish"]["drop"]  # new here
    assert "tensorish/unused.py" in plan["tensorish"]["drop"]  # known there, never used
    done = run(python, WORKLOAD)
    assert done.stdout == "42 3\n", done.stderr
    sp = site_packages(python)
    assert (sp / "nvidia/gpulib/lib/libgpu.so.1").is_file()
    assert not (sp / "nvidia/gpulib/lib/libgpu_engines.so").exists()


def test_verification_catches_a_needed_library_removed_puts_it_back_and_says_so(
    tmp_path: Path, cache: Path
) -> None:
    """``import tensorish`` loads libgpu_extra.so by path (no DT_NEEDED names it): the
    planner drops it, verification finds the import failing, brings it back, verifies."""
    wheels = build_gpulike(tmp_path / "wheels", preload=True)
    profile = cpu_profile(tmp_path, wheels)
    python = create_venv(tmp_path / "lean")
    code, said = lean(python, profile, wheels)
    assert code == 0, said
    assert "verification reached removed nvidia/gpulib/lib/libgpu_extra.so (nvidia-gpulib)" in said
    assert "verified after bringing back 1 modules" in said or "verified after" in said
    assert run(python, WORKLOAD).stdout == "42 3\n"
    assert not (site_packages(python) / "nvidia/gpulib/lib/libgpu_engines.so").exists()
    assert cli("verify", "--python", str(python))[0] == 0


def test_a_verification_that_fails_whatever_is_put_back_undoes_the_install(
    tmp_path: Path, cache: Path
) -> None:
    """A workload profile whose module cannot import even from the originals: the
    environment is returned to what it was, and the command fails saying so."""
    wheels = build_gpulike(tmp_path / "wheels")
    profile = cpu_profile(tmp_path, wheels)
    text = profile.read_text().replace(
        '"tensorish/ops.py"', '"tensorish/ops.py",\n    "nosuchmodule.py"'
    )
    profile.write_text(text)  # a module the profile saw that no distribution has
    python = create_venv(tmp_path / "lean")
    before = subprocess.run([str(python), "-m", "pip", "freeze", "--all"], capture_output=True,
                            text=True).stdout  # fmt: skip
    code, said = lean(python, profile, wheels)
    assert code == 1, said
    assert "was undone" in said
    after = subprocess.run([str(python), "-m", "pip", "freeze", "--all"], capture_output=True,
                           text=True).stdout  # fmt: skip
    assert after == before
    assert not (site_packages(python) / "tensorish").exists()


def test_verify_on_demand_reports_what_fails(tmp_path: Path, cache: Path) -> None:
    wheels = build_gpulike(tmp_path / "wheels")
    profile = cpu_profile(tmp_path, wheels)
    python = create_venv(tmp_path / "lean")
    assert lean(python, profile, wheels)[0] == 0
    code, out, err = cli("verify", "--python", str(python), "--json")
    assert code == 0 and json.loads(out)["ok"] is True, err
    (site_packages(python) / "tensorish/lib/libtensor_core.so").unlink()  # broken by hand
    code, out, err = cli("verify", "--python", str(python), "--json")
    found = json.loads(out)
    assert code == 1 and found["ok"] is False
    assert any("libtensor_core.so" in f["error"] for f in found["failures"]), found


RELEASE_INIT = """
import ctypes, glob, os
LIB = ctypes.CDLL(glob.glob(os.path.join(os.path.dirname(__file__), "..", "relpkg.libs",
                                         "libr-*.so"))[0])
"""


def test_a_profile_of_the_previous_release_verifies_what_this_release_has(
    tmp_path: Path, cache: Path
) -> None:
    """auditwheel names a vendored library by its hash, so the library the profile saw
    mapped on 1.0 does not exist in 2.0: verification checks 2.0's own files, on a
    remembered plan too (the first run of the plan, and a second one that reuses it)."""
    if shutil.which("gcc") is None:
        pytest.skip("gcc is not installed: cannot build shared libraries")
    library = _cc(tmp_path, "libr.so", "int r(void) { return 1; }\n")
    wheels = tmp_path / "wheels"
    for version, digest in (("1.0", "aaaa1111"), ("2.0", "bbbb2222")):
        build_wheel(wheels, "relpkg", version, {
            "relpkg/__init__.py": RELEASE_INIT, "relpkg/unused.py": "X = 1\n",
            f"relpkg.libs/libr-{digest}.so": library,
        }, tag="py3-none-linux_x86_64")  # fmt: skip
    traced = create_venv(tmp_path / "traced")
    pip_install(traced, "--no-index", "--find-links", str(wheels), "relpkg==1.0")
    profile = tmp_path / "old.toml"
    code, _, err = cli("trace", "-o", str(profile), "--", str(traced), "-c", "import relpkg")
    assert code == 0, err
    for attempt in ("first", "plan remembered"):
        python = create_venv(tmp_path / attempt)
        code, out, err = cli("install", "--python", str(python), "--profile", str(profile),
                             "--installer", "pip", "relpkg==2.0", "--no-index",
                             "--find-links", str(wheels))  # fmt: skip
        assert code == 0, (attempt, err)
        assert "verification failed" not in err, (attempt, err)
        assert run(python, "import relpkg").returncode == 0


def test_a_check_is_shared_between_processes_by_weight_with_the_libraries_on_the_heaviest() -> None:
    from lean_install.verify import Check

    check = Check(("jinja2", "sympy", "torch"), ("/sp/torch/lib/libtorch_cpu.so",),
                  (("jinja2", 30), ("sympy", 460), ("torch", 1700)))  # fmt: skip
    first, second = check.split(2)
    assert (first.modules, first.libraries) == (("torch",), ("/sp/torch/lib/libtorch_cpu.so",))
    assert (second.modules, second.libraries) == (("jinja2", "sympy"), ())
    assert check.split(1) == [Check(check.modules, check.libraries)]
    assert Check((), ("/sp/a.so",)).split(2) == [Check((), ("/sp/a.so",))]
