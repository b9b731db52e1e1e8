"""Hostile input to the two readers of untrusted files: the lock and the wheel (hypothesis).

The lock reader (``read_lock``) gets arbitrary bytes and text, generated TOML documents
(recursive values, deep nesting, huge strings) and mutations of a real lock made by
``lean-install lock`` from local wheels. The wheel reader (``OriginalWheel.open``, then
``verify_members`` and ``read``) gets generated zips (hostile names, symlinks, methods,
flags, RECORD rows, broken ``.dist-info``), random bytes, truncated and corrupted real
wheels, and real wheels whose central directory or local headers lie.

Either reader must return a result that is safe to use, or raise a ``LeanInstallError``
whose message names the file; never another exception, never slowly, never writing.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import posixpath
import re
import stat
import struct
import sys
import tempfile
import warnings
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import tomli_w
from conftest import build_wheel
from hypothesis import HealthCheck, currently_in_test_context, given, settings
from hypothesis import event as hypothesis_event
from hypothesis import strategies as st
from packaging.utils import NormalizedName

from lean_install import cli
from lean_install.errors import LeanInstallError, LockError, WheelError
from lean_install.lock import MAX_LOCK_BYTES, LeanLock, lock_digest, read_lock
from lean_install.profile import DistributionUsage, Profile
from lean_install.wheel import OriginalWheel

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

pytestmark = [
    pytest.mark.property,
    # a failing example with a huge value: hypothesis warns while it prints it, and the
    # warning raised as an error would hide the failure behind a FlakyStrategyDefinition
    pytest.mark.filterwarnings("ignore:Generating overly large repr"),
]

DEADLINE_MS = 3000
"""Per example: every reader must answer well within this, whatever it is given."""
FAST = settings(
    deadline=DEADLINE_MS,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@contextlib.contextmanager
def case_dir(base: Path) -> Iterator[Path]:
    """A fresh directory under ``base`` for one example (removed after it)."""
    with tempfile.TemporaryDirectory(dir=base) as name:
        yield Path(name)


def snapshot(root: Path) -> dict[str, tuple[int, int, bytes]]:
    """Every path under ``root``: (mode, size, sha256 of a file's content)."""
    found = {}
    for path in sorted(root.rglob("*")):
        st_ = path.lstat()
        digest = hashlib.sha256(path.read_bytes()).digest() if stat.S_ISREG(st_.st_mode) else b""
        found[str(path.relative_to(root))] = (st_.st_mode, st_.st_size, digest)
    return found


def event(label: str) -> None:
    """Count an outcome in hypothesis' statistics (a no-op in the example-based tests)."""
    if currently_in_test_context():
        hypothesis_event(label)


def assert_clear_error(exc: LeanInstallError, path: Path) -> None:
    message = str(exc)
    assert message.strip(), repr(exc)
    assert str(path) in message, message


# == the lock reader ======================================================================

HEX64 = re.compile(r"[0-9a-f]{64}")


def plain_file_name(name: str) -> bool:
    """A name that stays in the directory it is joined to (``scratch / name``)."""
    return (
        name not in ("", ".", "..")
        and not any(c in name for c in "/\\\0")
        and not re.match(r"^[A-Za-z]:", name)
    )


_STAGES = {
    "TOML": "not TOML", "nested": "too deep", "PEP 751": "not PEP 751",
    "not a lock that": "no lean-install table", "lock format": "format", "digest": "digest",
}  # fmt: skip


def refusal_stage(message: str) -> str:
    """Which check refused a lock (hypothesis statistics: how deep the examples get)."""
    return next((stage for key, stage in _STAGES.items() if key in message), "behind the digest")


def read_lock_or_refuse(path: Path) -> LeanLock | None:
    """The property of the lock reader: a usable LeanLock, or a LockError naming the file."""
    try:
        lock = read_lock(path)
    except LeanInstallError as exc:
        assert isinstance(exc, LockError), repr(exc)
        assert_clear_error(exc, path)
        event(f"refused: {refusal_stage(str(exc))}")
        return None
    event("read")
    assert isinstance(lock, LeanLock)
    assert lock.source == str(path)
    assert isinstance(lock.describe_environment(), str)
    for dist in lock.distributions:
        for file in (dist.original, dist.lean):  # both are joined to directories and fetched
            assert plain_file_name(file.filename), file
            assert HEX64.fullmatch(file.sha256), file  # an empty sha256 skips the hash check
        assert dist.plan.decision in ("keep", "strip", "stub")
    return lock


class RealLock:
    """A lock ``lean-install lock`` wrote, shown by its path (hypothesis prints fixtures)."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.text = text

    def __repr__(self) -> str:
        return f"<the real lock {self.path}>"


@pytest.fixture(scope="module")
def real_lock(tmp_path_factory: pytest.TempPathFactory) -> RealLock:
    """A lock that ``lean-install lock`` writes for three local wheels: strip, keep, stub."""
    root = tmp_path_factory.mktemp("lock")
    wheels = root / "wheels"
    build_wheel(wheels, "app", "1.0", {
        "app/__init__.py": "from app import core\n",
        "app/core.py": "import usedlib\n",
        "app/unused.py": "X = 1\n",
    }, requires=("usedlib", "unuseddep==1.0"))  # fmt: skip
    build_wheel(wheels, "usedlib", "1.0", {"usedlib/__init__.py": "VALUE = 21\n"})
    build_wheel(wheels, "unuseddep", "1.0", {"unuseddep/__init__.py": "X = 1\n"})
    app, usedlib = NormalizedName("app"), NormalizedName("usedlib")
    profile = Profile(distributions=(
        DistributionUsage(name=app, version="1.0", files=("app/__init__.py", "app/core.py")),
        DistributionUsage(name=usedlib, version="1.0", files=("usedlib/__init__.py",)),
    ))  # fmt: skip
    profile.dump(root / "workload.toml")
    lock = root / "pylock.toml"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LEAN_INSTALL_CACHE_DIR", str(root / "cache"))
        code = cli.main(["lock", "-q", "-o", str(lock), "--profile", str(root / "workload.toml"),
                         "app", "--no-index", "--find-links", str(wheels)])  # fmt: skip
    assert code == 0
    text = lock.read_text().replace(wheels.as_uri(), "file:///locked/wheels")  # not hashed
    lock.write_text(text)  # the same bytes on every run: hypothesis replays its examples
    read = read_lock(lock)  # the baseline: the real lock reads back whole
    assert sorted(d.plan.decision for d in read.distributions) == ["keep", "strip", "stub"]
    return RealLock(path=lock, text=text)


@pytest.fixture(scope="module")
def lock_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("lock-cases")


def check_lock_bytes(raw: bytes, base: Path) -> LeanLock | None:
    with case_dir(base) as directory:
        path = directory / "pylock.toml"
        path.write_bytes(raw)
        before = snapshot(directory)
        lock = read_lock_or_refuse(path)
        assert snapshot(directory) == before
        return lock


def check_lock_data(data: dict[str, Any], base: Path, *, seal: bool) -> LeanLock | None:
    """Dump ``data`` as TOML (its digest recomputed if ``seal``), then read it as a lock."""
    if seal:
        data = tomllib.loads(tomli_w.dumps(data))  # the types the reader will see
        tool = data.get("tool")
        table = tool.get("lean-install") if isinstance(tool, dict) else None
        if isinstance(table, dict):
            with contextlib.suppress(Exception):  # the harness's own digest, best effort
                table["digest"] = lock_digest(data)
    return check_lock_bytes(tomli_w.dumps(data).encode(), base)


# -- strategies: TOML values, lock-shaped documents, mutations ---------------------------

_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=30)
_HEX = st.text("0123456789abcdef", min_size=64, max_size=64)
_HASHES = st.one_of(
    _HEX,
    _HEX.map(str.upper),
    st.text("0123456789abcdef", max_size=70),
    st.sampled_from(["", "sha256:" + "0" * 64, "0" * 64 + "\n", " " + "a" * 64]),
    _TEXT,
)
_LOCATIONS = st.sampled_from([
    "../x-1.0-py3-none-any.whl", "../../../../tmp/evil.whl", "/etc/passwd", "/", ".", "..",
    "a/../../b.whl", "C:\\evil.whl", "C:evil.whl", "sub\\..\\..\\evil.whl", "x\0y.whl", "",
    "app-1.0-py3-none-any.whl/..", "file:///etc/passwd", "file://host/../../x.whl",
    "https://example.invalid/../app-1.0-py3-none-any.whl", "app-1.0+lean.1-py3-none-any.whl",
    "~/.bashrc", "%2e%2e/evil.whl", "a" * 5000 + ".whl",
]) | _TEXT  # fmt: skip
_KEYS = st.sampled_from([
    "lock-version", "environments", "requires-python", "created-by", "packages", "tool",
    "lean-install", "name", "version", "wheels", "sdist", "archive", "vcs", "directory",
    "hashes", "sha256", "sha512", "url", "path", "size", "upload-time", "marker", "format",
    "digest", "policy", "profile", "profile-label", "profile-digest", "environment",
    "markers", "omitted", "plan", "wheel", "lean-version", "decision", "drop",
    "stub-modules", "notes", "bytecode", "bytes-installed", "profile-version",
    "distributions", "files", "traces", "dependencies", "index", "extras",
]) | _TEXT  # fmt: skip
_SCALARS = st.one_of(
    st.integers(-(2**63), 2**63 - 1),
    st.floats(),  # nan and inf included
    st.booleans(),
    _TEXT,
    _HASHES,
    _LOCATIONS,
    st.sampled_from(["1.0", "1", "profile", "safe", "keep", "strip", "stub", "omit", "app"]),
    st.datetimes(),
    st.dates(),
    st.times(),
    st.integers(10_000, 300_000).map(lambda n: "x" * n),  # huge strings
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_KEYS, inner, max_size=4),
    max_leaves=20,
)


@st.composite
def file_tables(draw: st.DrawFn, name: str) -> dict[str, Any]:
    table: dict[str, Any] = {
        "name": draw(st.sampled_from([f"{name}-1.0-py3-none-any.whl", f"{name}-1.0.tar.gz"])
                     | _LOCATIONS),
        "hashes": draw(st.fixed_dictionaries({"sha256": _HASHES}) | _VALUES),
    }  # fmt: skip
    where = draw(st.sampled_from(["url", "path", "both", "neither"]))
    if where in ("url", "both"):
        table["url"] = draw(_LOCATIONS)
    if where in ("path", "both"):
        table["path"] = draw(_LOCATIONS)
    if draw(st.booleans()):
        table["size"] = draw(st.integers(-5, 2**63 - 1) | _VALUES)
    return table


@st.composite
def packages(draw: st.DrawFn) -> dict[str, Any]:
    name = draw(st.sampled_from(["app", "usedlib", "App", "a_b"]) | _TEXT)
    plan = {
        "name": name,
        "version": draw(st.sampled_from(["1.0", "1.0+lean.1", "x"]) | _VALUES),
        "decision": draw(st.sampled_from(["keep", "strip", "stub", "omit"]) | _VALUES),
        **draw(st.dictionaries(_KEYS, _VALUES, max_size=3)),
    }
    tool = {
        "lean-version": draw(st.sampled_from(["1.0", "1.0+lean.1"]) | _VALUES),
        "wheel": draw(file_tables(name) | _VALUES),
        "plan": draw(st.just(plan) | _VALUES),
    }
    package: dict[str, Any] = {"name": name, "version": draw(st.just("1.0") | _VALUES)}
    files = draw(st.lists(file_tables(name), max_size=2))
    if draw(st.booleans()):
        package["wheels"] = files
    elif files:
        package["sdist"] = files[0]
    package["tool"] = {"lean-install": draw(st.just(tool) | _VALUES)}
    package.update(draw(st.dictionaries(_KEYS, _VALUES, max_size=2)))
    return package


@st.composite
def lock_documents(draw: st.DrawFn) -> dict[str, Any]:
    """Anything from a random table to an almost valid lean-install lock."""
    document: dict[str, Any] = draw(st.dictionaries(_KEYS, _VALUES, max_size=5))
    if draw(st.booleans()):
        document.update({"lock-version": "1.0", "created-by": "lean-install"})
        document["packages"] = draw(st.lists(packages(), max_size=3) | _VALUES)
        tool: dict[str, Any] = {"format": draw(st.just(1) | _SCALARS), "policy": "profile",
                "environment": draw(st.just({"markers": {}}) | _VALUES),
                **draw(st.dictionaries(_KEYS, _VALUES, max_size=3))}  # fmt: skip
        document["tool"] = {"lean-install": tool}
    return document


def paths_of(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every place in a TOML document: dict keys and list indexes, depth first."""
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from paths_of(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from paths_of(value, (*prefix, index))


def value_at(document: Any, path: tuple[Any, ...]) -> Any:
    node = document
    for step in path:
        node = node[step]
    return node


def parent_of(document: Any, path: tuple[Any, ...]) -> Any:
    return value_at(document, path[:-1])


_FILE_KEYS = ("name", "url", "path")


def mutate(draw: Callable[[st.SearchStrategy[Any]], Any], document: dict[str, Any]) -> None:
    """One change at a random place: drop, retype, rehash, relocate, add, or duplicate."""
    places = [p for p in paths_of(document) if p]
    targets = {
        "drop": places,
        "retype": places,
        "rehash": [p for p in places if p[-1] in ("sha256", "digest", "profile-digest")],
        "relocate": [p for p in places if p[-1] in ("wheels", "wheel", "sdist")],
        "add": [p for p in paths_of(document) if isinstance(value_at(document, p), dict)],
        "duplicate": [p for p in places if isinstance(p[-1], int)],
    }
    kind = draw(st.sampled_from([kind for kind, paths in targets.items() if paths]))
    path = draw(st.sampled_from(targets[kind]))
    if kind == "add":
        value_at(document, path)[draw(_KEYS)] = draw(_VALUES)
        return
    parent, key = parent_of(document, path), path[-1]
    if kind == "drop":
        del parent[key]
    elif kind == "retype":
        parent[key] = draw(_VALUES)
    elif kind == "rehash":
        parent[key] = draw(_HASHES)
    elif kind == "duplicate":
        parent.append(parent[key])
    else:  # relocate: a file's name, url or path
        table = parent[key][0] if isinstance(parent[key], list) and parent[key] else parent[key]
        if isinstance(table, dict):
            table[draw(st.sampled_from(_FILE_KEYS))] = draw(_LOCATIONS)


# -- the lock properties --------------------------------------------------------------


@settings(FAST, max_examples=300)
@given(raw=st.binary(max_size=2000) | st.text().map(lambda t: t.encode("utf-8", "surrogatepass")))
def test_arbitrary_bytes_and_text_read_or_raise_lock_error(raw: bytes, lock_base: Path) -> None:
    check_lock_bytes(raw, lock_base)


@settings(FAST, max_examples=250)
@given(data=st.data())
def test_damaged_real_lock_text_reads_or_raises_lock_error(
    data: st.DataObject, real_lock: RealLock, lock_base: Path
) -> None:
    """The real lock's bytes, cut short, spliced with junk or with a line replaced."""
    raw = real_lock.text.encode()
    cut = data.draw(st.integers(0, len(raw)))
    how = data.draw(st.sampled_from(["truncate", "insert", "overwrite", "line"]))
    if how == "truncate":
        raw = raw[:cut]
    elif how == "insert":
        raw = raw[:cut] + data.draw(st.binary(min_size=1, max_size=50)) + raw[cut:]
    elif how == "overwrite":
        junk = data.draw(st.binary(min_size=1, max_size=20))
        raw = raw[:cut] + junk + raw[cut + len(junk) :]
    else:
        lines = raw.split(b"\n")
        index = data.draw(st.integers(0, len(lines) - 1))
        lines[index] = data.draw(_TEXT).encode()
        raw = b"\n".join(lines)
    check_lock_bytes(raw, lock_base)


@settings(FAST, max_examples=300)
@given(document=lock_documents(), seal=st.booleans())
def test_generated_toml_documents_read_or_raise_lock_error(
    document: dict[str, Any], seal: bool, lock_base: Path
) -> None:
    check_lock_data(document, lock_base, seal=seal)


_DEEP: dict[str, Callable[[int], str]] = {
    "inline array": lambda d: "a = " + "[" * d + "]" * d + "\n",
    "inline table": lambda d: "a = " + "{a = " * d + "1" + "}" * d + "\n",
    "dotted key": lambda d: "a" + ".a" * d + " = 1\n",
    "table header": lambda d: "[" + ".".join(["a"] * d) + "]\nb = 1\n",
    "array of tables": lambda d: "[[" + ".".join(["a"] * d) + "]]\nb = 1\n",
}


@settings(FAST, max_examples=60)
@given(kind=st.sampled_from(sorted(_DEEP)), depth=st.integers(1, 5000), where=st.integers(0, 2))
def test_deeply_nested_documents_read_or_raise_lock_error(
    kind: str, depth: int, where: int, real_lock: RealLock, lock_base: Path
) -> None:
    """Nesting alone, and nesting inside the real lock (a [tool.other] table, or a profile)."""
    deep = _DEEP[kind](depth)
    if where == 0:
        text = deep
    elif where == 1:
        text = real_lock.text + "\n[tool.other]\n" + deep
    else:
        text = real_lock.text + "\n[tool.lean-install.profile.other]\n" + deep
    check_lock_bytes(text.encode(), lock_base)


@settings(FAST, max_examples=400)
@given(data=st.data(), changes=st.integers(1, 4), seal=st.booleans() | st.just(True))
def test_mutated_real_locks_read_or_raise_lock_error(
    data: st.DataObject, changes: int, seal: bool, real_lock: RealLock, lock_base: Path
) -> None:
    """The real lock with keys dropped, types changed, hashes and locations replaced.

    Mostly re-sealed (digest recomputed), so the checks behind the digest are reached.
    """
    document = tomllib.loads(real_lock.text)
    for _ in range(changes):
        mutate(data.draw, document)
    check_lock_data(document, lock_base, seal=seal)


@pytest.mark.parametrize(
    ("place", "value"),
    [
        (("packages", 0, "tool", "lean-install", "wheel", "name"), "../../../../tmp/evil.whl"),
        (("packages", 0, "tool", "lean-install", "wheel", "name"), "/tmp/evil.whl"),
        (("packages", 0, "tool", "lean-install", "wheel", "name"), "sub/app.whl"),
        (("packages", 0, "tool", "lean-install", "wheel", "hashes", "sha256"), ""),
        (("packages", 0, "wheels", 0, "hashes"), {"sha512": "0" * 128}),
        (("packages", 0, "wheels", 0, "hashes", "sha256"), "not hex"),
        (("tool", "lean-install", "environment", "markers"), 1),
        (("packages", 0, "tool", "lean-install", "plan", "drop", 0), datetime(2000, 1, 1)),
    ],
    ids=[
        "lean-dotdot",
        "lean-absolute",
        "lean-subdirectory",
        "lean-no-sha256",
        "original-no-sha256",
        "original-bad-sha256",
        "markers-not-a-table",
        "plan-drop-not-strings",
    ],
)
def test_sealed_locks_the_properties_found_are_refused(
    place: tuple[Any, ...], value: Any, real_lock: RealLock, tmp_path: Path
) -> None:
    """Each was read as a LeanLock: a recomputed digest is all it takes to get this far."""
    document = tomllib.loads(tomli_w.dumps(_replaced(tomllib.loads(real_lock.text), place, value)))
    document["tool"]["lean-install"]["digest"] = lock_digest(document)
    path = tmp_path / "pylock.toml"
    path.write_text(tomli_w.dumps(document))
    with pytest.raises(LockError) as caught:
        read_lock(path)
    assert_clear_error(caught.value, path)
    assert refusal_stage(str(caught.value)) == "behind the digest", caught.value


def _replaced(document: dict[str, Any], place: tuple[Any, ...], value: Any) -> dict[str, Any]:
    parent_of(document, place)[place[-1]] = value
    return document


# == the wheel reader =====================================================================

INFO = "demo-1.0.dist-info"
WHEEL_NAME = "demo-1.0-py3-none-any.whl"
METADATA = b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n"
WHEEL = b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
_NUL_STANDIN = "\x01"
"""zipfile cuts names at NUL when writing: written as this, then patched to NUL."""


def record_hash(data: bytes, algorithm: str = "sha256") -> str:
    digest = hashlib.new(algorithm, data).digest()
    return f"{algorithm}=" + base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def safe_member_name(name: str) -> bool:
    """A relative path that stays inside any root it is joined to (checked independently)."""
    if not name or "\\" in name or "\0" in name or name.startswith("/"):
        return False
    if re.match(r"^[A-Za-z]:", name):
        return False
    return all(part not in ("", ".", "..") for part in name.split("/"))


def symlink_stays_inside(name: str, target: bytes) -> bool:
    text = target.decode("utf-8", "replace")
    resolved = posixpath.normpath(posixpath.join(posixpath.dirname(name), text))
    return not text.startswith("/") and resolved != ".." and not resolved.startswith("../")


def open_or_refuse(path: Path) -> None:
    """The property of the wheel reader; the directory holding ``path`` must not change."""
    before = snapshot(path.parent)
    try:
        wheel = OriginalWheel.open(path)
    except LeanInstallError as exc:
        assert isinstance(exc, WheelError), repr(exc)
        assert exc.wheel == str(path) and exc.issues and all(exc.issues), exc.issues
        assert_clear_error(exc, path)
        event("refused on open")
    else:
        with wheel:
            check_opened(wheel, path)
    assert snapshot(path.parent) == before


def check_opened(wheel: OriginalWheel, path: Path) -> None:
    with zipfile.ZipFile(path) as archive:
        names = [info.filename for info in archive.infolist()]
    assert len(names) == len(set(names)), names
    assert list(wheel.members) == [n for n in names if not n.endswith("/")]
    assert all(safe_member_name(name) for name in names), names
    assert all(safe_member_name(name) for name in wheel.record), list(wheel.record)
    try:
        wheel.verify_members(wheel.members)
    except LeanInstallError as exc:
        assert isinstance(exc, WheelError), repr(exc)
        assert_clear_error(exc, path)
        event("opened, refused by verify_members")
        return
    event("opened and verified")
    for name, member in wheel.members.items():  # verified: read gives what RECORD promises
        data = wheel.read(name)
        assert len(data) == member.size
        field, size = wheel.record.get(name, ("", None))
        if field:
            algorithm = field.partition("=")[0]
            assert record_hash(data, algorithm) == field, name
        assert size is None or size == len(data)
        if member.is_symlink:
            assert symlink_stays_inside(name, data), (name, data)


@pytest.fixture(scope="module")
def wheel_base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("wheel-cases")


def check_wheel_bytes(raw: bytes, base: Path, filename: str = WHEEL_NAME) -> None:
    with case_dir(base) as directory:
        path = directory / filename
        path.write_bytes(raw)
        open_or_refuse(path)


# -- zip surgery -----------------------------------------------------------------------

_CENTRAL = {  # field -> (offset in a central directory entry, struct format)
    "flags": (8, "<H"), "method": (10, "<H"), "crc": (16, "<I"),
    "compressed size": (20, "<I"), "size": (24, "<I"), "name length": (28, "<H"),
    "extra length": (30, "<H"), "comment length": (32, "<H"), "disk": (34, "<H"),
    "external attributes": (38, "<I"), "header offset": (42, "<I"),
}  # fmt: skip
_LOCAL = {  # field -> (offset in a local header, struct format)
    "flags": (6, "<H"), "method": (8, "<H"), "crc": (14, "<I"), "compressed size": (18, "<I"),
    "size": (22, "<I"), "name length": (26, "<H"), "extra length": (28, "<H"),
}  # fmt: skip
_END = {  # field -> (offset in the end of central directory record, struct format)
    "disk": (4, "<H"), "entries on disk": (8, "<H"), "entries": (10, "<H"),
    "directory size": (12, "<I"), "directory offset": (16, "<I"), "comment length": (20, "<H"),
}  # fmt: skip


def central_entries(data: bytes | bytearray) -> list[int]:
    """Where each central directory entry starts (of a well-formed archive)."""
    end = data.rfind(b"PK\x05\x06")
    (position,) = struct.unpack_from("<I", data, end + 16)
    found = []
    while data[position : position + 4] == b"PK\x01\x02":
        found.append(position)
        name_length, extra_length, comment_length = struct.unpack_from("<HHH", data, position + 28)
        position += 46 + name_length + extra_length + comment_length
    return found


def patch_names(data: bytearray, old: bytes, new: bytes) -> None:
    """Replace ``old`` by ``new`` (same length) in every name, central and local."""
    for entry in central_entries(data):
        (length,) = struct.unpack_from("<H", data, entry + 28)
        (local,) = struct.unpack_from("<I", data, entry + 42)
        for start in (entry + 46, local + 30):
            data[start : start + length] = data[start : start + length].replace(old, new)


def patch_field(data: bytearray, table: dict[str, tuple[int, str]], field: str, at: int,
                value: int) -> None:  # fmt: skip
    offset, fmt = table[field]
    struct.pack_into(fmt, data, at + offset, value & (0xFFFF if fmt == "<H" else 0xFFFFFFFF))


# -- strategies: hostile zips ---------------------------------------------------------

_SEGMENTS = st.sampled_from([
    "demo", "Demo", "DEMO", "__init__.py", "core.py", "Core.py", "..", ".", "", "lib",
    "x\\y", "C:", "demo.libs", "demo-1.0.data", INFO, "other-1.0.dist-info", "RECORD",
    "METADATA", "WHEEL", f"a{_NUL_STANDIN}b",
]) | st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters=_NUL_STANDIN),
             min_size=1, max_size=12)  # fmt: skip
