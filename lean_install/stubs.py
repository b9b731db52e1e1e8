"""Stubs: what stands where removed Python code was, and the runtime they load.

Importing a stub raises ``LeanInstallRemovedError``, a ``ModuleNotFoundError`` subclass,
so ``try: import x / except ImportError:`` fallbacks keep working. The first line of its
message says lean-install removed the module and names the distribution and the
profile; the next gives the commands that bring it back.

Before raising, a stub loads the runtime (``lean_install/runtime``) from the copy in its
distribution's ``.dist-info`` (``lean_install_runtime/``), whose reserve logs the miss
and, if the environment says so, restores the module instead. Without a runtime next to
it, a stub raises the same error; it needs nothing else installed.

A stub in a conda prefix (``conda_module_stub``) is the same program: it loads the
runtime from ``PREFIX/lean-install/runtime/<digest>/`` (``conda_runtime_directory``) and
calls its ``conda_reserve``, which restores from conda's package cache.
"""

from __future__ import annotations

__all__ = [
    "module_stub",
    "conda_module_stub",
    "conda_runtime_directory",
    "startup_file",
    "startup_hook",
    "stub_digest",
    "stub_path",
    "runtime_files",
    "RUNTIME_AT_START",
    "runtime_digest",
]

import functools
import hashlib
from pathlib import Path

from lean_install.runtime import layout

RUNTIME_SOURCE = Path(__file__).parent / "runtime"

_TEMPLATE = '''{marker}: {module} was removed from {dist} {version} by a lean install.
import sys as _sys


class LeanInstallRemovedError(ModuleNotFoundError):
    """A module that lean-install removed because the usage profile never used it."""


def _lean_install_missing():
    message = (
        "lean-install removed module " + repr(__name__) + " (distribution {dist} {version}, "
        "profile {profile}): the workload traced for that profile never used it.\\n"
{way_back}    )
    error = LeanInstallRemovedError(message, name=__name__)
    try:
        import importlib
        import importlib.util
        import os

        root = os.path.abspath(__file__)
        for _ in range({depth}):
            root = os.path.dirname(root)
        name = {package!r}
        if name not in _sys.modules:
            runtime = os.path.join(root, {runtime_parent!r}, {runtime!r})
            spec = importlib.util.spec_from_file_location(
                name, os.path.join(runtime, "__init__.py"), submodule_search_locations=[runtime]
            )
            package = importlib.util.module_from_spec(spec)
            _sys.modules[name] = package
            spec.loader.exec_module(package)
        reserve = importlib.import_module(name + ".{entry}")
    except Exception:  # no runtime next to this stub: the plain error
        raise error from None
    return reserve.missing(__name__, __file__, root, {dist_info!r}, error)


_lean_install_missing()
'''


def module_stub(
    module: str, distribution: str, version: str, profile: str, *, dist_info: str, package: bool
) -> str:
    """The source of the stub that replaces ``module`` (a dotted name).

    ``dist_info`` names the distribution's ``.dist-info`` directory, where the runtime
    is; ``package`` says whether the stub stands for a package (``__init__.py``).
    """
    return _TEMPLATE.format(
        marker=layout.STUB_MARKER,
        module=module,
        dist=distribution,
        version=version,
        profile=profile or "(none: safe policy)",
        way_back=_PIP_WAY_BACK.format(dist=distribution),
        depth=stub_path(module, package=package).count("/") + 1,
        runtime_parent=dist_info,
        runtime=layout.RUNTIME_DIRECTORY,
        entry="reserve",
        dist_info=dist_info,
        package=f"_lean_install_runtime_{runtime_digest()}",
    )


_PIP_WAY_BACK = (
    '        "To bring it back: lean-install restore --python " + _sys.executable + " {dist}\\n"\n'
    '        "To have removed code come back when imported: lean-install config --python "\n'
    '        + _sys.executable + " on-miss restore"\n'
)


def conda_runtime_directory() -> str:
    """Where a conda prefix keeps the runtime its stubs load, relative to the prefix
    (``lean-install/runtime/<digest>``: each stub finds the runtime it was made with)."""
    return f"{layout.STATE_DIRECTORY}/runtime/{runtime_digest()}"


