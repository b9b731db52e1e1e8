"""The reserve: brings back, on demand, what a lean install removed.

A stub that is imported calls ``missing``. It appends the miss to the environment's
misses log, then, as the environment's ``on-miss`` setting says:

- ``error``: raises the stub's ``ImportError``;
- ``restore``: puts back the removed files the import needs and lets the import go on
  as if nothing had been removed;
- ``log``: as ``restore``, and prints one line on stderr.

A stub of GPU code left out under a profile that never used a GPU (the manifest's
``gpu-code``) raises in every mode and logs nothing: importing it only asks whether a GPU
is there, and bringing back ``triton`` would cost half a gigabyte to answer no.

What comes back for a stub of module ``a.b.c``: for a package, every removed file under
``a/b/c/``; for a plain module, its own files (``c.py``, ``c.*.so``) and the removed
non-module files next to it in ``a/b/``; for a stub distribution, all of it; and in each
case the removed shared libraries those extension modules need, found as the loader
finds them (``dynlib``), in this distribution or in another lean one of the same
site-packages. The files come from the original wheel in lean-install's cache, or else
its URL, read with HTTP range requests where the server allows. Each file is checked
against the hash the original RECORD gave it, RECORD being checked first against the hash
the manifest recorded (a stub distribution's whole wheel against its sha256).

RECORD is rewritten first and the stub replaced last, under a file lock, so a process
killed half-way leaves a stub that the next miss restores again, and two processes that
miss at once restore once.
"""

from __future__ import annotations

import csv
import glob
import hashlib
import importlib
import importlib.machinery
import importlib.util
import io
import os
import sys
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from types import ModuleType
from typing import IO, Any, TypeVar

from . import dynlib, layout
from .records import ON_MISS_MODES, Manifest, Miss, Original, State, log_miss

__all__ = [
    "missing",
    "restore_region",
    "restore_files",
    "removed_error",
    "gpu_code_error",
    "not_restored",
    "on_miss_mode",
    "region_of",
    "announce",
    "load_restored",
    "remove_bytecode",
    "Restored",
]


# -- a miss --------------------------------------------------------------------------------


def missing(module: str, stub_file: str, root: str, dist_info: str, error: ImportError) -> Any:
    """Called by the stub of ``module`` (at ``stub_file``) while it is being imported.

    Returns the real module once restored (the import continues with it); raises
    ``error``, the stub's own ``ImportError``, when the mode is ``error`` or the restore
    fails (then with the reason added).
    """
    state, _ = State.read(sys.prefix)
    mode = on_miss_mode(state)
    stub = os.path.relpath(os.path.realpath(stub_file), os.path.realpath(root))
    stub = stub.replace(os.sep, "/")
    manifest, _ = Manifest.read(os.path.join(root, dist_info, layout.MANIFEST_NAME))
    if manifest is not None and manifest.gpu_code:  # a probe for a GPU: not a miss
        raise removed_error(gpu_code_error(error, module, manifest), module)
    miss = _miss(module, stub, manifest, mode)
    if mode == "error" or manifest is None:
        region = sorted(region_of(_removed(manifest), stub)) if manifest else []
        _log(replace(miss, files=tuple(region), outcome="raised"))
        raise removed_error(error, module)
    try:
        restored = restore_region(root, dist_info, manifest, stub, state)
    except Exception as exc:
        _log(replace(miss, outcome=f"failed: {exc}"))
        raise removed_error(not_restored(error, exc), module) from exc
    miss = replace(miss, files=restored.files, bytes=restored.bytes, outcome="restored",
                   source=restored.source)  # fmt: skip
    _log(miss)
    announce(miss, mode)
    return load_restored(module)


def gpu_code_error(error: ImportError, module: str, manifest: Manifest) -> ImportError:
    """The stub's error for GPU code left out under a profile that never used a GPU."""
    text = (f"lean-install left out module {module!r} (distribution {manifest.name} "
            f"{manifest.version}, profile {manifest.profile_label or '(none)'}): it is GPU "
            "code and the profile never used a GPU, so it does not come back by itself.\n"
            f"To bring it back (for a GPU): lean-install restore --python {sys.executable} "
            f"{manifest.name}")  # fmt: skip
    return type(error)(text, name=error.name)


