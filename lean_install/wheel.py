"""Original wheels: reading one, and refusing hostile or corrupt input before anything is written.

``OriginalWheel.open`` checks the archive from its central directory, its local headers
and its ``.dist-info`` (names, sizes, overlaps, symlinks, METADATA, WHEEL, RECORD),
collects every problem and raises one ``WheelError``. Member contents are checked
against RECORD (hash, size, CRC-32) by ``verify_members``, which the strip step runs
while it copies the members' compressed bytes.

Limits (a wheel over any of them is refused):

- ``MAX_MEMBERS`` entries in the archive;
- ``MAX_TOTAL_SIZE`` bytes uncompressed, as the central directory declares them;
- ``MAX_COMPRESSION_RATIO``:1 for a member over ``RATIO_MIN_SIZE`` bytes. Deflate cannot
  exceed about 1032:1, so this catches long runs of one byte; the overlap check catches
  the overlapping-entries zip bomb, and no read ever goes past a member's declared size;
- ``MAX_METADATA_SIZE`` bytes for a ``.dist-info`` file read into memory.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import os
import posixpath
import stat
import struct
import zipfile
import zlib
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from email.parser import BytesHeaderParser
from pathlib import Path
from types import TracebackType
from typing import IO

from packaging.utils import (
    InvalidWheelFilename,
    NormalizedName,
    canonicalize_name,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from lean_install.errors import WheelError
from lean_install.listing import LazyDynamic, WheelListing
from lean_install.runtime import dynlib
from lean_install.runtime.layout import record_hash, unsafe_path_reason

__all__ = [
    "MAX_MEMBERS",
    "MAX_TOTAL_SIZE",
    "MAX_COMPRESSION_RATIO",
    "RATIO_MIN_SIZE",
    "MAX_METADATA_SIZE",
    "HASH_ALGORITHMS",
    "Member",
    "OriginalWheel",
    "record_hash",
    "unsafe_path_reason",
]

MAX_MEMBERS = 100_000
MAX_TOTAL_SIZE = 8 * 1024**3
MAX_COMPRESSION_RATIO = 1000
RATIO_MIN_SIZE = 1024**2
MAX_METADATA_SIZE = 64 * 1024**2
HASH_ALGORITHMS = frozenset(
    {"sha256", "sha384", "sha512", "sha3_256", "sha3_384", "sha3_512", "blake2b", "blake2s"}
)
"""RECORD hash algorithms accepted: sha256 or stronger (the wheel spec forbids md5, sha1)."""

_CHUNK = 1024**2
_MAX_SYMLINK_TARGET = 4096
_LOCAL_HEADER = struct.Struct("<4sHHHHHIIIHH")
_UNSIGNED_FILES = ("RECORD", "RECORD.jws", "RECORD.p7s")


def _b64(digest: bytes) -> str:
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@dataclass(frozen=True)
class Member:
    """A file of the archive, as its central directory and local header describe it."""

    name: str
    size: int
    compressed_size: int
    method: int
    crc: int
    mode: int
    """Unix mode from the external attributes (0 when the archiver recorded none)."""
    data_offset: int
    """Where the compressed bytes start in the archive."""

    @property
    def executable(self) -> bool:
        return stat.S_ISREG(self.mode) and bool(self.mode & 0o111)

    @property
    def is_symlink(self) -> bool:
        return stat.S_ISLNK(self.mode)


@dataclass(frozen=True)
class _Filename:
    project: NormalizedName
    dist: str
    version: str
    build: str
    tags: str


class OriginalWheel:
    """A wheel as published, checked on open; use as a context manager or call ``close``."""

    def __init__(
        self,
        path: Path,
        file: IO[bytes],
        archive: zipfile.ZipFile,
        members: dict[str, Member],
        filename: _Filename,
    ) -> None:
        """Use ``OriginalWheel.open``; this only stores what it found."""
        self.path = path
        self._filename = filename
        self._file = file
        self._zip = archive
        self.members = members
        """Every file (not directory) of the archive, in central directory order."""
        self.project = filename.project
        """The canonical name, from the file name."""
        self.dist = filename.dist
        """The name as the file name spells it (``torch``, ``scikit_learn``)."""
        self.build = filename.build
        self.tags = filename.tags
        """The tag triple of the file name: ``cp311-cp311-manylinux_2_28_x86_64``."""
        self.dist_info = ""
        self.name = ""
        """The Name of METADATA."""
        self.version = ""
        """The Version of METADATA."""
        self.record: dict[str, tuple[str, int | None]] = {}
        """RECORD: path -> (hash field such as ``sha256=...``, size or None)."""
        self.entry_points = ""
        self._listing: WheelListing | None = None

    @classmethod
    def open(cls, path: Path) -> OriginalWheel:
        """Open and check ``path``; raise ``WheelError`` listing every problem found."""
        path = Path(path)
        file = path.open("rb")
        try:
            wheel = cls._check(path, file)
        except BaseException:
            file.close()
            raise
        return wheel

    @classmethod
    def _check(cls, path: Path, file: IO[bytes]) -> OriginalWheel:
        try:
            archive = zipfile.ZipFile(file)
            infos = archive.infolist()
        except (zipfile.BadZipFile, ValueError, EOFError, struct.error) as exc:
            raise WheelError(str(path), [f"not a valid zip archive ({exc})"]) from None
        unreadable = _size_issues(infos)
        issues = _name_issues(infos) + unreadable
        filename = _parse_filename(path.name, issues)
        members = _locate_members(file.fileno(), infos, os.fstat(file.fileno()).st_size, issues)
        wheel = cls(path, file, archive, members, filename)
        if not unreadable:  # never inflate anything from a suspected bomb or an encrypted zip
            wheel._read_dist_info(issues)
            for member in members.values():
                if member.is_symlink:
                    _check_symlink(wheel, member, issues)
        if issues:
            archive.close()
            raise WheelError(str(path), issues)
        return wheel

    def close(self) -> None:
        self._zip.close()
        self._file.close()

    def __enter__(self) -> OriginalWheel:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def read(self, name: str) -> bytes:
        """The content of a member, whole (other threads may ``pread`` the archive
        meanwhile); the zip CRC is checked. A member that cannot be read is a WheelError."""
        try:
            return self._zip.read(name)
        except (zipfile.BadZipFile, zlib.error, EOFError) as exc:
            raise WheelError(str(self.path), [f"{name} cannot be read ({exc})"]) from None

    @property
    def fileno(self) -> int:
        """The archive's descriptor, for positional reads (``os.pread``) and raw copies."""
        return self._file.fileno()

    def _read_dist_info(self, issues: list[str]) -> None:
        """Find the .dist-info and read METADATA, WHEEL, RECORD and entry_points.txt."""
        self.dist_info = _find_dist_info(list(self.members), self.project, issues)
        if not self.dist_info:
            return
        metadata = self._small(f"{self.dist_info}/METADATA", issues)
        wheel = self._small(f"{self.dist_info}/WHEEL", issues)
        record = self._small(f"{self.dist_info}/RECORD", issues)
        if metadata is not None:
            self.name, self.version = _parse_metadata(metadata, self._filename, issues)
        if wheel is not None:
            _check_wheel_file(wheel, issues)
        if record is not None:
            self.record = _parse_record(record, issues)
            _check_coverage(self.members, self.record, issues)
        entry_points = f"{self.dist_info}/entry_points.txt"
        if entry_points in self.members:
            data = self._small(entry_points, issues)
            self.entry_points = _decode(data, entry_points, issues) if data is not None else ""

    def _small(self, name: str, issues: list[str]) -> bytes | None:
        member = self.members.get(name)
        if member is None:
            issues.append(f"{name} is missing")
            return None
        if member.size > MAX_METADATA_SIZE:
            issues.append(f"{name} is {member.size} bytes, over {MAX_METADATA_SIZE}")
            return None
        try:
            return self.read(name)
        except WheelError as exc:
            issues.extend(str(i) for i in exc.issues)
            return None
        except OSError as exc:
            issues.append(f"{name} cannot be read ({exc})")
            return None

    def listing(self, known: Mapping[str, dynlib.Dynamic] | None = None) -> WheelListing:
        """Members and sizes, entry points, and the dynamic facts of the shared objects,
        read on first use (``known``: facts already read, by a cache)."""
        if self._listing is None:
            shared = [
                m.name
                for m in self.members.values()
                if dynlib.is_shared_object_name(m.name) and not m.is_symlink
            ]
            self._listing = WheelListing(
                dist_info=self.dist_info,
                members={m.name: m.size for m in self.members.values()},
                dynamic=LazyDynamic(self.path, shared, known),
                entry_points=self.entry_points,
            )
        return self._listing

    def verify_members(self, paths: Iterable[str], *, workers: int | None = None) -> None:
        """Check each member's content against RECORD (hash, size) and its CRC-32.

        Runs on ``workers`` threads (default: up to 4, one per CPU), largest members first;
        raises one ``WheelError`` with every mismatch.
        """
        names = list(paths)
        unknown = [f"{name} is not in the wheel" for name in names if name not in self.members]
        if unknown:
            raise WheelError(str(self.path), unknown)
        count = workers or min(4, os.cpu_count() or 1)
        largest_first = sorted(names, key=lambda name: -self.members[name].compressed_size)
        with ThreadPoolExecutor(max_workers=count) as pool:
            results = dict(zip(largest_first, pool.map(self._verify, largest_first), strict=True))
        issues = [issue for name in names if (issue := results[name])]
        if issues:
            raise WheelError(str(self.path), issues)

    def _verify(self, name: str) -> str | None:
        member = self.members[name]
        field, size = self.record.get(name, ("", None))
        if not field and name.rpartition("/")[2] not in _UNSIGNED_FILES:
            return f"{name} has no hash"
        algorithm, _, expected = field.partition("=")
        digest = hashlib.new(algorithm or "sha256")  # RECORD itself: its size and CRC only
        crc = length = 0
        try:
            for block in self._inflated(member):
                digest.update(block)
                crc = zlib.crc32(block, crc)
                length += len(block)
        except (_CorruptMemberError, zlib.error) as exc:
            return f"{name}: {exc}"
        if length != member.size or (size is not None and length != size):
            return f"{name}: holds {length} bytes, its headers and RECORD say {size or member.size}"
        if crc != member.crc:
            return f"{name}: CRC-32 does not match the zip header"
        if field and _b64(digest.digest()) != expected:
            return f"{name}: content does not match its RECORD hash {field}"
        return None

    def _raw(self, member: Member) -> Iterator[bytes]:
        """The compressed bytes of ``member``, in chunks, by positional reads."""
        offset, left = member.data_offset, member.compressed_size
        while left:
            block = os.pread(self.fileno, min(left, _CHUNK), offset)
            if not block:
                raise _CorruptMemberError("the archive ends inside it")
            offset += len(block)
            left -= len(block)
            yield block

    def _inflated(self, member: Member) -> Iterator[bytes]:
        """The uncompressed bytes of ``member``, never more than its declared size."""
        if member.method == zipfile.ZIP_STORED:
            yield from self._raw(member)
            return
        inflater = zlib.decompressobj(-zlib.MAX_WBITS)
        produced = 0
        for block in self._raw(member):
            data = block
            while data and not inflater.eof:
                out = inflater.decompress(data, _CHUNK)
                produced += len(out)
                if produced > member.size:
                    raise _CorruptMemberError("inflates past its declared size")
                yield out
                data = inflater.unconsumed_tail
        if not inflater.eof or inflater.unused_data or inflater.unconsumed_tail:
            raise _CorruptMemberError("compressed data is truncated or has trailing bytes")


