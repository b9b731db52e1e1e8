"""The startup hook: removed code is reached in more ways than by importing a stub.

Each lean distribution carries a ``.pth`` file whose one line loads this module (once per
interpreter) from its ``.dist-info``'s runtime copy, and ``install`` then adds:

- a finder at the end of ``sys.meta_path``: it is asked only for a module nothing else
  found, and answers for modules a lean install removed without leaving a stub, under
  any directory of ``sys.path`` (vendored trees such as ``setuptools/_vendor``, which
  setuptools puts on ``sys.path`` at run time, or ``.pth``-added directories): restored
  (``restore``, ``log``) or refused with the lean-install message (``error``);
- an audit hook: a removed data file that Python opens for reading (``open``,
  ``io.open``, ``pathlib``, ``importlib.resources``, ``pkgutil.get_data``), or a removed
  library it loads by path (``ctypes.CDLL``), is restored before the open, or refused
  with a ``FileNotFoundError`` that names lean-install; a
  directory that held removed files is filled again before ``os.listdir``/``os.scandir``
  lists it (``error``: listed as it is, and logged as a miss);
- the same audit hook for compilers: a program that starts one with
  ``-I DIR`` under site-packages (``torch.compile``'s ``g++``) has the removed headers
  under ``DIR`` back before it starts.

What none can see: a C library that opens a file itself (``fopen``, ``dlopen``), a
subprocess reading files other than its include directories. ``docs/install.md`` says
how to trace those (``--backend strace``).

A stripped conda prefix has the same hook: ``site-packages/lean-install-conda.pth`` calls
``install_conda`` with the prefix, whose removed files (prefix-relative, from the
manifests under ``PREFIX/lean-install/conda/``) come back from conda's package cache
(``conda_reserve.restore_files``).

The index of removed files is read from the manifests only when first needed (a failed
import, an open of a non-module file under site-packages): programs that reach nothing
removed pay for the hook's checks only.
"""

from __future__ import annotations

import os
import sys

from . import working

TYPE_CHECKING = False  # not typing's: importing typing costs every interpreter start
if TYPE_CHECKING:
    from collections.abc import Iterable
    from typing import Any

    from .records import Miss

# What this module needs beyond os and sys is imported when first needed: every start of
# an interpreter in a lean environment loads it.

__all__ = ["install", "install_conda", "LeanInstallRemovedFileError"]

_NOT_DATA = (".py", ".pyc", ".so", ".pyd", ".pth")
"""Opens the hook leaves to the import system and ``site`` (``.pth`` files are never
removed; ``site`` opens the ones after the hook's own at every start)."""


class LeanInstallRemovedFileError(FileNotFoundError):
    """A data file a lean install removed because the usage profile never used it."""


class LeanInstallRemovedModuleError(ModuleNotFoundError):
    """A module a lean install removed (with no stub where it was)."""


class _Removed:
    """The removed files of every lean distribution under ``root``: installed path ->
    (its ``.dist-info``, its manifest). Read once, on first use."""

    def __init__(self, root: str) -> None:
        self.root = root
        self._files: dict[str, tuple[str, Any]] | None = None
        self._dirs: dict[str, list[str]] = {}
        self._modules: dict[str, list[str]] = {}

    def files(self) -> dict[str, tuple[str, Any]]:
        """Removed file -> (who removed it, the manifest that says so)."""
        if self._files is None:
            self._files = self._read()
            for path in self._files:
                self._dirs.setdefault(path.rpartition("/")[0], []).append(path)
                self._index_module(path)
        return self._files

    def _read(self) -> dict[str, tuple[str, Any]]:
        import glob

        from . import layout
        from .records import Manifest

        files: dict[str, tuple[str, Any]] = {}
        pattern = os.path.join(glob.escape(self.root), "*.dist-info", layout.MANIFEST_NAME)
        for path in sorted(glob.glob(pattern)):
            manifest, _ = Manifest.read(path)
            if manifest is None or manifest.decision != "strip" or not manifest.original:
                continue
            info = os.path.basename(os.path.dirname(path))
            data = layout.data_prefix(manifest.original.record.split("/")[0])
            for member in manifest.removed:
                installed = layout.installed_path(member, data)
                if installed is not None:
                    files[installed] = (info, manifest)
        return files

    def _index_module(self, path: str) -> None:
        """``a/b/m.py``, ``a/b/m.cpython-311.so`` -> ``a/b/m``; ``a/b/p/x.py`` -> ``a/b/p``
        and ``a/b/p/x`` (the module and every package it sits in)."""
        parts = path.split("/")
        for depth in range(1, len(parts)):
            self._modules.setdefault("/".join(parts[:depth]), []).append(path)
        if path.endswith((".py", ".so", ".pyd")):
            head, _, name = path.rpartition("/")
            stem = name.split(".", 1)[0]
            self._modules.setdefault(f"{head}/{stem}" if head else stem, []).append(path)

    def module(self, base: str) -> list[str]:
        """The removed files of the module or package at ``base`` (``a/b/m``)."""
        self.files()
        return self._modules.get(base, [])

    def under(self, directory: str) -> list[str]:
        """The removed files right inside ``directory`` (relative to the root)."""
        self.files()
        return self._dirs.get(directory, [])

    def message(self, what: str, manifest: Any) -> str:
        return (
            f"lean-install removed {what} (distribution {manifest.name} {manifest.version}, "
            f"profile {manifest.profile_label or '(none)'}): the workload traced for that "
            f"profile never used it.\nTo bring it back: lean-install restore --python "
            f"{sys.executable} {manifest.name}\nTo have removed code come back when reached: "
            f"lean-install config --python {sys.executable} on-miss restore"
        )

    def miss(self, kind: str, what: str, manifest: Any, mode: str) -> Miss:
        from .records import Miss

        return Miss.now(what, kind=kind, distribution=manifest.name, version=manifest.version,
                        lean_version=manifest.lean_version, mode=mode)  # fmt: skip

    def restore(self, info: str, manifest: Any, paths: set[str]) -> Any:
        from . import reserve
        from .records import State

        state, _ = State.read(sys.prefix)
        return reserve.restore_files(self.root, info, manifest, paths, state)


