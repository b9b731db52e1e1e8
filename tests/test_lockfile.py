"""lock, sync and wheelhouse: real wheels, the real pip, real venvs, a real web server.

A small world of wheels stands for an application and its dependencies:

- ``app`` (requested as ``app[extra]``): used, but ``app.unused`` and ``app/tests`` never
  -> stripped;
- ``usedlib``: used whole -> kept;
- ``unuseddep`` (``app`` requires it): never used -> a stub distribution;
- ``extraonly`` (only ``app[extra]`` requires it): never used -> omitted.

The profile says what the workload used; ``cli.main`` runs the commands.
The last test does it all on numpy, pandas and scikit-learn (slow).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import tomli_w
from conftest import build_wheel, create_venv
from packaging.pylock import Pylock
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from lean_install import cli
from lean_install.cache import file_sha256
from lean_install.lock import lock_digest
from lean_install.profile import DistributionUsage, Profile

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

REQUIREMENT = "app[extra]"
WORKLOAD = "import app\nassert app.core.compute() == 42\nprint('workload ok')\n"
WORKLOADS = Path(__file__).parents[1] / "profiles" / "workloads"


# -- the world -----------------------------------------------------------------------


@dataclass(frozen=True)
class World:
    root: Path
    wheels: Path
    profile: Path
    lock: Path
    cache: Path
    workload: Path

    def sources(self, wheels: Path | None = None) -> list[str]:
        return ["--no-index", "--find-links", str(wheels or self.wheels)]

    def lean_pins(self) -> dict[str, str]:
        """name -> the version sync installs, read from the lock."""
        data = tomllib.loads(self.lock.read_text())
        return {p["name"]: p["tool"]["lean-install"]["lean-version"] for p in data["packages"]}


def _build_wheels(wheels: Path, *, value: int = 21) -> None:
    build_wheel(wheels, "app", "1.0", {
        "app/__init__.py": "from app import core\n",
        "app/core.py": "import usedlib\n\ndef compute():\n    return usedlib.VALUE * 2\n",
        "app/unused.py": "X = 1\n",
        "app/tests/test_app.py": "def test(): pass\n",
    }, requires=("usedlib", "unuseddep==1.0"), extras={"extra": ("extraonly",)})  # fmt: skip
    build_wheel(wheels, "usedlib", "1.0", {"usedlib/__init__.py": f"VALUE = {value}\n"})
    build_wheel(wheels, "unuseddep", "1.0", {"unuseddep/__init__.py": "X = 1\n"})
    build_wheel(wheels, "extraonly", "1.0", {"extraonly/__init__.py": "X = 1\n"})


def _profile() -> Profile:
    return Profile(
        distributions=(
            DistributionUsage(name="app", version="1.0", files=("app/__init__.py", "app/core.py")),
            DistributionUsage(name="usedlib", version="1.0", files=("usedlib/__init__.py",)),
        )
    )


@contextlib.contextmanager
def _lean_install(cache: Path) -> Iterator[None]:
    """The lean-install cache at ``cache`` for the duration."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LEAN_INSTALL_CACHE_DIR", str(cache))
        yield


def run(*argv: str | Path) -> tuple[int, str, str]:
    """``cli.main(argv)`` with its stdout and stderr captured: (exit code, out, err)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main([str(a) for a in argv])
    return code, out.getvalue(), err.getvalue()


def lock_world(world: World, output: Path, wheels: Path | None = None) -> None:
    code, _, err = run("lock", "-q", "-o", output, "--profile", world.profile, REQUIREMENT,
                       *world.sources(wheels))  # fmt: skip
    assert code == 0, err


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("world")
    _build_wheels(root / "wheels")
    _profile().dump(root / "workload.toml")
    (root / "workload.py").write_text(WORKLOAD)
    made = World(root=root, wheels=root / "wheels", profile=root / "workload.toml",
                 lock=root / "pylock.toml", cache=root / "cache",
                 workload=root / "workload.py")  # fmt: skip
    with _lean_install(made.cache):
        lock_world(made, made.lock)
        yield made


@pytest.fixture(autouse=True)
def _wired(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every test runs lean-install with the world's cache unless it says otherwise."""
    cache = request.getfixturevalue("world").cache if "world" in request.fixturenames else None
    with _lean_install(cache or Path(str(request.getfixturevalue("tmp_path"))) / "cache"):
        yield


