"""The reserve: brings back, on demand, what a lean install removed.

A stub that is imported calls ``missing``. It appends the miss to the environment's
misses log (``<prefix>/lean-install/misses.jsonl``), then, as the environment's
``on-miss`` setting says (in ``<prefix>/lean-install/state.json``):

- ``error``: raises the stub's ``ImportError``;
- ``restore``: puts back the removed files the import needs and lets the import go on
  as if nothing had been removed;
- ``log``: as ``restore``, and prints one line on stderr.

What comes back for a stub of module ``a.b.c``: for a package, every removed file under
``a/b/c/``; for a plain module, its own files (``c.py``, ``c.*.so``) and the removed
non-module files next to it in ``a/b/``; for a stub distribution, all of it; and in each
case the removed shared libraries those extension modules need (``DT_NEEDED``). The
files come from the reserve: the original wheel in lean-install's cache, or else its URL,
read with HTTP range requests where the server allows. Each file is checked against the
hash the original RECORD gave it, RECORD being checked first against the hash the
manifest recorded (a stub distribution's whole wheel against its sha256).
RECORD is rewritten first and the stub replaced last, under a file lock, so a process
killed half-way leaves a stub that the next miss restores again, and two processes that
miss at once restore once.

This file runs inside the lean environment: every lean distribution carries a copy in its
``.dist-info`` (``lean_install_reserve.py``, with ``reserve_http.py`` beside it as
``lean_install_reserve_http.py``) that its stubs load by path. It uses the standard
library only.
"""

from __future__ import annotations

import base64
import csv
import datetime
import functools
import hashlib
import importlib
import importlib.machinery
import importlib.util
import io
import json
import os
import struct
import sys
import tempfile
import zipfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from types import ModuleType
from typing import IO, Any

__all__ = [
    "ON_MISS_MODES",
    "RUNTIME_NAME",
    "HTTP_RUNTIME_NAME",
    "RUNTIME_FILES",
    "STUB_MARKER",
    "MISSES_LOG",
    "missing",
    "runtime_digest",
    "restore_region",
    "read_misses",
    "is_stub_file",
    "shared_object_needs",
]

ON_MISS_MODES = ("error", "restore", "log")
RUNTIME_NAME = "lean_install_reserve.py"
"""The name of this file's copy in each lean distribution's ``.dist-info``."""
HTTP_RUNTIME_NAME = "lean_install_reserve_http.py"
"""The name of ``reserve_http.py``'s copy there."""
RUNTIME_FILES = {"reserve.py": RUNTIME_NAME, "reserve_http.py": HTTP_RUNTIME_NAME}
"""The runtime's files in the ``lean_install`` package, and their names in a ``.dist-info``."""
MANIFEST_NAME = "lean-install.json"
STATE_DIRECTORY = "lean-install"
MISSES_LOG = "misses.jsonl"
STUB_MARKER = "# lean-install stub"
_MODULE_SUFFIXES = (".py", ".pyc", ".pyi", ".so", ".pyd")
_TEMPORARY_PREFIX = ".lean-install-"


@functools.cache
def runtime_digest() -> str:
    """A short digest of the runtime's two files: part of every lean version that carries
    them, so a wheel with another runtime is another version."""
    here = os.path.dirname(os.path.abspath(__file__))
    digest = hashlib.sha256()
    for name in RUNTIME_FILES:
        with open(os.path.join(here, name), "rb") as file:
            digest.update(file.read())
    return digest.hexdigest()[:12]


def missing(module: str, stub_file: str, root: str, dist_info: str, error: ImportError) -> Any:
    """Called by the stub of ``module`` (at ``stub_file``) while it is being imported.

    Returns the real module once restored (the import continues with it); raises
    ``error``, the stub's own ``ImportError``, when the mode is ``error`` or the restore
    fails (then with the reason added).
    """
    env_dir = os.path.join(sys.prefix, STATE_DIRECTORY)
    state = _read_json(os.path.join(env_dir, "state.json"))
    mode = state.get("on-miss", "error")
    mode = mode if mode in ON_MISS_MODES else "error"
    stub = os.path.relpath(os.path.realpath(stub_file), os.path.realpath(root))
    stub = stub.replace(os.sep, "/")
    manifest = _read_json(os.path.join(root, dist_info, MANIFEST_NAME))
    miss = _miss_record(module, stub, manifest, mode)
    if mode == "error" or not manifest:
        miss.update(files=sorted(_region(manifest, stub)), outcome="raised")
        _append_miss(env_dir, miss)
        raise error
    try:
        restored, source = restore_region(root, dist_info, manifest, stub, state)
    except Exception as exc:
        miss.update(outcome=f"failed: {exc}")
        _append_miss(env_dir, miss)
        raise type(error)(
            f"{error}\nlean-install could not restore it: {exc}", name=module
        ) from exc
    miss.update(files=restored, outcome="restored", source=source)
    _append_miss(env_dir, miss)
    if mode == "log":
        print(
            f"lean-install: restored {module} ({miss['distribution']} {miss['version']}): "
            f"{len(restored)} files from {source}",
            file=sys.stderr,
        )
    return _load(module)