_HOSTILE_NAMES = [
    "../x.py", "/abs.py", "a/../../b.py", "demo/../../../etc/passwd", "demo\\..\\..\\x.py",
    f"demo/x.py{_NUL_STANDIN}../../evil", "demo/", "demo//x.py", "./demo/x.py", "demo/./x.py",
    "C:/x.py", "c:x.py", "demo/x.py/", f"{INFO}/RECORD", f"{INFO}/METADATA", "", "/",
    f"{_NUL_STANDIN}demo/x.py", f"demo/{_NUL_STANDIN}x.py",
]  # fmt: skip
_CLEAN_NAMES = st.lists(
    st.from_regex(r"[a-z_][a-z0-9_]{0,8}(\.py|\.so|\.txt)?", fullmatch=True), min_size=1, max_size=3
).map(lambda parts: "demo/" + "/".join(parts))
"""Names of a well-formed wheel, and three in seven of the hostile ones."""
_MEMBER_NAMES = st.one_of(
    _CLEAN_NAMES,
    _CLEAN_NAMES,
    _CLEAN_NAMES,
    st.lists(_SEGMENTS, min_size=1, max_size=5).map("/".join),
    st.lists(_SEGMENTS, min_size=1, max_size=3).map(lambda parts: "/" + "/".join(parts)),
    st.sampled_from(_HOSTILE_NAMES),
    st.integers(100, 3000).map(lambda n: "demo/" + "n" * n + ".py"),
)
_TARGETS = st.sampled_from([
    b"core.py", b"../demo/core.py", b"..", b".", b"../..", b"../../etc/passwd", b"/etc/passwd",
    b"a/../../..", b"sub/../core.py", b"", b"\xff\xfe", b"x" * 5000,
]) | st.binary(max_size=40)  # fmt: skip
_CONTENTS = st.one_of(
    st.binary(max_size=3000),
    st.binary(max_size=3000),
    st.tuples(st.binary(min_size=1, max_size=4), st.integers(0, 50_000)).map(lambda t: t[0] * t[1]),
    st.sampled_from([bytes(1_100_000), b"\x7fELF" + bytes(60)]),  # past RATIO_MIN_SIZE
)
_METHODS = st.sampled_from([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED] * 3
                           + [zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA])  # fmt: skip
