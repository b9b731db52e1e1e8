"""The reserve of a conda package: its removed files, back from conda's package cache.

conda keeps every package it installed in its package cache: the archive
(``package_tarball_full_path``) and, usually, its extracted tree
(``extracted_package_dir``), whose files a prefix's files are hard links of. A file comes
back as conda made it: the package's bytes with the prefix placeholder replaced (``text``:
every occurrence; ``binary``: inside each C string, padded with NULs to its length), and
it must then have the sha256 the record says it had in the prefix. The extracted tree is
tried first; a file missing or altered there is taken from the archive, extracted into a
temporary directory with ``conda_package_handling`` where it is importable (in conda's own
python: ``conda lean restore``). A prefix's python usually has no
conda-package-handling, so a stub there restores from the extracted tree only, and says
so when that is not enough. Nothing is written before every file is in hand.

A stub of a conda prefix calls ``missing`` (it finds this module under
``PREFIX/lean-install/runtime/<digest>/``). As on the pip side (``reserve.missing``), the
prefix's ``on-miss`` mode (``PREFIX/lean-install/state.json``, ``$LEAN_INSTALL_ON_MISS``
overriding) says whether it raises (``error``) or brings back the module's region
(``restore``, ``log``): for a package every removed file under its directory, for a
module its own files and the removed non-module files next to it, and the removed
libraries of the same package those need (``DT_NEEDED``). Under the prefix's restore lock,
in this order: the files (hard-linked from the extracted package, as conda links them),
the package's ``conda-meta`` record (its ``files`` and ``paths_data`` list them again,
with the entries the record had before the strip), the manifest (what is still removed),
and the stub last. A process killed half-way leaves the stub, and the next import
restores again; one that finds the stub gone (another process restored it) imports what
is there. When nothing removed is left, the record goes back as conda wrote it and the
manifest goes.

The startup hook (``hook.install_conda``, loaded by ``site-packages/lean-install-conda.pth``)
sees what no stub does: a removed data file a program opens, a directory it lists, a
library it loads by path. It calls ``restore_files`` (those files, and the libraries they
need, in the same order of writes) and words its errors with ``removed_message``.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from . import dynlib, layout, reserve
from .conda_records import (
    CondaManifest,
    PathEntry,
    PrefixRecord,
    manifest_path,
    record_bytes,
    record_from_data,
    record_from_text,
    record_path,
)
from .records import Miss, State, log_miss, read_json
from .tables import Issue

__all__ = [
    "RUNTIME_HOME",
    "Original",
    "NotInCache",
    "replace_placeholder",
    "originals",
    "place",
    "missing",
    "restore_region",
    "restore_files",
    "miss_of",
    "removed_message",
]

RUNTIME_HOME = "runtime"
"""``PREFIX/lean-install/runtime/<digest>/``: the runtime a conda prefix's stubs load."""


class NotInCache(OSError):
    """The package cache cannot give back a file intact; ``hint`` says what to do."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.message, self.hint = message, hint

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class Original:
    """One file of a package as it was in the prefix: bytes, or a link's target."""

    path: str
    entry: PathEntry
    data: bytes | None = None
    link: str | None = None
    mode: int = 0o644
    mtime_ns: int | None = None
    source: Path | None = None
    """A file of the extracted package that is exactly this one: hard-linked, as conda does."""


def replace_placeholder(data: bytes, entry: PathEntry, prefix: str) -> bytes:
    """``data`` with ``entry``'s prefix placeholder replaced by ``prefix``, as conda does."""
    if not entry.prefix_placeholder:
        return data
    old, new = entry.prefix_placeholder.encode(), prefix.encode()
    if entry.file_mode != "binary":
        return data.replace(old, new)
    if len(new) > len(old):
        raise ValueError(f"the prefix {prefix} is longer than the placeholder of {entry.path}")

    def padded(match: re.Match[bytes]) -> bytes:
        text = match.group()
        count = text.count(old)
        return text.replace(old, new)[:-1] + b"\0" * ((len(old) - len(new)) * count) + b"\0"

    return re.sub(re.escape(old) + rb"[^\0]*\0", padded, data)


def _read(
    root: Path, path: str, entry: PathEntry, prefix: str, *, linkable: bool
) -> Original | None:
    """The original of ``entry`` from the package tree at ``root``; None if it is not
    there intact. ``linkable``: ``root`` stays (the extracted package), so a file without
    a placeholder can be hard-linked from it."""
    source = root / entry.path
    try:
        if entry.path_type == "softlink" or source.is_symlink():
            return Original(path, entry, link=str(source.readlink()))
        data = replace_placeholder(source.read_bytes(), entry, prefix)
        status = source.stat()
    except (OSError, ValueError):
        return None
    expected = entry.sha256_on_disk
    if expected and hashlib.sha256(data).hexdigest() != expected:
        return None
    link = source if linkable and not entry.prefix_placeholder else None
    return Original(
        path,
        entry,
        data=None if link else data,
        mode=status.st_mode & 0o777,
        mtime_ns=status.st_mtime_ns,
        source=link,
    )


