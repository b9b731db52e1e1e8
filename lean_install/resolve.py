"""Resolution: ask the target's own pip what it would install, reading metadata only.

Runs ``python -m pip install --dry-run --ignore-installed --report -`` with the user's
requirements and pip options, and turns pip's installation report into a Resolution.
``fetch`` then brings only the files the plan needs into the cache, each checked against
the hash the report gave.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

from packaging.utils import NormalizedName, canonicalize_name

from lean_install.cache import file_sha256
from lean_install.errors import (
    EnvironmentInspectionError,
    HashMismatchError,
    PipError,
    ResolutionError,
    ToolMissingError,
)

if TYPE_CHECKING:
    from lean_install.cache import Cache
    from lean_install.environment import Environment

__all__ = [
    "ResolvedDistribution",
    "Resolution",
    "resolve",
    "index_options",
    "fetch",
    "INDEX_OPTIONS_WITH_VALUE",
    "INDEX_FLAGS",
]

INDEX_OPTIONS_WITH_VALUE = frozenset(
    {
        "-i",
        "--index-url",
        "--extra-index-url",
        "-f",
        "--find-links",
        "--trusted-host",
        "--cert",
        "--client-cert",
        "--proxy",
        "--retries",
        "--timeout",
    }
)
"""pip options (taking a value) that say where files come from and how to reach them."""
INDEX_FLAGS = frozenset({"--no-index", "--pre"})

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_TAIL_LINES = 25


@dataclass(frozen=True, kw_only=True)
class ResolvedDistribution:
    """One distribution pip would install, as its report describes it."""

    name: NormalizedName
    version: str
    url: str
    """Where pip found the file (``https://...`` or ``file:///...``)."""
    filename: str
    sha256: str | None
    """The hash pip's report gives for the file (None if the index gave none)."""
    requested: bool
    """Named on the command line (or in a -r file), not only pulled in as a dependency."""
    requested_extras: tuple[str, ...] = ()
    requires_dist: tuple[str, ...] = ()
    provides_extra: tuple[str, ...] = ()
    is_direct: bool = False
    """Asked for by URL or path (``pkg @ https://...``, ``./pkg.whl``), not found on an index."""
    is_archive: bool = True
    """A file (wheel or sdist); False for a local directory or a VCS checkout."""

    @property
    def is_wheel(self) -> bool:
        return self.is_archive and self.filename.endswith(".whl")

    @classmethod
    def from_report_item(cls, item: Mapping[str, Any]) -> ResolvedDistribution:
        """One entry of the report's ``install`` list (pip >= 23, report version 1)."""
        metadata = item["metadata"]
        info = item["download_info"]
        url = str(info["url"])
        archive = info.get("archive_info")
        return cls(
            name=canonicalize_name(str(metadata["name"])),
            version=str(metadata["version"]),
            url=url,
            filename=_url_filename(url),
            sha256=_archive_sha256(archive) if isinstance(archive, Mapping) else None,
            requested=bool(item.get("requested", False)),
            requested_extras=tuple(item.get("requested_extras") or ()),
            requires_dist=tuple(metadata.get("requires_dist") or ()),
            provides_extra=tuple(metadata.get("provides_extra") or ()),
            is_direct=bool(item.get("is_direct", False)),
            is_archive=isinstance(archive, Mapping),
        )


@dataclass(frozen=True, kw_only=True)
class Resolution:
    distributions: tuple[ResolvedDistribution, ...]
    marker_environment: dict[str, str] = field(default_factory=dict)
    """pip's report ``environment``: the marker values of the target interpreter."""
    pip_version: str = ""

    @classmethod
    def from_report(cls, report: Mapping[str, Any]) -> Resolution:
        """Read pip's installation report; a malformed one raises ResolutionError."""
        try:
            dists = tuple(ResolvedDistribution.from_report_item(i) for i in report["install"])
            environment = {str(k): str(v) for k, v in report.get("environment", {}).items()}
        except (KeyError, TypeError, AttributeError) as exc:
            raise ResolutionError(f"pip's report is not as expected ({exc!r})") from None
        return cls(
            distributions=dists,
            marker_environment=environment,
            pip_version=str(report.get("pip_version", "")),
        )

    def distribution(self, name: str) -> ResolvedDistribution | None:
        key = canonicalize_name(name)
        return next((d for d in self.distributions if d.name == key), None)


def _url_filename(url: str) -> str:
    path = urlsplit(url).path.rstrip("/")
    return unquote(path.rsplit("/", 1)[-1])


def _archive_sha256(archive: Mapping[str, Any]) -> str | None:
    hashes = archive.get("hashes")
    if isinstance(hashes, Mapping) and isinstance(hashes.get("sha256"), str):
        return str(hashes["sha256"]).lower()
    algorithm, _, value = str(archive.get("hash", "")).partition("=")
    return value.lower() if algorithm == "sha256" and value else None


# -- running pip ---------------------------------------------------------------------------


def _pip_environ() -> dict[str, str]:
    """The caller's environment, with pip's output kept plain (rich honours FORCE_COLOR)."""
    environ = {k: v for k, v in os.environ.items() if k not in {"FORCE_COLOR", "CLICOLOR_FORCE"}}
    environ.update(NO_COLOR="1", PYTHONIOENCODING="utf-8")
    return environ


def _run_pip(env: Environment, command: Sequence[str]) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            list(command),
            capture_output=True,
            text=True,
            encoding="utf-8",
            errors="replace",
            env=_pip_environ(),
            check=False,
        )
    except OSError as exc:
        raise EnvironmentInspectionError(env.executable, f"cannot run: {exc}") from None