@pytest.fixture(scope="module")
def synced(world: World, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv synced to the lock (default installer); tests must not change it."""
    python = create_venv(tmp_path_factory.mktemp("synced") / "venv")
    with _lean_install(world.cache):
        code, _, err = run("sync", "-q", world.lock, "--python", python)
    assert code == 0, err
    return python


@pytest.fixture(scope="module")
def wheelhouse(world: World, tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("wheelhouse")
    with _lean_install(world.cache):
        code, _, err = run("wheelhouse", "-q", world.lock, "-d", directory)
    assert code == 0, err
    return directory


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv that every refused sync must leave exactly as it is."""
    return create_venv(tmp_path_factory.mktemp("pristine") / "venv")


# -- helpers -------------------------------------------------------------------------


def prefix_of(python: Path) -> Path:
    return python.parents[1]


def listing(root: Path) -> dict[str, tuple[int, int, int]]:
    """Every file and directory under ``root``: (mode, size, mtime), by relative path."""
    found = {}
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        found[str(path.relative_to(root))] = (st.st_mode, st.st_size, st.st_mtime_ns)
    return found


def tree(root: Path) -> dict[str, str]:
    """sha256 of every file under ``root`` outside ``__pycache__`` (symlinks: their target)."""
    found = {}
    for directory, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d != "__pycache__"]
        for name in files:
            path = Path(directory, name)
            rel = str(path.relative_to(root))
            found[rel] = (
                "-> " + str(path.readlink())
                if path.is_symlink()
                else hashlib.sha256(path.read_bytes()).hexdigest()
            )
    return found


def python_run(python: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | extra
    return subprocess.run([str(python), *args], capture_output=True, text=True, env=env)


def pip(python: Path, *args: str) -> subprocess.CompletedProcess[str]:
    done = python_run(python, "-m", "pip", "--disable-pip-version-check", *args)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def freeze(python: Path) -> dict[str, str]:
    lines = pip(python, "freeze", "--all").stdout.splitlines()
    return dict(line.split("==", 1) for line in lines if "==" in line)


def without_pip(pins: dict[str, str]) -> dict[str, str]:
    return {name: version for name, version in pins.items() if name != "pip"}


@contextlib.contextmanager
def served(directory: Path) -> Iterator[str]:
    """``python -m http.server`` on 127.0.0.1 serving ``directory``; yields its URL."""
    command = [sys.executable, "-u", "-m", "http.server", "0", "--bind", "127.0.0.1",
               "--directory", str(directory)]  # fmt: skip
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                          text=True) as server:  # fmt: skip
        try:
            assert server.stdout is not None
            line = server.stdout.readline()  # Serving HTTP on 127.0.0.1 port 41234 (...) ...
            yield f"http://127.0.0.1:{line.split(' port ')[1].split()[0]}/"
        finally:
            server.terminate()


def rewrite(lock: Path, target: Path, edit: object) -> Path:
    """A copy of ``lock`` at ``target`` after ``edit(data)``, its digest made consistent again.

    Stands for a lock that lean-install wrote elsewhere (another platform, another
    lean-install): the digest is right, the content is not what this machine makes.
    """
    data = tomllib.loads(lock.read_text())
    edit(data)  # type: ignore[operator]
    data["tool"]["lean-install"]["digest"] = lock_digest(data)
    target.write_text(tomli_w.dumps(data))
    return target


def package(data: dict[str, object], name: str) -> dict[str, object]:
    packages: list[dict[str, object]] = data["packages"]  # type: ignore[assignment]
    return next(p for p in packages if p["name"] == name)


def assert_refused(pristine: Path, fragment: str, *argv: str | Path) -> str:
    """``sync`` into ``pristine`` exits 2, says ``fragment``, and changes nothing."""
    before = listing(prefix_of(pristine))
    code, _, err = run("sync", *argv, "--python", pristine)
    assert code == 2, err
    assert fragment in err, err
    assert listing(prefix_of(pristine)) == before
    return err


# -- lock ----------------------------------------------------------------------------


def test_the_lock_is_a_pep_751_lock_of_the_originals(world: World) -> None:
    lock = Pylock.from_dict(tomllib.loads(world.lock.read_text()))
    minor = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert lock.requires_python == SpecifierSet(f"=={minor}.*")
    assert [p.name for p in lock.packages] == ["app", "unuseddep", "usedlib"]
    selected = {package.name: file for package, file in lock.select()}  # as any installer does
    assert sorted(selected) == ["app", "unuseddep", "usedlib"]
    for name, file in selected.items():
        original = world.wheels / file.filename
        assert file.url == original.as_uri()
        assert dict(file.hashes) == {"sha256": file_sha256(original)}
        assert file.size == (None if name == "unuseddep" else original.stat().st_size)