def _refetch(record: PrefixRecord) -> str:
    return f"conda install --download-only {record.name}={record.version}={record.build}"


@contextlib.contextmanager
def _extracted(record: PrefixRecord) -> Iterator[Path | None]:
    """The package archive extracted into a temporary directory; None without one."""
    tarball = record.package_tarball_full_path
    if not tarball or not os.path.isfile(tarball):
        yield None
        return
    try:
        from conda_package_handling import api  # type: ignore[import-not-found,unused-ignore]
    except ImportError:
        extracted = record.extracted_package_dir or "(none recorded)"
        raise NotInCache(
            f"cannot restore {record.stem}: its extracted package {extracted} is gone or not "
            f"complete, and extracting {tarball} needs conda-package-handling, which "
            f"{sys.executable} does not have; nothing was changed",
            f"run conda lean restore -p {record.prefix} {record.name} (conda ships "
            "conda-package-handling; so does pip install 'lean-install[conda]')",
        ) from None
    with tempfile.TemporaryDirectory(prefix="lean-install-conda-") as tmp:
        try:
            api.extract(tarball, dest_dir=tmp)
        except Exception as exc:  # conda_package_handling raises many kinds for a bad archive
            raise NotInCache(
                f"cannot restore {record.stem}: its package {tarball} is damaged "
                f"({type(exc).__name__}: {exc}); nothing was changed",
                f"fetch it again (conda clean --tarballs, then {_refetch(record)}) and "
                "restore again",
            ) from None
        yield Path(tmp)


def originals(
    record: PrefixRecord, paths: Sequence[str], entries: Mapping[str, PathEntry]
) -> list[Original]:
    """The original of every one of ``paths`` (prefix-relative; ``entries``: the record's
    entries before the strip) but bytecode conda compiled and directories, intact, or a
    ``NotInCache`` naming what is missing."""
    prefix = str(record.prefix)
    wanted = [p for p in paths if entries[p].path_type not in ("pyc_file", "directory")]
    found: dict[str, Original] = {}
    extracted = record.extracted_package_dir
    if extracted and os.path.isdir(extracted):
        for path in wanted:
            original = _read(Path(extracted), path, entries[path], prefix, linkable=True)
            if original is not None:
                found[path] = original
    missing = [p for p in wanted if p not in found]
    if missing:
        with _extracted(record) as root:
            for path in missing:
                original = (
                    None
                    if root is None
                    else _read(root, path, entries[path], prefix, linkable=False)
                )
                if original is not None:
                    found[path] = original
    missing = [p for p in wanted if p not in found]
    if missing:
        raise NotInCache(
            f"cannot restore {record.stem}: {len(missing)} file(s) are not intact in the "
            f"package cache (first: {missing[0]}); nothing was changed",
            f"fetch the package again ({_refetch(record)}) and restore again, or reinstall it "
            f"with conda install --force-reinstall {record.name}",
        )
    return [found[p] for p in wanted]


def place(prefix: Path, original: Original) -> None:
    """Put ``original`` at its path in ``prefix``, atomically: a link as it was; a file of
    the extracted package hard-linked as conda links it (copied across file systems); else
    its bytes, with the mode and time it had."""
    target = prefix / original.path
    target.parent.mkdir(parents=True, exist_ok=True)
    if original.link is not None:
        if target.is_symlink() or target.exists():
            target.unlink()
        target.symlink_to(original.link)
        return
    if original.source is not None:
        temporary = target.with_name(f"{layout.TEMPORARY_PREFIX}{target.name}.{os.getpid()}.tmp")
        temporary.unlink(missing_ok=True)
        try:
            os.link(original.source, temporary)
        except OSError:
            shutil.copy2(original.source, temporary)
        temporary.replace(target)
        layout.fsync_directory(str(target.parent))
        return
    layout.write_atomically(target, original.data or b"", original.mode)
    if original.mtime_ns is not None:
        os.utime(target, ns=(original.mtime_ns, original.mtime_ns))


# -- a miss in a conda prefix ------------------------------------------------------------------


