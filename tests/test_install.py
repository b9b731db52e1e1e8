"""The lean install end to end: real wheels, the real pip, real venvs, one real trace.

A small world of wheels stands for an application and its dependencies:

- ``app`` (requested as ``app[extra]``): used, but ``app.unused``, ``app.optional``
  and ``app.sub`` are never imported -> stripped, those become stubs;
- ``usedlib``: used whole -> kept untouched;
- ``unuseddep`` (``app`` requires ``unuseddep==1.0``): never used -> stub distribution;
- ``extraonly`` (only ``app[extra]`` requires it): never used -> omitted;
- ``nativepkg`` (with gcc): ``liba.so`` loaded by ctypes ``DT_NEEDED``s ``libb.so``,
  which the profile is made not to mention -> kept by the ELF closure; ``libunused.so``
  is never loaded -> dropped.

The workload is traced once, for real, in a venv holding the originals.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import pytest
from conftest import build_wheel, create_venv, record_hash, site_packages

from lean_install.cli import main
from lean_install.profile import DistributionUsage, Profile

REQUIREMENT = "app[extra]"
LABEL = "workload"  # the profile file's stem: how stubs name the profile
LIBB = "nativepkg/lib/libb.so"

NATIVE_INIT = """\
import ctypes, os
_LIB = ctypes.CDLL(os.path.join(os.path.dirname(__file__), "lib", "liba.so"))
def answer():
    return _LIB.a_answer()
"""

WORKLOAD = """\
import app
assert app.core.compute() == 42, app.core.compute()
"""
NATIVE_WORKLOAD = """\
import nativepkg
assert nativepkg.answer() == 42, nativepkg.answer()
"""


# -- the world: wheels, a full venv, a traced profile --------------------------------


@dataclass(frozen=True)
class World:
    root: Path
    wheels: Path
    """The find-links directory holding every original wheel."""
    workload: Path
    full: Path
    """The python of a venv where plain pip installed the originals."""
    traced: Profile
    profile: Path
    """The profile lean installs use: the traced one, without ``libb.so`` (see ``world``)."""
    native: bool
    cache: Path

    def sources(self, wheels: Path | None = None) -> list[str]:
        return ["--no-index", "--find-links", str(wheels or self.wheels)]

    def install_argv(self, python: Path, *extra: str, wheels: Path | None = None) -> list[str]:
        return ["install", "--python", str(python), "--profile", str(self.profile),
                "--installer", "pip", "-q", *extra, REQUIREMENT, *self.sources(wheels)]  # fmt: skip


def _native_libraries(tmp: Path) -> dict[str, bytes] | None:
    """liba.so (DT_NEEDED libb.so, RUNPATH $ORIGIN), libb.so, libunused.so; None without gcc."""
    if shutil.which("gcc") is None:
        return None
    build = tmp / "native"
    build.mkdir()
    sources = {
        "b": "int b_value(void) { return 21; }\n",
        "a": "int b_value(void);\nint a_answer(void) { return 2 * b_value(); }\n",
        "unused": "int unused(void) { return 0; }\n",
    }
    for stem, text in sources.items():
        (build / f"{stem}.c").write_text(text)
    gcc = ["gcc", "-shared", "-fPIC"]
    subprocess.run([*gcc, "-o", "libb.so", "b.c"], cwd=build, check=True)
    subprocess.run([*gcc, "-o", "libunused.so", "unused.c"], cwd=build, check=True)
    subprocess.run([*gcc, "-o", "liba.so", "a.c", "-L.", "-lb", "-Wl,-rpath,$ORIGIN"],
                   cwd=build, check=True)  # fmt: skip
    return {name: (build / name).read_bytes() for name in ("liba.so", "libb.so", "libunused.so")}


def _build_world_wheels(wheels: Path, native: dict[str, bytes] | None) -> None:
    requires = ["usedlib", "unuseddep==1.0"] + (["nativepkg"] if native else [])
    build_wheel(wheels, "app", "1.0", {
        "app/__init__.py": "from app import core\n",
        "app/core.py": "import usedlib\n\ndef compute():\n    return usedlib.VALUE * 2\n",
        "app/unused.py": "X = 1\n",
        "app/optional.py": "FAST = True\n",
        "app/sub/__init__.py": "",
        "app/sub/deep.py": "Y = 2\n",
    }, requires=tuple(requires), extras={"extra": ("extraonly",)})  # fmt: skip
    build_wheel(wheels, "usedlib", "1.0", {"usedlib/__init__.py": "VALUE = 21\n"})
    build_wheel(wheels, "unuseddep", "1.0", {"unuseddep/__init__.py": "X = 1\n"})
    build_wheel(wheels, "extraonly", "1.0", {"extraonly/__init__.py": "X = 1\n"})
    if native:
        files: dict[str, bytes | str] = {"nativepkg/__init__.py": NATIVE_INIT}
        files.update({f"nativepkg/lib/{name}": data for name, data in native.items()})
        build_wheel(wheels, "nativepkg", "1.0", files, tag="py3-none-linux_x86_64")


def _pip(python: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(python), "-m", "pip", "--disable-pip-version-check", *args],
                          capture_output=True, text=True, check=check)  # fmt: skip


def cli(*argv: str) -> tuple[int, str, str]:
    """``main(argv)`` with its stdout and stderr captured: (exit code, out, err)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def _without_libb(traced: Profile) -> Profile:
    """The traced profile, minus libb.so: as if the tracer had not seen it mapped."""
    dists = []
    for dist in traced.distributions:
        if dist.name == "nativepkg":
            assert LIBB in dist.files, "the tracer saw libb.so mapped: removing it must matter"
            dist = replace(dist, files=tuple(f for f in dist.files if f != LIBB),
                           probed=tuple(p for p in dist.probed if p != LIBB))  # fmt: skip
        dists.append(dist)
    return Profile(traces=traced.traces, distributions=tuple(dists))


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("world")
    native = _native_libraries(root)
    wheels = root / "wheels"
    _build_world_wheels(wheels, native)
    workload = root / "run_workload.py"
    workload.write_text(WORKLOAD + (NATIVE_WORKLOAD if native else "") + "print('workload ok')\n")
    full = create_venv(root / "full")
    _pip(full, "install", "-q", "--no-index", "--find-links", str(wheels), REQUIREMENT)
    traced_path = root / "traced.toml"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LEAN_INSTALL_CACHE_DIR", str(root / "cache"))
        code, _, err = cli("trace", "-o", str(traced_path), "--", str(full), str(workload))
        assert code == 0, err
        traced = Profile.load(traced_path)
        profile = root / f"{LABEL}.toml"
        (_without_libb(traced) if native else traced).dump(profile)
        yield World(root=root, wheels=wheels, workload=workload, full=full, traced=traced,
                    profile=profile, native=bool(native), cache=root / "cache")  # fmt: skip