def _miss_record(module: str, stub: str, manifest: Mapping[str, Any], mode: str) -> dict[str, Any]:
    now = datetime.datetime.now(datetime.timezone.utc)
    return {
        "time": now.isoformat(timespec="seconds"),
        "module": module,
        "stub": stub,
        "distribution": manifest.get("name", ""),
        "version": manifest.get("version", ""),
        "lean-version": manifest.get("lean-version", ""),
        "mode": mode,
        "argv": list(sys.argv),
        "pid": os.getpid(),
        "python": sys.executable,
    }


def _append_miss(env_dir: str, miss: Mapping[str, Any]) -> None:
    """One JSON line per miss, appended in one write; a log that cannot be written is
    skipped (the miss itself goes on: raise or restore)."""
    line = (json.dumps(miss, sort_keys=True) + "\n").encode()
    try:
        os.makedirs(env_dir, exist_ok=True)
        fd = os.open(os.path.join(env_dir, MISSES_LOG), os.O_WRONLY | os.O_APPEND | os.O_CREAT)
        try:
            os.write(fd, line)
        finally:
            os.close(fd)
    except OSError:
        pass


def read_misses(prefix: str) -> list[dict[str, Any]]:
    """The misses logged in the environment at ``prefix``, oldest first (bad lines skipped)."""
    path = os.path.join(prefix, STATE_DIRECTORY, MISSES_LOG)
    try:
        with open(path, encoding="utf-8", errors="replace") as log:
            lines = log.read().splitlines()
    except OSError:
        return []
    misses = []
    for line in lines:
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict):
            misses.append(entry)
    return misses


# -- what comes back -----------------------------------------------------------------------


def _installed(path: str) -> str | None:
    """Where a wheel member lands relative to the root; None outside purelib/platlib."""
    head, sep, rest = path.partition("/")
    if sep and head.endswith(".data"):
        kind, sep, inner = rest.partition("/")
        return inner if kind in ("purelib", "platlib") and sep else None
    return path


def _is_module_file(path: str) -> bool:
    return path.endswith(_MODULE_SUFFIXES)


def _region(manifest: Mapping[str, Any], stub: str) -> set[str]:
    """The removed files (installed paths) a miss of the module at ``stub`` brings back,
    before the ELF closure; a stub distribution's region is known only from its wheel."""
    removed = manifest.get("removed") or {}
    installed = {i for p in removed if (i := _installed(p)) is not None}
    if stub.endswith("/__init__.py"):
        base = stub[: -len("__init__.py")]
        return {i for i in installed if i.startswith(base)}
    directory, _, name = stub.rpartition("/")
    prefix = directory + "/" if directory else ""
    stem = name[: -len(".py")]
    picked = set()
    for path in installed:
        rest = path[len(prefix) :] if path.startswith(prefix) else None
        if rest is not None and _next_to(rest, stem):
            picked.add(path)
    return picked


def _next_to(rest: str, stem: str) -> bool:
    """Whether ``rest`` (a path in the stub's directory) comes back with module ``stem``:
    its own files, a namespace package that stood where the stub is, data files."""
    if rest.startswith(stem + "/"):
        return True
    return "/" not in rest and (rest.split(".")[0] == stem or not _is_module_file(rest))


def restore_region(
    root: str, dist_info: str, manifest: Mapping[str, Any], stub: str, state: Mapping[str, Any]
) -> tuple[list[str], str]:
    """Put back what a miss at ``stub`` needs; return the files written and their source.

    Runs under the environment's restore lock; a stub already replaced (by another
    process) is left as it is and nothing is written.
    """
    with _lock(os.path.join(sys.prefix, STATE_DIRECTORY)):
        if not is_stub_file(os.path.join(root, stub)):
            return [], "another process"
        with _reserve(manifest, state) as (archive, source, verify):
            files = _collect(archive, manifest, stub, verify)
            _write_restored(root, dist_info, files, stub)
    return sorted(files), source


