"""Reading a parsed record (TOML or JSON) field by field, collecting every problem with
its place (``distributions[3].files[0]``) instead of stopping at the first.

Every on-disk format of lean-install (profile, manifest, state, journal, misses log,
plan, lock tables) is read through a ``Table``; the caller raises one error with all the
issues (the lean-install side) or goes on with the defaults (the runtime, which must
never fail a program because a record is damaged).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, cast

__all__ = ["Issue", "Table", "too_deep"]

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_T = TypeVar("_T")


@dataclass(frozen=True)
class Issue:
    """One problem in a record: where (``distributions[3].files[0]``) and what."""

    where: str
    what: str

    def __str__(self) -> str:
        return f"{self.where}: {self.what}" if self.where else self.what


class Table:
    """Typed access to one table of a parsed record; problems go to ``issues``."""

    def __init__(self, data: Mapping[str, Any], where: str = "", issues: list[Issue] | None = None):
        self.data = data
        self.where = where
        self.issues: list[Issue] = [] if issues is None else issues

    def place(self, key: str) -> str:
        shown = key if _BARE_KEY.fullmatch(key) else json.dumps(key)
        return f"{self.where}.{shown}" if self.where else shown

    def problem(self, key: str, what: str) -> None:
        self.issues.append(Issue(self.place(key) if key else self.where, what))

    def unknown_keys(self, known: Iterable[str]) -> None:
        """Report every key of this table that the format does not define."""
        for key in sorted(set(self.data) - set(known), key=str):
            self.problem(str(key), "unknown key")

    def get(self, key: str, kind: type[_T], default: Any = ..., *, what: str = "") -> _T:
        """``data[key]`` if it is a ``kind``; else a problem and ``default`` (``kind()``
        when the key is required: no default given)."""
        if key not in self.data:
            if default is ...:
                self.problem(key, "missing")
                return kind()
            return cast(_T, default)
        value = self.data[key]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            self.problem(key, f"expected {what or kind.__name__}, got {type(value).__name__}")
            return kind() if default is ... else cast(_T, default)
        return value

    def optional(self, key: str, kind: type[_T]) -> _T | None:
        """``data[key]`` if present and a ``kind``, None if absent or null."""
        if self.data.get(key) is None:
            return None
        return self.get(key, kind)

    def strings(self, key: str, default: Sequence[str] | None = None) -> tuple[str, ...]:
        """A list of strings (required unless ``default`` is given)."""
        values = self.get(
            key, list, ... if default is None else list(default), what="a list of strings"
        )
        out = []
        for index, value in enumerate(values):
            if isinstance(value, str):
                out.append(value)
            else:
                self.issues.append(Issue(f"{self.place(key)}[{index}]", "expected a string"))
        return tuple(out)

    def string_map(self, key: str) -> dict[str, str]:
        """A table of strings (absent: empty)."""
        table = self.get(key, dict, {}, what="a table")
        out = {}
        for name, value in table.items():
            if isinstance(value, str):
                out[str(name)] = value
            else:
                self.issues.append(Issue(f"{self.place(key)}.{name}", "expected a string"))
        return out

    def table(self, key: str, *, required: bool = True) -> Table:
        default: Any = ... if required else {}
        return Table(self.get(key, dict, default, what="a table"), self.place(key), self.issues)

    def tables(self, key: str) -> list[Table]:
        """An array of tables (absent: empty)."""
        found = []
        for index, item in enumerate(self.get(key, list, [], what="an array of tables")):
            place = f"{self.place(key)}[{index}]"
            if isinstance(item, dict):
                found.append(Table(item, place, self.issues))
            else:
                self.issues.append(Issue(place, "expected a table"))
        return found

    def choice(self, key: str, choices: Sequence[str], default: str | None = None) -> str:
        """One of ``choices`` (required unless ``default`` is given)."""
        value = self.get(key, str, ... if default is None else default)
        if value and value not in choices:
            self.problem(key, f"{value!r} is not one of {', '.join(choices)}")
            return default or choices[0]
        return value or default or choices[0]


def too_deep(data: object, limit: int) -> bool:
    """Whether tables and arrays nest more than ``limit`` deep (found without recursion)."""
    stack: list[tuple[object, int]] = [(data, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(node, dict):
            stack.extend((child, depth + 1) for child in node.values())
        elif isinstance(node, list):
            stack.extend((child, depth + 1) for child in node)
    return False
