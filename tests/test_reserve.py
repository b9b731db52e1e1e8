"""Removed code comes back on demand: ``--on-miss restore|log|error``, the misses log, and
``profile update --from-misses``, on real wheels installed by the real pip.

The world: ``shop`` is used only through ``shop/__init__.py`` and ``shop/core.py``, so a
lean install strips the rest: a package (``shop.extra``), a module reading a data file
next to it (``shop.report``), an extension module whose shared library sits in
``shop.libs`` (with gcc), and 1 MiB of random data. ``helper`` is never used: a stub
distribution. Each test gets its own venv, lean-installed from the same cache.
"""

from __future__ import annotations

import contextlib
import hashlib
import http.server
import io
import json
import os
import shutil
import subprocess
import sysconfig
import threading
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import build_wheel, create_venv, record_hash, site_packages
from faults import HOOK_MODULE, install_hook, run_program_with_fault
from test_reserve_http import Handler, Served

from lean_install.cli import main
from lean_install.profile import DistributionUsage, Profile

BLOB = os.urandom(1 << 20)
EXTENSION_SOURCE = """\
#include <Python.h>
int helper_value(void);
static PyObject *answer(PyObject *self, PyObject *args) {
    return PyLong_FromLong(2 * helper_value());
}
static PyMethodDef methods[] = {{"answer", answer, METH_NOARGS, ""}, {NULL, NULL, 0, NULL}};
static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_speed", NULL, -1, methods};
PyMODINIT_FUNC PyInit__speed(void) { return PyModule_Create(&module); }
"""


def _native(tmp: Path) -> dict[str, bytes]:
    """``shop/_speed.<tag>.so`` (DT_NEEDED libhelper.so, RUNPATH $ORIGIN/../shop.libs)."""
    if shutil.which("gcc") is None:
        return {}
    (tmp / "helper.c").write_text("int helper_value(void) { return 21; }\n")
    (tmp / "speed.c").write_text(EXTENSION_SOURCE)
    gcc = ["gcc", "-shared", "-fPIC"]
    subprocess.run([*gcc, "-o", "libhelper.so", "helper.c"], cwd=tmp, check=True)
    include = sysconfig.get_paths()["include"]
    subprocess.run([*gcc, f"-I{include}", "-o", "speed.so", "speed.c", "-L.", "-lhelper",
                    "-Wl,-rpath,$ORIGIN/../shop.libs"], cwd=tmp, check=True)  # fmt: skip
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    return {
        f"shop/_speed{suffix}": (tmp / "speed.so").read_bytes(),
        "shop.libs/libhelper.so": (tmp / "libhelper.so").read_bytes(),
    }


@dataclass(frozen=True)
class World:
    wheels: Path
    profile: Path
    cache: Path
    native: bool

    def install(self, python: Path, *extra: str, find_links: str = "") -> None:
        code, _, err = cli("install", "--python", str(python), "--profile", str(self.profile),
                           "--installer", "pip", "-q", *extra, "shop", "--no-index",
                           "--find-links", find_links or str(self.wheels))  # fmt: skip
        assert code == 0, err


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    root = tmp_path_factory.mktemp("reserve")
    native = _native(root)
    build_wheel(root / "wheels", "shop", "1.0", {
        "shop/__init__.py": "from shop import core\n",
        "shop/core.py": "def price():\n    return 42\n",
        "shop/extra/__init__.py": "from shop.extra import heavy\n",
        "shop/extra/heavy.py": "VALUE = 7\n",
        "shop/report.py": "import os\n\ndef rows():\n    path = os.path.join("
                          "os.path.dirname(__file__), 'table.csv')\n"
                          "    with open(path) as f:\n        return f.read().split()\n",
        "shop/table.csv": "a\nb\nc\n",
        "shop/data/blob.bin": BLOB,
        **native,
    }, requires=("helper", "Odd-Name"),
       tag="py3-none-linux_x86_64" if native else "py3-none-any")  # fmt: skip
    build_wheel(root / "wheels", "Odd-Name", "1.0", {  # its module is not its name
        "oddmod/__init__.py": "VALUE = 3\n",
        "nsx/inner/__init__.py": "VALUE = 4\n",  # nsx: a namespace, not stubbed itself
    })  # fmt: skip
    build_wheel(root / "wheels", "helper", "1.0", {
        "helper/__init__.py": "from helper import part\nVALUE = part.X\n",
        "helper/part.py": "X = 5\n",
    })  # fmt: skip
    usage = DistributionUsage(
        name="shop", version="1.0", files=("shop/__init__.py", "shop/core.py")
    )  # type: ignore[arg-type]
    profile = root / "shop.toml"
    Profile(distributions=(usage,)).dump(profile)
    return World(root / "wheels", profile, root / "cache", bool(native))