class _CondaRemoved(_Removed):
    """The removed files of the stripped conda packages of the prefix ``root``
    (prefix-relative) -> (the package's stem, its manifest)."""

    def _read(self) -> dict[str, tuple[str, Any]]:
        import glob

        from .conda_records import CondaManifest, manifest_dir

        files: dict[str, tuple[str, Any]] = {}
        directory = glob.escape(str(manifest_dir(self.root)))
        for path in sorted(glob.glob(os.path.join(directory, "*.json"))):
            manifest, _ = CondaManifest.read(path)
            if manifest is None:
                continue
            stubs = set(manifest.stubs)
            for removed in manifest.removed:
                if removed not in stubs:
                    files[removed] = (manifest.stem, manifest)
        return files

    def message(self, what: str, manifest: Any) -> str:
        from .conda_reserve import removed_message

        return removed_message(what, manifest, self.root)

    def miss(self, kind: str, what: str, manifest: Any, mode: str) -> Miss:
        from .conda_reserve import miss_of

        return miss_of(kind, what, manifest, mode)

    def restore(self, info: str, manifest: Any, paths: set[str]) -> Any:
        from pathlib import Path

        from .conda_reserve import restore_files

        return restore_files(Path(self.root), info, sorted(paths))


_STATE: dict[str, Any] = {"roots": [], "busy": False}


def install(sitedir: str) -> None:
    """Watch the site-packages directory ``sitedir`` (once per interpreter and directory)."""
    _watch(_Removed(os.path.realpath(sitedir)))


def install_conda(prefix: str) -> None:
    """Watch the stripped conda packages of the prefix ``prefix`` (once per interpreter)."""
    _watch(_CondaRemoved(os.path.realpath(prefix)))


def _watch(removed: _Removed) -> None:
    if any(r.root == removed.root and type(r) is type(removed) for r in _STATE["roots"]):
        return
    first = not _STATE["roots"]
    _STATE["roots"].append(removed)
    if first:
        sys.meta_path.append(_Finder())
        sys.addaudithook(_audit)


def _mode() -> str:
    from .records import ON_MISS_MODES, State

    forced = os.environ.get("LEAN_INSTALL_ON_MISS", "")
    if forced in ON_MISS_MODES:
        return forced
    state, _ = State.read(sys.prefix)
    return state.mode


def _places(path: str) -> list[tuple[_Removed, str]]:
    """The watched roots ``path`` lies under (a conda prefix holds its site-packages), each
    with the path relative to it."""
    found = []
    for removed in _STATE["roots"]:
        prefix = removed.root + os.sep
        if path.startswith(prefix):
            found.append((removed, path[len(prefix) :].replace(os.sep, "/")))
    return found


def _log(miss: Miss) -> None:
    from .records import log_miss

    log_miss(sys.prefix, miss)