def conda_module_stub(
    module: str,
    package_name: str,
    version: str,
    profile: str,
    *,
    path: str,
    stem: str,
    way_back: tuple[str, ...],
) -> str:
    """The source of the stub at ``path`` (prefix-relative) for ``module`` of the conda
    package ``stem`` (``NAME-VERSION-BUILD``); ``way_back``: the lines that say how to
    bring it back. It loads the runtime from ``conda_runtime_directory()`` and calls its
    ``conda_reserve.missing``; without that runtime (a prefix made from a lean channel),
    it raises the plain error."""
    lines = [f"{line}\n" for line in way_back[:-1]] + list(way_back[-1:])
    return _TEMPLATE.format(
        marker=layout.STUB_MARKER,
        module=module,
        dist=package_name,
        version=version,
        profile=profile or "(none: safe policy)",
        way_back="".join(f"        {line!r}\n" for line in lines),
        depth=path.count("/") + 1,
        runtime_parent=layout.STATE_DIRECTORY,
        runtime=conda_runtime_directory().split("/", 1)[1],
        entry="conda_reserve",
        dist_info=stem,
        package=f"_lean_install_runtime_{runtime_digest()}",
    )


_STARTUP = """try:
    import importlib, importlib.util, os
    name = {package!r}
    if os.environ.get("LEAN_INSTALL_STARTUP_HOOK") != "0":
        if name not in sys.modules:
            runtime = {runtime}
            spec = importlib.util.spec_from_file_location(
                name, os.path.join(runtime, "__init__.py"), submodule_search_locations=[runtime])
            package = importlib.util.module_from_spec(spec)
            sys.modules[name] = package
            spec.loader.exec_module(package)
        importlib.import_module(name + ".hook").{call}
except Exception:
    pass
"""


def startup_file(name: str) -> str:
    """The ``.pth`` file of a lean distribution (at the root of site-packages)."""
    return f"{name}-lean-install.pth"


def startup_hook(dist_info: str) -> str:
    """The ``.pth`` line that loads the runtime's startup hook (``runtime/hook.py``) from
    ``dist_info`` at interpreter start (``site`` runs lines starting with ``import``, with
    ``sitedir`` set); any failure leaves the interpreter as it would be without it, as
    ``LEAN_INSTALL_STARTUP_HOOK=0`` does (stubs still restore: only the hook is off)."""
    runtime = f"os.path.join(sitedir, {dist_info!r}, {layout.RUNTIME_DIRECTORY!r})"
    return _startup_line(runtime, "install(sitedir)")


CONDA_STARTUP_FILE = "lean-install-conda.pth"
"""The ``.pth`` file of a stripped conda prefix (in its site-packages; no record lists it)."""


def conda_startup_hook() -> str:
    """The ``.pth`` line of a stripped conda prefix: the startup hook of the runtime in
    ``PREFIX/lean-install/runtime/<digest>/`` watching the prefix (``sitedir`` is
    ``PREFIX/lib/pythonX.Y/site-packages``)."""
    prefix = "os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(sitedir))))"
    runtime = f"os.path.join({prefix}, {conda_runtime_directory()!r})"
    return _startup_line(runtime, f"install_conda({prefix})")


def _startup_line(runtime: str, call: str) -> str:
    code = _STARTUP.format(package=f"_lean_install_runtime_{runtime_digest()}",
                           runtime=runtime, call=call)  # fmt: skip
    return f"import sys; exec({code!r})\n"


def stub_path(module: str, *, package: bool) -> str:
    """Where the stub for ``module`` goes, relative to the install root."""
    parts = module.split(".")
    return "/".join(parts) + "/__init__.py" if package else "/".join(parts) + ".py"


RUNTIME_AT_START = ("__init__.py", "hook.py", "records.py", "layout.py", "tables.py")
"""The runtime modules the startup hook loads in every interpreter: their bytecode is
compiled at install time; the rest (the reserve, the HTTP reader, the ELF reader) only
when a miss reaches them."""


@functools.cache
def runtime_files(*, conda: bool = False) -> tuple[tuple[str, bytes], ...]:
    """The runtime's files (name, bytes), as each lean ``.dist-info`` carries them: without
    the conda side's modules (``conda_*.py``, which only a conda prefix's copy needs)
    unless ``conda``."""
    return tuple(
        (p.name, p.read_bytes())
        for p in sorted(RUNTIME_SOURCE.glob("*.py"))
        if conda or not p.name.startswith("conda_")
    )


@functools.cache
def runtime_digest() -> str:
    """A short digest of the whole runtime (the conda side's modules too): part of every
    lean version that carries it, so a wheel with another runtime is another version."""
    digest = hashlib.sha256()
    for name, data in runtime_files(conda=True):
        digest.update(name.encode() + b"\0" + data)
    return digest.hexdigest()[:12]


@functools.cache
def stub_digest() -> str:
    """A digest of what a stub is made of, this template and the runtime it loads."""
    return hashlib.sha256((_TEMPLATE + _STARTUP + runtime_digest()).encode()).hexdigest()[:12]
