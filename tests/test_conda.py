"""The conda side, against the real conda 26.7.1 (vendored) with real packages and prefixes.

Packages are built with conda_package_handling (condakit), served from a local channel,
installed by the real conda (rattler solver, offline) into real prefixes with a
relocatable CPython package; workloads run on the prefix's python; ``conda lean`` is the
real plugin, found by conda through lean-install's entry point (lean-install installed
editable into the conda venv); ``conda doctor``, ``conda list`` and ``conda remove`` are
conda's own. Nothing is mocked.
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import condakit
import faults
import pytest

from lean_install.conda.attribution import PrefixIndex
from lean_install.conda.records import read_prefix, read_record
from lean_install.errors import CondaPrefixError, RecordError
from lean_install.profile import DistributionUsage, Profile
from lean_install.runtime import layout

REPO = Path(__file__).resolve().parents[1]
SP = "lib/python3.11/site-packages"
ERROR = {"LEAN_INSTALL_ON_MISS": "error"}
"""A process whose misses raise (as conda lean config -p P on-miss error makes them)."""


# -- fixtures: the conda venv with lean-install, packages, a channel ------------------------


@pytest.fixture(scope="session")
def conda_python() -> Path:
    """The conda venv's python, with this checkout of lean-install installed (editable)."""
    if condakit.find_conda_tarball() is None:
        pytest.skip("the vendored conda release source (shared/vendor/conda-*.tar.gz) is missing")
    return condakit.with_lean_install(condakit.install_conda(condakit.default_venv_dir()), REPO)


def _library_sources(work: Path) -> dict[str, bytes]:
    libb = condakit.build_shared_library(
        work, "libb.so", "int b_value(void) { return 42; }\n", soname="libb.so"
    )
    liba = condakit.build_shared_library(
        work,
        "liba.so",
        "int b_value(void);\nint a_value(void) { return b_value() + 1; }\n",
        link=["b"],
        lib_dirs=[work],
        soname="liba.so",
    )
    return {"libb": libb, "liba": liba}


PKGA_INIT = """import ctypes, os, sys
_lib = ctypes.CDLL(os.path.join(sys.prefix, "lib", "liba.so"))
def value():
    return _lib.a_value()
def data_path(name):
    return os.path.join(os.path.dirname(__file__), "data", name)
"""

WORKLOAD = """import os, pkga, pkga.used, pkgn, pkgn.used
assert pkga.value() == 43, pkga.value()
# probed, never imported (an optional part looked for): it becomes a stub, as on pip's side
assert os.path.exists(os.path.join(os.path.dirname(pkga.__file__), "optional.py"))
with open(pkga.data_path("used.txt")) as f:
    assert f.read() == "used data"
assert pkga.used.X == 1 and pkgn.used.Y == 2
print("workload ok")
"""


def _metadata(name: str, version: str = "1.0") -> str:
    return f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"


def _build_libb(conda_python: Path, channel: Path, libs: dict[str, bytes]) -> None:
    condakit.build_conda_package(
        channel,
        "libb",
        "1.0",
        "0",
        subdir="linux-64",
        tool_python=conda_python,
        files={
            "lib/libb.so": libs["libb"],
            "include/libb.h": "int b_value(void);\n",
            "share/libb/README.txt": "libb's documentation\n",
        },
    )


def _pkga_files(libs: dict[str, bytes], version: str = "1.0") -> dict[str, bytes | str]:
    return {
        "lib/liba.so": libs["liba"],
        f"{SP}/pkga/__init__.py": PKGA_INIT,
        f"{SP}/pkga/used.py": "X = 1\n",
        f"{SP}/pkga/unused.py": "Z = 3\n",
        f"{SP}/pkga/optional.py": "O = 5\n",
        f"{SP}/pkga/sub/__init__.py": "",
        f"{SP}/pkga/sub/deep.py": "D = 4\n",
        f"{SP}/pkga/data/used.txt": "used data",
        f"{SP}/pkga/data/unused.txt": "unused data",
        f"{SP}/pkga/tests/test_pkga.py": "def test(): pass\n",
        f"{SP}/pkga-{version}.dist-info/METADATA": _metadata("pkga", version),
    }


