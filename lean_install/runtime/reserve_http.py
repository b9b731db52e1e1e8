"""Read members of a remote wheel with HTTP range requests, or the whole file if need be.

Part of the reserve runtime, which runs inside the lean environment: standard library
only. ``fetch_members(url, names)`` fetches the central directory and the named members
of the zip at ``url`` (``RangeFile``: a seekable file over ``Range: bytes=a-b`` GETs with
a block cache); a server that ignores ranges (200 instead of 206) is detected before its
body is read, and the whole file is then streamed into a temporary file. ``file://``
URLs and plain paths are opened directly.

Errors: network and protocol failures raise ``OSError`` (``urllib.error.URLError``,
``urllib.error.HTTPError``, ``TimeoutError``, a short or oversized body, a bad
``Content-Range``); a corrupt archive or member raises ``zipfile.BadZipFile`` (bad
CRC, zlib errors and truncated data included); a name not in the archive ``KeyError``;
a member larger than the limit ``ValueError``; encrypted or unsupported members raise
what ``zipfile`` raises (``RuntimeError``, ``NotImplementedError``).
"""

from __future__ import annotations

import http.client
import io
import re
import tempfile
import urllib.parse
import urllib.request
import zipfile
import zlib
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

__all__ = [
    "DEFAULT_MAX_MEMBER_SIZE",
    "RangeFile",
    "RangesNotSupported",
    "Stats",
    "fetch_members",
    "open_zip",
]

DEFAULT_MAX_MEMBER_SIZE = 4 << 30
BLOCK_SIZE = 64 << 10
_MAX_READAHEAD_BLOCKS = 16  # sequential misses double the read-ahead up to 1 MiB
_DIRECT_READ_BLOCKS = 4  # larger reads bypass the block cache (no copies into blocks)
_CHUNK = 1 << 20
_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+)")


class RangesNotSupported(OSError):
    """The server answered a range request with something other than the range asked."""


@dataclass
class Stats:
    """What reading an archive cost; live: it keeps counting while the archive is read.

    ``transport`` is ``"range"`` (range requests), ``"full"`` (whole file downloaded) or
    ``"file"`` (local file; ``open_zip`` reads it directly and counts nothing, a
    ``RangeFile`` over a ``file://`` URL counts the bytes it read).
    """

    url: str
    transport: Literal["range", "full", "file"] = "range"
    size: int = 0
    bytes_fetched: int = 0
    requests: int = 0

    @property
    def ranges(self) -> bool:
        return self.transport == "range"