@pytest.fixture
def venv(tmp_path: Path, world: World, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LEAN_INSTALL_CACHE_DIR", str(world.cache))
    return create_venv(tmp_path / "venv")


def cli(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


def run(python: Path, code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(python), "-c", code], capture_output=True, text=True)


def misses(python: Path) -> list[dict[str, object]]:
    code, out, err = cli("misses", "--python", str(python), "--json")
    assert code == 0, err
    return list(json.loads(out))


def pip(python: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(python), "-m", "pip", "--disable-pip-version-check", *args],
                          capture_output=True, text=True)  # fmt: skip


# -- error -------------------------------------------------------------------------


def test_error_mode_raises_and_logs_the_miss(world: World, venv: Path) -> None:
    world.install(venv, "--on-miss", "error")
    assert cli("config", "--python", str(venv), "on-miss")[1] == "error\n"
    failed = run(venv, "import shop.extra")
    assert "lean-install removed module 'shop.extra'" in failed.stderr
    assert not (site_packages(venv) / "shop/extra/heavy.py").exists()
    (miss,) = misses(venv)
    assert (miss["module"], miss["distribution"], miss["version"]) == ("shop.extra", "shop", "1.0")
    assert miss["outcome"] == "raised" and miss["mode"] == "error"
    assert miss["files"] == ["shop/extra/__init__.py", "shop/extra/heavy.py"]
    assert miss["argv"] == ["-c"]
    _, table, _ = cli("misses", "--python", str(venv))
    assert "shop.extra" in table and "raised" in table


# -- restore ---------------------------------------------------------------------------


def test_restore_brings_back_a_package_and_keeps_pip_consistent(world: World, venv: Path) -> None:
    world.install(venv)  # restore is the default
    assert cli("config", "--python", str(venv), "on-miss")[1] == "restore\n"
    done = run(venv, "import shop.extra; print(shop.extra.heavy.VALUE)")
    assert done.stdout == "7\n", done.stderr
    said = done.stderr.splitlines()  # once per process: what came back, how to keep it
    assert len(said) == 2 and said[0].startswith("lean-install: brought back shop.extra"), said
    assert "profile update PROFILE --from-misses" in said[1]
    (miss,) = misses(venv)
    assert miss["outcome"] == "restored"
    assert miss["files"] == ["shop/extra/__init__.py", "shop/extra/heavy.py"]
    assert str(miss["source"]).startswith("cache (")
    assert run(venv, "import shop.extra").returncode == 0
    assert len(misses(venv)) == 1  # restored for good: no second miss
    assert pip(venv, "check").returncode == 0
    assert pip(venv, "uninstall", "-y", "shop").returncode == 0
    assert not (site_packages(venv) / "shop").exists()  # RECORD lists the restored files


def test_restore_brings_back_data_next_to_a_module(world: World, venv: Path) -> None:
    world.install(venv, "--on-miss", "restore")
    done = run(venv, "import shop.report; print(shop.report.rows())")
    assert done.stdout == "['a', 'b', 'c']\n", done.stderr
    (miss,) = misses(venv)
    assert set(miss["files"]) >= {"shop/report.py", "shop/table.csv"}  # type: ignore[arg-type]
    assert "shop/extra/heavy.py" not in miss["files"]  # type: ignore[operator]


def test_restore_brings_back_an_extension_and_the_library_it_needs(
    world: World, venv: Path
) -> None:
    if not world.native:
        pytest.skip("gcc is needed to build the extension module")
    world.install(venv, "--on-miss", "restore")
    assert not (site_packages(venv) / "shop.libs/libhelper.so").exists()
    done = run(venv, "import shop._speed; print(shop._speed.answer())")
    assert done.stdout == "42\n", done.stderr
    (miss,) = misses(venv)
    assert "shop.libs/libhelper.so" in miss["files"]  # type: ignore[operator]
    assert not (site_packages(venv) / "shop/_speed.py").exists()  # the stub is gone