class RemovedImportError(ImportError):
    """The lean-install message of ``from pkg import removed_module``: an ImportError that
    is not a ModuleNotFoundError, which CPython's ``_handle_fromlist`` would swallow
    (leaving ``cannot import name 'removed_module'`` and no word of lean-install)."""


def not_restored(error: _E, exc: Exception) -> _E:
    """``error`` once restoring failed: its hint to turn restoring on (it was on) gives way
    to the reason it failed."""
    errno = error.errno if isinstance(error, OSError) else None
    message = str(error.strerror if errno is not None else error)  # type: ignore[attr-defined]
    lines = [line for line in message.splitlines() if not line.startswith(_HINT_ON)]
    text = "\n".join([*lines, f"lean-install could not restore it: {exc}"])
    if isinstance(error, ImportError):
        return type(error)(text, name=error.name)
    if errno is not None:
        return type(error)(errno, text, error.filename)  # type: ignore[attr-defined]
    return type(error)(text)


_HINT_ON = "To have removed code come back"
_E = TypeVar("_E", bound=Exception)


def removed_error(error: ImportError, module: str) -> ImportError:
    """``error``, or the same message as a ``RemovedImportError`` when the import of
    ``module`` is a ``from package import module``."""
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_code.co_name == "_handle_fromlist":
            owner, item = frame.f_locals.get("module"), frame.f_locals.get("x")
            if f"{getattr(owner, '__name__', '')}.{item}" == module:
                return RemovedImportError(str(error), name=module)
        frame = frame.f_back  # type: ignore[assignment]
    return error


_ANNOUNCED: list[bool] = []


def announce(miss: Miss, mode: str, hint: str = "") -> None:
    """Say on stderr what came back: every time in ``log`` mode, once per process (the
    first time) in ``restore`` mode, with how to keep it in the next lean install
    (``hint``; by default the pip side's: ``lean-install profile update``)."""
    what = (f"lean-install: brought back {miss.module} ({miss.distribution} {miss.version}: "
            f"{len(miss.files)} files, {miss.bytes / 1e6:.1f} MB, from {miss.source})")  # fmt: skip
    if mode == "log":
        print(what, file=sys.stderr)
    elif mode == "restore" and not _ANNOUNCED:
        _ANNOUNCED.append(True)
        hint = hint or (
            f"removed code comes back as programs reach it (see: lean-install misses --python "
            f"{sys.executable}); to keep it in the next lean install: lean-install profile "
            f"update PROFILE --from-misses --python {sys.executable}"
        )
        print(f"{what}\nlean-install: {hint}", file=sys.stderr)


def on_miss_mode(state: State) -> str:
    """The environment's on-miss mode; ``$LEAN_INSTALL_ON_MISS`` overrides it (lean-install's
    verification sets it to ``error``: a miss there is a failure, not a silent restore)."""
    forced = os.environ.get("LEAN_INSTALL_ON_MISS", "")
    return forced if forced in ON_MISS_MODES else state.mode


def _log(miss: Miss) -> None:
    log_miss(sys.prefix, miss)


def _miss(module: str, stub: str, manifest: Manifest | None, mode: str) -> Miss:
    if manifest is None:
        return Miss.now(module, distribution="", version="", stub=stub, mode=mode)
    return Miss.now(module, distribution=manifest.name, version=manifest.version,
                    lean_version=manifest.lean_version, stub=stub, mode=mode)  # fmt: skip


# -- what comes back -----------------------------------------------------------------------


def _data_prefix(manifest: Manifest) -> str:
    """The original wheel's ``.data/`` directory (its RECORD's directory says which)."""
    dist_info = manifest.original.record.split("/", 1)[0] if manifest.original else ""
    return layout.data_prefix(dist_info) if dist_info else "\0"


def _archive_data_prefix(names: list[str]) -> str:
    infos = {n.split("/", 1)[0] for n in names if n.count("/") == 1 and n.endswith("/RECORD")}
    infos = {i for i in infos if i.endswith(".dist-info")}
    return layout.data_prefix(infos.pop()) if len(infos) == 1 else "\0"