def missing(module: str, stub_file: str, prefix: str, stem: str, error: ImportError) -> Any:
    """Called by the stub of ``module`` (at ``stub_file``, of package ``stem`` in the conda
    prefix ``prefix``) while it is being imported: the real module once restored; else
    ``error`` (with the reason added when restoring failed), as a ``RemovedImportError``
    under ``from package import module``."""
    state, _ = State.read(prefix)
    mode = reserve.on_miss_mode(state)
    stub = os.path.relpath(os.path.realpath(stub_file), os.path.realpath(prefix))
    stub = stub.replace(os.sep, "/")
    manifest, _ = CondaManifest.read(manifest_path(prefix, stem))
    miss = _miss(module, stub, manifest, mode)
    if mode == "error" or manifest is None:
        region = sorted(reserve.region_of(manifest.removed, stub)) if manifest else []
        log_miss(prefix, replace(miss, files=tuple(region), outcome="raised"))
        raise reserve.removed_error(error, module)
    try:
        restored = restore_region(Path(prefix), stem, stub)
    except Exception as exc:
        log_miss(prefix, replace(miss, outcome=f"failed: {exc}"))
        reason = f"{exc}\n{exc.hint}" if isinstance(exc, NotInCache) else str(exc)
        raise reserve.removed_error(reserve.not_restored(error, OSError(reason)), module) from exc
    miss = replace(miss, files=restored.files, bytes=restored.bytes, outcome="restored",
                   source=restored.source)  # fmt: skip
    log_miss(prefix, miss)
    hint = (
        f"removed code comes back as programs reach it (logged in "
        f"{layout.state_path(prefix, layout.MISSES_LOG)}); to keep it in the next strip, trace "
        f"the workload that needs it (lean-install trace); conda lean config -p {prefix} "
        "on-miss error makes a miss an error"
    )
    reserve.announce(miss, mode, hint)
    return reserve.load_restored(module)


def _version(manifest: CondaManifest) -> str:
    issues: list[Issue] = []
    return record_from_text("", manifest.original, issues).version


def _miss(module: str, stub: str, manifest: CondaManifest | None, mode: str) -> Miss:
    name, version = (manifest.name, _version(manifest)) if manifest else ("", "")
    return Miss.now(module, distribution=name, version=version, stub=stub, mode=mode)


def miss_of(kind: str, what: str, manifest: CondaManifest, mode: str) -> Miss:
    """The miss of a removed file (``kind``: ``file``) of a stripped conda package."""
    return Miss.now(what, kind=kind, distribution=manifest.name, version=_version(manifest),
                    mode=mode)  # fmt: skip


def removed_message(what: str, manifest: CondaManifest, prefix: str) -> str:
    """What a program is told when it reaches ``what``, removed from a conda package."""
    return (
        f"lean-install removed {what} (conda package {manifest.stem}, profile "
        f"{manifest.profile or '(none)'}): the workload traced for that profile never used "
        f"it.\nTo bring it back: conda lean restore -p {prefix} {manifest.name}\nTo have "
        f"removed code come back when reached: conda lean config -p {prefix} on-miss restore"
    )


def restore_files(prefix: Path, stem: str, paths: Sequence[str]) -> reserve.Restored:
    """Bring back the removed files ``paths`` (prefix-relative) of the package ``stem``, and
    the removed libraries of the same package they need, under the prefix's restore lock;
    files another process brought back meanwhile are left as they are."""
    with layout.restore_lock(prefix):
        manifest, original, current = _records(prefix, stem)
        removed = set(manifest.removed)
        wanted = sorted(
            p
            for p in paths
            if p in removed and p in original.entries and not os.path.lexists(prefix / p)
        )
        if not wanted:
            return reserve.Restored((), 0, "another process")
        found = originals(original, wanted, original.entries)
        found += _libraries(original, manifest, found, {o.path for o in found})
        _write(prefix, manifest, original, current, found, None)
    return _restored(original, found)


def restore_region(prefix: Path, stem: str, stub: str) -> reserve.Restored:
    """Bring back what a miss of the module whose stub is at ``stub`` (prefix-relative)
    needs, under the prefix's restore lock; a stub already replaced (by another process)
    is left as it is and nothing is written."""
    with layout.restore_lock(prefix):
        if not layout.is_stub_file(prefix / stub):
            return reserve.Restored((), 0, "another process")
        manifest, original, current = _records(prefix, stem)
        entries = original.entries
        wanted = _region(prefix, manifest, original, stub)
        found = originals(original, sorted(wanted), entries)
        found += _libraries(original, manifest, found, {o.path for o in found})
        _write(prefix, manifest, original, current, found, stub)
    return _restored(original, found)


def _restored(original: PrefixRecord, found: list[Original]) -> reserve.Restored:
    size = sum(o.entry.size_in_bytes or len(o.data or b"") for o in found)
    where = original.extracted_package_dir or original.package_tarball_full_path
    return reserve.Restored(
        tuple(sorted(o.path for o in found)), size, f"the package cache ({where})"
    )