def test_restore_brings_back_a_stub_distribution(world: World, venv: Path) -> None:
    world.install(venv, "--on-miss", "restore")
    done = run(venv, "import helper; print(helper.VALUE)")
    assert done.stdout == "5\n", done.stderr
    (miss,) = misses(venv)
    assert miss["distribution"] == "helper"
    assert miss["files"] == ["helper/__init__.py", "helper/part.py"]


def test_log_mode_restores_and_says_so(world: World, venv: Path) -> None:
    world.install(venv)
    assert cli("config", "--python", str(venv), "on-miss", "log")[0] == 0
    done = run(venv, "import shop.extra")
    assert done.returncode == 0
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("lean-install: brought back shop.extra")


def test_restore_in_multiprocessing_workers_at_once(world: World, venv: Path) -> None:
    world.install(venv, "--on-miss", "restore")
    code = (
        "import multiprocessing as mp\n"
        "def work(_):\n"
        "    import shop.extra\n"
        "    return shop.extra.heavy.VALUE\n"
        "if __name__ == '__main__':\n"
        "    with mp.get_context('spawn').Pool(4) as pool:\n"
        "        print(sum(pool.map(work, range(8), chunksize=1)))\n"
    )
    script = venv.parent / "pool.py"
    script.write_text(code)
    done = subprocess.run([str(venv), str(script)], capture_output=True, text=True)
    assert done.stdout == "56\n", done.stderr
    logged = misses(venv)
    restored = [m for m in logged if m["files"]]
    assert len(restored) == 1  # the others waited on the lock and found it restored
    assert all(m["outcome"] == "restored" for m in logged)