def _bring_back(kind: str, what: str, removed: _Removed, paths: set[str], error: Exception) -> None:
    """Restore ``paths`` (removed files of one distribution) or raise ``error``, as the
    mode says; log the miss either way."""
    import importlib
    from dataclasses import replace

    from . import reserve

    info, manifest = removed.files()[next(iter(paths))]
    mode = _mode()
    miss = removed.miss(kind, what, manifest, mode)
    if mode == "error":
        _log(replace(miss, files=tuple(sorted(paths)), outcome="raised"))
        raise error
    try:
        restored = removed.restore(info, manifest, paths)
    except Exception as exc:
        _log(replace(miss, outcome=f"failed: {exc}"))
        raise reserve.not_restored(error, exc) from exc
    miss = replace(miss, files=restored.files, bytes=restored.bytes, outcome="restored",
                   source=restored.source)  # fmt: skip
    _log(miss)
    reserve.announce(miss, mode)
    importlib.invalidate_caches()


# -- modules without a stub ------------------------------------------------------------------


_AT_START = frozenset({"sitecustomize", "usercustomize"})
"""What ``site`` tries to import at every start, usually in vain: answering would read
every manifest in every interpreter (a top-level module is never removed)."""


class _Finder:
    """Asked last: a module nothing found that a lean install removed."""

    @classmethod
    def find_spec(cls, fullname: str, path: Any = None, target: Any = None) -> Any:
        if _STATE["busy"] or working or fullname in _AT_START:
            return None
        _STATE["busy"] = True
        try:
            return cls._find(fullname, path)
        finally:
            _STATE["busy"] = False

    @classmethod
    def _find(cls, fullname: str, path: Any) -> Any:
        name = fullname.rpartition(".")[2]
        for entry in list(path) if path is not None else list(sys.path):
            if not isinstance(entry, str):
                continue
            for removed, directory in _places(os.path.realpath(entry or os.curdir)):
                owned = removed.module(f"{directory}/{name}" if directory else name)
                if owned:
                    return cls._bring_back(fullname, path, removed, owned)
        return None

    @staticmethod
    def _bring_back(fullname: str, path: Any, removed: _Removed, owned: list[str]) -> Any:
        files = removed.files()
        info, manifest = files[owned[0]]
        paths = {p for p in owned if files[p][0] == info}
        error = LeanInstallRemovedModuleError(
            removed.message(f"module {fullname!r}", manifest), name=fullname
        )
        from . import reserve

        try:
            _bring_back("module", fullname, removed, paths, error)
        except ImportError as exc:
            raise reserve.removed_error(exc, fullname) from None
        import importlib.machinery

        return importlib.machinery.PathFinder.find_spec(fullname, path)


# -- data files ------------------------------------------------------------------------------


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if event not in _EVENTS or _STATE["busy"] or working:
        return
    _STATE["busy"] = True
    try:
        if event == "open":
            _on_open(args)
        elif event == "ctypes.dlopen":
            _on_dlopen(args)
        elif event == "subprocess.Popen":
            _on_compile(args)
        else:
            _on_listdir(args)
    finally:
        _STATE["busy"] = False


_EVENTS = frozenset({"open", "ctypes.dlopen", "os.listdir", "os.scandir", "subprocess.Popen"})


def _on_compile(args: tuple[Any, ...]) -> None:
    """A compiler started with ``-I DIR`` (or ``-isystem DIR``) reads the headers there
    itself, unseen (``torch.compile`` runs ``g++ -I .../torch/include``): the removed
    files under each such directory of site-packages come back before it starts, and in
    mode ``error`` it is refused with the lean-install message instead."""
    words: list[str] = []
    for word in args[1] if isinstance(args[1], (list, tuple)) else [args[1]]:
        if isinstance(word, str):
            words += word.split() if " " in word else [word]
    wanted = [w[2:] for w in words if w.startswith("-I") and len(w) > 2]
    wanted += [b for a, b in zip(words, words[1:], strict=False) if a in ("-I", "-isystem")]
    for directory in wanted:
        for removed, relative in _places(os.path.abspath(directory)):
            for mine, manifest in _missing_by_distribution(removed, removed.module(relative)):
                what = f"the headers under {relative + '/'!r}"
                error = LeanInstallRemovedFileError(2, removed.message(what, manifest), directory)
                _bring_back("file", relative + "/", removed, mine, error)


def _missing_by_distribution(removed: _Removed, paths: Iterable[str]) -> list[tuple[set[str], Any]]:
    """Of the removed ``paths``, those not back on disk, grouped by the distribution that
    removed them (a directory such as ``nvidia/cu13/lib`` is shared by many)."""
    files = removed.files()
    missing = [p for p in paths if not os.path.exists(os.path.join(removed.root, p))]
    groups: dict[str, set[str]] = {}
    for path in missing:
        groups.setdefault(files[path][0], set()).add(path)
    return [(groups[info], files[next(iter(groups[info]))][1]) for info in sorted(groups)]