def _records(prefix: Path, stem: str) -> tuple[CondaManifest, PrefixRecord, PrefixRecord]:
    """The package's manifest, its record before the strip and its record now."""
    manifest, issues = CondaManifest.read(manifest_path(prefix, stem))
    if manifest is None or issues:
        said = "; ".join(map(str, issues)) or "it is gone"
        raise OSError(f"the manifest of {stem} cannot be read: {said}")
    where = record_path(prefix, stem)
    original = record_from_text(where, manifest.original, issues)
    data, more = read_json(str(where))
    current = record_from_data(where, data, more)
    if issues or more or data is None:
        said = "; ".join(map(str, [*issues, *more])) or f"{where} is gone"
        raise OSError(f"the record of {stem} cannot be read: {said}")
    return manifest, original, current


def _region(prefix: Path, manifest: CondaManifest, original: PrefixRecord, stub: str) -> set[str]:
    """The files of the module's region to bring back: those the manifest says were
    removed, and those of the original record that are missing on disk or are stubs (a
    restore killed half-way: the disk is the truth), but bytecode conda compiled."""
    entries = original.entries
    removed = set(manifest.removed)
    region = {
        p
        for p in reserve.region_of(entries, stub)
        if entries[p].path_type not in ("pyc_file", "directory")
        and (p in removed or not os.path.lexists(prefix / p) or layout.is_stub_file(prefix / p))
    }
    bytecode = {
        p
        for p in entries
        if "__pycache__/" in p
        and entries[p].path_type != "pyc_file"
        and layout.source_of_bytecode(p) in region
        and (p in removed or not os.path.lexists(prefix / p))
    }
    return region | bytecode


def _libraries(
    original: PrefixRecord, manifest: CondaManifest, found: list[Original], have: set[str]
) -> list[Original]:
    """The package's removed shared libraries the restored ELF files need, transitively."""
    removed = {p for p in manifest.removed if p in original.entries and p not in have}
    libraries = dynlib.Libraries(set(original.entries))
    more: list[Original] = []
    queue = list(found)
    while queue:
        item = queue.pop()
        data = item.data
        if data is None and item.source is not None:
            try:
                data = item.source.read_bytes()
            except OSError:
                continue
        if not data or not data.startswith(dynlib.ELF_MAGIC):
            continue
        dynamic = dynlib.read_dynamic(data)
        needed = {
            p
            for soname in dynamic.needed
            for p in libraries.resolve(soname, item.path, dynamic)
            if p in removed
        }
        if needed:
            got = originals(original, sorted(needed), original.entries)
            removed -= needed
            more += got
            queue += got
    return more


def _write(
    prefix: Path,
    manifest: CondaManifest,
    original: PrefixRecord,
    current: PrefixRecord,
    found: list[Original],
    stub: str | None,
) -> None:
    """The files, the record, the manifest, the stub (if a stub's miss) last."""
    for item in found:
        if item.path != stub:
            place(prefix, item)
    restored = {o.path for o in found}
    removed = tuple(p for p in manifest.removed if p not in restored)
    stubs = tuple(s for s in manifest.stubs if s != stub)
    if not removed and not stubs and not manifest.rewritten:  # nothing lean left: as conda wrote it
        layout.write_atomically(record_path(prefix, manifest.stem), manifest.original.encode())
        manifest_path(prefix, manifest.stem).unlink(missing_ok=True)
    else:
        data = _record(original, current, restored, stub)
        layout.write_atomically(record_path(prefix, manifest.stem), record_bytes(data))
        replace(manifest, removed=removed, stubs=stubs).write(prefix)
    if stub is None:
        return
    own = next((o for o in found if o.path == stub), None)
    if own is not None:
        place(prefix, own)
    else:  # the stub stood for a module whose files are elsewhere (an extension module)
        (prefix / stub).unlink(missing_ok=True)
    reserve.remove_bytecode(str(prefix / stub))


def _record(
    original: PrefixRecord, current: PrefixRecord, restored: set[str], stub: str | None
) -> dict[str, Any]:
    """The record as it is now, listing the ``restored`` files again with their original
    entries (in the original's order), without a stub that goes."""
    drop = {stub} if stub is not None and stub not in original.entries else set()
    now = set(current.files)
    order = [*original.files, *(f for f in current.files if f not in set(original.files))]
    files = [f for f in order if f not in drop and (f in restored or f in now)]
    entries = {**current.entries, **{p: original.entries[p] for p in restored}}
    return current.to_dict(files, [entries[f] for f in files if f in entries])