def test_restore_from_the_url_with_range_requests(
    world: World, venv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The cache is gone: the members come from the wheel's URL, a few KiB of 1 MiB."""
    with _serve(world.wheels) as served:
        monkeypatch.setenv("LEAN_INSTALL_CACHE_DIR", str(tmp_path / "cache"))
        world.install(venv, "--on-miss", "restore", find_links=f"{served.base}/range/")
        shutil.rmtree(tmp_path / "cache")
        done = run(venv, "import shop.extra; print(shop.extra.heavy.VALUE)")
        assert done.stdout == "7\n", done.stderr
    (miss,) = misses(venv)
    wheel = next(world.wheels.glob("shop-*.whl"))
    source = str(miss["source"])
    assert source.startswith(f"{served.base}/range/{wheel.name}"), source
    fetched = int(source.rpartition("(")[2].split()[0])
    assert 0 < fetched < wheel.stat().st_size // 4, (fetched, wheel.stat().st_size)
    print(f"restored shop.extra from {source}: the wheel has {wheel.stat().st_size} bytes")


@pytest.mark.parametrize("record_too", [False, True], ids=["member", "member-and-record"])
def test_a_tampered_reserve_is_refused(
    world: World, venv: Path, tmp_path: Path, record_too: bool
) -> None:
    world.install(venv, "--on-miss", "restore")
    state = json.loads((venv.parent.parent / "lean-install/state.json").read_text())
    original = next(Path(state["cache"]).glob("originals/*/shop-*.whl"))
    saved = tmp_path / "saved.whl"
    shutil.copyfile(original, saved)
    evil = b"VALUE = 666\n"
    changes = {"shop/extra/heavy.py": evil}
    if record_too:  # RECORD agrees with the change: RECORD itself must be caught
        record = _read_member(original, "shop-1.0.dist-info/RECORD").decode()
        row = f"shop/extra/heavy.py,{record_hash(evil)},{len(evil)}"
        lines = [row if line.startswith("shop/extra/heavy.py,") else line
                 for line in record.splitlines()]  # fmt: skip
        changes["shop-1.0.dist-info/RECORD"] = ("\n".join(lines) + "\n").encode()
    try:
        _rewrite_members(original, changes)
        failed = run(venv, "import shop.extra")
    finally:
        shutil.copyfile(saved, original)
    assert "could not restore it" in failed.stderr
    expected = "is not the one it was stripped from" if record_too else "does not match the hash"
    assert expected in failed.stderr
    assert not (site_packages(venv) / "shop/extra/heavy.py").exists()
    assert misses(venv)[0]["outcome"].startswith("failed: ")  # type: ignore[union-attr]


def test_a_stub_distribution_stands_for_the_modules_its_wheel_holds(
    world: World, venv: Path
) -> None:
    world.install(venv, "--on-miss", "error")
    failed = run(venv, "import oddmod")
    assert "lean-install removed module 'oddmod'" in failed.stderr  # not a bare "No module"
    assert "lean-install removed module 'nsx.inner'" in run(venv, "import nsx.inner").stderr
    assert not (site_packages(venv) / "nsx/__init__.py").exists()
    assert cli("config", "--python", str(venv), "on-miss", "restore")[0] == 0
    done = run(venv, "import oddmod, nsx.inner; print(oddmod.VALUE + nsx.inner.VALUE)")
    assert done.stdout == "7\n", done.stderr


# -- profile update --from-misses --------------------------------------------------------


def test_profile_update_from_misses_needs_no_restore_next_time(
    world: World, venv: Path, tmp_path: Path
) -> None:
    world.install(venv, "--on-miss", "restore")
    program = "import shop.extra, shop.report; print(shop.extra.heavy.VALUE, shop.report.rows())"
    assert run(venv, program).returncode == 0
    assert len(misses(venv)) == 2
    updated = tmp_path / "updated.toml"
    code, _, err = cli("profile", "update", str(world.profile), "--from-misses",
                       "--python", str(venv), "-o", str(updated))  # fmt: skip
    assert code == 0, err
    assert "added 4 files from 2 misses" in err
    fresh = create_venv(tmp_path / "fresh")
    code, _, err = cli("install", "--python", str(fresh), "--profile", str(updated),
                       "--installer", "pip", "-q", "shop", "--no-index",
                       "--find-links", str(world.wheels))  # fmt: skip
    assert code == 0, err
    done = run(fresh, program)
    assert done.returncode == 0, done.stderr
    assert misses(fresh) == []
    assert not (site_packages(fresh) / "shop/data/blob.bin").exists()  # still lean


def _read_member(wheel: Path, name: str) -> bytes:
    with zipfile.ZipFile(wheel) as archive:
        return archive.read(name)


def _rewrite_members(wheel: Path, changes: dict[str, bytes]) -> None:
    """The wheel with some members' bytes replaced."""
    tmp = wheel.with_suffix(".tmp")
    with zipfile.ZipFile(wheel) as src, zipfile.ZipFile(tmp, "w") as dst:
        for info in src.infolist():
            dst.writestr(info, changes.get(info.filename) or src.read(info))
    tmp.replace(wheel)


@contextlib.contextmanager
def _serve(directory: Path) -> Iterator[Served]:
    """Serve ``directory`` over HTTP with ranges, plus a find-links page at ``/range/``."""
    served = Served(directory, "")

    class Listing(Handler):
        def do_GET(self) -> None:
            if self.path.rstrip("/") == "/range":
                links = "".join(f'<a href="{p.name}">{p.name}</a>' for p in directory.iterdir())
                body = f"<html><body>{links}</body></html>".encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            super().do_GET()

    handler = type("BoundListing", (Listing,), {"served": served})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    served.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield served
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def test_report_counts_restored_files_as_there_again(world: World, venv: Path) -> None:
    from lean_install.environment import Environment
    from lean_install.measure import build_report
    from lean_install.report import Removal, Report

    def read_removals(report: Report) -> dict[str, Removal]:
        return {d.name: d.removed for d in report.distributions if d.removed}

    world.install(venv, "--on-miss", "restore")
    before = read_removals(build_report(Environment.inspect(str(venv)), None))["shop"]
    assert run(venv, "import shop.extra").returncode == 0
    after = read_removals(build_report(Environment.inspect(str(venv)), None))["shop"]
    assert after.files == before.files - 2
    assert after.bytes == before.bytes - len("from shop.extra import heavy\n") - len("VALUE = 7\n")


# -- killed while restoring --------------------------------------------------------------


def _tree(root: Path) -> dict[str, str]:
    """sha256 of every file under ``root`` but bytecode and the fault hook."""
    out = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        if path.is_file() and "__pycache__" not in relative and HOOK_MODULE not in relative:
            out[relative] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def test_a_restore_killed_at_any_point_is_finished_by_the_next_import(
    world: World, venv: Path, tmp_path: Path
) -> None:
    """SIGKILL at every mutating file operation of a restore: the next import finishes it,
    and the files are those of a restore never interrupted."""
    world.install(venv, "--on-miss", "restore")
    prefix, packages = venv.parent.parent, site_packages(venv)
    install_hook(packages)
    snapshot = tmp_path / "snapshot"
    shutil.copytree(prefix, snapshot, symlinks=True)
    command, roots = [str(venv), "-c", "import shop.extra"], [packages, prefix / "lean-install"]
    code, total = run_program_with_fault(command, None, dict(os.environ), roots)
    assert code == 0 and total >= 8, (code, total)
    reference = _tree(packages)
    for at in range(1, total + 1):
        shutil.rmtree(prefix)
        shutil.copytree(snapshot, prefix, symlinks=True)
        code, _ = run_program_with_fault(command, at, dict(os.environ), roots)
        assert code == -9, at
        done = run(venv, "import shop.extra; print(shop.extra.heavy.VALUE)")
        assert done.stdout == "7\n", (at, done.stderr[-2000:])
        assert _tree(packages) == reference, at


# -- every way Python reaches removed code ------------------------------------------------

VENDORED = {
    # as setuptools does: put a vendored tree on sys.path at run time
    "kiosk/__init__.py": "import os, sys\n"
    "sys.path.insert(0, os.path.join(os.path.dirname(__file__), '_vendor'))\n",
    "kiosk/_vendor/vend/__init__.py": "V = 'vendored'\n",
    "kiosk/tools.py": "T = 'tools'\n",
    "kiosk/data/table.json": '{"a": 1}\n',
    "kiosk/data/other.json": '{"b": 2}\n',
    "kiosk/blobs/one.bin": "one\n",
    "kiosk/blobs/two.dat": "two\n",
    "kiosk/include/k.h": "#define K 1\n",
    "kiosk/include/sub/j.h": "#define J 2\n",
}
REACH = {
    "vendored": "import kiosk, vend; print(vend.V)",
    "from-import": "from kiosk import tools; print(tools.T)",
    "open": "import kiosk, os; print(open(os.path.join(os.path.dirname(kiosk.__file__), "
    "'data', 'other.json')).read().strip())",
    "resources": "import importlib.resources as r; "
    "print(r.files('kiosk').joinpath('data/table.json').read_text().strip())",
    "listdir": "import kiosk, os; print(sorted(os.listdir(os.path.join("
    "os.path.dirname(kiosk.__file__), 'blobs'))))",
}
REACHED = {"vendored": "vendored", "from-import": "tools", "open": '{"b": 2}',
           "resources": '{"a": 1}', "listdir": "['one.bin', 'two.dat']"}  # fmt: skip


@pytest.fixture(scope="module")
def kiosk(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """kiosk 1.0, used only through its ``__init__``: everything else removed, and no stub
    for ``vend`` (it lies under a directory the package puts on sys.path)."""
    root = tmp_path_factory.mktemp("kiosk")
    build_wheel(root / "wheels", "kiosk", "1.0", VENDORED)
    profile = root / "kiosk.toml"
    usage = DistributionUsage(name="kiosk", version="1.0", files=("kiosk/__init__.py",))  # type: ignore[arg-type]
    Profile(distributions=(usage,)).dump(profile)
    return root / "wheels", profile


def _kiosk_venv(kiosk: tuple[Path, Path], tmp_path: Path, mode: str) -> Path:
    wheels, profile = kiosk
    python = create_venv(tmp_path / "venv")
    code, _, err = cli("install", "--python", str(python), "--profile", str(profile), "-q",
                       "--installer", "pip", "--on-miss", mode, "kiosk", "--no-index",
                       "--find-links", str(wheels))  # fmt: skip
    assert code == 0, err
    assert not (site_packages(python) / "kiosk/_vendor").exists()
    assert not (site_packages(python) / "kiosk/data").exists()
    return python


@pytest.mark.parametrize("way", list(REACH))
def test_every_way_to_removed_code_restores_by_default(
    kiosk: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, way: str
) -> None:
    monkeypatch.setenv("LEAN_INSTALL_CACHE_DIR", str(tmp_path / "cache"))
    python = _kiosk_venv(kiosk, tmp_path, "restore")
    done = run(python, REACH[way])
    assert done.stdout.strip() == REACHED[way], done.stderr
    assert done.stderr.startswith("lean-install: brought back "), done.stderr
    (miss,) = misses(python)
    assert miss["outcome"] == "restored" and miss["kind"] == ("module" if way in (
        "vendored", "from-import") else "file")  # fmt: skip
    assert run(python, REACH[way]).stderr == ""  # back for good
    assert pip(python, "check").returncode == 0


@pytest.mark.parametrize("way", list(REACH))
def test_every_way_to_removed_code_names_lean_install_in_error_mode(
    kiosk: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, way: str
) -> None:
    monkeypatch.setenv("LEAN_INSTALL_CACHE_DIR", str(tmp_path / "cache"))
    python = _kiosk_venv(kiosk, tmp_path, "error")
    done = run(python, REACH[way])
    assert done.returncode != 0
    assert "lean-install removed" in done.stderr, done.stderr
    assert f"lean-install restore --python {python} kiosk" in done.stderr
    if way in ("vendored", "from-import"):  # an ImportError, so fallbacks keep working
        fallback = run(python, "try:\n    " + REACH[way].replace("; ", "\n    ") +
                       "\nexcept ImportError:\n    print('fallback')")  # fmt: skip
        assert fallback.stdout.strip() == "fallback", fallback.stderr
    else:  # a FileNotFoundError, as the open of a missing file is
        assert "LeanInstallRemovedFileError: [Errno 2] lean-install removed" in done.stderr


def test_module_discovery_brings_nothing_back(
    kiosk: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``pkgutil.walk_packages`` lists every package directory (torch.compile walks all of
    torch this way): that is a search for modules, not a program reading the directory,
    so no removed file comes back and nothing is logged."""
    monkeypatch.setenv("LEAN_INSTALL_CACHE_DIR", str(tmp_path / "cache"))
    python = _kiosk_venv(kiosk, tmp_path, "restore")
    (site_packages(python) / "kiosk/blobs").mkdir()  # as if it still held other files
    before = _tree(site_packages(python))
    code = ("import kiosk, pkgutil; print(sorted(m.name for m in "
            "pkgutil.walk_packages(kiosk.__path__, 'kiosk.')))")  # fmt: skip
    done = run(python, code)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert _tree(site_packages(python)) == before
    assert not (site_packages(python) / "kiosk/blobs/one.bin").exists()
    assert misses(python) == []


def test_a_glob_brings_back_only_what_its_pattern_matches(
    kiosk: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """torch's import globs ``nvidia/cudnn/lib/libcudnn.so.*[0-9]``: that reaches the one
    library the pattern matches, not the directory's other (lazily loaded) libraries."""
    monkeypatch.setenv("LEAN_INSTALL_CACHE_DIR", str(tmp_path / "cache"))
    python = _kiosk_venv(kiosk, tmp_path, "restore")
    code = ("import glob, kiosk, os; print(glob.glob(os.path.join("
            "os.path.dirname(kiosk.__file__), 'blobs', '*.bin')))")  # fmt: skip
    done = run(python, code)
    assert done.returncode == 0 and "one.bin" in done.stdout, done.stderr
    assert (site_packages(python) / "kiosk/blobs/one.bin").is_file()
    assert not (site_packages(python) / "kiosk/blobs/two.dat").exists()
    (miss,) = misses(python)
    assert miss["files"] == ["kiosk/blobs/one.bin"], miss


@pytest.mark.parametrize("mode", ["restore", "error"])
def test_a_compiler_gets_the_removed_headers_of_its_include_directories(
    kiosk: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, mode: str
) -> None:
    """As ``torch.compile`` runs ``g++ -I .../torch/include``: the compiler opens the
    headers itself, where no Python hook sees it; its ``-I`` says where they are."""
    if shutil.which("gcc") is None:
        pytest.skip("gcc is needed (.ci/run installs it)")
    monkeypatch.setenv("LEAN_INSTALL_CACHE_DIR", str(tmp_path / "cache"))
    python = _kiosk_venv(kiosk, tmp_path, mode)
    include = site_packages(python) / "kiosk/include"
    source = tmp_path / "use.c"
    source.write_text("#include <k.h>\n#include <sub/j.h>\nint f(void) { return K + J; }\n")
    code = ("import subprocess; subprocess.run(['gcc', '-fsyntax-only', "
            f"'-I{include}', {str(source)!r}], check=True); print('compiled')")  # fmt: skip
    done = run(python, code)
    if mode == "restore":
        assert done.stdout.strip() == "compiled", done.stderr
        assert (include / "sub/j.h").read_text() == "#define J 2\n"
        (miss,) = misses(python)
        assert miss["outcome"] == "restored" and miss["module"] == "kiosk/include/"
    else:
        assert done.returncode != 0 and not include.exists()
        assert "lean-install removed the headers under 'kiosk/include/'" in done.stderr