def test_the_tool_tables_carry_policy_profile_and_plans(world: World) -> None:
    lock = Pylock.from_dict(tomllib.loads(world.lock.read_text()))
    assert lock.tool is not None
    table = lock.tool["lean-install"]
    assert table["policy"] == "profile" and table["profile-label"] == "workload"
    assert Profile.from_dict(table["profile"]) == _profile()
    assert table["profile-digest"] == _profile().usage_digest()
    assert [o["name"] for o in table["omitted"]] == ["extraonly"]
    assert table["environment"]["markers"]["python_full_version"] == ".".join(
        map(str, sys.version_info[:3])
    )
    plans = {p.name: (p.tool or {})["lean-install"]["plan"] for p in lock.packages}
    assert {n: p["decision"] for n, p in plans.items()} == {
        "app": "strip", "unuseddep": "stub", "usedlib": "keep"}  # fmt: skip
    assert plans["app"]["drop"] == ["app/tests/test_app.py", "app/unused.py"]
    assert plans["app"]["stub-modules"] == ["app.unused"]


def test_the_lock_records_the_digest_of_each_lean_wheel(world: World, tmp_path: Path) -> None:
    code, _, err = run("wheel", "-q", "--profile", world.profile, "-w", tmp_path, REQUIREMENT,
                       *world.sources())  # fmt: skip
    assert code == 0, err
    built = {p.name: file_sha256(p) for p in tmp_path.glob("*.whl")}
    data = tomllib.loads(world.lock.read_text())
    recorded = {
        p["tool"]["lean-install"]["wheel"]["name"]: p["tool"]["lean-install"]["wheel"]["hashes"]
        for p in data["packages"]
    }
    assert {name: {"sha256": sha256} for name, sha256 in built.items()} == recorded


def test_locking_twice_gives_the_same_bytes(world: World, tmp_path: Path) -> None:
    again = tmp_path / "again" / "pylock.toml"
    again.parent.mkdir()
    with _lean_install(tmp_path / "cold-cache"):  # nothing reused: every wheel stripped again
        lock_world(world, again)
    assert again.read_bytes() == world.lock.read_bytes()


def test_lock_writes_only_pylock_names(world: World, tmp_path: Path) -> None:
    code, _, err = run("lock", "-q", "-o", tmp_path / "lock.toml", "--profile", world.profile,
                       REQUIREMENT, *world.sources())  # fmt: skip
    assert code == 2 and "pylock.<name>.toml" in err
    assert not (tmp_path / "lock.toml").exists()


def test_lock_digest_ignores_locations_but_not_hashes(world: World) -> None:
    data = tomllib.loads(world.lock.read_text())
    digest = lock_digest(data)
    assert data["tool"]["lean-install"]["digest"] == digest
    wheel = package(data, "usedlib")["wheels"][0]  # type: ignore[index]
    wheel["url"] = "https://mirror.example/usedlib-1.0-py3-none-any.whl"
    assert lock_digest(data) == digest
    wheel["hashes"]["sha256"] = "0" * 64
    assert lock_digest(data) != digest


# -- sync ----------------------------------------------------------------------------


def test_sync_installs_the_lean_environment(world: World, synced: Path) -> None:
    assert without_pip(freeze(synced)) == world.lean_pins()  # setuptools went: not in the lock
    assert python_run(synced, str(world.workload)).stdout == "workload ok\n"
    # on-miss "error" here: the default would restore it and change the synced venv
    removed = python_run(synced, "-c", "import app.unused", LEAN_INSTALL_ON_MISS="error")
    assert "lean-install removed module 'app.unused'" in removed.stderr
    assert pip(synced, "check").returncode == 0


def test_sync_again_changes_nothing(world: World, synced: Path) -> None:
    before = listing(prefix_of(synced))
    code, _, err = run("sync", world.lock, "--python", synced)
    assert code == 0, err
    assert "installed 0, removed 0, unchanged 3" in err
    assert listing(prefix_of(synced)) == before