def _tail(text: str) -> str:
    return "\n".join(_ANSI.sub("", text).strip().splitlines()[-_TAIL_LINES:])


def _raise_for_pip(
    env: Environment, command: Sequence[str], done: subprocess.CompletedProcess[str]
) -> NoReturn:
    """Turn a failed pip run into the error that says what went wrong."""
    output = done.stderr if done.stderr.strip() else done.stdout
    if "No module named pip" in output:
        raise ToolMissingError("pip", f"{env.executable} -m ensurepip --upgrade")
    if "no such option: --report" in output or "no such option: --dry-run" in output:
        raise ToolMissingError("pip >= 23", f"{env.executable} -m pip install --upgrade pip")
    if done.returncode == 2:  # pip's usage error: an option it does not know
        raise PipError(command, done.returncode, output)
    raise ResolutionError(_tail(output) or f"pip exited with status {done.returncode}")


def _find_report(stdout: str) -> dict[str, Any]:
    """The JSON report in pip's stdout, even with log lines (``-v``, configs) around it."""
    text = _ANSI.sub("", stdout)
    decoder = json.JSONDecoder()
    for match in re.finditer(r"^\{", text, re.MULTILINE):
        try:
            value, _ = decoder.raw_decode(text, match.start())
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict) and "install" in value:
            return value
    raise ResolutionError("pip printed no installation report:\n" + _tail(stdout))


def resolve(env: Environment, pip_args: Sequence[str]) -> Resolution:
    """What the target's pip would install for ``pip_args``, from metadata only.

    ``pip_args`` are the user's requirements and pip options, passed through verbatim.
    """
    command = [
        env.executable,
        *("-m", "pip", "install", "--dry-run", "--ignore-installed"),
        *("--report", "-", "-q"),
        *pip_args,
    ]
    done = _run_pip(env, command)
    if done.returncode != 0:
        _raise_for_pip(env, command, done)
    return Resolution.from_report(_find_report(done.stdout))


def index_options(pip_args: Sequence[str]) -> list[str]:
    """The options in ``pip_args`` that choose sources, for later pip calls to reuse.

    Keeps --index-url/-i, --extra-index-url, --find-links/-f, --no-index, --pre,
    --trusted-host and the connection options (--cert, --client-cert, --proxy, --retries,
    --timeout), in their order, in every spelling pip takes (``--opt value``,
    ``--opt=value``, ``-ivalue``). Options inside ``-r`` files are not read.
    """
    kept: list[str] = []
    args = list(pip_args)
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in INDEX_FLAGS:
            kept.append(arg)
        elif arg in INDEX_OPTIONS_WITH_VALUE:
            kept.extend(args[i : i + 2])
            i += 1
        elif _is_joined_index_option(arg):
            kept.append(arg)
        i += 1
    return kept


def _is_joined_index_option(arg: str) -> bool:
    """``--index-url=URL`` or ``-iURL``: an index option and its value in one argument."""
    if arg.startswith("--"):
        option, eq, _ = arg.partition("=")
        return bool(eq) and option in INDEX_OPTIONS_WITH_VALUE
    return arg[:2] in {"-i", "-f"} and len(arg) > 2


# -- fetching ------------------------------------------------------------------------------


def fetch(
    env: Environment,
    dists: Sequence[ResolvedDistribution],
    cache: Cache,
    pip_args: Sequence[str],
) -> dict[NormalizedName, Path]:
    """Bring the files of ``dists`` into the cache; map each name to its cached file.

    Files already cached under their hash are not fetched again; local (``file://``) files
    are linked or copied; remote ones come in one ``pip download --no-deps`` run with the
    same sources as the resolution. Every file is checked against the report's sha256
    before it enters the cache (HashMismatchError otherwise). A file the report gives no
    sha256 for enters under its own hash, unchecked.
    """
    found: dict[NormalizedName, Path] = {}
    remote: list[ResolvedDistribution] = []
    for dist in dists:
        cached = cache.original(dist.sha256) if dist.sha256 else None
        if cached is not None:
            found[dist.name] = cached
            continue
        scheme = urlsplit(dist.url).scheme
        if not dist.is_archive or scheme not in {"file", "http", "https"}:
            raise ValueError(f"{dist.name}: {dist.url} is not a file that can be fetched")
        if scheme == "file":
            found[dist.name] = _take_local(dist, cache)
        else:
            remote.append(dist)
    if remote:
        found.update(_download(env, remote, cache, pip_args))
    return found


def _take_local(dist: ResolvedDistribution, cache: Cache) -> Path:
    path = Path(url2pathname(urlsplit(dist.url).path))
    return cache.add_original(path, dist.sha256 or file_sha256(path))


def _download(
    env: Environment,
    dists: Sequence[ResolvedDistribution],
    cache: Cache,
    pip_args: Sequence[str],
) -> dict[NormalizedName, Path]:
    found: dict[NormalizedName, Path] = {}
    with cache.temporary_directory() as scratch:
        command = [
            env.executable,
            *("-m", "pip", "download", "--no-deps", "-q", "-d", str(scratch)),
            *index_options(pip_args),
            *(d.url for d in dists),
        ]
        done = _run_pip(env, command)
        if done.returncode != 0:
            raise PipError(command, done.returncode, done.stderr + done.stdout)
        for dist in dists:
            saved = scratch / dist.filename
            if not saved.is_file():
                raise PipError(command, 0, f"pip download saved no {dist.filename}")
            expected = dist.sha256 or file_sha256(saved)
            try:
                found[dist.name] = cache.add_original(saved, expected, move=True)
            except HashMismatchError as exc:
                raise HashMismatchError(dist.url, exc.expected, exc.actual) from None
    return found