def _removed(manifest: Manifest) -> dict[str, str]:
    """Installed path -> wheel path of every removed file that lands in site-packages."""
    prefix = _data_prefix(manifest)
    return {i: p for p in manifest.removed if (i := layout.installed_path(p, prefix)) is not None}


def _region(manifest: Manifest, stub: str) -> set[str]:
    """The removed files (installed paths) a miss of the module at ``stub`` brings back,
    before the shared-library closure; a stub distribution's is known from its wheel only."""
    return region_of(_removed(manifest), stub)


def region_of(removed: Iterable[str], stub: str) -> set[str]:
    """Of the ``removed`` files (paths relative to one root, as ``stub`` is), those a miss
    of the module whose stub is at ``stub`` brings back: for a package (``__init__.py``)
    every file under its directory; for a module its own files and the removed non-module
    files next to it (data it may open)."""
    installed = set(removed)
    if stub.endswith("/__init__.py"):
        base = stub[: -len("__init__.py")]
        return {i for i in installed if i.startswith(base)}
    directory, _, name = stub.rpartition("/")
    prefix = directory + "/" if directory else ""
    stem = name[: -len(".py")]
    return {p for p in installed if p.startswith(prefix) and _next_to(p[len(prefix) :], stem)}


def _next_to(rest: str, stem: str) -> bool:
    """Whether ``rest`` (a path in the stub's directory) comes back with module ``stem``:
    its own files, a namespace package that stood where the stub is, data files."""
    if rest.startswith(stem + "/"):
        return True
    return "/" not in rest and (
        rest.split(".")[0] == stem or not rest.endswith(layout.MODULE_SUFFIXES)
    )


@dataclass(frozen=True)
class Restored:
    """What one restore wrote: installed paths, their bytes, and where they came from."""

    files: tuple[str, ...]
    bytes: int
    source: str


def restore_region(
    root: str, dist_info: str, manifest: Manifest, stub: str, state: State
) -> Restored:
    """Put back what a miss at ``stub`` needs, under the environment's restore lock; a stub
    already replaced (by another process) is left as it is and nothing is written."""
    return _restore(root, dist_info, manifest, state, stub=stub)


def restore_files(
    root: str, dist_info: str, manifest: Manifest, wanted: set[str], state: State
) -> Restored:
    """Put back the removed files ``wanted`` (installed paths) and the libraries they need;
    files another process put back meanwhile are left as they are."""
    return _restore(root, dist_info, manifest, state, wanted=wanted)


def _restore(
    root: str,
    dist_info: str,
    manifest: Manifest,
    state: State,
    *,
    stub: str = "",
    wanted: set[str] | None = None,
) -> Restored:
    from . import working

    working.append(True)
    try:
        return _restore_locked(root, dist_info, manifest, state, stub=stub, wanted=wanted)
    finally:
        working.pop()


def _restore_locked(
    root: str,
    dist_info: str,
    manifest: Manifest,
    state: State,
    *,
    stub: str,
    wanted: set[str] | None,
) -> Restored:
    with layout.restore_lock(sys.prefix):
        if stub and not layout.is_stub_file(os.path.join(root, stub)):
            return Restored((), 0, "another process")
        if wanted is not None:
            wanted = {p for p in wanted if not os.path.exists(os.path.join(root, p))}
            if not wanted:
                return Restored((), 0, "another process")
        with _reserve(manifest, state) as (archive, source, verify):
            files, foreign = _collect(archive, manifest, stub, verify, root, wanted=wanted)
            _write_restored(root, dist_info, files, stub)
        written = sorted(files)
        size = sum(len(data) for data, _ in files.values())
        for other_info, other, paths in _foreign_owners(root, foreign, manifest.name):
            with _reserve(other, state) as (archive, _, verify):
                more, _ = _collect(archive, other, "", verify, root, wanted=paths)
                _write_restored(root, other_info, more, "")
            written += sorted(more)
            size += sum(len(data) for data, _ in more.values())
    return Restored(tuple(written), size, source)


Files = dict[str, tuple[bytes, int]]
"""Installed path -> (bytes, mode) of what is being restored."""