class _CorruptMemberError(Exception):
    """A member's bytes cannot be what its headers say; ``_verify`` turns it into an issue."""


def _name_issues(infos: list[zipfile.ZipInfo]) -> list[str]:
    issues = []
    seen: set[str] = set()
    for info in infos:
        reason = unsafe_path_reason(info.filename)
        if reason:
            issues.append(f"member {info.filename!r} {reason}")
        if info.filename in seen:
            issues.append(f"member {info.filename!r} appears more than once")
        seen.add(info.filename)
    return issues


def _size_issues(infos: list[zipfile.ZipInfo]) -> list[str]:
    issues = []
    if len(infos) > MAX_MEMBERS:
        issues.append(f"{len(infos)} members exceeds the limit of {MAX_MEMBERS}")
    total = sum(info.file_size for info in infos)
    if total > MAX_TOTAL_SIZE:
        issues.append(f"{total} bytes uncompressed exceeds the limit of {MAX_TOTAL_SIZE}")
    for info in infos:
        ratio = info.file_size / max(info.compress_size, 1)
        if info.file_size > RATIO_MIN_SIZE and ratio > MAX_COMPRESSION_RATIO:
            issues.append(
                f"{info.filename}: compression ratio {ratio:.0f}:1 is over "
                f"{MAX_COMPRESSION_RATIO}:1 (a zip bomb?)"
            )
        if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
            issues.append(
                f"{info.filename}: compression method {info.compress_type} is not supported "
                "(wheels use stored or deflated members)"
            )
        if info.flag_bits & 0x1:
            issues.append(f"{info.filename} is encrypted")
        elif info.flag_bits & 0x60:  # zipfile refuses to read these (NotImplementedError)
            issues.append(
                f"{info.filename} is strongly encrypted or patched data (flag bits "
                f"{info.flag_bits:#06x})"
            )
    return issues