def _collect(
    archive: zipfile.ZipFile, manifest: Mapping[str, Any], stub: str, verify: bool
) -> dict[str, tuple[bytes, int]]:
    """Read the region's members (and the shared libraries they need) from the original:
    installed path -> (bytes, mode)."""
    if manifest.get("decision") == "stub":
        members = {
            installed: name
            for name in archive.namelist()
            if not name.endswith("/")
            and ".dist-info/" not in name
            and (installed := _installed(name)) is not None
        }
        wanted = set(members)
    else:
        members = {i: p for p in manifest.get("removed", {}) if (i := _installed(p)) is not None}
        wanted = _region(manifest, stub)
    hashes = _original_hashes(archive, manifest) if verify else None
    files: dict[str, tuple[bytes, int]] = {}
    todo = sorted(wanted)
    while todo:
        path = todo.pop()
        if path in files:
            continue
        files[path] = _read_member(archive, members[path], hashes)
        todo += _needed_members(files[path][0], members, files)
    return files


def _needed_members(data: bytes, members: Mapping[str, str], have: Mapping[str, Any]) -> list[str]:
    """Removed members named by the DT_NEEDED entries of ``data`` (if it is ELF)."""
    names = set(shared_object_needs(data))
    if not names:
        return []
    return [p for p in members if p.rpartition("/")[2] in names and p not in have]


def _original_hashes(archive: zipfile.ZipFile, manifest: Mapping[str, Any]) -> dict[str, str]:
    """The original RECORD's hashes, once RECORD itself has the hash the manifest recorded
    when the original (checked against its sha256) was stripped."""
    original = manifest.get("original") or {}
    name, expected = original.get("record"), original.get("record-hash")
    if not isinstance(name, str) or not isinstance(expected, str):
        raise OSError("the manifest records no RECORD hash: what comes back cannot be checked")
    data = archive.read(name)
    if _record_hash(data) != expected:
        raise OSError(f"{name} of the original wheel is not the one it was stripped from")
    rows = csv.reader(io.StringIO(data.decode("utf-8")))
    return {row[0]: row[1] for row in rows if len(row) >= 2 and row[1]}


def _read_member(
    archive: zipfile.ZipFile, name: str, hashes: Mapping[str, str] | None
) -> tuple[bytes, int]:
    """A member's bytes and mode; checked against ``hashes`` unless None (a whole wheel
    already checked against its sha256)."""
    _check_member_name(name)
    info = archive.getinfo(name)
    if (info.external_attr >> 16) & 0o170000 == 0o120000:
        raise OSError(f"{name} is a symbolic link in the original wheel")
    data = archive.read(info)
    if hashes is not None and hashes.get(name) != _record_hash(data):
        raise OSError(f"{name} does not match the hash the original RECORD gives it")
    executable = (info.external_attr >> 16) & 0o111
    return data, 0o755 if executable else 0o644


def _check_member_name(name: str) -> None:
    parts = name.split("/")
    if name.startswith("/") or "\\" in name or "\0" in name or ".." in parts or "" in parts:
        raise OSError(f"{name!r} is not a safe path inside the environment")