_MODES = st.sampled_from([0, 0o100644, 0o100755, 0o40755, 0o120777, 0o20644, 0o10644, 0o7777])


@dataclass(frozen=True)
class Entry:
    name: str
    data: bytes
    method: int
    mode: int

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:
        """How hypothesis prints it: long contents cut short."""
        data = repr(self.data) if len(self.data) <= 200 else (
            f"{self.data[:40]!r} + ... ({len(self.data)} bytes)")  # fmt: skip
        printer.text(f"Entry({self.name!r}, {data}, method={self.method}, mode={self.mode:o})")


_TAME_METHODS = st.sampled_from([zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED])
_TAME_MODES = st.sampled_from([0o100644, 0o100755, 0])
_TAME_TARGETS = st.sampled_from([b"core.py", b"../demo/core.py", b"sub/../x.py", b"."])


@st.composite
def entries(draw: st.DrawFn, hostile: frozenset[str]) -> Entry:
    """A member, hostile in the dimensions named (``names``, ``symlinks``, ...)."""
    name = draw(_MEMBER_NAMES if "names" in hostile else _CLEAN_NAMES)
    method = draw(_METHODS if "methods" in hostile else _TAME_METHODS)
    if draw(st.integers(0, 4)) == 0:  # a symlink
        target = draw(_TARGETS if "symlinks" in hostile else _TAME_TARGETS)
        return Entry(name, target, method, stat.S_IFLNK | 0o777)
    data = draw(_CONTENTS if "contents" in hostile else st.binary(max_size=2000))
    return Entry(name, data, method, draw(_MODES if "modes" in hostile else _TAME_MODES))