def _collect(
    archive: zipfile.ZipFile,
    manifest: Manifest,
    stub: str,
    verify: bool,
    root: str,
    *,
    wanted: set[str] | None = None,
) -> tuple[Files, set[tuple[str, str, dynlib.Dynamic]]]:
    """Read the region's members and the removed libraries they need from the original.

    Also returns the needs this distribution cannot meet: (soname, needing library,
    its dynamic facts), for the other lean distributions to meet.
    """
    names = archive.namelist()
    prefix = _archive_data_prefix(names)
    every = {
        i: n
        for n in names
        if not n.endswith("/") and (i := layout.installed_path(n, prefix)) is not None
    }
    if manifest.decision == "stub":
        members = {i: n for i, n in every.items() if ".dist-info/" not in n}
        todo = set(members)
    else:
        members = _removed(manifest)
        todo = set(wanted) if wanted is not None else _region(manifest, stub)
    hashes = _original_hashes(archive, manifest) if verify else None
    libraries = dynlib.Libraries(every)
    files: Files = {}
    foreign: set[tuple[str, str, dynlib.Dynamic]] = set()
    queue = sorted(todo)
    while queue:
        path = queue.pop()
        if path in files or path not in members:
            continue
        files[path] = _read_member(archive, members[path], hashes)
        dynamic = dynlib.read_dynamic(files[path][0])
        for soname in dynamic.needed:
            found = libraries.resolve(soname, path, dynamic)
            queue.extend(p for p in found if p in members and p not in files)
            if not found and not _on_disk(root, soname, path, dynamic):
                foreign.add((soname, path, dynamic))
    return files, foreign


def _on_disk(root: str, soname: str, library: str, dynamic: dynlib.Dynamic) -> bool:
    """Whether the loader would find ``soname`` for ``library`` in the tree, or it is a
    system library (not named by any file of the tree): then it needs nothing restored."""
    origin = os.path.dirname(library)
    for entry in dynamic.search_path:
        for spelling in ("${ORIGIN}", "$ORIGIN"):
            if entry.startswith(spelling):
                path = os.path.join(root, origin, entry[len(spelling) :].lstrip("/"), soname)
                if os.path.exists(path):
                    return True
    return False


def _foreign_owners(
    root: str, needs: set[tuple[str, str, dynlib.Dynamic]], own: str
) -> Iterator[tuple[str, Manifest, set[str]]]:
    """Other lean distributions of ``root`` whose removed files meet ``needs``."""
    if not needs:
        return
    for path in sorted(
        glob.glob(os.path.join(glob.escape(root), "*.dist-info", layout.MANIFEST_NAME))
    ):
        other, _ = Manifest.read(path)
        if other is None or other.name == own or other.decision != "strip":
            continue
        removed = _removed(other)
        libraries = dynlib.Libraries(removed)
        found = {p for soname, library, d in needs for p in libraries.resolve(soname, library, d)}
        if found:
            yield os.path.basename(os.path.dirname(path)), other, found


def _original_hashes(archive: zipfile.ZipFile, manifest: Manifest) -> dict[str, str]:
    """The original RECORD's hashes, once RECORD itself has the hash the manifest recorded
    when the original (checked against its sha256) was stripped."""
    original = manifest.original
    if original is None or not original.record or not original.record_hash:
        raise OSError("the manifest records no RECORD hash: what comes back cannot be checked")
    data = archive.read(original.record)
    if layout.record_hash(data) != original.record_hash:
        raise OSError(
            f"{original.record} of the original wheel is not the one it was stripped from"
        )
    rows = csv.reader(io.StringIO(data.decode("utf-8")))
    return {row[0]: row[1] for row in rows if len(row) >= 2 and row[1]}


def _read_member(
    archive: zipfile.ZipFile, name: str, hashes: Mapping[str, str] | None
) -> tuple[bytes, int]:
    """A member's bytes and mode; checked against ``hashes`` unless None (a whole wheel
    already checked against its sha256)."""
    reason = layout.unsafe_path_reason(name)
    if reason:
        raise OSError(f"{name!r} {reason}: not a path inside the environment")
    info = archive.getinfo(name)
    if (info.external_attr >> 16) & 0o170000 == 0o120000:
        raise OSError(f"{name} is a symbolic link in the original wheel")
    data = archive.read(info)
    if hashes is not None and hashes.get(name) != layout.record_hash(data):
        raise OSError(f"{name} does not match the hash the original RECORD gives it")
    executable = (info.external_attr >> 16) & 0o111
    return data, 0o755 if executable else 0o644


