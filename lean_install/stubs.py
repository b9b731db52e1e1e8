"""Stubs: what stands where removed Python code was.

Importing a stub raises ``LeanInstallRemovedError``, a ``ModuleNotFoundError`` subclass,
so ``try: import x / except ImportError:`` fallbacks keep working. The first line of its
message says lean-install removed the module and names the distribution and the
profile; the next gives the command that brings it back. A stub imports nothing but
``sys`` and needs nothing else installed.
"""

from __future__ import annotations

__all__ = ["STUB_MARKER", "module_stub", "stub_path", "is_stub_source"]

STUB_MARKER = "# lean-install stub"

_TEMPLATE = '''{marker}: {module} was removed from {dist} {version} by a lean install.
import sys as _sys


class LeanInstallRemovedError(ModuleNotFoundError):
    """A module that lean-install removed because the usage profile never used it."""


def _lean_install_raise():
    message = (
        "lean-install removed module {module!r} (distribution {dist} {version}, "
        "profile {profile}): the workload traced for that profile never used it.\\n"
        "To bring it back: lean-install restore --python " + _sys.executable + " {dist}"
    )
    raise LeanInstallRemovedError(message, name={module!r})


_lean_install_raise()
'''


def module_stub(module: str, distribution: str, version: str, profile: str) -> str:
    """The source of the stub that replaces ``module`` (a dotted name)."""
    return _TEMPLATE.format(
        marker=STUB_MARKER,
        module=module,
        dist=distribution,
        version=version,
        profile=profile or "(none: safe policy)",
    )


def stub_path(module: str, *, package: bool) -> str:
    """Where the stub for ``module`` goes, relative to the install root."""
    parts = module.split(".")
    return "/".join(parts) + "/__init__.py" if package else "/".join(parts) + ".py"


def is_stub_source(text: str) -> bool:
    return text.startswith(STUB_MARKER)
