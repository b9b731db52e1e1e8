"""The cache: atomic adds, hash-checked reads, concurrent writers from real processes."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import time
from pathlib import Path
from typing import Any

import pytest

from lean_install.cache import Cache, file_sha256
from lean_install.errors import HashMismatchError


def write(path: Path, data: bytes) -> tuple[Path, str]:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path, hashlib.sha256(data).hexdigest()


def entry_names(directory: Path) -> list[str]:
    """The files of a cache entry, less the ``.NAME.verified`` stamps of checked files."""
    if not directory.exists():
        return []
    return sorted(p.name for p in directory.iterdir() if not p.name.endswith(".verified"))


def test_verification_is_remembered_across_instances_but_not_across_writes(
    tmp_path: Path,
) -> None:
    src, sha = write(tmp_path / "in" / "pkg-1.0-py3-none-any.whl", b"wheel bytes")
    cached = Cache(tmp_path / "cache", link=False).add_original(src, sha)
    stamp = cached.with_name(f".{cached.name}.verified")
    assert stamp.read_text().split()[-1] == sha  # the next process need not hash it
    assert Cache(tmp_path / "cache").original(sha) == cached
    before = cached.stat()
    cached.write_bytes(b"wheel bytez")  # same size; mtime put back: only ctime tells
    os.utime(cached, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert Cache(tmp_path / "cache").original(sha) is None


# -- location ----------------------------------------------------------------------------


def test_default_root_prefers_its_own_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("LEAN_INSTALL_CACHE_DIR", str(tmp_path / "own"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert Cache.default().root == tmp_path / "own"


def test_default_root_then_xdg_then_home(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("LEAN_INSTALL_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert Cache.default().root == tmp_path / "xdg" / "lean-install"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/ignored")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert Cache.default().root == tmp_path / "home" / ".cache" / "lean-install"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert Cache.default().root == tmp_path / "home" / ".cache" / "lean-install"


# -- originals ---------------------------------------------------------------------------


def test_file_sha256_streams_large_files(tmp_path: Path) -> None:
    data = os.urandom(3 * (1 << 20) + 17)
    path, sha = write(tmp_path / "big.bin", data)
    assert file_sha256(path) == sha


@pytest.mark.parametrize("link", [True, False], ids=["link", "copy"])
def test_add_original_places_file_under_its_hash(tmp_path: Path, link: bool) -> None:
    src, sha = write(tmp_path / "in" / "pkg-1.0-py3-none-any.whl", b"wheel bytes")
    cache = Cache(tmp_path / "cache", link=link)
    assert cache.original(sha) is None
    cached = cache.add_original(src, sha)
    assert cached == tmp_path / "cache" / "originals" / sha / "pkg-1.0-py3-none-any.whl"
    assert cached.read_bytes() == b"wheel bytes"
    assert src.read_bytes() == b"wheel bytes"
    assert cached.stat().st_nlink == (2 if link else 1)
    assert entry_names(cached.parent) == [cached.name]
    assert Cache(tmp_path / "cache").original(sha) == cached  # a fresh instance sees it


def test_add_original_with_wrong_hash_writes_nothing(tmp_path: Path) -> None:
    src, _ = write(tmp_path / "in" / "pkg.whl", b"tampered")
    claimed = hashlib.sha256(b"original").hexdigest()
    cache = Cache(tmp_path / "cache", link=False)
    with pytest.raises(HashMismatchError) as caught:
        cache.add_original(src, claimed)
    assert caught.value.expected == claimed
    assert caught.value.actual == hashlib.sha256(b"tampered").hexdigest()
    assert entry_names(tmp_path / "cache" / "originals" / claimed) == []
    assert cache.original(claimed) is None


def test_add_original_move_hands_the_file_over(tmp_path: Path) -> None:
    src, sha = write(tmp_path / "cache" / "tmp" / "pkg.whl", b"moved")
    cached = Cache(tmp_path / "cache").add_original(src, sha, move=True)
    assert not src.exists()
    assert cached.read_bytes() == b"moved"


def test_add_original_move_with_wrong_hash_keeps_the_source(tmp_path: Path) -> None:
    src, _ = write(tmp_path / "cache" / "tmp" / "pkg.whl", b"bad")
    claimed = hashlib.sha256(b"good").hexdigest()
    with pytest.raises(HashMismatchError):
        Cache(tmp_path / "cache").add_original(src, claimed, move=True)
    assert src.read_bytes() == b"bad"
    assert entry_names(tmp_path / "cache" / "originals" / claimed) == []


def test_add_original_when_present_checks_source_and_keeps_entry(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "cache", link=False)
    first, sha = write(tmp_path / "a" / "pkg.whl", b"same")
    cached = cache.add_original(first, sha)
    inode = cached.stat().st_ino
    second, _ = write(tmp_path / "b" / "pkg.whl", b"same")
    assert cache.add_original(second, sha) == cached
    assert cached.stat().st_ino == inode
    wrong, _ = write(tmp_path / "c" / "pkg.whl", b"other")
    with pytest.raises(HashMismatchError):
        cache.add_original(wrong, sha)


def test_corrupt_original_is_absent_and_replaced(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "cache", link=False)
    src, sha = write(tmp_path / "in" / "pkg.whl", b"x" * 4096)
    cached = cache.add_original(src, sha)
    assert cache.original(sha) == cached
    with cached.open("r+b") as stream:  # damaged in place, same size
        stream.write(b"y")
    assert cache.original(sha) is None
    assert cache.add_original(src, sha) == cached
    assert cache.original(sha) == cached
    assert file_sha256(cached) == sha


def test_linked_source_changed_in_place_invalidates_entry(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "cache", link=True)
    src, sha = write(tmp_path / "in" / "pkg.whl", b"before")
    cached = cache.add_original(src, sha)
    assert cache.original(sha) == cached
    time.sleep(0.01)
    src.write_bytes(b"after!")  # rewrites the shared inode
    assert cache.original(sha) is None


def test_truncated_original_is_absent(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "cache", link=False)
    src, sha = write(tmp_path / "in" / "pkg.whl", os.urandom(10_000))
    cached = cache.add_original(src, sha)
    cached.write_bytes(cached.read_bytes()[:5000])
    assert cache.original(sha) is None


@pytest.mark.parametrize("key", ["", "abc", "g" * 64, "../" + "a" * 61])
def test_keys_must_be_sha256(tmp_path: Path, key: str) -> None:
    with pytest.raises(ValueError, match="sha256"):
        Cache(tmp_path).original(key)


# -- stripped ----------------------------------------------------------------------------


def test_add_stripped_and_look_it_up(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "cache")
    original = hashlib.sha256(b"orig").hexdigest()
    built, sha = write(tmp_path / "build" / "pkg-1.0+lean.ab12-py3-none-any.whl", b"stripped")
    assert cache.stripped(original, "ab12") is None
    cached = cache.add_stripped(original, "ab12", built)
    directory = tmp_path / "cache" / "stripped" / f"{original}-ab12"
    assert cached == directory / built.name
    assert cached.read_bytes() == b"stripped"
    assert (directory / "SHA256SUMS").read_text() == f"{sha}  {built.name}\n"
    assert entry_names(directory) == sorted(["SHA256SUMS", built.name])
    assert Cache(tmp_path / "cache").stripped(original, "ab12") == cached
    assert cache.stripped(original, "cd34") is None


def test_corrupt_stripped_is_absent_and_replaced(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "cache", link=False)
    original = hashlib.sha256(b"orig").hexdigest()
    built, _ = write(tmp_path / "build" / "pkg-1.0-py3-none-any.whl", b"stripped wheel")
    cached = cache.add_stripped(original, "d1", built)
    cached.write_bytes(b"stripped wheeL")
    assert cache.stripped(original, "d1") is None
    assert cache.add_stripped(original, "d1", built) == cached
    assert cache.stripped(original, "d1") == cached
    (cached.parent / "SHA256SUMS").unlink()
    assert cache.stripped(original, "d1") is None


@pytest.mark.parametrize("digest", ["", "../x", ".hidden", "a/b"])
def test_plan_digest_must_be_a_plain_name(tmp_path: Path, digest: str) -> None:
    original = hashlib.sha256(b"orig").hexdigest()
    with pytest.raises(ValueError, match="cache key"):
        Cache(tmp_path).stripped(original, digest)


def test_temporary_directory_is_inside_and_removed(tmp_path: Path) -> None:
    cache = Cache(tmp_path / "cache")
    with cache.temporary_directory() as scratch:
        (scratch / "f").write_bytes(b"1")
        assert scratch.parent == tmp_path / "cache" / "tmp"
    assert not scratch.exists()


# -- concurrency (real processes) --------------------------------------------------------

ROUNDS = 4
SIZE = 24 << 20


def _writer(root: str, src: str, sha: str, start: Any, finished: Any) -> None:
    for round_ in range(ROUNDS):
        start.wait(60)
        Cache(Path(root) / str(round_), link=False).add_original(Path(src), sha)
        with finished.get_lock():
            finished.value += 1


def _reader(root: str, sha: str, start: Any, finished: Any, seen: Any, partial: Any) -> None:
    """Read the entry's final path as often as possible; count partial or wrong reads."""
    deadline = time.monotonic() + 60
    for round_ in range(ROUNDS):
        start.wait(60)
        final = Path(root) / str(round_) / "originals" / sha / "pkg.whl"
        while finished.value < 2 * (round_ + 1) and time.monotonic() < deadline:
            try:
                data = final.read_bytes()
            except FileNotFoundError:
                continue
            seen.value += 1
            if hashlib.sha256(data).hexdigest() != sha:
                partial.value += 1


