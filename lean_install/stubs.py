"""Stubs: what stands where removed Python code was.

Importing a stub raises ``LeanInstallRemovedError``, a ``ModuleNotFoundError`` subclass,
so ``try: import x / except ImportError:`` fallbacks keep working. The first line of its
message says lean-install removed the module and names the distribution and the
profile; the next gives the commands that bring it back.

Before raising, a stub loads the reserve runtime from its distribution's ``.dist-info``
(``lean_install/reserve.py``, copied there as ``RUNTIME_NAME``), which logs the miss and,
if the environment says so, restores the module instead. Without a runtime next to it, a
stub raises the same error; it needs nothing else installed.
"""

from __future__ import annotations

__all__ = ["STUB_MARKER", "module_stub", "stub_digest", "stub_path", "is_stub_source"]

import functools
import hashlib

from lean_install.reserve import RUNTIME_NAME, STUB_MARKER, runtime_digest

_TEMPLATE = '''{marker}: {module} was removed from {dist} {version} by a lean install.
import sys as _sys


class LeanInstallRemovedError(ModuleNotFoundError):
    """A module that lean-install removed because the usage profile never used it."""


def _lean_install_missing():
    message = (
        "lean-install removed module {module!r} (distribution {dist} {version}, "
        "profile {profile}): the workload traced for that profile never used it.\\n"
        "To bring it back: lean-install restore --python " + _sys.executable + " {dist}\\n"
        "To have removed code come back when imported: lean-install config --python "
        + _sys.executable + " on-miss restore"
    )
    error = LeanInstallRemovedError(message, name={module!r})
    try:
        import importlib.util
        import os

        root = os.path.abspath(__file__)
        for _ in range({depth}):
            root = os.path.dirname(root)
        path = os.path.join(root, {dist_info!r}, {runtime!r})
        spec = importlib.util.spec_from_file_location("_lean_install_reserve", path)
        reserve = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(reserve)
    except Exception:  # no reserve next to this stub: the plain error
        raise error from None
    return reserve.missing({module!r}, __file__, root, {dist_info!r}, error)


_lean_install_missing()
'''


def module_stub(
    module: str, distribution: str, version: str, profile: str, *, dist_info: str, package: bool
) -> str:
    """The source of the stub that replaces ``module`` (a dotted name).

    ``dist_info`` names the distribution's ``.dist-info`` directory, where the reserve
    runtime is; ``package`` says whether the stub stands for a package (``__init__.py``).
    """
    return _TEMPLATE.format(
        marker=STUB_MARKER,
        module=module,
        dist=distribution,
        version=version,
        profile=profile or "(none: safe policy)",
        depth=stub_path(module, package=package).count("/") + 1,
        dist_info=dist_info,
        runtime=RUNTIME_NAME,
    )


@functools.cache
def stub_digest() -> str:
    """A digest of what a stub is made of, this template and the runtime it loads: part of
    every lean version that has stubs, so that a change to either makes a new version."""
    return hashlib.sha256((_TEMPLATE + runtime_digest()).encode()).hexdigest()[:12]


def stub_path(module: str, *, package: bool) -> str:
    """Where the stub for ``module`` goes, relative to the install root."""
    parts = module.split(".")
    return "/".join(parts) + "/__init__.py" if package else "/".join(parts) + ".py"


def is_stub_source(text: str) -> bool:
    return text.startswith(STUB_MARKER)