@pytest.fixture(scope="session")
def channel(conda_python: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A channel with python, libb (a library), pkga (modules, data, a library needing
    libb's), pkgc (never used) and pkgn (noarch: python)."""
    root = tmp_path_factory.mktemp("conda-channel")
    work, channel = root / "work", root / "channel"
    libs = _library_sources(work)
    python = condakit.python_package(
        condakit.default_venv_dir().parent / "python-package", tool_python=conda_python
    )
    build: Callable[..., Path] = condakit.build_conda_package
    _build_libb(conda_python, channel, libs)
    build(
        channel,
        "pkga",
        "1.0",
        "0",
        subdir="linux-64",
        depends=["libb", "python"],
        tool_python=conda_python,
        files=_pkga_files(libs),
    )
    build(
        channel,
        "pkgc",
        "1.0",
        "0",
        subdir="linux-64",
        depends=["python"],
        tool_python=conda_python,
        files={
            f"{SP}/pkgc/__init__.py": "from pkgc.x import C\n",
            f"{SP}/pkgc/x.py": "C = 5\n",
            "share/pkgc/data.txt": "pkgc data\n",
            f"{SP}/pkgc-1.0.dist-info/METADATA": _metadata("pkgc"),
        },
    )
    build(
        channel,
        "pkgn",
        "1.0",
        "py_0",
        noarch="python",
        depends=["python"],
        tool_python=conda_python,
        files={
            "site-packages/pkgn/__init__.py": "",
            "site-packages/pkgn/used.py": "Y = 2\n",
            "site-packages/pkgn/unused.py": "W = 6\n",
        },
    )
    return condakit.index_channel(channel, [python], tool_python=conda_python)


SPECS = ("python", "pkga", "pkgc", "pkgn")


def _create(conda_python: Path, channel: Path, prefix: Path, pkgs: Path | None = None) -> Path:
    condakit.create_prefix(conda_python, prefix, channel, *SPECS, pkgs_dir=pkgs)
    return prefix


def _workload(prefix: Path, workload: str = WORKLOAD) -> subprocess.CompletedProcess[str]:
    script = prefix.parent / "workload.py"
    script.write_text(workload)
    return condakit.run_in_prefix(prefix, script, check=False)


def _trace(prefix: Path, out: Path, workload: str = WORKLOAD) -> Profile:
    """``lean-install trace`` of the workload, run by the prefix's python."""
    script = prefix.parent / "workload.py"
    script.write_text(workload)
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONNOUSERSITE": "1"}
    cmd = [
        sys.executable,
        "-m",
        "lean_install",
        "trace",
        "-o",
        str(out),
        "--",
        str(condakit.prefix_python(prefix)),
        str(script),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return Profile.load(out)


def _lean(conda_python: Path, *args: str | Path) -> subprocess.CompletedProcess[str]:
    return condakit.conda(conda_python, "lean", *map(str, args))


def _tree(prefix: Path) -> dict[str, str]:
    """Every file and link of ``prefix`` (lean-install's own directory aside) -> sha256
    (a link: its target)."""
    found = {}
    for dirpath, dirnames, filenames in os.walk(prefix):
        rel_dir = Path(dirpath).relative_to(prefix)
        if rel_dir.parts[:1] == ("lean-install",):
            continue
        for name in filenames + [d for d in dirnames if (Path(dirpath) / d).is_symlink()]:
            path = Path(dirpath) / name
            rel = (rel_dir / name).as_posix()
            if path.is_symlink():
                found[rel] = "-> " + str(path.readlink())
            else:
                found[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def _paths(prefix: Path) -> set[str]:
    """The files of ``prefix`` but bytecode no record lists (what its python wrote itself:
    lean-install inspects an interpreter with ``-I``, which writes the stdlib's)."""
    recorded = {f for r in read_prefix(prefix) for f in r.files}
    return {p for p in _tree(prefix) if "__pycache__/" not in p or p in recorded}


def _doctor(conda_python: Path, prefix: Path) -> dict[str, dict[str, list[str]]]:
    out = condakit.doctor(conda_python, prefix, "missing-files", "altered-files").stdout
    return condakit.parse_doctor(out)


def _listing(conda_python: Path, prefix: Path) -> list[tuple[str, str, str]]:
    proc = condakit.conda(conda_python, "list", "-p", prefix, "--json", check=True)
    return sorted((p["name"], p["version"], p["build_string"]) for p in json.loads(proc.stdout))


# -- the main case: trace, strip, check with conda, restore ------------------------------------


class Stripped:
    def __init__(
        self,
        prefix: Path,
        profile: Path,
        before: dict[str, str],
        listing: list[tuple[str, str, str]],
        dry_run: subprocess.CompletedProcess[str],
        after_dry_run: dict[str, str],
        strip: subprocess.CompletedProcess[str],
    ) -> None:
        self.prefix, self.profile, self.before, self.listing = prefix, profile, before, listing
        self.dry_run, self.after_dry_run, self.strip = dry_run, after_dry_run, strip


@pytest.fixture(scope="module")
def stripped(
    conda_python: Path, channel: Path, tmp_path_factory: pytest.TempPathFactory
) -> Stripped:
    root = tmp_path_factory.mktemp("lean-conda")
    prefix = _create(conda_python, channel, root / "env", root / "pkgs")
    profile = root / "workload.toml"
    _trace(prefix, profile)
    before, listing = _tree(prefix), _listing(conda_python, prefix)
    dry = _lean(conda_python, "strip", "-p", prefix, "--profile", profile, "--dry-run")
    after_dry = _tree(prefix)
    strip = _lean(conda_python, "strip", "-p", prefix, "--profile", profile)
    return Stripped(prefix, profile, before, listing, dry, after_dry, strip)


def test_trace_attributes_prefix_files_to_conda_packages(stripped: Stripped) -> None:
    profile = Profile.load(stripped.profile)
    usages = {d.name: d for d in profile.distributions}
    assert {"pkga", "pkgn", "libb", "python"} <= set(usages)
    assert "pkgc" not in usages
    pkga, libb, pkgn = usages["pkga"], usages["libb"], usages["pkgn"]
    assert (pkga.kind, pkga.version, pkga.build, pkga.subdir) == ("conda", "1.0", "0", "linux-64")
    assert pkga.channel.endswith("/linux-64")
    assert f"{SP}/pkga/used.py" in pkga.files and f"{SP}/pkga/data/used.txt" in pkga.files
    assert "lib/liba.so" in pkga.files
    assert f"{SP}/pkga/unused.py" not in pkga.files + pkga.probed
    assert f"{SP}/pkga/optional.py" in pkga.probed and f"{SP}/pkga/optional.py" not in pkga.files
    assert libb.files == ("lib/libb.so",)  # mapped through liba's DT_NEEDED
    assert f"{SP}/pkgn/used.py" in pkgn.files and f"{SP}/pkgn/unused.py" not in pkgn.files


def test_dry_run_prints_the_plan_and_changes_nothing(stripped: Stripped) -> None:
    assert stripped.dry_run.returncode == 0, stripped.dry_run.stderr
    out = stripped.dry_run.stdout
    assert "pkgc 1.0 (0): strip (the profile never used it)" in out
    assert "python 3.11.7" in out and "keep (the interpreter of the prefix)" in out
    assert "dry run: nothing was changed" in out
    assert stripped.after_dry_run == stripped.before


def test_strip_removes_unused_files_and_the_workload_still_passes(stripped: Stripped) -> None:
    assert stripped.strip.returncode == 0, stripped.strip.stdout + stripped.strip.stderr
    prefix = stripped.prefix
    proc = _workload(prefix)
    assert proc.returncode == 0 and "workload ok" in proc.stdout, proc.stderr
    gone = [
        f"{SP}/pkga/data/unused.txt",
        f"{SP}/pkga/tests/test_pkga.py",
        f"{SP}/pkga/sub/deep.py",
        f"{SP}/pkgc/x.py",
        "share/pkgc/data.txt",
        "include/libb.h",
        "share/libb/README.txt",
        f"{SP}/pkgn/__pycache__/unused.cpython-311.pyc",
    ]
    assert [p for p in gone if (prefix / p).exists()] == []
    kept = [
        "lib/libb.so",
        "lib/liba.so",
        f"{SP}/pkga/used.py",
        f"{SP}/pkga-1.0.dist-info/METADATA",
        f"{SP}/pkgc-1.0.dist-info/METADATA",
        f"{SP}/pkgn/__pycache__/used.cpython-311.pyc",
    ]
    assert [p for p in kept if not (prefix / p).is_file()] == []
    stubs = [
        f"{SP}/pkga/unused.py",
        f"{SP}/pkga/optional.py",  # probed only: the stub stands where the probe looked
        f"{SP}/pkga/sub/__init__.py",
        f"{SP}/pkgc/__init__.py",
        f"{SP}/pkgn/unused.py",
    ]
    assert all((prefix / s).read_text().startswith("# lean-install stub") for s in stubs)


def test_records_list_exactly_what_is_on_disk(conda_python: Path, stripped: Stripped) -> None:
    assert _doctor(conda_python, stripped.prefix) == {"missing": {}, "altered": {}}
    for record in read_prefix(stripped.prefix):
        on_disk = [f for f in record.files if os.path.lexists(stripped.prefix / f)]
        assert on_disk == list(record.files), record.stem
        assert set(record.entries) == set(record.files), record.stem
        for path, entry in record.entries.items():
            if entry.path_type == "hardlink" and entry.sha256_in_prefix:
                data = (stripped.prefix / path).read_bytes()
                assert hashlib.sha256(data).hexdigest() == entry.sha256_in_prefix, path
                assert entry.size_in_bytes == len(data) or entry.prefix_placeholder, path
    pkga = read_record(stripped.prefix / "conda-meta" / "pkga-1.0-0.json")
    assert f"{SP}/pkga/unused.py" in pkga.files  # the stub, with its own sha256
    assert f"{SP}/pkga/data/unused.txt" not in pkga.files
    assert pkga.fn == "pkga-1.0-0.conda" and pkga.extracted_package_dir


def test_conda_list_shows_the_same_packages(conda_python: Path, stripped: Stripped) -> None:
    assert _listing(conda_python, stripped.prefix) == stripped.listing


@pytest.mark.parametrize(
    ("statement", "module"),
    [
        ("import pkgc", "pkgc"),
        ("import pkga.unused", "pkga.unused"),
        ("import pkga.sub.deep", "pkga.sub"),
        ("import pkgn.unused", "pkgn.unused"),
    ],
)
def test_importing_a_removed_module_raises_the_clear_error(
    stripped: Stripped, statement: str, module: str
) -> None:
    code = (
        f"try:\n    {statement}\nexcept ModuleNotFoundError as e:\n"
        "    print(type(e).__name__, e.name); print(e)\nelse:\n    print('imported')\n"
    )
    out = condakit.run_in_prefix(stripped.prefix, "-c", code, env=ERROR).stdout
    assert out.startswith(f"LeanInstallRemovedError {module}\n"), out
    assert f"lean-install removed module '{module}'" in out
    assert f"To bring it back: conda lean restore -p {stripped.prefix} " in out
    on = f"To have removed code come back when imported: conda lean config -p {stripped.prefix}"
    assert f"{on} on-miss restore" in out


def test_from_package_import_removed_module_names_lean_install(stripped: Stripped) -> None:
    """``from pkga import unused``: the stub loads the runtime, whose error is then a
    RemovedImportError (an ImportError that CPython's _handle_fromlist does not swallow)."""
    code = (
        "try:\n    from pkga import unused\nexcept ImportError as e:\n"
        "    print(type(e).__name__, e.name, isinstance(e, ModuleNotFoundError)); print(e)\n"
    )
    out = condakit.run_in_prefix(stripped.prefix, "-c", code, env=ERROR).stdout
    assert out.startswith("RemovedImportError pkga.unused False\n"), out
    assert "lean-install removed module 'pkga.unused' (distribution pkga 1.0" in out, out
    assert f"To bring it back: conda lean restore -p {stripped.prefix} pkga" in out


def test_health_check_reports_the_lean_state(conda_python: Path, stripped: Stripped) -> None:
    listed = condakit.conda(conda_python, "doctor", "--list", check=True).stdout
    assert (
        "lean-install:" in listed and "(fix:" not in listed.split("lean-install:")[1].split("\n")[0]
    )
    out = condakit.doctor(conda_python, stripped.prefix, "lean-install").stdout
    assert "4 package(s) stripped by lean-install" in out, out
    assert "pkgc-1.0-0: stripped" in out and "conda lean restore -p" in out


def _sections(data: bytes) -> set[str]:
    from elftools.elf.elffile import ELFFile

    return {section.name for section in ELFFile(io.BytesIO(data)).iter_sections()}


def test_kept_libraries_lose_their_symbols_and_the_package_cache_keeps_the_originals(
    conda_python: Path, stripped: Stripped
) -> None:
    assert "librar" in stripped.strip.stdout and "bytes of symbols" in stripped.strip.stdout
    for path, stem in (("lib/liba.so", "pkga-1.0-0"), ("lib/libb.so", "libb-1.0-0")):
        data = (stripped.prefix / path).read_bytes()
        assert ".symtab" not in _sections(data) and ".dynsym" in _sections(data), path
        cached = _cached(stripped.prefix, stem, path)
        assert len(data) < cached.stat().st_size
        assert hashlib.sha256(cached.read_bytes()).hexdigest() == stripped.before[path]
        assert ".symtab" in _sections(cached.read_bytes())
        assert cached.stat().st_ino != (stripped.prefix / path).stat().st_ino  # link broken
        manifest = json.loads((stripped.prefix / "lean-install/conda" / f"{stem}.json").read_text())
        assert path in manifest["rewritten"], manifest
        entry = read_record(stripped.prefix / "conda-meta" / f"{stem}.json").entries[path]
        assert entry.sha256_in_prefix == hashlib.sha256(data).hexdigest()
        assert entry.sha256 == stripped.before[path]  # the package's file, as conda recorded it
    # the interpreter is kept whole, its libraries included
    python = read_record(next((stripped.prefix / "conda-meta").glob("python-*.json")))
    assert all(stripped.before[f] == _tree(stripped.prefix)[f] for f in python.files)


def _cached(prefix: Path, stem: str, path: str) -> Path:
    manifest = json.loads((prefix / "lean-install/conda" / f"{stem}.json").read_text())
    return Path(json.loads(manifest["original"])["extracted_package_dir"]) / path


def test_keep_symbols_leaves_the_kept_libraries_as_conda_linked_them(
    conda_python: Path, channel: Path, tmp_path: Path
) -> None:
    prefix, proc = _strip_fresh(conda_python, channel, tmp_path, "--keep-symbols")
    assert "bytes of symbols" not in proc.stdout
    for path in ("lib/liba.so", "lib/libb.so"):
        assert ".symtab" in _sections((prefix / path).read_bytes())
    assert all(
        not json.loads(m.read_text())["rewritten"] for m in prefix.glob("lean-install/conda/*")
    )
    assert _workload(prefix).returncode == 0
    assert _doctor(conda_python, prefix) == {"missing": {}, "altered": {}}


def test_restore_all_gives_back_every_file_byte_for_byte(
    conda_python: Path, stripped: Stripped, request: pytest.FixtureRequest
) -> None:
    # runs last in this module (pytest keeps file order): the prefix is whole again after it
    proc = _lean(conda_python, "restore", "-p", stripped.prefix, "--all")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "restored: libb-1.0-0, pkga-1.0-0, pkgc-1.0-0, pkgn-1.0-py_0" in proc.stdout
    after = _tree(stripped.prefix)
    changed = {
        p for p in set(after) | set(stripped.before) if after.get(p) != stripped.before.get(p)
    }
    assert changed == set()
    assert _doctor(conda_python, stripped.prefix) == {"missing": {}, "altered": {}}
    assert not (stripped.prefix / "lean-install" / "conda-journal.json").exists()
    assert _workload(stripped.prefix).returncode == 0


# -- on-miss: a removed module comes back from the package cache when a program imports it ----


MISSING_WORKLOAD = """import pkga.used
from pkga import unused
import pkga.sub.deep, pkgc, pkgn.unused
assert unused.Z == 3 and pkga.sub.deep.D == 4 and pkgc.C == 5 and pkgn.unused.W == 6
print("missing workload ok")
"""


def _misses(prefix: Path) -> list[dict[str, Any]]:
    log = prefix / "lean-install" / "misses.jsonl"
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text().splitlines()]


def _strip_fresh(
    conda_python: Path, channel: Path, root: Path, *args: str
) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """A prefix with a package cache of its own, traced and stripped with ``conda lean``."""
    prefix = _create(conda_python, channel, root / "env", root / "pkgs")
    profile = root / "workload.toml"
    _trace(prefix, profile)
    proc = _lean(conda_python, "strip", "-p", prefix, "--profile", profile, *args)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return prefix, proc


def test_a_removed_module_comes_back_when_imported(
    conda_python: Path, channel: Path, tmp_path: Path
) -> None:
    """The default on-miss mode, restore: importing removed modules (``from pkga import
    unused``, a stubbed subpackage, an unused package, a ``noarch: python`` module) brings
    their files back from the package cache, the program goes on, the records list them,
    ``conda doctor`` stays clean, and it is said once on stderr."""
    prefix = _create(conda_python, channel, tmp_path / "env", tmp_path / "pkgs")
    profile = tmp_path / "workload.toml"
    _trace(prefix, profile)
    before = _tree(prefix)
    strip = _lean(conda_python, "strip", "-p", prefix, "--profile", profile)
    assert "on-miss is restore: removed modules come back from the package cache" in strip.stdout
    runtime = list((prefix / "lean-install" / "runtime").glob("*/conda_reserve.py"))
    assert len(runtime) == 1  # the stubs' runtime, copied into the prefix
    manifest_file = prefix / "lean-install" / "conda" / "pkga-1.0-0.json"
    stub = f"{SP}/pkga/unused.py"
    assert stub in json.loads(manifest_file.read_text())["stubs"]

    script = tmp_path / "missing.py"
    script.write_text(MISSING_WORKLOAD)
    proc = condakit.run_in_prefix(prefix, script, check=False)
    assert proc.returncode == 0 and "missing workload ok" in proc.stdout, proc.stderr
    assert proc.stderr.count("lean-install: brought back ") == 1, proc.stderr  # said once
    assert "lean-install: brought back pkga.unused (pkga 1.0: 1 files" in proc.stderr
    assert f"from the package cache ({tmp_path / 'pkgs' / 'pkga-1.0-0'})" in proc.stderr
    assert f"conda lean config -p {prefix} on-miss error" in proc.stderr

    restored = {
        f"{SP}/pkga/unused.py": "Z = 3\n",
        f"{SP}/pkga/sub/__init__.py": "",
        f"{SP}/pkga/sub/deep.py": "D = 4\n",
        f"{SP}/pkgc/__init__.py": "from pkgc.x import C\n",
        f"{SP}/pkgc/x.py": "C = 5\n",
        f"{SP}/pkgn/unused.py": "W = 6\n",
    }
    assert {p: (prefix / p).read_text() for p in restored} == restored
    for path in (f"{SP}/pkga/data/unused.txt", "share/pkgc/data.txt", "include/libb.h"):
        assert not (prefix / path).exists(), path  # outside the regions: still removed
    pkga = read_record(prefix / "conda-meta" / "pkga-1.0-0.json")
    original = json.loads(json.loads(manifest_file.read_text())["original"])
    entry = {e["_path"]: e for e in original["paths_data"]["paths"]}
    for path in (f"{SP}/pkga/unused.py", f"{SP}/pkga/sub/deep.py"):
        assert path in pkga.files and dict(pkga.entries[path].raw) == entry[path], path
    assert f"{SP}/pkga/data/unused.txt" not in pkga.files
    manifest = json.loads(manifest_file.read_text())
    assert stub not in manifest["stubs"] and stub not in manifest["removed"]
    assert f"{SP}/pkga/data/unused.txt" in manifest["removed"]
    assert _doctor(conda_python, prefix) == {"missing": {}, "altered": {}}
    health = condakit.doctor(conda_python, prefix, "lean-install").stdout
    assert "\u274c" not in health and "4 package(s) stripped" in health, health
    misses = [m for m in _misses(prefix) if m["outcome"] == "restored"]
    assert sorted(str(m["module"]) for m in misses) == [
        "pkga.sub",
        "pkga.unused",
        "pkgc",
        "pkgn.unused",
    ]
    assert {m["distribution"] for m in misses} == {"pkga", "pkgc", "pkgn"}

    again = condakit.run_in_prefix(prefix, script, check=False)  # nothing is missing now
    assert again.returncode == 0 and again.stderr == "", again.stderr
    assert _workload(prefix).returncode == 0
    proc = _lean(conda_python, "restore", "-p", prefix, "--all")  # the rest comes back too
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert _tree(prefix) == before
    assert _doctor(conda_python, prefix) == {"missing": {}, "altered": {}}


def test_on_miss_error_and_log_are_set_per_prefix(
    conda_python: Path, channel: Path, tmp_path: Path
) -> None:
    """``conda lean strip --on-miss error`` (and ``conda lean config``) set the prefix's
    mode: error raises the clear message and changes nothing; log restores and says so
    each time; ``LEAN_INSTALL_ON_MISS`` overrides the prefix's mode for one process."""
    prefix, strip = _strip_fresh(conda_python, channel, tmp_path, "--on-miss", "error")
    assert "on-miss is error: removed modules raise the lean-install error" in strip.stdout
    shown = _lean(conda_python, "config", "-p", prefix, "on-miss")
    assert shown.returncode == 0 and shown.stdout.startswith("on-miss is error"), shown.stderr
    state = json.loads((prefix / "lean-install" / "state.json").read_text())
    assert state["on-miss"] == "error"
    stripped = _tree(prefix)
    code = "try:\n    import pkgc\nexcept ModuleNotFoundError as e:\n    print(e)\n"
    out = condakit.run_in_prefix(prefix, "-c", code).stdout
    assert "lean-install removed module 'pkgc' (distribution pkgc 1.0" in out, out
    assert f"To bring it back: conda lean restore -p {prefix} pkgc" in out
    assert f"conda lean config -p {prefix} on-miss restore" in out
    assert _tree(prefix) == stripped
    assert [(m["module"], m["outcome"]) for m in _misses(prefix)] == [("pkgc", "raised")]

    proc = _lean(conda_python, "config", "-p", prefix, "on-miss", "log")
    assert proc.returncode == 0 and proc.stdout.startswith("on-miss is log"), proc.stderr
    proc = condakit.run_in_prefix(prefix, "-c", "import pkga.unused, pkgn.unused")
    assert proc.stderr.count("lean-install: brought back ") == 2, proc.stderr
    assert (prefix / SP / "pkga" / "unused.py").read_text() == "Z = 3\n"
    out = condakit.run_in_prefix(prefix, "-c", code, env=ERROR).stdout  # the override
    assert "lean-install removed module 'pkgc'" in out, out
    assert not (prefix / SP / "pkgc" / "x.py").exists()
    assert _doctor(conda_python, prefix) == {"missing": {}, "altered": {}}
    bad = _lean(conda_python, "config", "-p", prefix, "on-miss", "sometimes")
    assert bad.returncode == 2 and "invalid choice" in bad.stderr and "sometimes" in bad.stderr


DATA_WORKLOAD = """import pkga
with open(pkga.data_path("unused.txt")) as f:
    assert f.read() == "unused data"
print("data workload ok")
"""


def test_removed_data_files_come_back_when_a_program_opens_or_lists_them(
    conda_python: Path, channel: Path, tmp_path: Path
) -> None:
    """The startup hook of a stripped prefix (``site-packages/lean-install-conda.pth``):
    in mode ``error`` an open of a removed data file raises lean-install's
    FileNotFoundError; in mode ``restore`` the file comes back from the package cache; a
    directory a program lists is filled first, outside site-packages too; ``restore
    --all`` removes the hook."""
    prefix, _ = _strip_fresh(conda_python, channel, tmp_path)
    hook = prefix / SP / "lean-install-conda.pth"
    unused, readme = prefix / SP / "pkga/data/unused.txt", prefix / "share/libb/README.txt"
    assert hook.is_file() and not unused.exists() and not readme.exists()

    error = "import pkga\ntry:\n    open(pkga.data_path('unused.txt'))\nexcept OSError as e:\n"
    out = condakit.run_in_prefix(
        prefix, "-c", error + "    print(type(e).__name__, e)\n", env=ERROR
    )
    assert out.stdout.startswith("LeanInstallRemovedFileError"), out.stdout + out.stderr
    assert (
        "lean-install removed data file" in out.stdout and "conda package pkga-1.0-0" in out.stdout
    )
    assert f"To bring it back: conda lean restore -p {prefix} pkga" in out.stdout
    assert not unused.exists()

    proc = _workload(prefix, DATA_WORKLOAD)
    assert proc.returncode == 0 and "data workload ok" in proc.stdout, proc.stdout + proc.stderr
    assert unused.read_text() == "unused data"
    listing = "import os, sys\nprint(os.listdir(os.path.join(sys.prefix, 'share', 'libb')))"
    out = condakit.run_in_prefix(prefix, "-c", listing)
    assert out.stdout.strip() == "['README.txt']", out.stdout + out.stderr
    assert readme.read_text() == "libb's documentation\n"
    misses = [(m["kind"], m["outcome"], m["files"]) for m in _misses(prefix)]
    assert misses[0][:2] == ("file", "raised"), misses
    assert ("file", "restored", [f"{SP}/pkga/data/unused.txt"]) in misses, misses
    assert ("file", "restored", ["share/libb/README.txt"]) in misses, misses
    assert _doctor(conda_python, prefix) == {"missing": {}, "altered": {}}
    for stem, path in (("pkga-1.0-0", unused), ("libb-1.0-0", readme)):
        record = read_record(prefix / "conda-meta" / f"{stem}.json")
        assert path.relative_to(prefix).as_posix() in record.files

    proc = _lean(conda_python, "restore", "-p", prefix, "--all")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not hook.exists()
    assert _doctor(conda_python, prefix) == {"missing": {}, "altered": {}}


def test_a_damaged_cache_is_a_clear_error_and_nothing_is_half_written(
    conda_python: Path, channel: Path, tmp_path: Path
) -> None:
    """The extracted package is gone from the cache and the prefix's python cannot extract
    the .conda archive (no conda-package-handling there): the import raises the stub's
    error with that reason and what to run; nothing changed. conda lean restore (conda has
    conda-package-handling) then brings it back from the archive."""
    prefix, _ = _strip_fresh(conda_python, channel, tmp_path)
    shutil.rmtree(tmp_path / "pkgs" / "pkga-1.0-0")
    stripped = _tree(prefix)
    manifest = (prefix / "lean-install" / "conda" / "pkga-1.0-0.json").read_bytes()
    record = (prefix / "conda-meta" / "pkga-1.0-0.json").read_bytes()
    code = "try:\n    import pkga.unused\nexcept ModuleNotFoundError as e:\n    print(e)\n"
    out = condakit.run_in_prefix(prefix, "-c", code).stdout
    assert "lean-install removed module 'pkga.unused'" in out, out
    assert "lean-install could not restore it: cannot restore pkga-1.0-0: its extracted " in out
    assert f"extracting {tmp_path / 'pkgs' / 'pkga-1.0-0.conda'} needs conda-package" in out
    assert f"run conda lean restore -p {prefix} pkga" in out
    assert "To have removed code come back" not in out  # it was on: the reason instead
    assert _tree(prefix) == stripped
    assert (prefix / "lean-install" / "conda" / "pkga-1.0-0.json").read_bytes() == manifest
    assert (prefix / "conda-meta" / "pkga-1.0-0.json").read_bytes() == record
    assert not [p for p in prefix.rglob(".lean-install-*")]  # no temporary file left
    (miss,) = _misses(prefix)
    assert str(miss["outcome"]).startswith("failed: cannot restore pkga-1.0-0")
    assert _doctor(conda_python, prefix) == {"missing": {}, "altered": {}}
    proc = _lean(conda_python, "restore", "-p", prefix, "pkga")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (prefix / SP / "pkga" / "unused.py").read_text() == "Z = 3\n"


def test_two_processes_that_miss_at_once_restore_once(
    conda_python: Path, channel: Path, tmp_path: Path
) -> None:
    """Two programs import the same removed module while the prefix's restore lock is held
    (as by a restore under way): once it is released, one restores, the other finds the
    stub gone and imports what is there; both pass."""
    prefix, _ = _strip_fresh(conda_python, channel, tmp_path)
    script = tmp_path / "both.py"
    script.write_text("from pkga import unused\nassert unused.Z == 3\nprint('ok')\n")
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONNOUSERSITE": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "LC_ALL": "C.UTF-8",
    }
    lock = prefix / "lean-install" / "restore.lock"
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        python = str(condakit.prefix_python(prefix))
        procs = [
            subprocess.Popen(
                [python, str(script)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
            )
            for _ in range(2)
        ]
        time.sleep(2)  # both reach the lock
        assert all(p.poll() is None for p in procs)  # both wait for it
    finally:
        os.close(fd)
    results = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], results
    assert all(out == "ok\n" for out, _ in results), results
    restored = [m for m in _misses(prefix) if m["module"] == "pkga.unused"]
    assert sorted(len(m["files"]) for m in restored) == [0, 1], restored
    assert {m["source"] for m in restored if not m["files"]} == {"another process"}
    assert _doctor(conda_python, prefix) == {"missing": {}, "altered": {}}
    manifest = json.loads((prefix / "lean-install" / "conda" / "pkga-1.0-0.json").read_text())
    assert f"{SP}/pkga/unused.py" not in manifest["stubs"]


def test_conda_lean_trace_runs_the_workload_with_the_prefix_python(
    conda_python: Path, channel: Path, tmp_path: Path
) -> None:
    """``conda lean trace -p P -o PROFILE -- python SCRIPT``: ``python`` is the prefix's
    (its bin/ first on PATH); the profile has its conda usages; the exit code is the
    workload's."""
    prefix = _create(conda_python, channel, tmp_path / "env")
    script = tmp_path / "workload.py"
    script.write_text(WORKLOAD)
    out = tmp_path / "traced.toml"
    proc = _lean(conda_python, "trace", "-p", prefix, "-o", out, "--", "python", script)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "workload ok" in proc.stdout and "workload passed" in proc.stderr, proc.stderr
    usages = {d.name: d for d in Profile.load(out).distributions}
    assert {"pkga", "pkgn", "libb", "python"} <= set(usages) and "pkgc" not in usages
    assert usages["pkga"].kind == "conda" and f"{SP}/pkga/used.py" in usages["pkga"].files
    assert f"{SP}/pkga/unused.py" not in usages["pkga"].files
    failing = tmp_path / "fails.py"
    failing.write_text("import sys, pkgc; sys.exit(3)\n")
    proc = _lean(
        conda_python, "trace", "-p", prefix, "-o", out, "--append", "--", "python", failing
    )
    assert proc.returncode == 3 and "FAILED (exit 3)" in proc.stderr, proc.stderr
    assert "pkgc" in {d.name for d in Profile.load(out).distributions}  # merged
    proc = _lean(conda_python, "trace", "-p", prefix, "-o", out)
    assert proc.returncode == 2 and "give the workload after --" in proc.stderr


# -- the closure, conda remove ------------------------------------------------------------------


def test_a_kept_library_keeps_the_library_of_another_package_it_needs(
    conda_python: Path, channel: Path, tmp_path: Path
) -> None:
    """A profile that never saw libb (only pkga's liba.so, which needs libb.so): libb.so
    stays (DT_NEEDED across packages, in $PREFIX/lib), the rest of libb goes."""
    prefix = _create(conda_python, channel, tmp_path / "env")
    traced = _trace(prefix, tmp_path / "full.toml")
    profile = Profile(
        traces=traced.traces,
        distributions=tuple(d for d in traced.distributions if d.name != "libb"),
    )
    profile.dump(tmp_path / "no-libb.toml")
    proc = _lean(conda_python, "strip", "-p", prefix, "--profile", tmp_path / "no-libb.toml")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "libb 1.0 (0): strip (the profile never used it; 1 file(s) kept because" in proc.stdout
    assert (prefix / "lib/libb.so").is_file() and not (prefix / "include/libb.h").exists()
    assert _workload(prefix).returncode == 0
    assert _doctor(conda_python, prefix) == {"missing": {}, "altered": {}}

    pkgc_files = read_record(prefix / "conda-meta" / "pkgc-1.0-0.json").files
    proc = condakit.conda(
        conda_python, "remove", "-y", "-p", prefix, "--offline", "pkgc", check=True
    )
    assert [f for f in pkgc_files if os.path.lexists(prefix / f)] == []
    assert not (prefix / SP / "pkgc").exists()
    # the post-transaction action drops the manifest of the package conda removed
    assert "lean-install: pkgc-1.0-0 was stripped; conda removed it" in proc.stderr
    assert not (prefix / "lean-install" / "conda" / "pkgc-1.0-0.json").exists()
    # a conda without lean-install's plugin (or mamba) leaves it to the health check
    condakit.conda(
        conda_python,
        "--no-plugins",
        "remove",
        "-y",
        "-p",
        prefix,
        "--offline",
        "--solver",
        "classic",
        "pkgn",
        env={"CONDA_SOLVER": "classic"},
        check=True,
    )
    out = condakit.doctor(conda_python, prefix, "lean-install").stdout
    assert "pkgn-1.0-py_0: stripped, but conda removed the package since" in out
    assert "pkgc-1.0-0" not in out
    proc = _lean(conda_python, "restore", "-p", prefix, "--all")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert not (prefix / SP / "pkgc").exists() and not (prefix / SP / "pkgn").exists()
    assert _doctor(conda_python, prefix) == {"missing": {}, "altered": {}}


# -- bad input ------------------------------------------------------------------------------------


PKGA_WORKLOAD = """import pkga, pkga.used
assert pkga.value() == 43 and pkga.used.X == 1
with open(pkga.data_path("used.txt")) as f:
    assert f.read() == "used data"
print("pkga workload ok")
"""


def test_a_profile_of_the_last_release_leans_the_next_by_its_listing(
    conda_python: Path, tmp_path: Path
) -> None:
    channel = tmp_path / "channel"
    libs = _library_sources(tmp_path / "work")
    _build_libb(conda_python, channel, libs)
    new = {f"{SP}/pkga/new.py": "N = 7\n", f"{SP}/pkga/data/new.txt": "new data"}
    for version, extra in (("1.0", {}), ("1.1", new)):
        files = {**_pkga_files(libs, version), **extra}
        files.update(condakit._bytecode(files, SP, "3.11"))  # as conda-build packages it
        condakit.build_conda_package(
            channel,
            "pkga",
            version,
            "0",
            subdir="linux-64",
            depends=["libb", "python"],
            tool_python=conda_python,
            files=files,
        )
    python = condakit.python_package(
        condakit.default_venv_dir().parent / "python-package", tool_python=conda_python
    )
    condakit.index_channel(channel, [python], tool_python=conda_python)
    pkgs = tmp_path / "pkgs"
    old, prefix = tmp_path / "old" / "env", tmp_path / "new" / "env"
    condakit.create_prefix(conda_python, old, channel, "python", "pkga=1.0", pkgs_dir=pkgs)
    condakit.create_prefix(conda_python, prefix, channel, "python", "pkga=1.1", pkgs_dir=pkgs)
    profile = tmp_path / "old.toml"
    usage = next(d for d in _trace(old, profile, PKGA_WORKLOAD).distributions if d.name == "pkga")
    assert usage.version == "1.0" and f"{SP}/pkga/unused.py" in usage.listing
    proc = _lean(conda_python, "strip", "-p", prefix, "--profile", profile)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "pkga 1.1 (0): strip (profile made on version 1.0: files new in 1.1 stay" in proc.stdout
    site = prefix / SP
    assert (site / "pkga/new.py").read_text() == "N = 7\n"  # new in 1.1: kept
    assert (site / "pkga/data/new.txt").read_text() == "new data"
    assert layout.is_stub_file(site / "pkga/unused.py")  # 1.0 had it, never used: gone
    assert not (site / "pkga/data/unused.txt").exists()
    assert not (site / "pkga/tests/test_pkga.py").exists()
    assert (site / "pkga/used.py").read_text() == "X = 1\n"
    # bytecode is in no listing: it goes or stays with its source
    assert (site / f"pkga/__pycache__/new.{sys.implementation.cache_tag}.pyc").is_file()
    assert not (site / f"pkga/__pycache__/unused.{sys.implementation.cache_tag}.pyc").exists()
    assert _workload(prefix, PKGA_WORKLOAD).returncode == 0
    assert _doctor(conda_python, prefix) == {"missing": {}, "altered": {}}


def test_the_safe_policy_needs_no_profile_and_drops_only_what_no_program_needs(
    conda_python: Path, channel: Path, tmp_path: Path
) -> None:
    prefix = _create(conda_python, channel, tmp_path / "env", tmp_path / "pkgs")
    proc = _lean(conda_python, "strip", "-p", prefix)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "libb 1.0 (0): strip (safe policy: drops only files a program does not run)" in (
        proc.stdout
    )
    assert not (prefix / "include/libb.h").exists()
    assert not (prefix / SP / "pkga/tests/test_pkga.py").exists()
    for kept in (f"{SP}/pkga/unused.py", f"{SP}/pkga/data/unused.txt", f"{SP}/pkgc/x.py"):
        assert (prefix / kept).is_file() and not layout.is_stub_file(prefix / kept), kept
    manifest = json.loads((prefix / "lean-install/conda/libb-1.0-0.json").read_text())
    assert manifest["profile"] == "(safe policy)"
    assert _workload(prefix).returncode == 0
    assert _doctor(conda_python, prefix) == {"missing": {}, "altered": {}}
    again = _lean(conda_python, "strip", "-p", prefix, "--policy", "profile")
    assert again.returncode == 2, again.stdout + again.stderr
    assert "the profile policy needs a usage profile" in again.stderr


def test_a_directory_without_conda_meta_is_refused_clearly(
    conda_python: Path, tmp_path: Path
) -> None:
    (tmp_path / "not-conda").mkdir()
    profile = tmp_path / "p.toml"
    Profile().dump(profile)
    with pytest.raises(CondaPrefixError, match="is not a conda prefix: it has no conda-meta"):
        read_prefix(tmp_path / "not-conda")
    proc = _lean(conda_python, "strip", "-p", tmp_path / "not-conda", "--profile", profile)
    assert proc.returncode == 2
    assert "is not a conda prefix: it has no conda-meta directory" in proc.stderr
    assert "hint:" in proc.stderr


def test_a_malformed_record_is_refused_with_every_problem_and_its_place(tmp_path: Path) -> None:
    meta = tmp_path / "env" / "conda-meta"
    meta.mkdir(parents=True)
    (meta / "good-1.0-0.json").write_text(
        json.dumps({"name": "good", "version": "1.0", "build": "0", "files": []})
    )
    (meta / "bad-1.0-0.json").write_text(
        json.dumps(
            {
                "name": "bad",
                "version": 1,
                "build": "0",
                "files": ["ok", 3, "../escape"],
                "paths_data": {"paths_version": 1, "paths": [{"path_type": "hardlink"}]},
            }
        )
    )
    (meta / "torn-1.0-0.json").write_text('{"name": "torn", "files": [')
    with pytest.raises(RecordError) as caught:
        read_prefix(tmp_path / "env")
    issues = [str(i) for i in caught.value.issues]
    assert "bad-1.0-0.json: version: expected str, got int" in issues
    assert "bad-1.0-0.json: files[1]: expected a string" in issues
    assert "bad-1.0-0.json: files[2]: '../escape' has a '..' component" in issues
    assert "bad-1.0-0.json: paths_data.paths[0]._path: missing" in issues
    assert any(i.startswith("torn-1.0-0.json: not valid JSON") for i in issues)
    assert "conda install --force-reinstall" in (caught.value.hint or "")
    assert PrefixIndex.of  # the index reads through the same validating reader


def test_strip_refuses_a_prefix_whose_records_list_missing_files(
    conda_python: Path, channel: Path, tmp_path: Path
) -> None:
    prefix = _create(conda_python, channel, tmp_path / "env")
    profile = tmp_path / "p.toml"
    Profile().dump(profile)
    (prefix / SP / "pkga" / "used.py").unlink()
    before = _tree(prefix)
    proc = _lean(conda_python, "strip", "-p", prefix, "--profile", profile)
    assert proc.returncode == 2
    assert "pkga-1.0-0: files[" in proc.stderr and f"{SP}/pkga/used.py is missing" in proc.stderr
    assert "conda doctor" in proc.stderr
    assert _tree(prefix) == before and not (prefix / "lean-install").exists()


def test_restore_from_a_corrupt_package_cache_fails_clearly_and_loses_nothing(
    conda_python: Path, channel: Path, tmp_path: Path
) -> None:
    prefix = _create(conda_python, channel, tmp_path / "env", tmp_path / "pkgs")
    profile = tmp_path / "p.toml"
    Profile().dump(profile)  # uses nothing: every package but python is stripped
    assert _lean(conda_python, "strip", "-p", prefix, "--profile", profile).returncode == 0
    shutil.rmtree(tmp_path / "pkgs" / "pkgc-1.0-0")  # the extracted package is gone ...
    tarball = tmp_path / "pkgs" / "pkgc-1.0-0.conda"
    tarball.write_bytes(tarball.read_bytes()[:200])  # ... and the archive is damaged
    stripped = _tree(prefix)
    proc = _lean(conda_python, "restore", "-p", prefix, "pkgc")
    assert proc.returncode == 1
    assert f"cannot restore pkgc-1.0-0: its package {tarball} is damaged" in proc.stderr
    assert "nothing was changed" in proc.stderr and "hint:" in proc.stderr
    assert _tree(prefix) == stripped
    assert (prefix / "lean-install" / "conda" / "pkgc-1.0-0.json").is_file()
    assert _doctor(conda_python, prefix) == {"missing": {}, "altered": {}}
    proc = _lean(conda_python, "restore", "-p", prefix, "pkga")  # others still come back
    assert proc.returncode == 0, proc.stderr
    assert (prefix / SP / "pkga" / "data" / "unused.txt").read_text() == "unused data"


# -- a strip killed half-way ---------------------------------------------------------------------


def _strip_command(conda_python: Path, prefix: Path, profile: Path) -> list[str]:
    run_conda = (
        "import lean_fault_hook, runpy\n"
        "runpy.run_module('conda', run_name='__main__', alter_sys=True)"
    )
    return [
        str(conda_python),
        "-c",
        run_conda,
        "lean",
        "strip",
        "-p",
        str(prefix),
        "--profile",
        str(profile),
    ]


def test_a_killed_strip_is_completed_by_the_next_command(
    conda_python: Path, channel: Path, tmp_path: Path
) -> None:
    """SIGKILL a real ``conda lean strip`` at its N-th file change in the prefix (before its
    journal is in place, half-way, near the end); the next command completes it."""
    env = condakit.conda_env(conda_python)
    reference = _create(conda_python, channel, tmp_path / "reference")
    profile = tmp_path / "workload.toml"
    _trace(reference, profile)
    code, total = faults.run_program_with_fault(
        _strip_command(conda_python, reference, profile), None, env, [reference]
    )
    assert code == 0 and total > 10
    expected = _paths(reference)
    for at, next_command in ((1, "strip"), (total // 2, "strip"), (total - 2, "restore")):
        prefix = _create(conda_python, channel, tmp_path / f"killed-at-{at}")
        pristine = _tree(prefix)
        code, _ = faults.run_program_with_fault(
            _strip_command(conda_python, prefix, profile), at, env, [prefix]
        )
        assert code == -9  # SIGKILL
        journal = prefix / "lean-install" / "conda-journal.json"
        if at == 1:  # killed writing its journal: nothing changed
            assert not journal.exists() and _tree(prefix) == pristine
        else:
            assert journal.is_file()
            health = condakit.doctor(conda_python, prefix, "lean-install").stdout
            assert "an interrupted `conda lean strip -p" in health, health
        if next_command == "strip":
            proc = _lean(conda_python, "strip", "-p", prefix, "--profile", profile)
            assert proc.returncode == 0, proc.stderr
            assert ("completed the interrupted `conda lean strip" in proc.stdout) == (at != 1)
            assert _paths(prefix) == expected
            assert _doctor(conda_python, prefix) == {"missing": {}, "altered": {}}
            assert _workload(prefix).returncode == 0
        else:
            proc = _lean(conda_python, "restore", "-p", prefix, "--all")
            assert proc.returncode == 0, proc.stderr
            assert "completed the interrupted `conda lean strip" in proc.stdout
            after = _tree(prefix)
            assert {p: after[p] for p in _paths(prefix)} == {p: pristine[p] for p in pristine}
            assert _doctor(conda_python, prefix) == {"missing": {}, "altered": {}}
        assert not journal.exists()


def test_a_library_changed_under_an_interrupted_strip_is_refused_and_nothing_is_lost(
    conda_python: Path, channel: Path, tmp_path: Path
) -> None:
    """A strip killed as it was about to write a kept library again smaller, then that
    library changed by someone else: the next command refuses it with a clear error
    that says what to do, writes nothing over it and keeps the journal."""
    env = condakit.conda_env(conda_python)
    reference = _create(conda_python, channel, tmp_path / "reference")
    profile = tmp_path / "workload.toml"
    _trace(reference, profile)
    log = tmp_path / "operations.log"
    faults.run_program_with_fault(
        _strip_command(conda_python, reference, profile), None, env, [reference], log=log
    )
    library = "lib/liba.so"
    at = next(
        op.number
        for op in faults.read_log(log)
        if Path(op.path).parent == reference / "lib" and "liba.so." in op.path
    )  # the temporary file liba.so is written again through
    prefix = _create(conda_python, channel, tmp_path / "env", tmp_path / "pkgs")
    code, _ = faults.run_program_with_fault(
        _strip_command(conda_python, prefix, profile), at, env, [prefix]
    )
    assert code == -9  # killed as it was about to write liba.so again
    journal = prefix / "lean-install" / "conda-journal.json"
    steps = json.loads(journal.read_text())["steps"]
    assert any(library in step["rewrite"] for step in steps), steps
    target = prefix / library
    # another build: still a library that shrinks, to something the journal does not name
    changed = (tmp_path / "pkgs" / "libb-1.0-0" / "lib" / "libb.so").read_bytes()
    assert changed != target.read_bytes()
    target.unlink()  # a hard link to the package cache: never written through
    target.write_bytes(changed)
    cached = tmp_path / "pkgs" / "pkga-1.0-0" / library
    proc = _lean(conda_python, "strip", "-p", prefix, "--profile", profile)
    assert proc.returncode != 0
    said = proc.stdout + proc.stderr
    assert "changed since conda lean strip read it" in said, said
    assert "conda install --force-reinstall" in said and "Traceback" not in said, said
    assert target.read_bytes() == changed and journal.is_file()
    assert cached.read_bytes() != changed  # the package cache keeps the original


# -- the lean_profile setting: a post-transaction action ---------------------------------------


def _home_with_condarc(root: Path, profile: Path | str) -> dict[str, str]:
    """A HOME of the test's own whose ``.condarc`` sets lean-install's ``lean_profile``
    (conda reads plugin settings under ``plugins:``)."""
    home = root / "home"
    home.mkdir(parents=True, exist_ok=True)
    (home / ".condarc").write_text(f"plugins:\n  lean_profile: {profile}\n")
    return {"HOME": str(home)}


def _install(
    conda_python: Path, channel: Path, prefix: Path, *specs: str, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    url = channel.absolute().as_uri()
    return condakit.conda(
        conda_python,
        "install",
        "-y",
        "-p",
        prefix,
        "--offline",
        "--override-channels",
        "-c",
        url,
        *specs,
        env=env,
    )


@pytest.fixture(scope="module")
def traced(
    conda_python: Path, channel: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, set[str]]:
    """The workload's profile, and the files of a prefix ``conda lean strip`` made lean
    with it (what the post-transaction action must leave too)."""
    root = tmp_path_factory.mktemp("traced")
    prefix = _create(conda_python, channel, root / "env")
    profile = root / "workload.toml"
    _trace(prefix, profile)
    proc = _lean(conda_python, "strip", "-p", prefix, "--profile", profile)
    assert proc.returncode == 0, proc.stderr
    return profile, _paths(prefix)


def test_lean_profile_in_condarc_makes_conda_install_lean(
    conda_python: Path, channel: Path, traced: tuple[Path, set[str]], tmp_path: Path
) -> None:
    """``plugins: lean_profile`` in .condarc: a real ``conda install`` leaves the prefix as
    lean as ``conda lean strip`` would, with no second command."""
    profile, expected = traced
    env = _home_with_condarc(tmp_path, profile)
    shown = condakit.conda(conda_python, "config", "--show", "plugins.lean_profile", env=env)
    assert shown.stdout.splitlines()[-1].strip() == f"lean_profile: {profile}", shown.stdout
    prefix = tmp_path / "env"
    condakit.create_prefix(conda_python, prefix, channel, "python", env=env)
    assert not (prefix / "lean-install").exists()  # python alone: nothing to strip
    proc = _install(conda_python, channel, prefix, "pkga", "pkgc", "pkgn", env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"lean-install: lean profile {profile}: stripped 4 package(s)" in proc.stderr
    assert "pkgc 1.0 (0): strip (the profile never used it)" in proc.stderr
    assert f"conda lean restore -p {prefix} --all" in proc.stderr
    assert "lean-install" not in proc.stdout  # stdout stays conda's (it may be --json)
    assert _paths(prefix) == expected
    for gone in (f"{SP}/pkga/data/unused.txt", f"{SP}/pkgc/x.py", "include/libb.h"):
        assert not (prefix / gone).exists(), gone
    for stub in (f"{SP}/pkga/unused.py", f"{SP}/pkgc/__init__.py", f"{SP}/pkgn/unused.py"):
        assert (prefix / stub).read_text().startswith("# lean-install stub"), stub
    assert _doctor(conda_python, prefix) == {"missing": {}, "altered": {}}
    proc = _workload(prefix)
    assert proc.returncode == 0 and "workload ok" in proc.stdout, proc.stderr
    health = condakit.doctor(conda_python, prefix, "lean-install", env=env).stdout
    assert "4 package(s) stripped by lean-install" in health, health
    # it is an ordinary lean prefix: restore brings everything back
    proc = condakit.conda(conda_python, "lean", "restore", "-p", prefix, "--all", env=env)
    assert proc.returncode == 0, proc.stderr
    assert (prefix / SP / "pkgc" / "x.py").read_text() == "C = 5\n"
    assert _doctor(conda_python, prefix) == {"missing": {}, "altered": {}}


def test_lean_profile_from_the_environment_and_a_package_the_profile_never_saw(
    conda_python: Path, channel: Path, traced: tuple[Path, set[str]], tmp_path: Path
) -> None:
    """``CONDA_PLUGINS_LEAN_PROFILE`` sets it too. Only what a transaction installs is
    stripped: a later ``conda install`` of a package the profile never saw strips that one
    (the rule of conda lean strip: unused), and leaves the lean packages as they are; a
    reinstall without the setting gives conda's whole package back, and lean-install
    forgets it was lean."""
    profile, _ = traced
    env = {"CONDA_PLUGINS_LEAN_PROFILE": str(profile), "HOME": str(tmp_path / "home")}
    prefix = tmp_path / "env"
    condakit.create_prefix(conda_python, prefix, channel, "python", "pkga", "pkgn", env=env)
    manifests = prefix / "lean-install" / "conda"
    assert sorted(p.name for p in manifests.glob("*.json")) == [
        "libb-1.0-0.json",
        "pkga-1.0-0.json",
        "pkgn-1.0-py_0.json",
    ]
    pkga_record = (prefix / "conda-meta" / "pkga-1.0-0.json").read_bytes()
    proc = _install(conda_python, channel, prefix, "pkgc", env=env)
    assert proc.returncode == 0, proc.stderr
    assert "stripped 1 package(s)" in proc.stderr
    assert "pkgc 1.0 (0): strip (the profile never used it)" in proc.stderr
    assert (prefix / "conda-meta" / "pkgc-1.0-0.json").is_file()
    assert not (prefix / SP / "pkgc" / "x.py").exists()
    assert (prefix / "conda-meta" / "pkga-1.0-0.json").read_bytes() == pkga_record
    out = condakit.run_in_prefix(prefix, "-c", "import pkgc", env=ERROR, check=False)
    assert "lean-install removed module 'pkgc'" in out.stderr
    assert _doctor(conda_python, prefix) == {"missing": {}, "altered": {}}

    plain = {"HOME": str(tmp_path / "home")}  # no lean_profile: conda as it is
    proc = _install(conda_python, channel, prefix, "--force-reinstall", "pkgc", env=plain)
    assert proc.returncode == 0, proc.stderr
    assert "lean-install: pkgc-1.0-0 was stripped; conda installed it again, whole" in proc.stderr
    assert (prefix / SP / "pkgc" / "x.py").read_text() == "C = 5\n"
    assert not (manifests / "pkgc-1.0-0.json").exists()
    health = condakit.doctor(conda_python, prefix, "lean-install", env=plain).stdout
    assert "3 package(s) stripped" in health and "\u274c" not in health, health
    assert _doctor(conda_python, prefix) == {"missing": {}, "altered": {}}

    # a profile that cannot be used: the replaced package is still said, and left whole
    bad = {**plain, "CONDA_PLUGINS_LEAN_PROFILE": str(tmp_path / "gone.toml")}
    proc = _install(conda_python, channel, prefix, "--force-reinstall", "pkgn", env=bad)
    assert proc.returncode == 0, proc.stderr
    assert "lean-install: pkgn-1.0-py_0 was stripped; conda installed it again" in proc.stderr
    assert f"not applied: {tmp_path / 'gone.toml'}: No such file" in proc.stderr
    assert (prefix / SP / "pkgn" / "unused.py").read_text() == "W = 6\n"
    assert _doctor(conda_python, prefix) == {"missing": {}, "altered": {}}


@pytest.mark.parametrize("case", ["missing", "not-toml", "no-conda-package"])
def test_a_bad_lean_profile_warns_and_leaves_the_prefix_as_conda_made_it(
    conda_python: Path, channel: Path, tmp_path: Path, case: str
) -> None:
    profile = tmp_path / "profile.toml"
    if case == "not-toml":
        profile.write_text("this is [not toml\n")
    elif case == "no-conda-package":
        Profile().dump(profile)
    env = _home_with_condarc(tmp_path, profile)
    prefix = tmp_path / "env"
    proc = condakit.conda(
        conda_python,
        "create",
        "-y",
        "-p",
        prefix,
        "--offline",
        "--override-channels",
        "-c",
        channel.as_uri(),
        *SPECS,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr  # conda's own command succeeds
    said = {
        "missing": "No such file or directory",
        "not-toml": "not valid TOML",
        "no-conda-package": 'it has no conda package (kind = "conda")',
    }[case]
    assert "lean-install: warning: the lean_profile setting was not applied: " in proc.stderr
    assert f"{profile}: " in proc.stderr and said in proc.stderr, proc.stderr
    assert f"{prefix} was left as conda made it" in proc.stderr
    assert not (prefix / "lean-install").exists()
    assert (prefix / SP / "pkgc" / "x.py").read_text() == "C = 5\n"
    assert _doctor(conda_python, prefix) == {"missing": {}, "altered": {}}
    assert _workload(prefix).returncode == 0


# -- conda lean pack: lean packages in a channel, a fresh prefix from it ------------------------


def _extract(conda_python: Path, package: Path, dest: Path) -> Path:
    """``package`` (a .conda) extracted into ``dest`` by conda_package_handling."""
    code = (
        "import sys\nfrom conda_package_handling import api\napi.extract(sys.argv[1], sys.argv[2])"
    )
    subprocess.run([conda_python, "-c", code, package, dest], check=True, capture_output=True)
    return dest


def _package_listing(root: Path) -> dict[str, tuple[str, int]]:
    """Every file of an extracted package but ``info/`` -> (sha256, size)."""
    found = {}
    for path in root.rglob("*"):
        rel = path.relative_to(root).as_posix()
        if path.is_file() and not rel.startswith("info/"):
            data = path.read_bytes()
            found[rel] = (hashlib.sha256(data).hexdigest(), len(data))
    return found


def _pack(conda_python: Path, prefix: Path, profile: Path, out: Path, *args: str) -> str:
    proc = _lean(conda_python, "pack", "-p", prefix, "--profile", profile, "-o", out, *args)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


@pytest.fixture(scope="module")
def packed(
    conda_python: Path,
    channel: Path,
    traced: tuple[Path, set[str]],
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, Path, str]:
    """A traced prefix (never stripped), and the channel ``conda lean pack`` made of it."""
    profile, _ = traced
    root = tmp_path_factory.mktemp("packed")
    prefix = _create(conda_python, channel, root / "env", root / "pkgs")
    out = _pack(conda_python, prefix, profile, root / "lean-channel")
    return prefix, root / "lean-channel", out


def test_pack_writes_lean_packages_whose_info_matches_their_contents(
    conda_python: Path, packed: tuple[Path, Path, str], tmp_path: Path
) -> None:
    prefix, lean_channel, out = packed
    assert "4 lean package(s), 1 whole" in out and "indexed with py-rattler" in out, out
    assert "python-3.11.7-0_condakit: copied whole" in out
    written = sorted(p.relative_to(lean_channel).as_posix() for p in lean_channel.rglob("*.conda"))
    assert [w.split("/")[0] for w in written] == ["linux-64"] * 4 + ["noarch"]
    repodata = {
        fn
        for sub in ("linux-64", "noarch")
        for fn in json.loads((lean_channel / sub / "repodata.json").read_text())["packages.conda"]
    }
    assert repodata == {w.split("/")[1] for w in written}
    assert not list(lean_channel.glob(".lean-pack-*"))  # its work directory is gone
    for name in written:
        if name.startswith("linux-64/python-"):
            continue
        root = _extract(conda_python, lean_channel / name, tmp_path / name)
        index = json.loads((root / "info/index.json").read_text())
        original = read_record(
            prefix / "conda-meta" / f"{index['name']}-1.0-{index['build'].split('_lean')[0]}.json"
        )
        assert name.endswith(
            f"{original.name}-1.0-{original.build}_lean{index['build'][-10:]}.conda"
        )
        assert index["depends"] == original.raw["depends"] and index["version"] == "1.0"
        paths = json.loads((root / "info/paths.json").read_text())["paths"]
        listed = {e["_path"]: (e["sha256"], e["size_in_bytes"]) for e in paths}
        assert listed == _package_listing(root), name  # paths.json is exactly what is there
        assert (root / "info/files").read_text().splitlines() == sorted(listed)
        provenance = json.loads((root / "info/lean-install.json").read_text())
        assert provenance["source"]["sha256"] == original.raw["sha256"]
        assert not (root / "info/repodata_record.json").exists()
        assert set(provenance["removed"]).isdisjoint(listed)
    pkga = _extract(conda_python, next(lean_channel.glob("linux-64/pkga-*.conda")), tmp_path / "a")
    assert not (pkga / SP / "pkga/data/unused.txt").exists() and (pkga / "lib/liba.so").is_file()
    assert ".symtab" not in _sections((pkga / "lib/liba.so").read_bytes())
    rewritten = json.loads((pkga / "info/lean-install.json").read_text())["rewritten"]
    assert rewritten["lib/liba.so"]["symbol-bytes"] > 0, rewritten
    stub = (pkga / SP / "pkga/unused.py").read_text()
    assert stub.startswith("# lean-install stub") and "conda install -c file://" in stub
    pkgn = _extract(conda_python, next(lean_channel.glob("noarch/pkgn-*.conda")), tmp_path / "n")
    assert (pkgn / "site-packages/pkgn/unused.py").read_text().startswith("# lean-install stub")


def test_a_fresh_prefix_from_the_packed_channel_is_lean_and_works(
    conda_python: Path,
    packed: tuple[Path, Path, str],
    traced: tuple[Path, set[str]],
    tmp_path: Path,
) -> None:
    _, lean_channel, _ = packed
    prefix = tmp_path / "fresh"
    condakit.create_prefix(conda_python, prefix, lean_channel, *SPECS, pkgs_dir=tmp_path / "pkgs")
    listing = _listing(conda_python, prefix)
    assert [b for n, _, b in listing if n != "python"] == [
        b for n, _, b in listing if n != "python" and "_lean" in b
    ]
    assert len(listing) == 5
    proc = _workload(prefix)
    assert proc.returncode == 0 and "workload ok" in proc.stdout, proc.stderr
    assert _doctor(conda_python, prefix) == {"missing": {}, "altered": {}}
    # the same files as conda lean strip leaves (records, bytecode conda compiled for the
    # stubs of a noarch: python package, and the strip's startup hook, aside: a prefix
    # made from the channel has no manifests for it to restore from)
    _, stripped = traced

    def files(paths: set[str]) -> set[str]:
        return {
            p
            for p in paths
            if "__pycache__/" not in p
            and not p.startswith("conda-meta/")
            and p != f"{SP}/lean-install-conda.pth"
        }

    assert files(_paths(prefix)) == files(stripped)
    code = "try:\n    import pkgc\nexcept ModuleNotFoundError as e:\n    print(e)\n"
    said = condakit.run_in_prefix(prefix, "-c", code).stdout
    assert "lean-install removed module 'pkgc'" in said
    assert "conda install -c file://" in said and "pkgc=1.0=0 (the full package" in said


def test_pack_without_py_rattler_writes_repodata_conda_reads(
    conda_python: Path,
    packed: tuple[Path, Path, str],
    traced: tuple[Path, set[str]],
    tmp_path: Path,
) -> None:
    """``--indexer builtin``: lean-install's own repodata.json, read by the real conda."""
    prefix, _, _ = packed
    profile, _ = traced
    out = _pack(conda_python, prefix, profile, tmp_path / "ch", "--indexer", "builtin")
    assert "indexed with lean-install's repodata.json writer" in out
    fresh = tmp_path / "fresh"
    condakit.create_prefix(conda_python, fresh, tmp_path / "ch", *SPECS, pkgs_dir=tmp_path / "pkgs")
    assert _workload(fresh).returncode == 0
    assert _doctor(conda_python, fresh) == {"missing": {}, "altered": {}}


def test_pack_of_a_stripped_prefix_makes_the_same_lean_builds(
    conda_python: Path,
    packed: tuple[Path, Path, str],
    traced: tuple[Path, set[str]],
    tmp_path: Path,
) -> None:
    """A prefix stripped with the profile packs as its manifests say: the same packages."""
    prefix, lean_channel, _ = packed
    profile, _ = traced
    stripped = tmp_path / "stripped-env"
    shutil.copytree(prefix, stripped, symlinks=True)  # the records name the same cache
    assert _lean(conda_python, "strip", "-p", stripped, "--profile", profile).returncode == 0
    _pack(conda_python, stripped, profile, tmp_path / "ch", "--lean-only", "--indexer", "builtin")

    def names(channel: Path) -> set[str]:
        return {p.name for p in channel.rglob("*_lean*.conda")}

    assert names(tmp_path / "ch") == names(lean_channel)
    assert not list((tmp_path / "ch").rglob("python-*.conda"))  # --lean-only


def test_pack_without_the_package_cache_fails_clearly_and_writes_nothing(
    conda_python: Path, channel: Path, traced: tuple[Path, set[str]], tmp_path: Path
) -> None:
    profile, _ = traced
    prefix = _create(conda_python, channel, tmp_path / "env", tmp_path / "pkgs")
    shutil.rmtree(tmp_path / "pkgs" / "pkgc-1.0-0")
    (tmp_path / "pkgs" / "pkgc-1.0-0.conda").write_bytes(b"not a package")
    out = tmp_path / "ch"
    proc = _lean(conda_python, "pack", "-p", prefix, "--profile", profile, "-o", out)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    said = f"{prefix}: pkgc-1.0-0: cannot pack it: its package {tmp_path / 'pkgs'}"
    assert said in proc.stderr, proc.stderr
    assert "damaged" in proc.stderr and "hint:" in proc.stderr
    assert [p for p in out.rglob("*") if p.is_file()] == []


# -- no conda at import -------------------------------------------------------------------------


def test_lean_install_imports_no_conda(conda_python: Path) -> None:
    """In the conda venv (where conda is importable), lean-install's modules, the conda side
    but its plugin, import no conda."""
    code = (
        "import sys, lean_install.tracing, lean_install.cli\n"
        "import lean_install.conda.commands, lean_install.conda.health\n"
        "print(sorted(m for m in sys.modules if m == 'conda' or m.startswith('conda.')))\n"
    )
    out = subprocess.run([conda_python, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_a_conda_usage_round_trips_with_a_conda_version(tmp_path: Path) -> None:
    usage = DistributionUsage(
        name="openssl",
        version="3.0.1w",
        kind="conda",
        build="h0_1",  # type: ignore[arg-type]
        channel="conda-forge",
        subdir="linux-64",
        files=("lib/libssl.so.3",),
    )
    profile = Profile(distributions=(usage,))
    profile.dump(tmp_path / "p.toml")
    assert Profile.load(tmp_path / "p.toml") == profile