_ROW_FATES = st.sampled_from([
    "right", "right", "right", "right", "right", "right", "right", "right", "wrong hash",
    "wrong hash", "wrong hash", "wrong size", "missing", "no hash",
    "no size", "md5", "sha512", "empty hash value", "unicode size", "negative size",
    "extra field", "two fields", "twice", "quoted", "unsafe path",
])  # fmt: skip


def record_row(fate: str, name: str, data: bytes) -> list[str]:
    rows = {
        "right": [f"{name},{record_hash(data)},{len(data)}"],
        "wrong hash": [f"{name},{record_hash(data + b'!')},{len(data)}"],
        "wrong size": [f"{name},{record_hash(data)},{len(data) + 1}"],
        "missing": [],
        "no hash": [f"{name},,{len(data)}"],
        "no size": [f"{name},{record_hash(data)},"],
        "md5": [f"{name},md5={hashlib.md5(data).hexdigest()},{len(data)}"],
        "sha512": [f"{name},{record_hash(data, 'sha512')},{len(data)}"],
        "empty hash value": [f"{name},sha256=,{len(data)}"],
        "unicode size": [f"{name},{record_hash(data)},{chr(0xB2) * max(1, len(data) % 3)}"],
        "negative size": [f"{name},{record_hash(data)},-{len(data)}"],
        "extra field": [f"{name},{record_hash(data)},{len(data)},x"],
        "two fields": [f"{name},{record_hash(data)}"],
        "twice": [f"{name},{record_hash(data)},{len(data)}"] * 2,
        "quoted": [f'"{name},{record_hash(data)},{len(data)}'],
        "unsafe path": [f"../{name},{record_hash(data)},{len(data)}"],
    }
    return rows[fate]