def _on_dlopen(args: tuple[Any, ...]) -> None:
    """``ctypes.CDLL(path)`` of a removed library: as an open (a bare soname is the
    loader's to find, and the shared-library closure's to have kept)."""
    path = args[0] if args else None
    if isinstance(path, str) and os.sep in path:
        _reach_file(path, "library")


def _on_open(args: tuple[Any, ...]) -> None:
    path, mode, flags = args[0], args[1], args[2]
    if not isinstance(path, str) or path.endswith(_NOT_DATA):
        return
    if isinstance(mode, str) and any(c in mode for c in "wax"):
        return
    if isinstance(flags, int) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
        return
    _reach_file(path, "data file")


def _reach_file(path: str, what: str) -> None:
    if os.path.exists(path):  # never removed: the manifests are not read for it
        return
    for removed, relative in _places(os.path.abspath(path)):
        files = removed.files()
        if relative in files:
            manifest = files[relative][1]
            said = removed.message(f"{what} {relative!r}", manifest)
            error = LeanInstallRemovedFileError(2, said, path)
            _bring_back("file", relative, removed, {relative}, error)
            return


# Who lists a directory without wanting its data files back: the import system, module
# discovery (pkgutil.iter_modules lists every package directory, and torch.compile walks
# all of torch with it: the finder answers for modules), installers, lean-install.
_TOOLS = frozenset(
    {
        "importlib",
        "_frozen_importlib",
        "pkgutil",
        "pip",
        "setuptools",
        "wheel",
        "installer",
        "compileall",
        "py_compile",
        "site",
        "pkg_resources",
        "lean_install",
        "conda",
    }
)
_STDLIB = ("os", "posixpath", "shutil", "glob", "pathlib", "fnmatch", "genericpath")


def _tool() -> bool:
    """Whether the listing comes from the import system, an installer (pip's uninstall
    lists the directories it empties) or lean-install: the first caller outside the
    standard library's file helpers says."""
    if "pip._internal" in sys.modules:
        return True
    frame = sys._getframe(3)
    while frame is not None:
        top = str(frame.f_globals.get("__name__", "")).split(".", 1)[0]
        if top not in _STDLIB:
            return top in _TOOLS or top.startswith("_lean_install")
        frame = frame.f_back  # type: ignore[assignment]
    return False


def _on_listdir(args: tuple[Any, ...]) -> None:
    path = args[0] if args else "."
    if not isinstance(path, str):
        return
    if _tool():
        return  # an installer or another tool walking site-packages: not a program's data
    for removed, directory in _places(os.path.abspath(path)):
        _fill(path, removed, directory)


def _fill(path: str, removed: _Removed, directory: str) -> None:
    """Bring back the removed files right inside ``directory`` before it is listed."""
    listed = removed.under(directory)
    pattern = _glob_pattern(4)
    if pattern is not None:  # glob sees the names its pattern matches, no others
        import fnmatch

        listed = [p for p in listed if fnmatch.fnmatch(p.rsplit("/", 1)[-1], pattern)]
    for mine, manifest in _missing_by_distribution(removed, listed):
        if _mode() == "error":
            from dataclasses import replace

            _log(replace(removed.miss("file", directory + "/", manifest, "error"),
                         files=tuple(sorted(mine)), outcome="listed"))  # fmt: skip
            if not os.path.isdir(path):  # it held removed files only: say so, not ENOENT
                what = f"the directory {directory + '/'!r}"
                raise LeanInstallRemovedFileError(2, removed.message(what, manifest), path)
            continue
        _bring_back("file", directory + "/", removed, mine, OSError(f"cannot list {path}"))


def _glob_pattern(depth: int = 3) -> str | None:
    """The pattern of the ``glob.glob`` doing this listing (torch globs
    ``nvidia/cu13/lib/libcudart.so.*[0-9]`` at import), or None for a plain listing;
    ``depth``: the frames of lean-install's own below the caller's."""
    frame = sys._getframe(depth)  # past this, _fill, _on_listdir and _audit
    while frame is not None:
        if frame.f_globals.get("__name__") == "glob":
            pattern = frame.f_locals.get("pattern")
            if isinstance(pattern, str) and "**" not in pattern:
                return pattern
        elif frame.f_globals.get("__name__") not in _STDLIB:
            return None
        frame = frame.f_back  # type: ignore[assignment]
    return None