def _parse_filename(name: str, issues: list[str]) -> _Filename:
    try:
        project, _, build, _ = parse_wheel_filename(name)
    except (InvalidWheelFilename, InvalidVersion) as exc:
        issues.append(f"not a wheel file name ({exc})")
        return _Filename(NormalizedName(""), "", "", "", "")
    parts = name[: -len(".whl")].split("-")
    return _Filename(
        project=project,
        dist=parts[0],
        version=parts[1],
        build="".join(str(part) for part in build),
        tags="-".join(parts[-3:]),
    )


def _locate_members(
    fd: int, infos: list[zipfile.ZipInfo], archive_size: int, issues: list[str]
) -> dict[str, Member]:
    """Read every local header: where the data starts, and no two members overlap."""
    members: dict[str, Member] = {}
    spans: list[tuple[int, int, str]] = []
    for info in infos:
        data_offset = _data_offset(fd, info, archive_size, issues)
        if data_offset is None:
            continue
        end = data_offset + info.compress_size
        if end > archive_size:
            issues.append(f"{info.filename}: data runs past the end of the archive (truncated?)")
        spans.append((info.header_offset, end, info.filename))
        if not info.filename.endswith("/"):  # is_dir() raises IndexError on an empty name
            members.setdefault(info.filename, _member(info, data_offset))
    spans.sort()
    for (_, end, first), (start, _, second) in zip(spans, spans[1:], strict=False):
        if start < end:
            issues.append(f"{second} overlaps {first} (an overlapping-entries zip bomb?)")
    return members


