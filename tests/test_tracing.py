"""The tracer on real wheels installed in a real venv, checked against strace."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from conftest import build_wheel, create_venv, pip_install, site_packages

from lean_install.cli import main
from lean_install.environment import Environment
from lean_install.profile import Profile
from lean_install.tracing import attribute, trace

POOL_INIT = """
import multiprocessing as mp

def square(x):
    from poolpkg import inworker  # imported only inside worker processes
    return inworker.twice(x) * x

def run(method):
    ctx = mp.get_context(method)
    with ctx.Pool(2) as pool:
        return sum(pool.map(square, range(4)))
"""

STAT_INIT = """
import os
HELPER = os.path.join(os.path.dirname(__file__), "bin", "helper")
if not os.path.exists(HELPER):  # a stat, never an open: like torch's torch_shm_manager
    raise RuntimeError("helper missing")
# a glob of one library in a directory of many, as torch's import does for each CUDA one
import glob
LIBS = glob.glob(os.path.join(os.path.dirname(__file__), "lib", "libfoo.so.*[0-9]"))
assert [os.path.basename(p) for p in LIBS] == ["libfoo.so.1"], LIBS
"""

CTYPES_INIT = """
import ctypes, os
LIB = ctypes.CDLL(os.path.join(os.path.dirname(__file__), "libanswer.so"))
def answer():
    return LIB.answer()
"""

WORKLOAD = """
import importlib.metadata, importlib.util, os, pkgutil, subprocess, sys
import poolpkg, statpkg, ctypespkg, hashedpkg, hashedpkg.used

def hash_sources(package):  # as torch.compile's torch_key hashes all of torch
    for info in pkgutil.iter_modules(package.__path__):
        with open(os.path.join(package.__path__[0], info.name + ".py"), "rb") as source:
            source.read()

def main():
    assert poolpkg.run("fork") == poolpkg.run("spawn") == poolpkg.run("forkserver") == 28
    assert ctypespkg.answer() == 42
    hash_sources(hashedpkg)
    assert importlib.util.find_spec("probedpkg") is not None     # probed, never imported
    importlib.metadata.version("metapkg")                         # metadata only
    subprocess.run([sys.executable, "-c", "import subpkg"], check=True)
    pid = os.fork()
    if pid == 0:
        import exitpkg
        os._exit(0)
    os.waitpid(pid, 0)
    print("workload output")

if __name__ == "__main__":
    main()
"""


def _shared_library(tmp: Path) -> bytes:
    if shutil.which("gcc") is None:
        pytest.skip("gcc is needed to build the ctypes test library")
    source = tmp / "answer.c"
    source.write_text("int answer(void) { return 42; }\n")
    out = tmp / "libanswer.so"
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(out), str(source)], check=True)
    return out.read_bytes()


@pytest.fixture(scope="module")
def traced_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("tracing")
    wheels = tmp / "wheels"
    simple = {
        "subpkg": {"subpkg/__init__.py": "X = 1\n"},
        "exitpkg": {"exitpkg/__init__.py": "X = 1\n"},
        "probedpkg": {"probedpkg/__init__.py": "raise RuntimeError('never imported')\n"},
        "metapkg": {"metapkg/__init__.py": "X = 1\n"},
        "unusedpkg": {"unusedpkg/__init__.py": "X = 1\n"},
        "hashedpkg": {
            "hashedpkg/__init__.py": "X = 1\n",
            "hashedpkg/mod.py": "Y = 2\n",
            "hashedpkg/used.py": "Z = 3\n",
        },  # fmt: skip
    }
    paths = [build_wheel(wheels, name, "1.0", files) for name, files in simple.items()]
    paths.append(build_wheel(wheels, "poolpkg", "1.0", {
        "poolpkg/__init__.py": POOL_INIT,
        "poolpkg/inworker.py": "def twice(x):\n    return 2 * x\n",
        "poolpkg/unused.py": "X = 1\n",
    }))  # fmt: skip
    paths.append(build_wheel(wheels, "statpkg", "1.0", {
        "statpkg/__init__.py": STAT_INIT,
        "statpkg/bin/helper": "#!/bin/sh\n",
        "statpkg/lib/libfoo.so.1": "not an ELF file; only globbed\n",
        "statpkg/lib/libfoo_engines.so.1": "never globbed\n",
    }))  # fmt: skip
    paths.append(build_wheel(wheels, "ctypespkg", "1.0", {
        "ctypespkg/__init__.py": CTYPES_INIT,
        "ctypespkg/libanswer.so": _shared_library(tmp),
    }, tag="py3-none-linux_x86_64"))  # fmt: skip
    python = create_venv(tmp / "venv")
    pip_install(python, *map(str, paths))
    (tmp / "workload.py").write_text(textwrap.dedent(WORKLOAD))
    return python


def _usage(profile: Profile) -> dict[str, tuple[set[str], set[str]]]:
    return {d.name: (set(d.files), set(d.probed)) for d in profile.distributions}


@pytest.fixture(scope="module")
def strace_result(traced_venv: Path):  # type: ignore[no-untyped-def]
    if shutil.which("strace") is None:
        pytest.skip("strace is not installed (.ci/run installs it)")
    return trace([str(traced_venv), str(traced_venv.parents[2] / "workload.py")],
                 backend="strace")  # fmt: skip


def test_every_process_and_kind_of_use_is_recorded(strace_result) -> None:  # type: ignore[no-untyped-def]
    assert strace_result.exit_code == 0
    usage = _usage(strace_result.by_backend_profile("python"))
    assert "poolpkg/inworker.py" in usage["poolpkg"][0]  # fork, spawn and forkserver workers
    assert "poolpkg/__pycache__/inworker.cpython-311.pyc" in usage["poolpkg"][0] or (
        sys.version_info[:2] != (3, 11)
    )
    assert "poolpkg/unused.py" not in usage["poolpkg"][0] | usage["poolpkg"][1]
    assert "statpkg/bin/helper" in usage["statpkg"][1]  # probed only
    assert "statpkg/bin/helper" not in usage["statpkg"][0]
    assert "statpkg/lib/libfoo.so.1" in usage["statpkg"][1]  # what the glob matched
    assert "statpkg/lib/libfoo_engines.so.1" not in usage["statpkg"][0] | usage["statpkg"][1]
    assert "ctypespkg/libanswer.so" in usage["ctypespkg"][0]
    assert "subpkg/__init__.py" in usage["subpkg"][0]  # a subprocess
    assert "exitpkg/__init__.py" in usage["exitpkg"][0]  # a fork ending in os._exit
    assert usage["probedpkg"][0] == set()  # find_spec: probed, not used
    assert "probedpkg/__init__.py" in usage["probedpkg"][1]
    assert "metapkg" not in usage  # reading metadata does not make it used
    # a module's source read but never imported is probed (a stub stands there after)
    assert "hashedpkg/mod.py" in usage["hashedpkg"][1]
    assert "hashedpkg/mod.py" not in usage["hashedpkg"][0]
    assert {"hashedpkg/__init__.py", "hashedpkg/used.py"} <= usage["hashedpkg"][0]
    assert "unusedpkg" not in usage


def test_recall_against_strace(strace_result) -> None:  # type: ignore[no-untyped-def]
    """Every installed file strace saw used is in the python backend's profile."""
    python = strace_result.by_backend_profile("python")
    ground = strace_result.by_backend_profile("strace")
    ours = {(d.name, f) for d in python.distributions for f in d.files + d.probed}
    truth = {(d.name, f) for d in ground.distributions for f in d.files + d.probed}
    truth = {(n, f) for n, f in truth if n != "pip" and n != "setuptools"}
    assert truth, "strace saw nothing: the comparison would prove nothing"
    missed = truth - ours
    assert len(missed) / len(truth) <= 0.005, sorted(missed)
    both = strace_result.profile.distributions
    assert truth <= {(d.name, f) for d in both for f in d.files + d.probed}


