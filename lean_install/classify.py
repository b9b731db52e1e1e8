"""The file classifier: what kind of file each file of a distribution is, and which kinds a
program does not need to run. The safe policy drops exactly the removable files
(``Classifier.removable``) and the report calls exactly those "removable without a
profile": one rule, one place.

A classifier looks at one distribution's files together, because some rules depend on
the others: a ``.pyi`` is a type stub only beside the module it describes, and headers
stay in a distribution that ships C/C++ sources (it may compile them at run time:
torch.compile, triton) or is a build tool.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, get_args

from packaging.utils import canonicalize_name

from lean_install.runtime import dynlib, layout

__all__ = [
    "Category",
    "CATEGORIES",
    "REMOVABLE",
    "RemovableCategory",
    "REMOVABLE_WHY",
    "BUILD_TOOLS",
    "Classifier",
]

Category = Literal[
    "shared-library",
    "bytecode",
    "source",
    "data",
    "metadata",
    "tests",
    "headers",
    "static-libraries",
    "cmake",
    "type-stubs",
    "docs",
]
CATEGORIES: tuple[Category, ...] = get_args(Category)
RemovableCategory = Literal["tests", "headers", "static-libraries", "cmake", "type-stubs", "docs"]
REMOVABLE: tuple[RemovableCategory, ...] = get_args(RemovableCategory)
"""The kinds of file no program runs: what ``--policy safe`` drops."""

_TRACE_TO_KEEP = (
    "trace a workload that uses them and plan with that profile: a file a profile saw "
    "loaded or probed is never dropped (files a compiler opens need the strace backend)"
)


@dataclass(frozen=True)
class _Why:
    what: str
    why: str
    keep: str = _TRACE_TO_KEEP


REMOVABLE_WHY: dict[RemovableCategory, _Why] = {
    "tests": _Why(
        "files under a directory named `tests` or `test` (not `testing`); compiled tests: "
        "programs under `bin/` named `test_*`, `*_test` or `*Test`, and `lib*_test.so`",
        "a package's own test suite: its developers run it; nothing the package exports imports it",
    ),
    "headers": _Why(
        "C/C++/CUDA headers (.h .hh .hpp .hxx .cuh .inl .ipp .tcc .inc), the wheel's "
        "`.data/headers`, and other non-code files under `include/` directories",
        "only a compiler building against the package reads them; a distribution that "
        "ships C/C++ sources (it may compile at run time: torch.compile, triton) and the "
        "build tools in BUILD_TOOLS keep theirs",
    ),
    "static-libraries": _Why(
        "static libraries and import libraries (.a, .lib)",
        "linked into programs at build time; the dynamic loader never opens them",
    ),
    "cmake": _Why(
        "`*.cmake`, `CMakeLists.txt`, non-code files under `cmake/` directories",
        "only CMake reads them, when a C/C++ project builds against the package; the build "
        "tools in BUILD_TOOLS keep theirs",
    ),
    "type-stubs": _Why(
        "`.pyi` files beside their `.py` source or extension module, and `py.typed` markers",
        "type checkers and editors read them; the interpreter imports the module itself",
    ),
    "docs": _Why(
        "non-code files under `doc/` or `docs/` directories; README, CHANGELOG and similar "
        ".md/.rst files inside packages",
        "documentation for people. Other .md/.rst files are kept: packages read some at run "
        "time (scikit-learn's dataset descriptions, model card templates)",
    ),
}

BUILD_TOOLS: frozenset[str] = frozenset(
    {
        "cmake",
        "cython",
        "meson",
        "meson-python",
        "nanobind",
        "pybind11",
        "scikit-build",
        "scikit-build-core",
        "mypy",
        "jedi",
        "pyright",
    }
)
"""Distributions whose run time is someone's build (or a type checker): their headers, CMake
files and type stubs stay."""

_HEADER_SUFFIXES = frozenset({".h", ".hh", ".hpp", ".hxx", ".cuh", ".inl", ".ipp", ".tcc", ".inc"})
_SOURCE_SUFFIXES = frozenset({".c", ".cc", ".cpp", ".cxx", ".cu"})
_DOC_STEMS = (
    "README",
    "CHANGELOG",
    "CHANGES",
    "HISTORY",
    "NEWS",
    "CONTRIBUTING",
    "CODE_OF_CONDUCT",
    "RELEASE",
    "AUTHORS",
    "TODO",
)
_NOT_SHIPPED_DIRS = frozenset({"tests", "test", "include", "doc", "docs"})
_SHARED_LIBRARY = re.compile(r"\.(?:so(?:\.\d+)*|dylib|pyd|dll)$")
_DATA_DIRECTORY = re.compile(r"^[^/]+\.data/(headers|scripts|data|purelib|platlib)/")


_TEST_PROGRAM = re.compile(r"^(?:test_[\w-]+|[\w-]+(?:_test|Test|Tests))$")
_TEST_LIBRARY = re.compile(r"^lib\w+_test\.so(?:\.\d+)*$")


def _native_test(dirs: set[str], base: str) -> bool:
    """A compiled test: a program under ``bin/`` named as one (``test_api``,
    ``TCPStoreTest``: torch's CPU wheel ships 40 MB of them) or ``lib*_test.so``."""
    return ("bin" in dirs and _TEST_PROGRAM.match(base) is not None) or (
        _TEST_LIBRARY.match(base) is not None
    )


def _suffix(base: str) -> str:
    return "." + base.rsplit(".", 1)[1].lower() if "." in base else ""


class Classifier:
    """The categories of one distribution's files.

    ``paths`` are its files as its RECORD (installed) or its wheel (members) writes them;
    ``metadata_dir`` is its ``.dist-info`` (or ``info/`` of a conda package).
    """

    def __init__(self, name: str, paths: Iterable[str], metadata_dir: str) -> None:
        self.paths = tuple(paths)
        self.metadata_prefix = metadata_dir.rstrip("/") + "/" if metadata_dir else "\0"
        self.build_tool = canonicalize_name(name) in BUILD_TOOLS
        self.modules = {m for p in self.paths if (m := layout.module_name(self._inner(p)))}
        self.compiled_source = next(
            (p for p in sorted(self.paths) if self._shipped_source(p)), None
        )

    @staticmethod
    def _inner(path: str) -> str:
        """The path where it lands inside its tree: ``x.data/purelib/a.py`` -> ``a.py``."""
        match = _DATA_DIRECTORY.match(path)
        return path[match.end() :] if match else path

    def _shipped_source(self, path: str) -> bool:
        parts = self._inner(path).split("/")
        return _suffix(parts[-1]) in _SOURCE_SUFFIXES and not _NOT_SHIPPED_DIRS & set(parts)

    def is_code(self, path: str) -> bool:
        inner = self._inner(path)
        return layout.module_name(inner) is not None or dynlib.is_shared_object_name(inner)

    def category(self, path: str) -> Category:
        """The first rule that matches: metadata; tests (a directory component named
        ``tests`` or ``test``, not ``testing``: ``torch.testing`` is a runtime module; or
        a compiled test, ``_native_test``);
        headers; static libraries; CMake; type stubs; docs; then shared libraries,
        bytecode, Python source, and everything else as data."""
        if path.startswith(self.metadata_prefix):
            return "metadata"
        data = _DATA_DIRECTORY.match(path)
        kind = data.group(1) if data else ""
        parts = self._inner(path).split("/")
        lowered = [p.lower() for p in parts]
        dirs, base = set(lowered[:-1]), parts[-1]
        suffix, code = _suffix(base), self.is_code(path)
        if kind == "scripts":
            return "data"
        if dirs & {"tests", "test"} or _native_test(dirs, base):
            return "tests"
        if kind == "headers" or suffix in _HEADER_SUFFIXES or ("include" in dirs and not code):
            return "headers"
        if suffix in (".a", ".lib") and not code:
            return "static-libraries"
        if suffix == ".cmake" or base == "CMakeLists.txt" or ("cmake" in dirs and not code):
            return "cmake"
        if base == "py.typed" or (suffix == ".pyi" and self._beside_module(parts)):
            return "type-stubs"
        if (dirs & {"doc", "docs"} and not code) or (
            suffix in (".md", ".rst") and len(parts) > 1 and base.upper().startswith(_DOC_STEMS)
        ):
            return "docs"
        if _SHARED_LIBRARY.search(base.lower()):
            return "shared-library"
        if suffix in (".pyc", ".pyo"):
            return "bytecode"
        if suffix == ".py":
            return "source"
        return "data"

    def _beside_module(self, parts: list[str]) -> bool:
        return layout.module_name("/".join(parts)[:-1]) in self.modules

    def removable_category(self, category: Category) -> bool:
        """Whether this distribution's files of ``category`` are what no program needs:
        a removable category, but headers of a distribution shipping C/C++ sources, and
        headers, CMake files and type stubs of a build tool, stay."""
        if category not in REMOVABLE:
            return False
        if self.build_tool and category in ("headers", "cmake", "type-stubs"):
            return False
        return not (category == "headers" and self.compiled_source is not None)

    def removable(self, path: str) -> bool:
        """Whether the safe policy drops ``path``."""
        return self.removable_category(self.category(path))