def test_sync_repairs_what_drifted(world: World, tmp_path: Path) -> None:
    python = create_venv(tmp_path / "venv")
    _build_wheels(tmp_path / "other", value=0)  # usedlib 1.0 again, other content
    pip(python, "install", "-q", *world.sources(), "app==1.0", "extraonly")
    other = world.sources(tmp_path / "other")
    pip(python, "install", "-q", "--force-reinstall", "--no-deps", *other, "usedlib==1.0")
    code, _, err = run("sync", world.lock, "--python", python)
    assert code == 0, err
    assert "installed 3, removed 2, unchanged 0" in err  # usedlib too: same version, not same files
    assert without_pip(freeze(python)) == world.lean_pins()
    assert python_run(python, str(world.workload)).stdout == "workload ok\n"


def test_sync_wheelhouse_and_install_give_identical_environments(
    world: World, wheelhouse: Path, tmp_path: Path
) -> None:
    """Built from the originals, taken from a wheelhouse, or installed directly: the same files.

    Venvs at the same path (a script's shebang names its venv) and one installer (uv
    writes the install time into each ``.dist-info/uv_cache.json``).
    """
    python = tmp_path / "env" / "bin" / "python"
    trees = []
    for how in ("sync", "sync-wheelhouse", "install"):
        create_venv(tmp_path / "env")
        if how == "install":
            code, _, err = run("install", "-q", "--installer", "pip", "--python", python,
                               "--profile", world.profile, REQUIREMENT,
                               *world.sources())  # fmt: skip
            pip(python, "uninstall", "-y", "-q", "setuptools")  # the venv's, not the lock's
        else:
            house = ["--wheelhouse", wheelhouse] if how == "sync-wheelhouse" else []
            code, _, err = run("sync", world.lock, "--python", python, "--installer", "pip",
                               *house, *world.sources())  # fmt: skip
        assert code == 0, err
        trees.append(tree(tmp_path / "env"))
        shutil.rmtree(tmp_path / "env")
    assert "lib/python{}.{}/site-packages/app/core.py".format(*sys.version_info[:2]) in trees[0]
    assert trees[0] == trees[1] == trees[2]


# -- wheelhouse ----------------------------------------------------------------------


def test_the_wheelhouse_is_a_simple_index_of_the_lean_wheels(
    world: World, wheelhouse: Path
) -> None:
    pins = world.lean_pins()
    assert sorted(p.name for p in (wheelhouse / "simple").iterdir() if p.is_dir()) == sorted(pins)
    for name in pins:
        wheels = list((wheelhouse / "simple" / name).glob("*.whl"))
        assert len(wheels) == 1
        page = (wheelhouse / "simple" / name / "index.html").read_text()
        assert f"#sha256={file_sha256(wheels[0])}" in page
    root = (wheelhouse / "simple" / "index.html").read_text()
    assert all(f'href="{name}/"' in root for name in pins)
    lean = Pylock.from_dict(tomllib.loads((wheelhouse / "pylock.toml").read_text()))
    for locked, file in lean.select():
        assert locked.version == Version(pins[locked.name])
        assert file.path is not None
        assert file_sha256(wheelhouse / file.path) == dict(file.hashes)["sha256"]


def test_pip_alone_installs_the_lean_environment_from_a_served_wheelhouse(
    world: World, wheelhouse: Path, tmp_path: Path
) -> None:
    python = create_venv(tmp_path / "venv")
    with served(wheelhouse) as url:
        pip(python, "install", "-q", "--isolated", "--index-url", url + "simple/",
            "-r", url + "requirements.txt")  # fmt: skip
        assert without_pip(freeze(python)) == {**world.lean_pins(), "setuptools": "65.5.0"}
        assert python_run(python, str(world.workload)).stdout == "workload ok\n"
        code, _, err = run("sync", world.lock, "--python", python, "--wheelhouse", url)
    assert code == 0, err
    assert "installed 0, removed 1, unchanged 3" in err  # what pip installed is what sync wants


# -- refusals: nothing changes -------------------------------------------------------


def test_sync_refuses_an_edited_tool_table(world: World, pristine: Path, tmp_path: Path) -> None:
    text = world.lock.read_text()
    assert '    "app/unused.py",\n' in text
    edited = tmp_path / "pylock.toml"
    edited.write_text(text.replace('    "app/unused.py",\n', ""))  # keep app.unused after all
    assert_refused(pristine, "the lock was edited", edited)