def test_workload_output_and_exit_code_pass_through(
    traced_venv: Path, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    workload = traced_venv.parents[2] / "workload.py"
    out = tmp_path / "p.toml"
    assert main(["trace", "-o", str(out), "--", str(traced_venv), str(workload)]) == 0
    captured = capfd.readouterr()
    assert captured.out == "workload output\n"
    assert Profile.load(out).traces[0].status == "passed"
    failing = tmp_path / "fail.py"
    failing.write_text("import subpkg\nraise SystemExit(3)\n")
    assert main(["trace", "-o", str(out), "--append", "--", str(traced_venv), str(failing)]) == 3
    profile = Profile.load(out)
    assert [t.status for t in profile.traces] == ["passed", "failed"]
    assert "subpkg" in _usage(profile)


def test_missing_command_exits_127(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    code = main(["trace", "-o", str(tmp_path / "p.toml"), "--", "no-such-command-here"])
    assert code == 127
    assert "command not found: no-such-command-here" in capfd.readouterr().err
    assert not (tmp_path / "p.toml").exists()


def test_existing_sitecustomize_still_runs(traced_venv: Path, tmp_path: Path) -> None:
    custom = tmp_path / "custom"
    custom.mkdir()
    (custom / "sitecustomize.py").write_text("import os\nos.environ['CUSTOMIZED'] = 'yes'\n")
    script = tmp_path / "check.py"
    script.write_text(
        "import os, sys, subpkg\n"
        "assert os.environ.get('CUSTOMIZED') == 'yes'\n"
        "assert not any('_bootstrap' in p for p in sys.path), sys.path\n"
    )
    env_path = str(custom)
    result = subprocess.run(
        [sys.executable, "-m", "lean_install", "trace", "-o", str(tmp_path / "p.toml"), "--",
         str(traced_venv), str(script)],
        env={**_clean_env(), "PYTHONPATH": env_path}, capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "subpkg" in _usage(Profile.load(tmp_path / "p.toml"))


def _clean_env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}


def test_attribution_ignores_files_outside_distributions(traced_venv: Path) -> None:
    env = Environment.inspect(traced_venv)
    from lean_install.tracing import RawUsage

    sp = site_packages(traced_venv)
    raw = RawUsage(loaded={str(sp / "subpkg" / "__init__.py"), "/etc/hostname", sys.executable})
    dists, outside = attribute(raw, [env])
    assert [(d.name, d.files) for d in dists] == [("subpkg", ("subpkg/__init__.py",))]
    assert outside >= 1