@dataclass(frozen=True)
class HostileWheel:
    filename: str
    files: tuple[Entry, ...]
    patches: tuple[tuple[int, str, int], ...]
    """(entry index, central directory field, value): flags and methods zipfile won't write."""


_DIST_INFO_FILES = {
    "METADATA": st.sampled_from([
        METADATA, b"", b"Name: demo\n", b"Name: other\nVersion: 1.0\n", b"Name: demo\nVersion: 2\n",
        b"Name: demo\nVersion: x!y\n", b"\xff\xfe\x00garbage", b"Name: demo\nVersion: 1.0\n" * 500,
        b"Name: \xff\nVersion: 1.0\n",
    ]) | st.binary(max_size=200),
    "WHEEL": st.sampled_from([WHEEL, b"", b"Wheel-Version: 2.0\n", b"Wheel-Version: 1\n",
                              b"Wheel-Version:\n", b"\x00\x01"]) | st.binary(max_size=100),
}  # fmt: skip


_DIMENSIONS = ("names", "symlinks", "methods", "contents", "modes", "dist-info", "record",
               "patches", "filename")  # fmt: skip
_HOSTILE_INFOS = st.sampled_from(
    [INFO, "Demo-1.0.dist-info", "other-1.0.dist-info", "demo.dist-info", "sub/" + INFO]
)
_HOSTILE_FILENAMES = st.sampled_from([
    WHEEL_NAME, "Demo-1.0-py3-none-any.whl", "demo-2.0-py3-none-any.whl",
    "demo-1.0-1-py3-none-any.whl", "demo.whl", "de mo-1.0-py3-none-any.whl",
    "demo-1.0-py3-none-any.zip",
])  # fmt: skip
_PATCHES = st.lists(st.tuples(
    st.integers(0, 10), st.sampled_from(["flags", "method"]),
    st.sampled_from([0x1, 0x8, 0x20, 0x40, 0x800, 0x2000, 0xFFFF, 1, 6, 9, 12, 14, 99]),
), max_size=2)  # fmt: skip