def _data_offset(
    fd: int, info: zipfile.ZipInfo, archive_size: int, issues: list[str]
) -> int | None:
    header = b""  # a lying central directory can point before the file or past 2**63
    if 0 <= info.header_offset < archive_size:
        header = os.pread(fd, _LOCAL_HEADER.size + 512, info.header_offset)  # the name, mostly
    if len(header) < _LOCAL_HEADER.size or header[:4] != b"PK\x03\x04":
        issues.append(f"{info.filename}: no local header where the central directory points")
        return None
    fields = _LOCAL_HEADER.unpack_from(header)
    flags, name_length, extra_length = int(fields[2]), int(fields[-2]), int(fields[-1])
    raw_name = header[_LOCAL_HEADER.size : _LOCAL_HEADER.size + name_length]
    if len(raw_name) < name_length:
        raw_name = os.pread(fd, name_length, info.header_offset + _LOCAL_HEADER.size)
    try:
        local_name = raw_name.decode("utf-8" if flags & 0x800 else "cp437")
    except UnicodeDecodeError:
        local_name = ""
    if local_name != info.orig_filename:
        issues.append(f"{info.filename}: the local header names {local_name!r} instead")
        return None
    return info.header_offset + _LOCAL_HEADER.size + name_length + extra_length


def _member(info: zipfile.ZipInfo, data_offset: int) -> Member:
    return Member(
        name=info.filename,
        size=info.file_size,
        compressed_size=info.compress_size,
        method=info.compress_type,
        crc=info.CRC,
        mode=info.external_attr >> 16,
        data_offset=data_offset,
    )