def test_sync_refuses_a_lean_wheel_whose_digest_differs(
    world: World, pristine: Path, tmp_path: Path
) -> None:
    def edit(data: dict[str, object]) -> None:
        package(data, "app")["tool"]["lean-install"]["wheel"]["hashes"]["sha256"] = "0" * 64  # type: ignore[index]

    lock = rewrite(world.lock, tmp_path / "pylock.toml", edit)
    err = assert_refused(pristine, "app: the strip file app-1.0+lean.", lock)
    assert "the lock says " + "0" * 64 in err


def test_sync_refuses_a_tampered_wheelhouse(
    world: World, wheelhouse: Path, pristine: Path, tmp_path: Path
) -> None:
    house = tmp_path / "house"
    shutil.copytree(wheelhouse, house)
    target = next((house / "simple" / "app").glob("*.whl"))
    shutil.copyfile(next((house / "simple" / "usedlib").glob("*.whl")), target)
    assert_refused(pristine, f"app: the strip file {target.name} has sha256", world.lock,
                   "--wheelhouse", house)  # fmt: skip


def test_sync_refuses_a_missing_wheelhouse(world: World, pristine: Path, tmp_path: Path) -> None:
    assert_refused(pristine, "no wheelhouse at", world.lock, "--wheelhouse", tmp_path / "nowhere")
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    assert_refused(pristine, "no wheelhouse at", world.lock,
                   "--wheelhouse", f"http://127.0.0.1:{port}/")  # fmt: skip


def test_sync_refuses_originals_whose_hashes_do_not_match(
    world: World, pristine: Path, tmp_path: Path
) -> None:
    wheels = tmp_path / "wheels"
    _build_wheels(wheels)
    lock = tmp_path / "pylock.toml"
    lock_world(world, lock, wheels)
    (wheels / "app-1.0-py3-none-any.whl").unlink()
    build_wheel(wheels, "app", "1.0", {"app/__init__.py": "EVIL = True\n"})  # same name, new bytes
    with _lean_install(tmp_path / "cold-cache"):  # the cache holds the good one
        assert_refused(pristine, "an original does not match the lock", lock)


def test_sync_refuses_a_lock_for_another_platform(
    world: World, pristine: Path, tmp_path: Path
) -> None:
    def edit(data: dict[str, object]) -> None:
        data["environments"] = ["sys_platform == 'darwin' and platform_machine == 'arm64'"]
        markers = data["tool"]["lean-install"]["environment"]["markers"]  # type: ignore[index]
        markers.update(sys_platform="darwin", platform_machine="arm64")

    lock = rewrite(world.lock, tmp_path / "pylock.toml", edit)
    err = assert_refused(pristine, "made for CPython", lock)
    assert "on darwin arm64" in err and f"{pristine}: CPython" in err and "on linux" in err


def _other_python() -> str | None:
    """An interpreter of another minor version than this one that can make a venv."""
    this = "{}.{}".format(*sys.version_info)
    for version in ("3.12", "3.11", "3.13", "3.10"):
        pyenv = Path("/root/.pyenv/versions").glob(f"{version}.*/bin/python{version}")
        pythons = [shutil.which(f"python{version}"), *map(str, pyenv)]
        for python in filter(None, pythons):
            works = subprocess.run([python, "-c", "import venv"], capture_output=True)
            if version != this and works.returncode == 0:
                return python
    return None


OTHER_PYTHON = _other_python()


@pytest.mark.skipif(OTHER_PYTHON is None, reason="needs a Python of another minor version")
def test_sync_refuses_a_lock_for_another_python(
    world: World, pristine: Path, tmp_path: Path
) -> None:
    assert OTHER_PYTHON is not None
    other = tmp_path / "other"
    subprocess.run([OTHER_PYTHON, "-m", "venv", str(other)], check=True)
    lock = tmp_path / "pylock.other.toml"
    code, _, err = run("lock", "-q", "-o", lock, "--python", other / "bin" / "python",
                       "--profile", world.profile, REQUIREMENT, *world.sources())  # fmt: skip
    assert code == 0, err
    ask = [OTHER_PYTHON, "-c", "import platform; print(platform.python_version())"]
    version = subprocess.run(ask, capture_output=True, text=True, check=True).stdout.strip()
    err = assert_refused(pristine, f"made for CPython {version} on linux", lock)
    assert f"requires-python =={version.rsplit('.', 1)[0]}.*" in err
    assert "CPython {}.{}.".format(*sys.version_info) in err