@st.composite
def hostile_wheels(draw: st.DrawFn) -> HostileWheel:
    """A wheel hostile in some dimensions and well formed in the others (none: a valid wheel)."""
    dimensions = st.sampled_from(_DIMENSIONS)
    hostile = frozenset(draw(st.tuples(dimensions) | st.sets(dimensions, max_size=3)))
    unique = None if "names" in hostile else (lambda e: e.name)
    files = draw(st.lists(entries(hostile), max_size=6, unique_by=unique))
    broken = "dist-info" in hostile
    info = draw(_HOSTILE_INFOS) if broken else INFO
    for part, strategy in _DIST_INFO_FILES.items():
        if not broken or draw(st.integers(0, 5)):  # mostly present
            data = draw(strategy) if broken else {"METADATA": METADATA, "WHEEL": WHEEL}[part]
            files.append(Entry(f"{info}/{part}", data, zipfile.ZIP_DEFLATED, 0o100644))
    if not broken or draw(st.integers(0, 7)):
        files.append(draw(records(files, info, "record" in hostile)))
    patches = draw(_PATCHES) if "patches" in hostile else []
    filename = draw(_HOSTILE_FILENAMES) if "filename" in hostile else WHEEL_NAME
    return HostileWheel(filename, tuple(files), tuple(patches))