def _check_symlink(wheel: OriginalWheel, member: Member, issues: list[str]) -> None:
    if member.size > _MAX_SYMLINK_TARGET:
        issues.append(f"{member.name}: symlink target is {member.size} bytes long")
        return
    try:
        target = wheel.read(member.name).decode("utf-8", "replace")
    except WheelError as exc:
        issues.extend(f"symlink {i}" for i in exc.issues)
        return
    resolved = posixpath.normpath(posixpath.join(posixpath.dirname(member.name), target))
    if target.startswith("/") or resolved == ".." or resolved.startswith("../"):
        issues.append(f"{member.name}: symlink to {target!r} points outside the wheel")


def _find_dist_info(names: list[str], project: str, issues: list[str]) -> str:
    tops = sorted(
        {name.split("/", 1)[0] for name in names if name.split("/", 1)[0].endswith(".dist-info")}
    )
    if not tops:
        issues.append("no .dist-info directory")
        return ""
    if len(tops) > 1:
        issues.append(f"more than one .dist-info directory: {', '.join(tops)}")
        return ""
    found = tops[0]
    if project and canonicalize_name(found.partition("-")[0]) != project:
        issues.append(f"{found} does not match the wheel's name {project}")
    return found


def _parse_metadata(data: bytes, filename: _Filename, issues: list[str]) -> tuple[str, str]:
    headers = BytesHeaderParser().parsebytes(data)
    name, version = str(headers.get("Name", "")).strip(), str(headers.get("Version", "")).strip()
    if not name or not version:
        issues.append("METADATA has no Name or no Version")
        return name, version
    if filename.project and canonicalize_name(name) != filename.project:
        issues.append(f"METADATA says name {name}, the file name {filename.dist}")
    try:
        if filename.version and Version(version) != Version(filename.version):
            issues.append(f"METADATA says version {version}, the file name {filename.version}")
    except InvalidVersion:
        issues.append(f"METADATA version {version!r} is not a valid version")
    return name, version


def _check_wheel_file(data: bytes, issues: list[str]) -> None:
    version = str(BytesHeaderParser().parsebytes(data).get("Wheel-Version", "")).strip()
    if version.split(".")[0] != "1":
        issues.append(f"WHEEL has Wheel-Version {version!r}; only 1.x is supported")


def _decode(data: bytes, name: str, issues: list[str]) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        issues.append(f"{name} is not UTF-8")
        return ""


def _parse_record(data: bytes, issues: list[str]) -> dict[str, tuple[str, int | None]]:
    record: dict[str, tuple[str, int | None]] = {}
    try:
        rows = list(csv.reader(io.StringIO(_decode(data, "RECORD", issues))))
    except csv.Error as exc:
        issues.append(f"RECORD is not valid CSV ({exc})")
        return record
    for number, row in enumerate(rows, 1):
        if not row:
            continue
        problem = _record_row_problem(row, record)
        if problem:
            issues.append(f"RECORD line {number}: {problem}")
            continue
        record[row[0]] = (row[1], int(row[2]) if row[2] else None)
    return record


def _record_row_problem(row: list[str], record: dict[str, tuple[str, int | None]]) -> str | None:
    if len(row) != 3:
        return f"{len(row)} fields instead of 3"
    path, field, size = row
    reason = unsafe_path_reason(path)
    if reason:
        return f"path {path!r} {reason}"
    if path in record:
        return f"{path} is listed twice"
    algorithm, _, value = field.partition("=")
    if field and (algorithm not in HASH_ALGORITHMS or not value):
        return f"{path}: hash {field!r} is not one of {', '.join(sorted(HASH_ALGORITHMS))}"
    if not field and path.rpartition("/")[2] not in _UNSIGNED_FILES:
        return f"{path} has no hash"
    if size and not (size.isascii() and size.isdigit()):  # int() refuses '²', a digit
        return f"{path}: size {size!r} is not a number"
    return None


def _check_coverage(
    members: dict[str, Member], record: dict[str, tuple[str, int | None]], issues: list[str]
) -> None:
    for name, member in members.items():
        if unsafe_path_reason(name):
            continue  # already reported
        if name not in record:
            issues.append(f"{name} is not listed in RECORD")
            continue
        size = record[name][1]
        if size is not None and size != member.size:
            issues.append(f"{name}: RECORD says {size} bytes, the archive {member.size}")
    issues.extend(
        f"RECORD lists {path}, which the wheel does not contain"
        for path in record
        if path not in members
    )
