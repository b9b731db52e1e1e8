"""Facts of the wheel and environment layout, written once.

- where a wheel member lands (the ``.data`` mapping), and which module a path defines;
- bytecode and its source;
- RECORD rows and their hashes;
- safe relative paths;
- the one atomic, fsync'ed write;
- the names lean-install gives its files in an environment and in its cache.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import os
import re
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

__all__ = [
    "STATE_DIRECTORY",
    "STATE_FILE",
    "JOURNAL_FILE",
    "MISSES_LOG",
    "MANIFEST_NAME",
    "RUNTIME_DIRECTORY",
    "STUB_MARKER",
    "TEMPORARY_PREFIX",
    "MODULE_SUFFIXES",
    "RecordRow",
    "data_prefix",
    "installed_path",
    "source_of_bytecode",
    "module_name",
    "is_extension_module",
    "record_hash",
    "parse_record",
    "format_record",
    "unsafe_path_reason",
    "write_atomically",
    "sweep_temporaries",
    "fsync_directory",
    "default_cache_root",
    "original_in_cache",
    "state_path",
    "is_stub_file",
    "RESTORE_LOCK",
    "restore_lock",
]

STATE_DIRECTORY = "lean-install"
"""lean-install's directory in an environment's prefix."""
STATE_FILE = "state.json"
JOURNAL_FILE = "journal.json"
MISSES_LOG = "misses.jsonl"
MANIFEST_NAME = "lean-install.json"
"""The manifest in each lean distribution's ``.dist-info``: what was removed, from what."""
RUNTIME_DIRECTORY = "lean_install_runtime"
"""This package's copy in each lean distribution's ``.dist-info``."""
STUB_MARKER = "# lean-install stub"
TEMPORARY_PREFIX = ".lean-install-"
MODULE_SUFFIXES = (".py", ".pyc", ".pyi", ".so", ".pyd")

_EXTENSION = re.compile(r"\.(?:(?:cpython|pypy|graalpy|cp)[^./]*|abi3)\.(?:so|pyd)$|\.pyd$")
_DRIVE = re.compile(r"^[A-Za-z]:")

RecordRow = tuple[str, str, str]
"""One RECORD line: path, hash field (``sha256=...`` or empty), size (digits or empty)."""


# -- where things are --------------------------------------------------------------------


def data_prefix(dist_info: str) -> str:
    """The ``.data`` directory of a wheel, from its ``.dist-info`` directory's name."""
    return dist_info.removesuffix(".dist-info") + ".data/"


def installed_path(member: str, data_prefix: str) -> str | None:
    """Where a wheel member lands, relative to site-packages; None outside it.

    ``data_prefix`` is the wheel's ``<name>-<version>.data/`` directory: its ``purelib``
    and ``platlib`` members install into site-packages (``x.data/purelib/a.py`` -> ``a.py``);
    ``scripts``, ``headers`` and ``data`` install elsewhere.
    """
    if not member.startswith(data_prefix):
        return member
    kind, sep, inner = member[len(data_prefix) :].partition("/")
    return inner if sep and inner and kind in ("purelib", "platlib") else None


def source_of_bytecode(path: str) -> str | None:
    """The source a bytecode file stands for; None if ``path`` is not bytecode.

    ``a/__pycache__/m.cpython-311.pyc`` -> ``a/m.py``; ``__pycache__/m.cpython-311.pyc``
    -> ``m.py``; a legacy ``a/m.pyc`` -> ``a/m.py``.
    """
    if not path.endswith(".pyc"):
        return None
    head, _, name = path.rpartition("/")
    if head == "__pycache__" or head.endswith("/__pycache__"):
        head = head[: -len("__pycache__")].rstrip("/")
        stem = name.split(".", 1)[0]
    else:
        stem = name[: -len(".pyc")]
    return f"{head}/{stem}.py" if head else f"{stem}.py"


def is_extension_module(name: str) -> bool:
    """``x.cpython-311-x86_64-linux-gnu.so``, ``x.abi3.so``, ``x.pyd``: an extension module.
    An untagged ``.so`` is a shared library, not a module (``torch/lib/libc10.so``)."""
    return _EXTENSION.search(name) is not None


def module_name(path: str) -> str | None:
    """The dotted module a path (relative to a sys.path entry) defines, or None.

    ``a/b.py`` -> ``a.b``; ``a/b/__init__.py`` -> ``a.b``; a tagged extension module
    -> its name; bytecode -> its source's module.
    """
    path = source_of_bytecode(path) or path
    parts = path.split("/")
    base = parts[-1]
    if base.endswith(".py"):
        stem = base[:-3]
    elif is_extension_module(base):
        stem = base.split(".", 1)[0]
    else:
        return None
    names = parts[:-1] if stem == "__init__" else [*parts[:-1], stem]
    if not names or not all(n.isidentifier() for n in names):
        return None
    return ".".join(names)


