"""reserve_http against a real HTTP server (in a thread) that honours, ignores or botches ranges."""

from __future__ import annotations

import contextlib
import hashlib
import http.server
import os
import re
import threading
import urllib.error
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest import build_wheel

from lean_install.runtime.reserve_http import (
    RangeFile,
    RangesNotSupported,
    Stats,
    fetch_members,
    open_zip,
)

BIG = os.urandom(2 << 20)  # incompressible: the wheel stays over 2 MB
INIT = b"from .mod import answer\n"
MOD = b"def answer():\n    return 42\n" * 50


@dataclass
class Served:
    """The served directory, the server's base URL, and the requests it got."""

    root: Path
    base: str
    log: list[tuple[str, str | None]] = field(default_factory=list)  # (path, Range header)

    def url(self, mode: str, name: str) -> str:
        return f"{self.base}/{mode}/{name}"


class Handler(http.server.BaseHTTPRequestHandler):
    """``/range/<file>`` honours ``Range``; ``/full/<file>`` ignores it (always 200, the whole
    file); ``/short/<file>`` honours it but sends half the body it announces."""

    served: Served

    def do_GET(self) -> None:
        header = self.headers.get("Range")
        self.served.log.append((self.path, header))
        mode, _, name = self.path.lstrip("/").partition("/")
        path = self.served.root / name
        if mode not in ("range", "full", "short") or "/" in name or not path.is_file():
            self.send_error(404)
            return
        data = path.read_bytes()
        span = parse_range(header, len(data)) if header and mode != "full" else None
        if span == "unsatisfiable":
            self.send_response(416)
            self.send_header("Content-Range", f"bytes */{len(data)}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if isinstance(span, tuple):
            start, end = span
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{end}/{len(data)}")
            body = data[start : end + 1]
        else:
            self.send_response(200)
            body = data
        if mode != "full":
            self.send_header("Accept-Ranges", "bytes")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.close_connection = True
        # the client may hang up after the headers (a 200 to a range request)
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(body[: len(body) // 2] if mode == "short" else body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


def parse_range(header: str, size: int) -> tuple[int, int] | str | None:
    """``bytes=a-b``, ``bytes=a-``, ``bytes=-n`` -> (first, last) inclusive; None to ignore."""
    match = re.fullmatch(r"bytes=(\d*)-(\d*)", header.strip())
    if match is None or match.groups() == ("", ""):
        return None
    first, last = match.groups()
    if first == "":
        start, end = max(0, size - int(last)), size - 1
        return (start, end) if int(last) > 0 and size > 0 else "unsatisfiable"
    start, end = int(first), min(int(last), size - 1) if last else size - 1
    if start >= size or start > end:
        return "unsatisfiable"
    return start, end


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    root = tmp_path_factory.mktemp("served")
    files = {"pkg/__init__.py": INIT, "pkg/big.bin": BIG, "pkg/mod.py": MOD}
    build_wheel(root, "demo", "1.0", files)
    served = Served(root, "")
    handler = type("BoundHandler", (Handler,), {"served": served})
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    served.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield served
    httpd.shutdown()
    httpd.server_close()
    thread.join()


@pytest.fixture
def served(server: Served, monkeypatch: pytest.MonkeyPatch) -> Served:
    for proxy in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy"):
        monkeypatch.delenv(proxy, raising=False)
    server.log.clear()
    return server


WHEEL = "demo-1.0-py3-none-any.whl"


def wheel_size(served: Served) -> int:
    return (served.root / WHEEL).stat().st_size


def test_one_small_member_over_ranges_costs_a_fraction_of_the_file(served: Served) -> None:
    size = wheel_size(served)
    assert size > 2 << 20
    members, stats = fetch_members(served.url("range", WHEEL), ["pkg/__init__.py"])
    assert members == {"pkg/__init__.py": INIT}
    assert stats.ranges and stats.transport == "range" and stats.size == size
    assert stats.bytes_fetched < size / 4
    assert stats.requests == len(served.log) <= 3  # the block cache: no request per zip read
    assert all(header and header.startswith("bytes=") for _, header in served.log)


def test_members_in_the_middle_and_at_the_end(served: Served) -> None:
    names = ["pkg/mod.py", "pkg/big.bin", "demo-1.0.dist-info/METADATA"]
    members, stats = fetch_members(served.url("range", WHEEL), names)
    assert list(members) == names
    assert members["pkg/mod.py"] == MOD and members["pkg/big.bin"] == BIG
    assert members["demo-1.0.dist-info/METADATA"].startswith(b"Metadata-Version")
    assert stats.requests == len(served.log) <= 4
    assert stats.bytes_fetched <= len(BIG) + 3 * (64 << 10)


def test_a_server_that_ignores_ranges_is_read_whole_after_one_unread_answer(
    served: Served,
) -> None:
    members, stats = fetch_members(served.url("full", WHEEL), ["pkg/mod.py", "pkg/__init__.py"])
    assert members == {"pkg/mod.py": MOD, "pkg/__init__.py": INIT}
    assert not stats.ranges and stats.transport == "full"
    assert stats.bytes_fetched == stats.size == wheel_size(served)
    assert stats.requests == 2 == len(served.log)
    assert served.log[0][1] is not None and served.log[1][1] is None  # probe, then whole GET


def test_range_file_refuses_a_200_without_reading_its_body(served: Served) -> None:
    stats = Stats("x")
    with pytest.raises(RangesNotSupported, match="answered 200"):
        RangeFile(served.url("full", WHEEL), stats=stats)
    assert (stats.requests, stats.bytes_fetched) == (1, 0)


@pytest.mark.parametrize("as_url", [True, False], ids=["file-url", "path"])
def test_local_files_are_opened_directly(served: Served, as_url: bool) -> None:
    path = served.root / WHEEL
    members, stats = fetch_members(path.as_uri() if as_url else str(path), ["pkg/mod.py"])
    assert members == {"pkg/mod.py": MOD}
    assert (stats.transport, stats.bytes_fetched, stats.requests) == ("file", 0, 0)
    assert stats.size == wheel_size(served)


def test_range_file_reads_any_slice_with_few_requests(served: Served) -> None:
    data = (served.root / WHEEL).read_bytes()
    with RangeFile(served.url("range", WHEEL)) as file:
        assert file.size == len(data) and file.requests == 1
        for start, length in [(0, 10), (65530, 20), (len(data) - 5, 50), (100_000, 300_000)]:
            file.seek(start)
            assert file.read(length) == data[start : start + length]
        assert file.seek(-3, os.SEEK_END) == len(data) - 3 and file.read() == data[-3:]
        assert file.read(10) == b""
        before = file.requests
        file.seek(0)
        assert file.read(10) == data[:10] and file.requests == before  # cached
        file.seek(0)
        chunks = iter(lambda: file.read(4096), b"")  # 4 KiB sequential reads: read-ahead
        assert b"".join(chunks) == data
        assert file.requests - before <= 8
        assert file.bytes_fetched < 2 * len(data)
    assert len(served.log) == file.requests


def test_range_file_over_a_file_url(served: Served) -> None:
    path = served.root / WHEEL
    with RangeFile(path.as_uri()) as file:
        file.seek(1000)
        assert file.read(100) == path.read_bytes()[1000:1100]
        assert file.stats.transport == "file"
    with zipfile.ZipFile(RangeFile(path.as_uri())) as archive:
        assert archive.read("pkg/mod.py") == MOD


def test_open_zip_counts_while_the_archive_is_read(served: Served) -> None:
    archive, stats = open_zip(served.url("range", WHEEL))
    with archive:
        before = stats.requests, stats.bytes_fetched
        assert archive.read("pkg/big.bin") == BIG
        assert stats.requests == before[0] + 2  # the local header, then the data
        assert stats.bytes_fetched > before[1] + len(BIG)


def test_open_zip_whole_gives_the_downloaded_file(served: Served) -> None:
    data = (served.root / WHEEL).read_bytes()
    archive, stats = open_zip(served.url("range", WHEEL), whole=True)
    file = archive.fp
    with archive:
        assert (stats.transport, stats.requests, stats.bytes_fetched) == ("full", 1, len(data))
        assert file is not None
        file.seek(0)  # zipfile left it elsewhere; it seeks again before each read
        assert hashlib.sha256(file.read()).digest() == hashlib.sha256(data).digest()
        assert archive.read("pkg/mod.py") == MOD
    assert file.closed and served.log == [(f"/range/{WHEEL}", None)]


def test_a_missing_member_is_a_key_error_and_nothing_is_read(served: Served) -> None:
    with pytest.raises(KeyError, match="pkg/nope.py"):
        fetch_members(served.url("range", WHEEL), ["pkg/mod.py", "pkg/nope.py"])
    assert len(served.log) == 1  # the central directory only


def test_a_member_over_the_limit_is_refused_before_it_is_read(served: Served) -> None:
    with pytest.raises(ValueError, match="pkg/big.bin"):
        fetch_members(served.url("range", WHEEL), ["pkg/big.bin"], max_size=1 << 20)
    assert len(served.log) == 1


def test_names_must_not_be_one_string(served: Served) -> None:
    with pytest.raises(TypeError):
        fetch_members(served.url("range", WHEEL), "pkg/mod.py")


@pytest.mark.parametrize("mode", ["range", "full"])
def test_a_corrupt_member_is_a_bad_zip_file(served: Served, mode: str) -> None:
    data = bytearray((served.root / WHEEL).read_bytes())
    with zipfile.ZipFile(served.root / WHEEL) as archive:
        info = archive.getinfo("pkg/mod.py")
    offset = info.header_offset + 30 + len(info.filename) + len(info.extra)
    data[offset + info.compress_size // 2] ^= 0xFF  # in the deflated data
    (served.root / "corrupt.whl").write_bytes(bytes(data))
    with pytest.raises(zipfile.BadZipFile, match="pkg/mod.py"):
        fetch_members(served.url(mode, "corrupt.whl"), ["pkg/mod.py"])
    assert fetch_members(served.url(mode, "corrupt.whl"), ["pkg/__init__.py"])[0] == {
        "pkg/__init__.py": INIT
    }


@pytest.mark.parametrize("mode", ["range", "full"])
def test_a_truncated_archive_is_a_bad_zip_file(served: Served, mode: str) -> None:
    data = (served.root / WHEEL).read_bytes()
    (served.root / "truncated.whl").write_bytes(data[: len(data) // 2])
    with pytest.raises(zipfile.BadZipFile):
        fetch_members(served.url(mode, "truncated.whl"), ["pkg/__init__.py"])


def test_a_body_shorter_than_announced_is_an_os_error(served: Served) -> None:
    with pytest.raises(OSError, match="expected") as caught:
        fetch_members(served.url("short", WHEEL), ["pkg/__init__.py"])
    assert not isinstance(caught.value, RangesNotSupported)


def test_a_404_is_an_http_error(served: Served) -> None:
    with pytest.raises(urllib.error.HTTPError) as caught:
        fetch_members(served.url("range", "absent.whl"), ["pkg/__init__.py"])
    assert isinstance(caught.value, OSError) and caught.value.code == 404
    caught.value.close()


def test_an_unreachable_server_is_an_os_error(served: Served) -> None:
    with pytest.raises(OSError):
        fetch_members("http://127.0.0.1:9/demo.whl", ["pkg/__init__.py"], timeout=5)