def _record_hash(data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return "sha256=" + digest.decode()


# -- the reserve: cached original, else its URL ----------------------------------------------


@contextmanager
def _reserve(
    manifest: Mapping[str, Any], state: Mapping[str, Any]
) -> Iterator[tuple[zipfile.ZipFile, str, bool]]:
    """The original wheel as a zip, where it came from, and whether members need checking.

    A stub distribution's wheel is checked whole against its sha256 (it was never
    fetched, so no member hashes were recorded); a stripped one member by member.
    """
    recorded = (state.get("distributions") or {}).get(manifest.get("name"), {})
    original = dict(recorded.get("original") or {}, **(manifest.get("original") or {}))
    sha256, url = original.get("sha256"), original.get("url")
    whole = manifest.get("decision") == "stub"
    cached = _cached_original(state, sha256, original.get("filename"))
    if cached is not None:
        with open(cached, "rb") as file:
            if whole:
                _check_sha256(file, sha256, cached)
            with zipfile.ZipFile(file) as archive:
                yield archive, f"cache ({cached})", not whole
        return
    if not url:
        raise OSError("the original wheel is not in the cache and its URL is not recorded")
    with _remote_zip(url, whole=whole) as (archive, file, fetched):
        if whole:
            _check_sha256(file, sha256, url)
        yield archive, f"{url} ({fetched()} bytes fetched)", not whole


def _cached_original(state: Mapping[str, Any], sha256: Any, filename: Any) -> str | None:
    if not isinstance(sha256, str) or not isinstance(filename, str) or "/" in filename:
        return None
    for cache in _cache_roots(state):
        path = os.path.join(cache, "originals", sha256, filename)
        if os.path.isfile(path):
            return path
    return None


def _cache_roots(state: Mapping[str, Any]) -> list[str]:
    """The cache the install used, then the one lean-install would use now."""
    roots = [state["cache"]] if isinstance(state.get("cache"), str) else []
    explicit, xdg = os.environ.get("LEAN_INSTALL_CACHE_DIR"), os.environ.get("XDG_CACHE_HOME")
    if explicit:
        roots.append(os.path.expanduser(explicit))
    elif xdg and os.path.isabs(xdg):
        roots.append(os.path.join(xdg, "lean-install"))
    else:
        roots.append(os.path.join(os.path.expanduser("~"), ".cache", "lean-install"))
    return roots


def _check_sha256(file: IO[bytes], sha256: Any, where: str) -> None:
    if not isinstance(sha256, str):
        raise OSError(f"no sha256 is recorded for {where}: it cannot be checked")
    file.seek(0)
    digest = hashlib.sha256()
    for block in iter(lambda: file.read(1 << 20), b""):
        digest.update(block)
    if digest.hexdigest() != sha256:
        raise OSError(f"{where} does not have the sha256 recorded at install ({sha256})")
    file.seek(0)


@contextmanager
def _remote_zip(url: str, *, whole: bool) -> Iterator[tuple[zipfile.ZipFile, IO[bytes], Any]]:
    """The zip at ``url``: read by range requests (unless ``whole``), else downloaded."""
    archive, stats = _http().open_zip(url, whole=whole)
    with archive:
        yield archive, archive.fp, lambda: stats.bytes_fetched


def _http() -> ModuleType:
    """The HTTP range reader (``reserve_http.py``), found next to this file: in the
    ``lean_install`` package, or in a lean ``.dist-info`` as ``HTTP_RUNTIME_NAME``."""
    here = os.path.dirname(os.path.abspath(__file__))
    for name in ("reserve_http.py", HTTP_RUNTIME_NAME):
        path = os.path.join(here, name)
        if os.path.isfile(path):
            spec = importlib.util.spec_from_file_location("_lean_install_reserve_http", path)
            if spec is not None and spec.loader is not None:
                module = importlib.util.module_from_spec(spec)
                sys.modules[spec.name] = module  # dataclasses look their module up there
                spec.loader.exec_module(module)
                return module
    raise OSError(f"the HTTP reader of the reserve is missing next to {here}")


# -- writing -------------------------------------------------------------------------------


def is_stub_file(path: str) -> bool:
    """Whether the file at ``path`` is a lean-install stub (False if it cannot be read)."""
    try:
        with open(path, "rb") as file:
            return file.read(len(STUB_MARKER)) == STUB_MARKER.encode()
    except OSError:
        return False


@contextmanager
def _lock(directory: str) -> Iterator[None]:
    """An exclusive lock on the environment's restores (a no-op where flock is missing)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not on Linux
        yield
        return
    os.makedirs(directory, exist_ok=True)
    fd = os.open(os.path.join(directory, "restore.lock"), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _write_restored(
    root: str, dist_info: str, files: Mapping[str, tuple[bytes, int]], stub: str
) -> None:
    """RECORD first (a RECORD naming a file not yet there is harmless), then the files, the
    stub last: killed half-way, the stub is still there and the next miss starts over."""
    touched = (*files, stub, f"{dist_info}/RECORD")
    for directory in {os.path.dirname(os.path.join(root, p)) for p in touched}:
        _sweep(directory)
    _update_record(os.path.join(root, dist_info, "RECORD"), files, drop=stub)
    for path in sorted(files, key=lambda p: p == stub):
        data, mode = files[path]
        _write_file(os.path.join(root, path), data, mode)
    if stub not in files:
        try:
            os.unlink(os.path.join(root, stub))
        except FileNotFoundError:
            pass
    _remove_bytecode(os.path.join(root, stub))


def _sweep(directory: str) -> None:
    """Remove what a restore killed while writing left in ``directory`` (we hold the lock)."""
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for name in names:
        if name.startswith(_TEMPORARY_PREFIX) and name.endswith(".tmp"):
            try:
                os.unlink(os.path.join(directory, name))
            except OSError:
                pass


def _update_record(record: str, files: Mapping[str, tuple[bytes, int]], *, drop: str) -> None:
    with open(record, encoding="utf-8", newline="") as file:
        rows = [row for row in csv.reader(file) if row]
    by_path = {row[0]: row for row in rows}
    if drop not in files:
        by_path.pop(drop, None)
    for path, (data, _mode) in files.items():
        by_path[path] = [path, _record_hash(data), str(len(data))]
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(by_path.values())
    _write_file(record, out.getvalue().encode(), 0o644)


def _write_file(path: str, data: bytes, mode: int) -> None:
    directory = os.path.dirname(path)
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=_TEMPORARY_PREFIX, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            os.fchmod(file.fileno(), mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _remove_bytecode(source: str) -> None:
    """The stub's compiled bytecode: the restored source gets its own."""
    directory, name = os.path.split(source)
    stem = name.rpartition(".")[0]
    cache = os.path.join(directory, "__pycache__")
    try:
        names = os.listdir(cache)
    except OSError:
        return
    for entry in names:
        if entry.startswith(stem + ".") and entry.endswith(".pyc"):
            try:
                os.unlink(os.path.join(cache, entry))
            except OSError:
                pass


def _load(name: str) -> ModuleType:
    """Import ``name`` from its restored files, in place of the stub being imported."""
    importlib.invalidate_caches()
    parent = name.rpartition(".")[0]
    path = getattr(sys.modules[parent], "__path__", None) if parent else None
    spec = importlib.machinery.PathFinder.find_spec(name, path)
    if spec is None or spec.loader is None:
        raise ModuleNotFoundError(f"{name} is still missing after its restore", name=name)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def _read_json(path: str) -> dict[str, Any]:
    try:
        with open(path, encoding="utf-8") as file:
            data = json.load(file)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


# -- ELF: the DT_NEEDED entries of a shared object, with the standard library -----------------


def shared_object_needs(data: bytes) -> list[str]:
    """The DT_NEEDED sonames of an ELF shared object (64 or 32 bit, either byte order);
    empty for anything else or anything malformed."""
    if data[:4] != b"\x7fELF" or len(data) < 64:
        return []
    try:
        return _elf_needs(data)
    except (struct.error, IndexError, ValueError):
        return []


def _elf_needs(data: bytes) -> list[str]:
    wide, order = data[4] == 2, "<" if data[5] == 1 else ">"
    if wide:
        phoff, phentsize, phnum = (
            struct.unpack_from(order + "Q", data, 32)[0],
            *struct.unpack_from(order + "HH", data, 54),
        )
        segment, dyn = struct.Struct(order + "IIQQQQQQ"), struct.Struct(order + "qQ")
    else:
        phoff, phentsize, phnum = (
            struct.unpack_from(order + "I", data, 28)[0],
            *struct.unpack_from(order + "HH", data, 42),
        )
        segment, dyn = struct.Struct(order + "IIIIIIII"), struct.Struct(order + "iI")
    loads, dynamic = [], None
    for i in range(phnum):
        fields = segment.unpack_from(data, phoff + i * phentsize)
        if wide:
            kind, offset, vaddr, filesz = fields[0], fields[2], fields[3], fields[5]
        else:
            kind, offset, vaddr, filesz = fields[0], fields[1], fields[2], fields[4]
        if kind == 1:
            loads.append((vaddr, offset, filesz))
        elif kind == 2:
            dynamic = (offset, filesz)
    if dynamic is None:
        return []
    needed, strtab = [], None
    for position in range(dynamic[0], dynamic[0] + dynamic[1], dyn.size):
        tag, value = dyn.unpack_from(data, position)
        if tag == 0:
            break
        if tag == 1:
            needed.append(value)
        elif tag == 5:
            strtab = next((value - v + o for v, o, size in loads if v <= value < v + size), None)
    if strtab is None:
        return []
    return [data[strtab + n : data.index(b"\0", strtab + n)].decode() for n in needed]