# -- RECORD --------------------------------------------------------------------------------


def record_hash(data: bytes) -> str:
    """The RECORD hash field of ``data``: ``sha256=<urlsafe base64, no padding>``."""
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return "sha256=" + digest.decode()


def parse_record(text: str) -> list[RecordRow]:
    """The rows of a RECORD, leniently (an installed one: what pip wrote, kept as it is)."""
    rows = []
    for row in csv.reader(io.StringIO(text)):
        if row and row[0]:
            rows.append((row[0], row[1] if len(row) > 1 else "", row[2] if len(row) > 2 else ""))
    return rows


def format_record(rows: Iterable[RecordRow]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()


def unsafe_path_reason(path: str) -> str | None:
    """Why ``path`` (a member or RECORD path) could land outside the install root, if it could."""
    if "\\" in path:
        return "contains a backslash"
    if "\0" in path:
        return "contains a NUL character"
    if path.startswith("/") or _DRIVE.match(path):
        return "is absolute"
    parts = path[:-1].split("/") if path.endswith("/") else path.split("/")
    if ".." in parts:
        return "has a '..' component"
    if "" in parts or "." in parts:
        return "is not a normalized relative path"
    return None


# -- writing -------------------------------------------------------------------------------


def _sweep_dead(directory: str, stem: str = TEMPORARY_PREFIX) -> None:
    """Remove the temporary files (of ``stem``'s target) that writers no longer alive left."""
    try:
        names = [n for n in os.listdir(directory) if n.startswith(stem) and n.endswith(".tmp")]
    except OSError:
        return
    for name in names:
        pid = name[: -len(".tmp")].rpartition(".")[2].split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            try:
                os.unlink(os.path.join(directory, name))
            except OSError:
                pass


def sweep_temporaries(directory: str | os.PathLike[str]) -> None:
    """Remove what writers killed while writing left in ``directory``."""
    _sweep_dead(os.fspath(directory))


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True
    return True


def fsync_directory(directory: str) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - a directory that cannot be opened for reading
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - file systems that cannot sync a directory
        pass
    finally:
        os.close(fd)


def write_atomically(path: str | os.PathLike[str], data: bytes, mode: int = 0o644) -> None:
    """Make ``path`` hold ``data``: written to a temporary file beside it, fsync'ed, renamed
    into place, the directory fsync'ed. A reader (or a crash) sees the old file or the new.

    The temporary file is named for the target and the writing process
    (``.lean-install-state.json.<pid>-<thread>.tmp``); one a killed writer left is removed
    by the next write of the same target.
    """
    path = os.fspath(path)
    directory = os.path.dirname(path) or "."
    os.makedirs(directory, exist_ok=True)
    stem = f"{TEMPORARY_PREFIX}{os.path.basename(path)}."
    _sweep_dead(directory, stem)
    tmp = os.path.join(directory, f"{stem}{os.getpid()}-{threading.get_ident()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fchmod(file.fileno(), mode)
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    fsync_directory(directory)


# -- the cache and the environment's own directory -------------------------------------------


def default_cache_root() -> str:
    """$LEAN_INSTALL_CACHE_DIR, else $XDG_CACHE_HOME/lean-install, else ~/.cache/lean-install.
    A relative $XDG_CACHE_HOME is ignored, as the XDG specification says."""
    explicit = os.environ.get("LEAN_INSTALL_CACHE_DIR")
    if explicit:
        return os.path.expanduser(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg and os.path.isabs(xdg):
        return os.path.join(xdg, "lean-install")
    return os.path.join(os.path.expanduser("~"), ".cache", "lean-install")


def original_in_cache(root: str, sha256: str, filename: str) -> str:
    """Where the cache keeps an original file: ``originals/<sha256>/<filename>``."""
    return os.path.join(root, "originals", sha256, filename)


def state_path(prefix: str | os.PathLike[str], name: str) -> str:
    """A file of lean-install's directory in the environment at ``prefix``."""
    return os.path.join(os.fspath(prefix), STATE_DIRECTORY, name)


def is_stub_file(path: str | os.PathLike[str]) -> bool:
    """Whether the file at ``path`` is a lean-install stub (False if it cannot be read)."""
    try:
        with open(path, "rb") as file:
            return file.read(len(STUB_MARKER)) == STUB_MARKER.encode()
    except OSError:
        return False


RESTORE_LOCK = "restore.lock"


@contextmanager
def restore_lock(prefix: str | os.PathLike[str]) -> Iterator[None]:
    """An exclusive lock on the restores of the environment at ``prefix`` (``flock`` on
    ``<prefix>/lean-install/restore.lock``; a no-op where flock is missing): two processes
    that miss the same module at once restore it once, and a ``conda lean`` command does
    not change a prefix while a program restores into it."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not on Linux
        yield
        return
    path = state_path(prefix, RESTORE_LOCK)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)