def test_concurrent_adds_leave_one_sound_entry_and_readers_never_see_half(
    tmp_path: Path,
) -> None:
    ctx = multiprocessing.get_context("spawn")
    data = os.urandom(SIZE)
    sha = hashlib.sha256(data).hexdigest()
    sources = [write(tmp_path / f"src{i}" / "pkg.whl", data)[0] for i in range(2)]
    root = tmp_path / "cache"
    start = ctx.Barrier(3)
    finished, seen, partial = ctx.Value("i", 0), ctx.Value("i", 0), ctx.Value("i", 0)
    procs = [
        ctx.Process(target=_writer, args=(str(root), str(src), sha, start, finished), daemon=True)
        for src in sources
    ]
    reader_args = (str(root), sha, start, finished, seen, partial)
    procs.append(ctx.Process(target=_reader, args=reader_args, daemon=True))
    for proc in procs:
        proc.start()
    try:
        for proc in procs:
            proc.join(120)
        assert [proc.exitcode for proc in procs] == [0, 0, 0]
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.kill()
                proc.join()
    assert seen.value > 0, "the reader never saw an entry: the test proves nothing"
    assert partial.value == 0
    for round_ in range(ROUNDS):
        directory = root / str(round_) / "originals" / sha
        assert entry_names(directory) == ["pkg.whl"]  # no temporary files left
        assert file_sha256(directory / "pkg.whl") == sha