# -- the reserve: cached original, else its URL ----------------------------------------------


@contextmanager
def _reserve(manifest: Manifest, state: State) -> Iterator[tuple[zipfile.ZipFile, str, bool]]:
    """The original wheel as a zip, where it came from, and whether members need checking.

    A stub distribution's wheel is checked whole against its sha256 (it was never
    fetched, so no member hashes were recorded); a stripped one member by member.
    """
    recorded = state.distributions.get(manifest.name)
    original = (manifest.original or Original(filename="")).merged(
        recorded.original if recorded else None
    )
    whole = manifest.decision == "stub"
    cached = _cached_original(state, original)
    if cached is not None:
        with open(cached, "rb") as file:
            if whole:
                _check_sha256(file, original.sha256, cached)
            with zipfile.ZipFile(file) as archive:
                yield archive, f"cache ({cached})", not whole
        return
    if not original.url:
        raise OSError("the original wheel is not in the cache and its URL is not recorded")
    from . import reserve_http  # the network only when the cache cannot serve

    archive, stats = reserve_http.open_zip(original.url, whole=whole)
    with archive:
        if whole:
            _check_sha256(archive.fp, original.sha256, original.url)  # type: ignore[arg-type]
        yield archive, f"{original.url} ({stats.bytes_fetched} bytes fetched)", not whole


def _cached_original(state: State, original: Original) -> str | None:
    if not original.sha256 or not original.filename or "/" in original.filename:
        return None
    for cache in (state.cache, layout.default_cache_root()):
        if cache:
            path = layout.original_in_cache(cache, original.sha256, original.filename)
            if os.path.isfile(path):
                return path
    return None


def _check_sha256(file: IO[bytes], sha256: str, where: str) -> None:
    if not sha256:
        raise OSError(f"no sha256 is recorded for {where}: it cannot be checked")
    file.seek(0)
    digest = hashlib.sha256()
    for block in iter(lambda: file.read(1 << 20), b""):
        digest.update(block)
    if digest.hexdigest() != sha256:
        raise OSError(f"{where} does not have the sha256 recorded at install ({sha256})")
    file.seek(0)


# -- writing -------------------------------------------------------------------------------


def _write_restored(root: str, dist_info: str, files: Files, stub: str) -> None:
    """RECORD first (a RECORD naming a file not yet there is harmless), then the files, the
    stub last: killed half-way, the stub is still there and the next miss starts over."""
    touched = (*files, *([stub] if stub else []), f"{dist_info}/RECORD")
    for directory in {os.path.dirname(os.path.join(root, p)) for p in touched}:
        _sweep(directory)
    _update_record(os.path.join(root, dist_info, "RECORD"), files, drop=stub)
    for path in sorted(files, key=lambda p: p == stub):
        data, mode = files[path]
        layout.write_atomically(os.path.join(root, path), data, mode)
    if stub and stub not in files:
        try:
            os.unlink(os.path.join(root, stub))
        except FileNotFoundError:
            pass
    if stub:
        remove_bytecode(os.path.join(root, stub))


def _sweep(directory: str) -> None:
    """Remove what a restore killed while writing left in ``directory`` (we hold the lock)."""
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for name in names:
        if name.startswith(layout.TEMPORARY_PREFIX) and name.endswith(".tmp"):
            try:
                os.unlink(os.path.join(directory, name))
            except OSError:
                pass


def _update_record(record: str, files: Files, *, drop: str) -> None:
    with open(record, encoding="utf-8", newline="") as file:
        rows = {row[0]: row for row in layout.parse_record(file.read())}
    if drop and drop not in files:
        rows.pop(drop, None)
    for path, (data, _mode) in files.items():
        rows[path] = (path, layout.record_hash(data), str(len(data)))
    layout.write_atomically(record, layout.format_record(rows.values()).encode())


def remove_bytecode(source: str) -> None:
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


def load_restored(name: str) -> ModuleType:
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