class RangeFile(io.RawIOBase):
    """A read-only, seekable file over an http(s) or file URL, read in cached blocks.

    Blocks end at the end of the file, so the first request (``bytes=-block_size``)
    returns both the size and the last block, where a zip keeps its central directory.
    Raises ``RangesNotSupported`` if the server does not answer 206 (body left unread).
    """

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 30,
        block_size: int = BLOCK_SIZE,
        cache_blocks: int = 256,
        stats: Stats | None = None,
    ) -> None:
        super().__init__()
        self.name, self.timeout, self.block_size = url, timeout, block_size
        self.stats = stats if stats is not None else Stats(url)
        self._cache_blocks, self._pos = cache_blocks, 0
        self._blocks: OrderedDict[int, bytes] = OrderedDict()
        self._readahead, self._next_miss = 1, -1
        self._path = _local_path(url)
        last = b""
        if self._path is not None:
            self.stats.transport, self.size = "file", self._path.stat().st_size
        elif urllib.parse.urlsplit(url).scheme not in ("http", "https"):
            raise ValueError(f"not an http(s) or file URL: {url}")
        else:
            self.size, last = self._probe()
        self.stats.size = self.size
        self._shift = -self.size % block_size  # block i: [i*bs - shift, (i+1)*bs - shift)
        self._nblocks = (self.size + self._shift) // block_size
        if last:
            self._blocks[self._nblocks - 1] = last

    @property
    def bytes_fetched(self) -> int:
        return self.stats.bytes_fetched

    @property
    def requests(self) -> int:
        return self.stats.requests

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self.size}[whence]
        if base + offset < 0:
            raise ValueError(f"negative seek position {base + offset}")
        self._pos = base + offset
        return self._pos

    def read(self, size: int = -1) -> bytes:
        if self.closed:
            raise ValueError("I/O operation on closed file")
        n = self.size - self._pos if size < 0 else min(size, self.size - self._pos)
        if n <= 0:
            return b""
        if n >= _DIRECT_READ_BLOCKS * self.block_size:  # a whole member: past the cache
            data = self._fetch(self._pos, self._pos + n)
        else:
            first, last = self._index(self._pos), self._index(self._pos + n - 1)
            offset = self._pos - self._span(first)[0]
            data = b"".join(self._get_blocks(first, last))[offset : offset + n]
        self._pos += n
        return data

    def readinto(self, buffer: WriteableBuffer) -> int:
        view = memoryview(buffer).cast("B")
        data = self.read(len(view))
        view[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._blocks.clear()
        super().close()

    def _probe(self) -> tuple[int, bytes]:
        """The size and the last block, from one suffix range request."""
        with self._get(f"bytes=-{self.block_size}") as response:
            start, end, size = _content_range(response, self.name)
            if start != max(0, size - self.block_size) or end != size - 1:
                raise RangesNotSupported(f"{self.name}: Content-Range does not match a suffix")
            last = _read_body(response, end + 1 - start, self.name)
        self.stats.bytes_fetched += len(last)
        return size, last

    def _index(self, position: int) -> int:
        return (position + self._shift) // self.block_size

    def _span(self, index: int) -> tuple[int, int]:
        start = index * self.block_size - self._shift
        return max(0, start), min(self.size, start + self.block_size)

    def _get_blocks(self, first: int, last: int) -> list[bytes]:
        """Blocks ``first..last``; each run of missing ones in one request, with read-ahead."""
        got = {i: self._blocks[i] for i in range(first, last + 1) if i in self._blocks}
        for i in got:
            self._blocks.move_to_end(i)
        i = first
        while i <= last:
            if i in got:
                i += 1
                continue
            sequential = i == self._next_miss
            self._readahead = min(self._readahead * 2, _MAX_READAHEAD_BLOCKS) if sequential else 1
            j = i
            while (
                j + 1 < self._nblocks
                and j + 1 not in self._blocks
                and (j + 1 <= last or j + 1 - i < self._readahead)
            ):
                j += 1
            base = self._span(i)[0]
            data = self._fetch(base, self._span(j)[1])
            for k in range(i, j + 1):
                start, end = self._span(k)
                got[k] = self._blocks[k] = data[start - base : end - base]
            i = self._next_miss = j + 1
        while len(self._blocks) > self._cache_blocks:
            self._blocks.popitem(last=False)
        return [got[k] for k in range(first, last + 1)]

    def _fetch(self, start: int, end: int) -> bytes:
        """Bytes ``start..end`` (end excluded), in one request."""
        if self._path is not None:
            with self._path.open("rb") as file:
                file.seek(start)
                data = file.read(end - start)
            self.stats.requests += 1
        else:
            with self._get(f"bytes={start}-{end - 1}") as response:
                if _content_range(response, self.name)[:2] != (start, end - 1):
                    raise RangesNotSupported(f"{self.name}: Content-Range is not {start}-{end - 1}")
                data = _read_body(response, end - start, self.name)
        self.stats.bytes_fetched += len(data)
        return data

    def _get(self, byte_range: str) -> http.client.HTTPResponse:
        request = urllib.request.Request(
            self.name, headers={"Range": byte_range, "Accept-Encoding": "identity"}
        )
        self.stats.requests += 1
        response: http.client.HTTPResponse = urllib.request.urlopen(request, timeout=self.timeout)
        if response.status != 206:
            response.close()  # before reading: the body would be the whole file
            raise RangesNotSupported(f"{self.name}: answered {response.status} to a range request")
        return response


def _local_path(url: str) -> Path | None:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "file":
        return Path(urllib.request.url2pathname(parts.path))
    return Path(url) if parts.scheme == "" or len(parts.scheme) == 1 else None  # C:\...


def _content_range(response: http.client.HTTPResponse, url: str) -> tuple[int, int, int]:
    match = _CONTENT_RANGE.fullmatch(response.headers.get("Content-Range", "").strip())
    if match is None:
        raise RangesNotSupported(f"{url}: 206 without a usable Content-Range")
    start, end, size = (int(g) for g in match.groups())
    if not start <= end < size:
        raise RangesNotSupported(f"{url}: invalid Content-Range {match.group(0)}")
    return start, end, size


def _stream(
    response: http.client.HTTPResponse,
    sink: Callable[[bytes], object],
    expected: int | None,
    url: str,
) -> int:
    """Copy the body to ``sink``; ``OSError`` unless it has exactly ``expected`` bytes."""
    total = 0
    try:
        while chunk := response.read(_CHUNK):
            total += len(chunk)
            if expected is not None and total > expected:
                raise OSError(f"{url}: body longer than {expected} bytes")
            sink(chunk)
    except http.client.HTTPException as exc:
        raise OSError(f"{url}: broken response: {exc!r}") from exc
    if expected is not None and total != expected:
        raise OSError(f"{url}: body has {total} bytes, expected {expected}")
    return total


def _read_body(response: http.client.HTTPResponse, expected: int, url: str) -> bytes:
    chunks: list[bytes] = []
    _stream(response, chunks.append, expected, url)
    return b"".join(chunks)


class _OwningZipFile(zipfile.ZipFile):
    """A ZipFile that closes the file object it was given."""

    def __init__(self, file: IO[bytes] | RangeFile) -> None:
        self._owned = file
        super().__init__(file)

    def close(self) -> None:
        try:
            super().close()
        finally:
            self._owned.close()


def _download(url: str, timeout: float, stats: Stats) -> zipfile.ZipFile:
    """The whole file, streamed into a temporary file."""
    file = tempfile.TemporaryFile()  # noqa: SIM115 (the returned ZipFile closes it)
    try:
        request = urllib.request.Request(url, headers={"Accept-Encoding": "identity"})
        response: http.client.HTTPResponse
        stats.requests += 1
        with urllib.request.urlopen(request, timeout=timeout) as response:
            length = response.headers.get("Content-Length", "")
            expected = int(length) if length.isdigit() else None
            stats.bytes_fetched += _stream(response, file.write, expected, url)
        stats.transport, stats.size = "full", file.tell()
        file.seek(0)
        return _OwningZipFile(file)
    except BaseException:
        file.close()
        raise


def open_zip(
    url: str, *, timeout: float = 30, whole: bool = False
) -> tuple[zipfile.ZipFile, Stats]:
    """The zip at ``url`` (http(s), ``file://`` or a path) and the live cost of reading it.

    Over http(s), read by range requests, or downloaded whole when the server ignores
    ranges or ``whole`` is true (then ``archive.fp`` is the local temporary file).
    """
    stats, path = Stats(url), _local_path(url)
    if path is not None:
        stats.transport, stats.size = "file", path.stat().st_size
        return zipfile.ZipFile(path), stats
    if whole:
        return _download(url, timeout, stats), stats
    try:
        raw = RangeFile(url, timeout=timeout, stats=stats)
    except RangesNotSupported:
        return _download(url, timeout, stats), stats
    try:
        return _OwningZipFile(raw), stats
    except BaseException:
        raw.close()
        raise


def fetch_members(
    url: str, names: Iterable[str], *, timeout: float = 30, max_size: int = DEFAULT_MAX_MEMBER_SIZE
) -> tuple[dict[str, bytes], Stats]:
    """The bytes of members ``names`` of the zip at ``url`` (CRC-checked by zipfile).

    All names and declared sizes are checked before any member is read: ``KeyError``
    for names not in the archive, ``ValueError`` for members over ``max_size`` bytes.
    """
    if isinstance(names, str):
        raise TypeError("names must be an iterable of member names, not one string")
    wanted = list(dict.fromkeys(names))
    archive, stats = open_zip(url, timeout=timeout)
    with archive:
        present = set(archive.namelist())
        absent = [name for name in wanted if name not in present]
        if absent:
            raise KeyError(f"not in {url}: {', '.join(absent)}")
        infos = [archive.getinfo(name) for name in wanted]
        too_big = [f"{i.filename} ({i.file_size} bytes)" for i in infos if i.file_size > max_size]
        if too_big:
            raise ValueError(f"members over {max_size} bytes in {url}: {', '.join(too_big)}")
        found: dict[str, bytes] = {}
        for info in sorted(infos, key=lambda i: i.header_offset):  # archive order: sequential
            try:
                found[info.filename] = archive.read(info)
            except (zlib.error, EOFError) as exc:
                message = f"{url}: member {info.filename} is corrupt: {exc}"
                raise zipfile.BadZipFile(message) from exc
    return {name: found[name] for name in wanted}, stats
