"""The wheelhouse: a lock's lean wheels under a PEP 503 simple index, for any static server.

``write_wheelhouse`` writes ``simple/<name>/<file>`` and ``simple/<name>/index.html``
(links with ``#sha256=``) for each package, ``simple/index.html``, ``pylock.toml`` (a
standard lock whose files are the lean ones, by relative path) and ``requirements.txt``
(pins with hashes). ``from_wheelhouse`` downloads a lock's lean wheels from one.
"""

from __future__ import annotations

import shutil
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import replace
from html import escape
from html.parser import HTMLParser
from pathlib import Path
from typing import cast
from urllib.parse import quote, unquote, urldefrag, urljoin, urlsplit

from packaging.pylock import Pylock
from packaging.utils import NormalizedName

from lean_install.errors import LockError
from lean_install.lock import TOOL, LeanLock, LockedDistribution, package_of, write_lock
from lean_install.progress import Progress
from lean_install.runtime.layout import write_atomically

__all__ = ["write_wheelhouse", "from_wheelhouse"]

_HEADER = (
    "# A PEP 751 lock of lean wheels, written by `lean-install wheelhouse` (docs/lock.md):\n"
    "# any installer installs the lean environment from it: pip install -r URL/pylock.toml\n"
)


def write_wheelhouse(
    lock: LeanLock,
    dists: Sequence[LockedDistribution],
    wheels: Mapping[NormalizedName, Path],
    directory: Path,
) -> None:
    """Write ``directory``: a PEP 503 simple index of the lean wheels, a lock and pins."""
    simple = directory / "simple"
    for d in dists:
        project = simple / d.name
        project.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(wheels[d.name], project / d.lean.filename)
        _write(project / "index.html", _page(d.name, [(d.lean.filename, d.lean.sha256)]))
    names = sorted(p.name for p in simple.iterdir() if p.is_dir())
    _write(simple / "index.html", _page("", [(f"{n}/", "") for n in names]))
    write_lock(_wheelhouse_lock(lock, dists), directory / "pylock.toml", _HEADER)
    pins = [f"{d.name}=={d.lean_version} --hash=sha256:{d.lean.sha256}\n" for d in dists]
    _write(directory / "requirements.txt", "".join(sorted(pins)))


def _write(path: Path, text: str) -> None:
    write_atomically(path, text.encode("utf-8"))


def _page(project: str, links: Sequence[tuple[str, str]]) -> str:
    title = f"Links for {project}" if project else "Simple index"
    anchors = "".join(
        f'<a href="{quote(href)}{"#sha256=" + sha256 if sha256 else ""}">{escape(href)}</a><br>\n'
        for href, sha256 in links
    )
    return (
        '<!DOCTYPE html>\n<html><head><meta name="pypi:repository-version" content="1.0">'
        f"<title>{escape(title)}</title></head>\n<body><h1>{escape(title)}</h1>\n"
        f"{anchors}</body></html>\n"
    )


def _wheelhouse_lock(lock: LeanLock, dists: Sequence[LockedDistribution]) -> Pylock:
    packages = [
        package_of(d.name, d.lean_version, d.lean, path=f"simple/{d.name}/{d.lean.filename}")
        for d in dists
    ]
    table = {"wheelhouse-of": dict((lock.pylock.tool or {})[TOOL])["digest"]}
    wheelhouse = replace(lock.pylock, packages=packages, tool={TOOL: table})
    wheelhouse.validate()
    return wheelhouse


# -- reading one ------------------------------------------------------------------------------


def from_wheelhouse(
    lock: LeanLock,
    dists: Sequence[LockedDistribution],
    root: str,
    scratch: Path,
    progress: Progress,
) -> dict[NormalizedName, Path]:
    """Download the lean wheels of ``dists`` from the wheelhouse at ``root`` (URL or directory)."""
    simple = _simple_url(root)
    try:
        _read(_page_url(simple))
    except (OSError, ValueError) as exc:
        hint = "give the URL (or the directory) that lean-install wheelhouse -d wrote"
        raise LockError(
            lock.source, [f"no wheelhouse at {root}: cannot read {simple} ({exc})"], hint
        ) from None
    progress.step("downloading from the wheelhouse", len(dists))
    wheels, issues = {}, []
    for d in dists:
        try:
            wheels[d.name] = _download(_links(simple + d.name + "/"), d.lean.filename, scratch)
        except (OSError, ValueError) as exc:
            issues.append(f"{d.name}: {d.lean.filename} not in the wheelhouse {root} ({exc})")
        progress.advance(d.name)
    if issues:
        raise LockError(
            lock.source,
            issues,
            hint="write the wheelhouse from this lock: lean-install wheelhouse LOCK -d DIR",
        )
    return wheels


def _simple_url(root: str) -> str:
    """The simple index under a wheelhouse root (a URL or a directory), ending in /."""
    url = root if "://" in root else Path(root).resolve().as_uri()
    url = url.rstrip("/") + "/"
    return url if url.endswith("/simple/") else url + "simple/"


def _page_url(url: str) -> str:
    """file:// directories have no index: read their index.html as a web server would."""
    return url + "index.html" if url.startswith("file:") and url.endswith("/") else url


def _read(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=60) as response:
        return cast(bytes, response.read())


class _Anchors(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        href = dict(attrs).get("href")
        if tag == "a" and href:
            self.hrefs.append(href)


def _links(page: str) -> dict[str, str]:
    """A PEP 503 project page's files: file name -> absolute URL (without its #hash)."""
    parser = _Anchors()
    parser.feed(_read(_page_url(page)).decode("utf-8", "replace"))
    links = {}
    for href in parser.hrefs:
        url, _ = urldefrag(urljoin(page, href))
        links[unquote(urlsplit(url).path.rsplit("/", 1)[-1])] = url
    return links


def _download(links: Mapping[str, str], filename: str, scratch: Path) -> Path:
    if filename not in links:
        raise FileNotFoundError("the project page does not link it")
    target = scratch / filename
    with urllib.request.urlopen(links[filename], timeout=60) as response, target.open("wb") as out:
        shutil.copyfileobj(response, out)
    return target