def test_sync_refuses_what_is_not_a_lean_install_lock(
    world: World, wheelhouse: Path, pristine: Path, tmp_path: Path
) -> None:
    not_ours = wheelhouse / "pylock.toml"  # a lock of lean wheels, for standard installers
    assert_refused(pristine, "not a lock that `lean-install lock` wrote", not_ours)
    broken = tmp_path / "pylock.toml"
    broken.write_text('lock-version = "1.0"\ncreated-by = "me"\n')
    assert_refused(pristine, "not a valid PEP 751 lock", broken)


def test_sync_never_uninstalls_lean_install(world: World, tmp_path: Path) -> None:
    python = create_venv(tmp_path / "venv")
    build_wheel(tmp_path / "w", "lean-install", "0.0.1", {"lean_install_here.py": ""})
    pip(python, "install", "-q", "--no-index", "--find-links", str(tmp_path / "w"), "lean-install")
    assert_refused(python, "would uninstall lean-install itself", world.lock)


# -- the tabular stack, end to end ---------------------------------------------------


@pytest.mark.slow
def test_tabular_stack_lock_sync_wheelhouse_and_plain_pip(tmp_path: Path) -> None:
    """numpy, pandas, scikit-learn with a profile of tabular_sklearn.py, every way round."""
    requirements = ["numpy", "pandas", "scikit-learn"]
    workload = WORKLOADS / "tabular_sklearn.py"
    full = create_venv(tmp_path / "full")
    pip(full, "install", "-q", *requirements)
    profile = tmp_path / "tabular.toml"
    assert cli.main(["trace", "-o", str(profile), "--", str(full), str(workload)]) == 0
    lock, again = tmp_path / "pylock.toml", tmp_path / "again" / "pylock.toml"
    again.parent.mkdir()
    for output, cache in ((lock, tmp_path / "cache"), (again, tmp_path / "cold-cache")):
        with _lean_install(cache):
            code, _, err = run("lock", "-q", "-o", output, "--python", full, "--profile", profile,
                               *requirements)  # fmt: skip
        assert code == 0, err
    assert again.read_bytes() == lock.read_bytes()
    pins = {p["name"]: p["tool"]["lean-install"]["lean-version"]
            for p in tomllib.loads(lock.read_text())["packages"]}  # fmt: skip
    code, _, err = run("wheelhouse", "-q", lock, "-d", tmp_path / "house")
    assert code == 0, err
    with served(tmp_path / "house") as url:
        trees = _tabular_trees(tmp_path, lock, url, profile, requirements, workload)
        assert trees[0] == trees[1] == trees[2]
        alone = create_venv(tmp_path / "alone")  # pip alone, from the served wheelhouse
        pip(alone, "install", "-q", "--isolated", "--index-url", url + "simple/",
            "-r", url + "requirements.txt")  # fmt: skip
    assert without_pip(freeze(alone)) == {**pins, "setuptools": "65.5.0"}
    assert "OK" in python_run(alone, str(workload)).stdout
    standard = create_venv(tmp_path / "standard")  # a PEP 751 installer: pip >= 26.1
    pip(standard, "install", "-q", "pip>=26.1")
    pip(standard, "install", "-q", "-r", str(lock))
    assert {n: v for n, v in freeze(standard).items() if n in pins} == {
        n: v.split("+lean.")[0] for n, v in pins.items()}  # fmt: skip
    assert "OK" in python_run(standard, str(workload)).stdout


def _tabular_trees(
    tmp: Path, lock: Path, url: str, profile: Path, requirements: list[str], workload: Path
) -> list[dict[str, str]]:
    """Sync from the originals, sync from the served wheelhouse, install directly: trees."""
    python = tmp / "env" / "bin" / "python"
    trees = []
    for how in ("sync", "sync-wheelhouse", "install"):
        create_venv(tmp / "env")
        with _lean_install(tmp / "cache"):
            if how == "install":
                code, _, err = run("install", "-q", "--installer", "pip", "--python", python,
                                   "--profile", profile, *requirements)  # fmt: skip
                pip(python, "uninstall", "-y", "-q", "setuptools")  # the venv's, not the lock's
            else:
                house = ["--wheelhouse", url] if how == "sync-wheelhouse" else []
                code, _, err = run("sync", lock, "--python", python, "--installer", "pip", *house)
        assert code == 0, err
        if how == "sync":  # the others hold the same files (asserted by the caller)
            assert "OK" in python_run(python, str(workload), str(tmp)).stdout
        trees.append(tree(tmp / "env"))
        shutil.rmtree(tmp / "env")
    return trees
