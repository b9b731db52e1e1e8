"""The cache: original wheels by hash, stripped wheels by original hash and plan digest.

Layout under the root::

    originals/<sha256>/<filename>                       an original wheel (or sdist)
    stripped/<original sha256>-<plan digest>/<filename>  a stripped wheel
    stripped/<original sha256>-<plan digest>/SHA256SUMS  its hash (``sha256sum -c`` format)
    plans/<key>.json                                     a plan, by a digest of its inputs
    dynamic/<original sha256>.json                       its libraries' dynamic facts
    tmp/                                                 scratch space on the same filesystem

Every write goes to a temporary file in the entry's own directory, is fsync-ed, and is
renamed into place with ``os.replace``: a reader never sees half a file, and two processes
adding the same entry at once leave one good entry. Every read checks the file's hash, so
an entry whose file was damaged is treated as absent and replaced by the next add.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from lean_install.errors import HashMismatchError
from lean_install.runtime import dynlib, layout

__all__ = ["Cache", "file_sha256"]

_CHUNK = 1 << 20
_SHA256 = re.compile(r"[0-9a-f]{64}")
_DIGEST = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
_SUMS = "SHA256SUMS"


def file_sha256(path: Path) -> str:
    """The hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _check_sha256(sha256: str) -> str:
    if not _SHA256.fullmatch(sha256.lower()):
        raise ValueError(f"not a sha256 hex digest: {sha256!r}")
    return sha256.lower()


def _check_component(value: str) -> str:
    if not _DIGEST.fullmatch(value):
        raise ValueError(f"not usable as a cache key: {value!r}")
    return value


def _copy_hashing(src: Path, dest: Path) -> str:
    """Copy ``src`` to the new file ``dest`` (fsync-ed), returning the hash of what was written."""
    digest = hashlib.sha256()
    with src.open("rb") as reader, dest.open("xb") as writer:
        while chunk := reader.read(_CHUNK):
            digest.update(chunk)
            writer.write(chunk)
        writer.flush()
        os.fsync(writer.fileno())
    return digest.hexdigest()