@pytest.fixture(autouse=True)
def _cache(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test's lean-install runs use the module's cache unless the test says otherwise."""
    if "world" in request.fixturenames:
        world = request.getfixturevalue("world")
        monkeypatch.setenv("LEAN_INSTALL_CACHE_DIR", str(world.cache))


@dataclass(frozen=True)
class LeanVenv:
    python: Path
    plan: dict[str, dict[str, object]]
    """The plan the install printed (``--json``), per distribution."""
    stderr: str


def _lean_install(world: World, python: Path, *extra: str) -> LeanVenv:
    code, out, err = cli(*world.install_argv(python, "--json", *extra))
    assert code == 0, err
    printed = json.loads(out)
    assert printed["dry-run"] is False
    plan = {d["name"]: d for d in printed["plan"]["distributions"]}
    return LeanVenv(python=python, plan=plan, stderr=err)


@pytest.fixture(scope="module")
def lean(world: World, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LeanVenv]:
    """A venv lean-installed from the profile; tests must not change it."""
    python = create_venv(tmp_path_factory.mktemp("lean") / "venv")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LEAN_INSTALL_CACHE_DIR", str(world.cache))
        yield _lean_install(world, python)


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An empty venv that refused and dry-run installs must leave exactly as it is."""
    return create_venv(tmp_path_factory.mktemp("pristine") / "venv")


# -- helpers -------------------------------------------------------------------------


def listing(root: Path) -> dict[str, tuple[int, int, int]]:
    """Every file and directory under ``root``: (mode, size, mtime) by relative path."""
    found = {}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        found[str(path.relative_to(root))] = (st.st_mode, st.st_size, st.st_mtime_ns)
    return found


def prefix_of(python: Path) -> Path:
    return python.parents[1]


def run_python(python: Path, code: str) -> subprocess.CompletedProcess[str]:
    """Run ``code`` in on-miss mode ``error``: these tests check what a stub says, and a
    restore (the default, tested in test_reserve) would change the module's venv."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["LEAN_INSTALL_ON_MISS"] = "error"
    return subprocess.run([str(python), "-c", code], capture_output=True, text=True, env=env)


def record_paths(python: Path, name: str) -> list[Path]:
    """Absolute paths of every file the installed distribution's RECORD lists."""
    sp = site_packages(python)
    info = next(sp.glob(f"{name}-*.dist-info"))
    rows = (info / "RECORD").read_text().splitlines()
    return [(sp / row.split(",")[0]).resolve() for row in rows if row]


def installed_files(python: Path, name: str) -> dict[str, bytes | None]:
    """RECORD path -> bytes (None for bytecode, whose header holds an install-time mtime)."""
    sp = site_packages(python)
    out: dict[str, bytes | None] = {}
    for path in record_paths(python, name):
        rel = str(path.relative_to(sp))
        out[rel] = None if rel.endswith(".pyc") else path.read_bytes()
    return out


def freeze(python: Path) -> dict[str, str]:
    lines = _pip(python, "freeze", "--all").stdout.splitlines()
    return dict(line.split("==", 1) for line in lines if "==" in line)


# -- plan decisions ------------------------------------------------------------------


def test_the_plan_takes_each_decision(world: World, lean: LeanVenv) -> None:
    decisions = {name: d["decision"] for name, d in lean.plan.items()}
    expected = {"app": "strip", "usedlib": "keep", "unuseddep": "stub", "extraonly": "omit"}
    if world.native:
        expected["nativepkg"] = "strip"
    assert decisions == expected
    assert set(lean.plan["app"]["stub-modules"]) == {"app.optional", "app.sub", "app.unused"}  # type: ignore[arg-type]


def test_unused_submodule_is_a_stub_with_a_two_line_message(lean: LeanVenv) -> None:
    result = run_python(lean.python, "import app.unused")
    assert result.returncode != 0
    assert "LeanInstallRemovedError" in result.stderr
    code = (
        "import app\n"
        "try:\n"
        "    import app.unused\n"
        "except ModuleNotFoundError as exc:\n"
        "    print(type(exc).__mro__[1].__name__, exc.name)\n"
        "    print(exc)\n"
    )
    out = run_python(lean.python, code).stdout.splitlines()
    assert out[0] == "ModuleNotFoundError app.unused"
    first, second, third = out[1:]
    assert "app.unused" in first and "distribution app 1.0" in first
    assert f"profile {LABEL}" in first
    assert second == f"To bring it back: lean-install restore --python {lean.python} app"
    assert third.endswith(f"lean-install config --python {lean.python} on-miss restore")
    assert run_python(lean.python, "import app.sub.deep").returncode != 0  # a stubbed package


def test_try_import_fallback_still_works(lean: LeanVenv) -> None:
    code = (
        "try:\n    from app.optional import FAST\nexcept ImportError:\n    FAST = 'fallback'\n"
        "print(FAST)\n"
    )
    result = run_python(lean.python, code)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "fallback\n"


def test_unused_dependency_is_a_stub_distribution(lean: LeanVenv) -> None:
    version = lean.plan["unuseddep"]["version"]
    result = run_python(
        lean.python, "import importlib.metadata as m; print(m.version('unuseddep'))"
    )
    assert result.stdout.strip().startswith(f"{version}+lean.")
    imported = run_python(lean.python, "import unuseddep")
    assert "distribution unuseddep 1.0" in imported.stderr
    assert "ModuleNotFoundError" in imported.stderr or "LeanInstallRemovedError" in imported.stderr
    assert (
        not (site_packages(lean.python) / "unuseddep" / "__init__.py")
        .read_text()
        .startswith("X = 1")
    )
    check = _pip(lean.python, "check", check=False)
    assert check.returncode == 0, check.stdout  # app's unuseddep==1.0 is satisfied


def test_extra_only_dependency_is_not_installed(lean: LeanVenv) -> None:
    sp = site_packages(lean.python)
    assert not (sp / "extraonly").exists()
    assert not list(sp.glob("extraonly-*"))
    assert "extraonly" not in freeze(lean.python)


def test_kept_package_is_untouched(world: World, lean: LeanVenv) -> None:
    assert freeze(lean.python)["usedlib"] == "1.0"
    _same_as_plain_install(lean.python, world.full, "usedlib")


def test_stripped_package_lost_only_what_the_plan_dropped(world: World, lean: LeanVenv) -> None:
    sp = site_packages(lean.python)
    assert not (sp / "app" / "sub" / "deep.py").exists()
    assert (sp / "app" / "core.py").read_bytes() == (
        site_packages(world.full) / "app" / "core.py"
    ).read_bytes()
    manifest = next(sp.glob("app-*.dist-info")) / "lean-install.json"
    removed = json.loads(manifest.read_text())["removed"]
    assert set(removed) == set(lean.plan["app"]["drop"])  # type: ignore[arg-type]
    assert "app/sub/deep.py" in removed


# -- the ELF closure ------------------------------------------------------------------


def test_needed_library_the_profile_never_saw_is_kept(world: World, lean: LeanVenv) -> None:
    if not world.native:
        pytest.skip("gcc is needed to build the shared libraries")
    profiled = Profile.load(world.profile).find("nativepkg")[0]
    assert LIBB not in profiled.files + profiled.probed
    drop = lean.plan["nativepkg"]["drop"]
    assert LIBB not in drop  # type: ignore[operator]
    assert "nativepkg/lib/libunused.so" in drop  # type: ignore[operator]  # the closure is not "keep all"
    lib = site_packages(lean.python) / "nativepkg" / "lib"
    assert sorted(p.name for p in lib.iterdir()) == ["liba.so", "libb.so"]
    result = run_python(lean.python, "import nativepkg; print(nativepkg.answer())")
    assert result.stdout == "42\n", result.stderr


def test_traced_workload_passes_in_the_lean_venv(world: World, lean: LeanVenv) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run([str(lean.python), str(world.workload)], capture_output=True,
                            text=True, env=env)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout == "workload ok\n"


# -- pip still works -----------------------------------------------------------------


def test_pip_check_is_clean_and_freeze_shows_lean_versions(lean: LeanVenv) -> None:
    check = _pip(lean.python, "check", check=False)
    assert check.returncode == 0, check.stdout + check.stderr
    frozen = freeze(lean.python)
    for name, plan in lean.plan.items():
        if plan["decision"] == "omit":
            assert name not in frozen
            continue
        if plan["decision"] == "keep":
            assert frozen[name] == plan["version"]
        else:
            assert frozen[name].startswith(f"{plan['version']}+lean.")
        assert _pip(lean.python, "show", name).stdout.count(f"Version: {frozen[name]}") == 1


def test_uninstalling_a_stripped_distribution_leaves_none_of_its_files(
    world: World, tmp_path: Path
) -> None:
    lean = _lean_install(world, create_venv(tmp_path / "venv"))
    files = record_paths(lean.python, "app")
    assert any(p.name == "unused.py" for p in files)  # stubs are recorded too
    assert all(p.exists() for p in files)
    _pip(lean.python, "uninstall", "-y", "app")
    left = [p for p in files if p.exists()]
    assert left == []
    sp = site_packages(lean.python)
    assert not (sp / "app").exists()
    assert not list(sp.glob("app-*"))


# -- dry run ---------------------------------------------------------------------------


def test_dry_run_changes_nothing_and_prints_the_plan(world: World, pristine: Path) -> None:
    prefix = prefix_of(pristine)
    before = listing(prefix)
    code, out, err = cli(*world.install_argv(pristine, "--dry-run"))
    assert code == 0, err
    assert listing(prefix) == before
    lines = out.splitlines()
    assert lines[0].split()[:3] == ["distribution", "version", "decision"]
    rows = {line.split()[0]: line.split()[2] for line in lines[1:] if line and line[0] != " "}
    assert rows["app"] == "strip" and rows["unuseddep"] == "stub"
    assert rows["extraonly"] == "omit" and rows["usedlib"] == "keep"
    assert lines[-1].startswith(f"policy profile; profile {LABEL};")

    code, out, err = cli(*world.install_argv(pristine, "--dry-run", "--json"))
    assert code == 0, err
    printed = json.loads(out)
    assert printed["dry-run"] is True
    assert {d["name"] for d in printed["plan"]["distributions"]} >= {"app", "usedlib"}
    assert printed["plan"]["policy"] == "profile"
    assert listing(prefix) == before


# -- determinism ----------------------------------------------------------------------


def test_wheel_builds_are_byte_identical_from_a_cold_cache(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    built = []
    for run in ("one", "two"):
        monkeypatch.setenv("LEAN_INSTALL_CACHE_DIR", str(tmp_path / f"cache-{run}"))
        out = tmp_path / f"wheels-{run}"
        code, _, err = cli("wheel", "--profile", str(world.profile), "-q", REQUIREMENT,
                           *world.sources(), "-w", str(out))  # fmt: skip
        assert code == 0, err
        built.append({p.name: p.read_bytes() for p in sorted(out.iterdir())})
    assert built[0] == built[1]
    names = sorted(built[0])
    assert any(n.startswith("app-1.0+lean.") for n in names)
    assert any(n.startswith("unuseddep-1.0+lean.") for n in names)
    assert "usedlib-1.0-py3-none-any.whl" in names
    assert not any(n.startswith("extraonly") for n in names)


# -- restore ---------------------------------------------------------------------------


def _same_as_plain_install(lean_python: Path, full: Path, name: str) -> None:
    ours, theirs = installed_files(lean_python, name), installed_files(full, name)
    theirs.pop(f"{name}-1.0.dist-info/REQUESTED", None)  # pip marks requested ones only
    ours.pop(f"{name}-1.0.dist-info/REQUESTED", None)
    record = f"{name}-1.0.dist-info/RECORD"
    assert _record_without_bytecode(ours.pop(record)) == _record_without_bytecode(
        theirs.pop(record)
    )
    assert ours == theirs


def _record_without_bytecode(data: bytes | None) -> list[str]:
    assert data is not None
    rows = data.decode().splitlines()
    return sorted(
        row.split(",")[0] if ".pyc," in row else row for row in rows if "REQUESTED" not in row
    )


def test_restore_one_then_all_puts_the_originals_back(world: World, tmp_path: Path) -> None:
    lean = _lean_install(world, create_venv(tmp_path / "venv"))
    code, _, err = cli("restore", "--python", str(lean.python), "--installer", "pip", "-q", "app")
    assert code == 0, err
    _same_as_plain_install(lean.python, world.full, "app")
    assert freeze(lean.python)["app"] == "1.0"
    assert freeze(lean.python)["unuseddep"].startswith("1.0+lean.")  # not restored yet
    assert run_python(lean.python, "import app.unused, app.sub.deep").returncode == 0

    code, _, err = cli("restore", "--python", str(lean.python), "--installer", "pip", "-q",
                       "--all")  # fmt: skip
    assert code == 0, err
    lean_ones = [n for n, d in lean.plan.items() if d["decision"] in ("strip", "stub")]
    for name in lean_ones:
        _same_as_plain_install(lean.python, world.full, name)
        assert freeze(lean.python)[name] == "1.0"
    state = json.loads((prefix_of(lean.python) / "lean-install" / "state.json").read_text())
    assert state["distributions"] == {}
    code, _, err = cli("restore", "--python", str(lean.python), "-q", "app")
    assert code != 0 and "did not install app" in err


# -- bad input ---------------------------------------------------------------------------


def _find_links_with(world: World, tmp_path: Path, replacement: Path | bytes) -> Path:
    """A copy of the find-links directory whose app wheel is replaced."""
    links = tmp_path / "links"
    shutil.copytree(world.wheels, links)
    target = links / "app-1.0-py3-none-any.whl"
    if isinstance(replacement, bytes):
        target.write_bytes(replacement)
    else:
        shutil.copyfile(replacement, target)
    return links


def _tampered_app(world: World, tmp_path: Path) -> Path:
    """The app wheel with app/core.py changed after RECORD was written (same size)."""
    original = world.wheels / "app-1.0-py3-none-any.whl"
    out = tmp_path / "tampered" / original.name
    out.parent.mkdir()
    with zipfile.ZipFile(original) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "app/core.py":
                data = data.replace(b"* 2", b"* 3")
            dst.writestr(info, data)
    return out


def _climbing_app(world: World, tmp_path: Path, *, in_archive: bool) -> Path:
    """The app wheel with RECORD naming ``../../etc/x`` (and the member too, if asked)."""
    out = tmp_path / "climbing"
    path = build_wheel(out, "app", "1.0", {"app/__init__.py": "from app import core\n",
                                           "app/core.py": "def compute():\n    return 42\n",
                                           "../../etc/x": "owned\n"})  # fmt: skip
    if in_archive:
        return path
    rebuilt = out / "rebuilt" / path.name
    rebuilt.parent.mkdir()
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(rebuilt, "w") as dst:
        for info in src.infolist():
            if info.filename != "../../etc/x":
                dst.writestr(info, src.read(info))
    return rebuilt


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("truncated", "pip could not resolve"),
        ("tampered", "app/core.py"),
        ("climbing-member", "'../../etc/x'"),
        ("climbing-record", "'../../etc/x'"),
    ],
)
def test_bad_wheel_is_refused_and_nothing_changes(
    world: World, pristine: Path, tmp_path: Path, case: str, message: str
) -> None:
    if case == "truncated":
        replacement: Path | bytes = (world.wheels / "app-1.0-py3-none-any.whl").read_bytes()[:300]
    elif case == "tampered":
        replacement = _tampered_app(world, tmp_path)
    else:
        replacement = _climbing_app(world, tmp_path, in_archive=case == "climbing-member")
    links = _find_links_with(world, tmp_path, replacement)
    prefix = prefix_of(pristine)
    before = listing(prefix)
    code, _, err = cli(*world.install_argv(pristine, wheels=links))
    assert code != 0
    errors = err.split("lean-install: error: ")
    assert len(errors) == 2, err  # one error, said once (after any warnings)
    assert message in errors[1]
    assert "Traceback" not in err
    assert listing(prefix) == before
    assert not (site_packages(pristine) / "../../etc/x").resolve().exists()


