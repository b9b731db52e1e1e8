"""Siblings: the pure-Python modules next to the ones a profile saw imported.

A profile made of many programs still misses the module a new program reaches one step
further: ``sklearn.naive_bayes`` beside the ``sklearn.linear_model`` it saw,
``pandas.tseries.holiday`` beside ``pandas.tseries.offsets``, ``torch.func.jvp``'s
``torch._decomp.decompositions_for_jvp`` beside ``torch._decomp``. Their sources are small
(1.8 MB for the tabular stack's 102 such modules, 9 MB for torch's), and kept without
bytecode they cost only that. A curated profile (one of the bundled profiles: it stands for
everyday use of a stack, not for one program) therefore keeps, in every package a
same-version profile saw imported:

- the ``.py`` modules directly in it (but tests and the like, which no program needs);
- what those modules import at their top level from their own distribution (a relative
  or absolute import of a module the wheel has, source or extension module), and so on,
  read from their source: the subpackage ``sklearn.frozen`` that ``sklearn.calibration``
  imports.

Modules the profile only probed are kept too, as they were where it was traced (not as
the stubs that stand for them otherwise: ``torch._decomp.decompositions_for_jvp`` is one).
This runs before the shared-library closure, which then covers the extension modules
added.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from packaging.utils import NormalizedName

from lean_install.listing import Contents
from lean_install.wheel import OriginalWheel
from lean_install.wheelplan import Roots

__all__ = ["add_siblings", "siblings"]


def add_siblings(
    all_roots: Mapping[NormalizedName, Roots], originals: Mapping[NormalizedName, Path]
) -> None:
    """Add to the roots of each wheel planned by a same-version (curated) profile its
    ``siblings``."""
    for name, own in all_roots.items():
        if own.rule == "exact":
            with OriginalWheel.open(originals[name]) as wheel:
                own.keep |= siblings(own.contents, own.keep, wheel.read)


def siblings(contents: Contents, keep: set[str], read: Callable[[str], bytes]) -> set[str]:
    """The members to keep beside ``keep``: the siblings and what they import (see the
    module docstring). ``read`` gives a member's bytes."""
    packages = {
        contents.module_of[m] for m in keep if m in contents.module_of and _is_init(contents, m)
    }
    found = {
        member
        for member, module in contents.module_of.items()
        if member.endswith(".py")
        and not _is_init(contents, member)
        and module.rpartition(".")[0] in packages
        and member not in keep
        and not contents.classifier.removable(member)
    }
    todo = list(found)
    while todo:
        member = todo.pop()
        if not member.endswith(".py"):
            continue
        for module in _imports(contents.module_of[member], member, read):
            for needed in _module_files(contents, module):
                if needed not in keep and needed not in found:
                    found.add(needed)
                    todo.append(needed)
    return found


def _is_init(contents: Contents, member: str) -> bool:
    return contents.installed[member].rpartition("/")[2].startswith("__init__.")


def _module_files(contents: Contents, module: str) -> list[str]:
    """The files of ``module`` (a source, or an extension module) and of the packages it
    is in (their ``__init__``)."""
    parts = module.split(".")
    return [
        m
        for depth in range(1, len(parts) + 1)
        for m in contents.members_of(".".join(parts[:depth]))
    ]


def _imports(module: str, member: str, read: Callable[[str], bytes]) -> Iterable[str]:
    """The modules a source imports at its top level (not inside functions or ``try``),
    absolute names; nothing for a source that does not parse."""
    try:
        tree = ast.parse(read(member))
    except (SyntaxError, ValueError):
        return []
    package = module if member.endswith("__init__.py") else module.rpartition(".")[0]
    names: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(package, node.module, node.level)
            if base is not None:
                names.append(base)
                names += [f"{base}.{alias.name}" for alias in node.names if alias.name != "*"]
    return names


def _absolute(package: str, module: str | None, level: int) -> str | None:
    if level == 0:
        return module
    parts = package.split(".") if package else []
    if level - 1 > len(parts):
        return None
    base = parts[: len(parts) - (level - 1)]
    return ".".join([*base, *([module] if module else [])]) or None