def _hash_and_sync(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
        os.fsync(stream.fileno())
    return digest.hexdigest()


def _place(src: Path, tmp: Path, *, move: bool, link: bool) -> str:
    """Put ``src``'s content at ``tmp`` (rename, hard link or copy); return its hash."""
    if move or link:
        try:
            if move:
                src.rename(tmp)
            else:
                os.link(src, tmp)
            return _hash_and_sync(tmp)
        except OSError:
            if tmp.exists():  # placed, but could not be read back
                raise
    actual = _copy_hashing(src, tmp)
    if move:
        src.unlink()
    return actual


def _install_file(
    src: Path, directory: Path, name: str, expected: str | None, *, move: bool, link: bool
) -> str:
    """Atomically make ``directory/name`` a copy of ``src``; return its sha256.

    With ``expected`` set, a file with another hash raises HashMismatchError and nothing
    is left in ``directory`` (a moved ``src`` is put back).
    """
    directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / f".tmp-{secrets.token_hex(8)}-{name}"
    try:
        actual = _place(src, tmp, move=move, link=link)
        if expected is not None and actual != expected:
            raise HashMismatchError(str(src), expected, actual)
        tmp.replace(directory / name)
        layout.fsync_directory(str(directory))
    except BaseException:
        if move and not src.exists():
            with contextlib.suppress(OSError):
                tmp.rename(src)
        tmp.unlink(missing_ok=True)
        raise
    # rename() onto a hard link of the same file does nothing and leaves tmp behind.
    tmp.unlink(missing_ok=True)
    return actual


def _write_text_atomically(path: Path, text: str) -> None:
    layout.write_atomically(path, text.encode("utf-8"))


class Cache:
    """Original and stripped wheels on disk, keyed by content hash."""

    def __init__(self, root: Path, *, link: bool = True) -> None:
        self.root = Path(root)
        self.link = link
        """Take hard links of files added without ``move`` where the filesystem allows,
        instead of copies. A linked file changed in place later fails the hash check on
        read, so the entry is then treated as absent."""
        self._verified: dict[Path, tuple[tuple[int, int, int, int], str]] = {}

    def __repr__(self) -> str:
        return f"Cache({str(self.root)!r}, link={self.link})"

    @classmethod
    def default(cls) -> Cache:
        """$LEAN_INSTALL_CACHE_DIR, else $XDG_CACHE_HOME/lean-install, else ~/.cache/lean-install
        (``layout.default_cache_root``: the reserve looks there too)."""
        return cls(Path(layout.default_cache_root()))

    # -- originals -----------------------------------------------------------------------

    def original(self, sha256: str) -> Path | None:
        """The cached file whose content has this sha256, if a sound one is there."""
        sha256 = _check_sha256(sha256)
        directory = self.root / "originals" / sha256
        try:
            paths = sorted(p for p in directory.iterdir() if not p.name.startswith("."))
        except OSError:
            return None
        return next((p for p in paths if self._is_sound(p, sha256)), None)

    def add_original(self, src: Path, sha256: str, *, move: bool = False) -> Path:
        """Put ``src`` into the cache under ``sha256`` (checked); return the cached path.

        ``move`` hands ``src`` over to the cache (it is gone afterwards, unless its hash
        is wrong); otherwise the cache takes a hard link or a copy. If a sound entry is
        already there, ``src`` is only checked and that entry is returned.
        """
        sha256 = _check_sha256(sha256)
        existing = self.original(sha256)
        if existing is not None:
            actual = file_sha256(src)
            if actual != sha256:
                raise HashMismatchError(str(src), sha256, actual)
            if move:
                src.unlink()
            return existing
        directory = self.root / "originals" / sha256
        _install_file(src, directory, src.name, sha256, move=move, link=self.link)
        path = directory / src.name
        self._remember(path, sha256)
        return path

    # -- stripped ------------------------------------------------------------------------

    def _stripped_directory(self, original_sha256: str, plan_digest: str) -> Path:
        key = f"{_check_sha256(original_sha256)}-{_check_component(plan_digest)}"
        return self.root / "stripped" / key

    def stripped(self, original_sha256: str, plan_digest: str) -> Path | None:
        """The stripped wheel built from this original under this plan, if a sound one is there."""
        directory = self._stripped_directory(original_sha256, plan_digest)
        try:
            line = (directory / _SUMS).read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError):
            return None
        sha256, _, name = line.partition("  ")
        if not _SHA256.fullmatch(sha256) or not name or "/" in name or name.startswith("."):
            return None
        path = directory / name
        return path if self._is_sound(path, sha256) else None

    def add_stripped(
        self, original_sha256: str, plan_digest: str, built: Path, *, move: bool = False
    ) -> Path:
        """Put the stripped wheel ``built`` into the cache; return the cached path."""
        existing = self.stripped(original_sha256, plan_digest)
        if existing is not None:
            if move:
                built.unlink()
            return existing
        directory = self._stripped_directory(original_sha256, plan_digest)
        actual = _install_file(built, directory, built.name, None, move=move, link=self.link)
        _write_text_atomically(directory / _SUMS, f"{actual}  {built.name}\n")
        path = directory / built.name
        self._remember(path, actual)
        return path

    # -- plans ---------------------------------------------------------------------------

    def plan(self, key: str) -> dict[str, Any] | None:
        """A plan remembered under ``key`` (a sha256 of everything it was made from)."""
        try:
            data = json.loads((self.root / "plans" / f"{_check_sha256(key)}.json").read_text())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def add_plan(self, key: str, plan: Mapping[str, Any]) -> None:
        _write_text_atomically(
            self.root / "plans" / f"{_check_sha256(key)}.json", json.dumps(plan, sort_keys=True)
        )

    # -- dynamic facts of libraries -------------------------------------------------------

    def dynamic(self, original_sha256: str) -> dict[str, dynlib.Dynamic]:
        """The dynamic facts read before from the libraries of this original."""
        path = self.root / "dynamic" / f"{_check_sha256(original_sha256)}.json"
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return {
                str(member): dynlib.Dynamic(
                    tuple(map(str, d["needed"])),
                    tuple(map(str, d["runpath"])),
                    tuple(map(str, d["rpath"])),
                    str(d["soname"]),
                )
                for member, d in data.items()
            }
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return {}

    def add_dynamic(self, original_sha256: str, facts: Mapping[str, dynlib.Dynamic]) -> None:
        """Remember more dynamic facts of this original's libraries."""
        if not facts:
            return
        merged = {**self.dynamic(original_sha256), **facts}
        path = self.root / "dynamic" / f"{_check_sha256(original_sha256)}.json"
        data = {
            m: {
                "needed": list(d.needed),
                "runpath": list(d.runpath),
                "rpath": list(d.rpath),
                "soname": d.soname,
            }
            for m, d in sorted(merged.items())
        }
        with contextlib.suppress(OSError):
            _write_text_atomically(path, json.dumps(data, sort_keys=True))

    # -- scratch space -------------------------------------------------------------------

    @contextlib.contextmanager
    def temporary_directory(self) -> Iterator[Path]:
        """A fresh directory on the cache's filesystem (so moving out of it is a rename)."""
        parent = self.root / "tmp"
        parent.mkdir(parents=True, exist_ok=True)
        path = Path(tempfile.mkdtemp(dir=parent))
        try:
            yield path
        finally:
            shutil.rmtree(path, ignore_errors=True)

    # -- verification --------------------------------------------------------------------

    @staticmethod
    def _signature(path: Path) -> tuple[int, int, int, int] | None:
        """The file's state: inode, size, mtime and ctime (no write keeps all four)."""
        try:
            st = path.stat()
        except OSError:
            return None
        return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)

    @staticmethod
    def _stamp_path(path: Path) -> Path:
        return path.with_name(f".{path.name}.verified")

    def _remember(self, path: Path, sha256: str) -> None:
        """Remember that ``path`` in its present state hashes to ``sha256``, on disk too,
        so the next process need not hash a 200 MB wheel again."""
        signature = self._signature(path)
        if signature is None:
            return
        self._verified[path] = (signature, sha256)
        stamp = " ".join(map(str, (*signature, sha256)))
        with contextlib.suppress(OSError):
            _write_text_atomically(self._stamp_path(path), stamp + "\n")

    def _stamped(self, path: Path, signature: tuple[int, ...], sha256: str) -> bool:
        try:
            stamp = self._stamp_path(path).read_text(encoding="utf-8").split()
        except (OSError, UnicodeDecodeError):
            return False
        return stamp == [*map(str, signature), sha256]

    def _is_sound(self, path: Path, sha256: str) -> bool:
        """Whether ``path`` holds content with this hash (hashed once per file state)."""
        signature = self._signature(path)
        if signature is None:
            return False
        if self._verified.get(path) == (signature, sha256):
            return True
        if self._stamped(path, signature, sha256):
            self._verified[path] = (signature, sha256)
            return True
        try:
            sound = file_sha256(path) == sha256
        except OSError:
            return False
        if sound:
            self._remember(path, sha256)
        return sound