def test_profile_naming_a_distribution_the_resolution_lacks(world: World, tmp_path: Path) -> None:
    profile = Profile.load(world.profile)
    ghost = DistributionUsage(name="ghost", version="1.0", files=("ghost/__init__.py",))  # type: ignore[arg-type]
    extended = tmp_path / f"{LABEL}.toml"
    Profile(traces=profile.traces, distributions=(*profile.distributions, ghost)).dump(extended)
    python = create_venv(tmp_path / "venv")
    code, _, err = cli("install", "--python", str(python), "--profile", str(extended),
                       "--installer", "pip", REQUIREMENT, *world.sources())  # fmt: skip
    assert code == 0, err
    assert "lean-install: warning: the profile used ghost, which the resolution does not hold" in (
        err.splitlines()
    )
    assert freeze(python)["app"].startswith("1.0+lean.")
    assert "ghost" not in freeze(python)


# -- an install killed half-way ----------------------------------------------------------


def _entries(directories: Sequence[Path]) -> list[set[str]]:
    found = []
    for directory in directories:
        try:
            found.append({entry.name for entry in directory.iterdir()})
        except OSError:
            found.append(set())
    return found


def _kill_when_installing(argv: Sequence[str], watched: Sequence[Path], env: dict[str, str]) -> str:
    """Run lean-install; SIGKILL its process group once an entry of ``watched`` changes."""
    before = _entries(watched)
    process = subprocess.Popen([sys.executable, "-m", "lean_install", *argv], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)  # fmt: skip
    deadline = time.monotonic() + 60
    when = "timeout"
    try:
        while time.monotonic() < deadline:
            if _entries(watched) != before:
                when = "changed"
                break
            if process.poll() is not None:
                when = "finished"
                break
            time.sleep(0.002)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    return when