@st.composite
def records(draw: st.DrawFn, files: list[Entry], info: str, hostile: bool) -> Entry:
    fates = _ROW_FATES if hostile else st.just("right")
    rows = [
        row
        for e in files
        for row in record_row(draw(fates), e.name.replace(_NUL_STANDIN, "\0"), e.data)
    ]
    rows.append(f"{info}/RECORD,,")
    if hostile:
        rows = draw(st.permutations(rows + draw(st.lists(_TEXT, max_size=2) | st.just([]))))
    text = "\n".join(rows) + "\n"
    method = draw(_METHODS if hostile else _TAME_METHODS)
    return Entry(f"{info}/RECORD", text.encode("utf-8", "surrogatepass"), method, 0o100644)


def write_zip(wheel: HostileWheel) -> bytes:
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about duplicate names
        with zipfile.ZipFile(buffer, "w") as archive:
            for entry in wheel.files:
                info = zipfile.ZipInfo(entry.name, date_time=(2020, 1, 1, 0, 0, 0))
                info.compress_type = entry.method
                info.external_attr = entry.mode << 16
                archive.writestr(info, entry.data)
    data = bytearray(buffer.getvalue())
    patch_names(data, _NUL_STANDIN.encode(), b"\0")
    starts = central_entries(data)
    for index, field, value in wheel.patches:
        if index < len(starts):
            offset, fmt = _CENTRAL[field]
            if field == "flags":  # keep the bits zipfile set (UTF-8 names)
                value |= struct.unpack_from(fmt, data, starts[index] + offset)[0]
            patch_field(data, _CENTRAL, field, starts[index], value)
    return bytes(data)


# -- the wheel properties --------------------------------------------------------------


@settings(FAST, max_examples=400)
@given(wheel=hostile_wheels())
def test_generated_zips_open_safely_or_raise_wheel_error(
    wheel: HostileWheel, wheel_base: Path
) -> None:
    check_wheel_bytes(write_zip(wheel), wheel_base, wheel.filename)


@settings(FAST, max_examples=200)
@given(raw=st.binary(max_size=3000) | st.binary(max_size=500).map(lambda b: b"PK\x03\x04" + b)
       | st.binary(max_size=500).map(lambda b: b + b"PK\x05\x06" + bytes(18)))  # fmt: skip
def test_random_bytes_as_a_wheel_raise_wheel_error(raw: bytes, wheel_base: Path) -> None:
    check_wheel_bytes(raw, wheel_base)


class RealWheel:
    """The bytes of a real wheel, shown by their length (hypothesis prints fixtures)."""

    def __init__(self, raw: bytes) -> None:
        self.raw = raw

    def __repr__(self) -> str:
        return f"<a real wheel of {len(self.raw)} bytes>"


@pytest.fixture(scope="module")
def real_wheel(tmp_path_factory: pytest.TempPathFactory) -> RealWheel:
    """A valid wheel: deflated and stored members, a symlink inside, a larger member."""
    files = {
        "demo/__init__.py": b"VALUE = 1\n",
        "demo/core.py": b"def f():\n    return 2\n" * 20,
        "demo/data.bin": bytes(range(256)) * 40,
    }
    rows = [f"{n},{record_hash(d)},{len(d)}" for n, d in files.items()]
    rows += [f"demo/alias.py,{record_hash(b'core.py')},7"]
    rows += [f"{INFO}/METADATA,{record_hash(METADATA)},{len(METADATA)}"]
    rows += [f"{INFO}/WHEEL,{record_hash(WHEEL)},{len(WHEEL)}", f"{INFO}/RECORD,,"]
    record = ("\n".join(rows) + "\n").encode()
    raw = write_zip(HostileWheel(WHEEL_NAME, (
        *(Entry(name, data, zipfile.ZIP_STORED if name.endswith(".bin") else zipfile.ZIP_DEFLATED,
                0o100644) for name, data in files.items()),
        Entry("demo/alias.py", b"core.py", zipfile.ZIP_STORED, stat.S_IFLNK | 0o777),
        Entry(f"{INFO}/METADATA", METADATA, zipfile.ZIP_DEFLATED, 0o100644),
        Entry(f"{INFO}/WHEEL", WHEEL, zipfile.ZIP_DEFLATED, 0o100644),
        Entry(f"{INFO}/RECORD", record, zipfile.ZIP_DEFLATED, 0o100644),
    ), ()))  # fmt: skip
    path = tmp_path_factory.mktemp("real-wheel") / WHEEL_NAME
    path.write_bytes(raw)
    with OriginalWheel.open(path) as wheel:  # the baseline: it opens and verifies
        wheel.verify_members(wheel.members)
        assert wheel.members["demo/alias.py"].is_symlink
    return RealWheel(raw)