def _works(world: World, python: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    run = subprocess.run([str(python), str(world.workload)], capture_output=True, text=True,
                         env=env)  # fmt: skip
    assert run.returncode == 0, run.stderr
    check = _pip(python, "check", check=False)
    assert check.returncode == 0, check.stdout + check.stderr
    for name in ("app", "usedlib", "unuseddep"):
        for path in record_paths(python, name):  # RECORD is there, and so is every file
            assert path.exists(), f"{path} is in RECORD but missing"


@pytest.mark.parametrize("start", ["empty", "originals"])
def test_killed_install_is_repaired_by_a_rerun(world: World, tmp_path: Path, start: str) -> None:
    """SIGKILL the whole lean install (pip included) once site-packages starts changing."""
    python = create_venv(tmp_path / "venv")
    if start == "originals":
        _pip(python, "install", "-q", REQUIREMENT, *world.sources())
    sp = site_packages(python)
    before = listing(prefix_of(python))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["LEAN_INSTALL_CACHE_DIR"] = str(tmp_path / "cache")  # cold: stripping runs too
    watched = [sp, sp / "app"]  # pip moves a replaced package aside first: app/ goes
    assert _kill_when_installing(world.install_argv(python), watched, env) == "changed"
    if listing(prefix_of(python)) == before:
        return  # killed before anything changed: the environment is as before
    # The state file is written once pip is done: restore --all knows nothing yet. A
    # rerun of the install is the way back, and afterwards restore --all works.
    code, _, err = cli(*world.install_argv(python))
    assert code == 0, err
    _works(world, python)
    frozen = freeze(python)
    assert frozen["app"].startswith("1.0+lean.") and frozen["usedlib"] == "1.0"
    code, _, err = cli("restore", "--python", str(python), "--installer", "pip", "-q", "--all")
    assert code == 0, err
    _works(world, python)
    frozen = freeze(python)
    assert [frozen[n] for n in ("app", "usedlib", "unuseddep")] == ["1.0"] * 3


def test_rerun_and_restore_repair_what_an_interrupted_pip_leaves(
    world: World, tmp_path: Path
) -> None:
    """The leftovers a kill leaves (seen in the test above), made on purpose.

    - a .dist-info without RECORD: pip counts it as installed and cannot uninstall it,
      even with --force-reinstall;
    - pip's stash of a distribution it was replacing (``~nuseddep-1.0.dist-info``, still
      ``Name: unuseddep``): depending on directory order it hides the installed one from pip.
    """
    lean = _lean_install(world, create_venv(tmp_path / "venv"))
    sp = site_packages(lean.python)
    for name in ("usedlib", "app"):
        (next(sp.glob(f"{name}-*.dist-info")) / "RECORD").unlink()
    stash = sp / "~nuseddep-1.0.dist-info"
    shutil.copytree(site_packages(world.full) / "unuseddep-1.0.dist-info", stash)
    code, _, err = cli(*world.install_argv(lean.python))
    assert code == 0, err
    _works(world, lean.python)
    assert not stash.exists()
    assert freeze(lean.python)["unuseddep"].startswith("1.0+lean.")
    (next(sp.glob("app-*.dist-info")) / "RECORD").unlink()
    code, _, err = cli("restore", "--python", str(lean.python), "--installer", "pip", "app")
    assert code == 0, err
    assert "left by an interrupted install" in err
    _same_as_plain_install(lean.python, world.full, "app")


def test_rerun_after_a_finished_install_changes_nothing(world: World, lean: LeanVenv) -> None:
    sp = site_packages(lean.python)
    before = {k: v for k, v in listing(sp).items() if "__pycache__" not in k}
    code, _, err = cli(*world.install_argv(lean.python))
    assert code == 0, err
    after = {k: v for k, v in listing(sp).items() if "__pycache__" not in k}
    assert after == before


def test_installed_lean_files_match_their_record(lean: LeanVenv) -> None:
    """Every file of the stripped app (stubs included) has the hash its new RECORD gives."""
    sp = site_packages(lean.python)
    info = next(sp.glob("app-*.dist-info"))
    rows = [row.split(",") for row in (info / "RECORD").read_text().splitlines() if row]
    for path, digest, _size in rows:
        if digest:
            assert record_hash((sp / path).read_bytes()) == digest, path