@settings(FAST, max_examples=300)
@given(data=st.data())
def test_truncated_and_corrupted_real_wheels_raise_wheel_error_or_verify(
    data: st.DataObject, real_wheel: RealWheel, wheel_base: Path
) -> None:
    raw = bytearray(real_wheel.raw)
    how = data.draw(st.sampled_from(["truncate", "flip", "overwrite", "cut out", "prefix"]))
    at = data.draw(st.integers(0, len(raw) - 1))
    if how == "truncate":
        del raw[at:]
    elif how == "flip":
        for offset in data.draw(st.lists(st.integers(0, len(raw) - 1), min_size=1, max_size=5)):
            raw[offset] ^= data.draw(st.integers(1, 255))
    elif how == "overwrite":
        junk = data.draw(st.binary(min_size=1, max_size=64))
        raw[at : at + len(junk)] = junk
    elif how == "cut out":
        del raw[at : at + data.draw(st.integers(1, 200))]
    else:
        raw[:0] = data.draw(st.binary(min_size=1, max_size=200))
    check_wheel_bytes(bytes(raw), wheel_base)


_LIES = st.sampled_from([0, 1, 7, 30, 0xFFFF, 0xFFFFFFFF, 0x7FFFFFFF, 0xFFFFFFFE, 0x80000000])


@settings(FAST, max_examples=400)
@given(data=st.data(), count=st.integers(1, 3))
def test_real_wheels_whose_headers_lie_raise_wheel_error_or_verify(
    data: st.DataObject, count: int, real_wheel: RealWheel, wheel_base: Path
) -> None:
    """Central directory, local header and end record fields set to other values."""
    raw = bytearray(real_wheel.raw)
    starts = central_entries(raw)
    end = raw.rfind(b"PK\x05\x06")
    for _ in range(count):
        where = data.draw(st.sampled_from(["central", "central", "local", "end"]))
        table = {"central": _CENTRAL, "local": _LOCAL, "end": _END}[where]
        field = data.draw(st.sampled_from(sorted(table)))
        entry = data.draw(st.sampled_from(starts))
        at = {"central": entry, "local": struct.unpack_from("<I", real_wheel.raw, entry + 42)[0],
              "end": end}[where]  # fmt: skip
        current = struct.unpack_from(table[field][1], raw, at + table[field][0])[0]
        lie = data.draw(
            _LIES | st.integers(0, 0xFFFFFFFF) | st.integers(current - 300, current + 300)
        )
        patch_field(raw, table, field, at, lie)
    check_wheel_bytes(bytes(raw), wheel_base)


def _empty_name(raw: bytes) -> bytes:
    """The NUL-first name: zipfile cuts it to an empty name (``is_dir`` then fails)."""
    files = (Entry(f"{_NUL_STANDIN}x.py", b"x", zipfile.ZIP_STORED, 0o100644),)
    return write_zip(HostileWheel(WHEEL_NAME, files, ()))


def _unicode_digit_size(raw: bytes) -> bytes:
    """A RECORD size that ``str.isdigit`` accepts and ``int`` refuses."""
    record = f"{INFO}/METADATA,{record_hash(METADATA)},\u00b2\n{INFO}/RECORD,,\n".encode()
    files = (
        Entry(f"{INFO}/METADATA", METADATA, zipfile.ZIP_STORED, 0o100644),
        Entry(f"{INFO}/WHEEL", WHEEL, zipfile.ZIP_STORED, 0o100644),
        Entry(f"{INFO}/RECORD", record, zipfile.ZIP_STORED, 0o100644),
    )
    return write_zip(HostileWheel(WHEEL_NAME, files, ()))


def _flagged(bit: int) -> Callable[[bytes], bytes]:
    def flag(raw: bytes) -> bytes:
        data = bytearray(raw)
        patch_field(data, _CENTRAL, "flags", central_entries(data)[-1], bit)  # RECORD
        return bytes(data)

    return flag


@pytest.mark.parametrize(
    "damage",
    [
        lambda raw: raw[1:],  # every header offset one before where it is: the first is -1
        _flagged(0x20),  # compressed patched data: zipfile raises NotImplementedError
        _flagged(0x40),  # strong encryption: zipfile raises NotImplementedError
        _empty_name,
        _unicode_digit_size,
    ],
    ids=["negative-header-offset", "patched-data", "strong-encryption", "empty-name", "size-2"],
)
def test_wheels_the_properties_found_are_refused(
    damage: Callable[[bytes], bytes], real_wheel: RealWheel, tmp_path: Path
) -> None:
    path = tmp_path / WHEEL_NAME
    path.write_bytes(damage(real_wheel.raw))
    with pytest.raises(WheelError) as caught:
        OriginalWheel.open(path).close()
    assert_clear_error(caught.value, path)


def test_record_whose_size_lies_is_refused_by_verify_members(
    real_wheel: RealWheel, tmp_path: Path
) -> None:
    """RECORD has no hash of itself; its size and CRC-32 are still checked."""
    data = bytearray(real_wheel.raw)
    record = central_entries(data)[-1]
    (size,) = struct.unpack_from("<I", data, record + 24)
    patch_field(data, _CENTRAL, "size", record, size + 1)
    path = tmp_path / WHEEL_NAME
    path.write_bytes(bytes(data))
    with OriginalWheel.open(path) as wheel, pytest.raises(WheelError) as caught:
        wheel.verify_members(wheel.members)
    assert caught.value.issues == (f"{INFO}/RECORD: holds {size} bytes, its headers and RECORD "
                                   f"say {size + 1}",)  # fmt: skip


def test_a_huge_lock_is_refused_unread(tmp_path: Path) -> None:
    huge = tmp_path / "pylock.toml"
    with huge.open("wb") as file:
        file.truncate(MAX_LOCK_BYTES + 1)  # sparse: 64 MiB of NULs, not TOML either
    with pytest.raises(LockError, match="larger than"):
        read_lock(huge)
