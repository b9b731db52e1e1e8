"""The bloat report as one self-contained HTML page: a treemap, a legend, the tables.

The treemap shows the environment by distribution, and inside each distribution by
category of file (``report.categorize``); every cell is coloured by what its bytes are:

- **used**: bytes the profile used (with a profile);
- **installed**: bytes of unknown use (without a profile);
- **removable**: bytes still installed that the profile never used (without a profile:
  what no program needs to run, what ``--policy safe`` removes: ``classify``);
- **removed**: bytes a lean install left out, as the report read them from the
  manifest of each lean-installed distribution. A cell's area counts them, so a lean
  environment is drawn at its original size.

The layout is computed here (``squarify``) and written as inline SVG with ``<title>``
tooltips: no script, no stylesheet or font from anywhere, nothing fetched.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, get_args

from lean_install.classify import CATEGORIES, Category
from lean_install.report import CategoryUsage, Removal, Report

__all__ = [
    "Status",
    "STATUSES",
    "COLOURS",
    "Rect",
    "squarify",
    "render_html",
    "write_html",
]

Status = Literal["used", "installed", "removable", "removed"]
STATUSES: tuple[Status, ...] = get_args(Status)
COLOURS: dict[Status, str] = {
    "used": "#3f7fbf",
    "installed": "#8c8c8c",
    "removable": "#f08c28",
    "removed": "#d9d9d9",
}
"""Each status's fill; ``removed`` is hatched with ``_HATCH`` stripes over this colour."""
_HATCH = "#a0a0a0"
_LEGEND: dict[Status, str] = {
    "used": "used: the profile used these bytes",
    "installed": "installed: no profile, use unknown",
    "removable": "removable: installed, never used by the profile",
    "removed": "removed: left out by a lean install",
}
_LEGEND_NO_PROFILE = "removable: what no program needs to run (what --policy safe removes)"

WIDTH, HEIGHT = 1200, 640
"""The treemap's size in CSS pixels."""
_BAND = 18
"""Height of a distribution's name band, drawn when the distribution is large enough."""
_FONT = 12


# -- layout ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    w: float
    h: float

    @property
    def area(self) -> float:
        return self.w * self.h


def _worst(row: Sequence[float], side: float) -> float:
    """The worst aspect ratio of ``row`` (areas) laid along a side of length ``side``."""
    total = sum(row)
    ratios = (side * side * a / (total * total) for a in row)
    return max(max(r, 1 / r) for r in ratios)


def _lay_row(row: Sequence[float], free: Rect) -> tuple[list[Rect], Rect]:
    """Place ``row`` (areas) along the shorter side of ``free``; return it and what is left."""
    total = sum(row)
    rects = []
    if free.w >= free.h:
        width = total / free.h if free.h else 0.0
        y = free.y
        for a in row:
            rects.append(Rect(free.x, y, width, a / width if width else 0.0))
            y += rects[-1].h
        return rects, Rect(free.x + width, free.y, max(free.w - width, 0.0), free.h)
    height = total / free.w if free.w else 0.0
    x = free.x
    for a in row:
        rects.append(Rect(x, free.y, a / height if height else 0.0, height))
        x += rects[-1].w
    return rects, Rect(free.x, free.y + height, free.w, max(free.h - height, 0.0))


def squarify(sizes: Sequence[float], rect: Rect) -> list[Rect]:
    """Tile ``rect`` with one rectangle per size, areas proportional to the sizes.

    The squarified treemap (Bruls, Huizing, van Wijk 2000): sizes are placed largest
    first, in rows along the shorter side of the free space, a row growing while that
    does not worsen its worst aspect ratio. The result is in the order of ``sizes``; a
    size of 0 or less gets an empty rectangle at ``rect``'s origin.
    """
    out = [Rect(rect.x, rect.y, 0.0, 0.0)] * len(sizes)
    order = sorted((i for i, s in enumerate(sizes) if s > 0), key=lambda i: -sizes[i])
    total = sum(sizes[i] for i in order)
    if not order or rect.area <= 0:
        return out
    areas = [sizes[i] * rect.area / total for i in order]
    placed: list[Rect] = []
    free, row = rect, [areas[0]]
    for area in areas[1:]:
        side = min(free.w, free.h)
        if _worst([*row, area], side) <= _worst(row, side):
            row.append(area)
            continue
        rects, free = _lay_row(row, free)
        placed += rects
        row = [area]
    placed += _lay_row(row, free)[0]
    for i, placed_rect in zip(order, placed, strict=True):
        out[i] = placed_rect
    return out


def _slices(rect: Rect, sizes: Sequence[float]) -> list[Rect]:
    """Cut ``rect`` into strips proportional to ``sizes``, across its longer side."""
    total = sum(sizes)
    out, offset = [], 0.0
    for size in sizes:
        share = size / total if total else 0.0
        if rect.w >= rect.h:
            out.append(Rect(rect.x + offset, rect.y, rect.w * share, rect.h))
            offset += rect.w * share
        else:
            out.append(Rect(rect.x, rect.y + offset, rect.w, rect.h * share))
            offset += rect.h * share
    return out


# -- the treemap's data -------------------------------------------------------------------


@dataclass(frozen=True)
class _Node:
    """One distribution (or the unowned files): bytes per category and status."""

    name: str
    version: str
    lean: str
    cells: dict[Category, dict[Status, int]]

    @property
    def total(self) -> int:
        return sum(sum(c.values()) for c in self.cells.values())

    def bytes(self, status: Status) -> int:
        return sum(c.get(status, 0) for c in self.cells.values())


def _statuses(
    usage: CategoryUsage, removed: int, has_profile: bool, removable: bool
) -> dict[Status, int]:
    if has_profile:
        out: dict[Status, int] = {"used": usage.used_bytes, "removable": usage.unused_bytes}
    elif removable:
        out = {"removable": usage.bytes}
    else:
        out = {"installed": usage.bytes}
    out["removed"] = removed
    return {s: out[s] for s in STATUSES if out.get(s)}


def _node(
    name: str,
    version: str,
    categories: Mapping[Category, CategoryUsage],
    removal: Removal | None,
    has_profile: bool,
    removable: Sequence[Category],
) -> _Node:
    removed = removal.categories if removal else {}
    cells = {}
    for c in CATEGORIES:
        usage = categories.get(c, CategoryUsage())
        cell = _statuses(usage, removed.get(c, 0), has_profile, c in removable)
        if cell:
            cells[c] = cell
    lean = {"strip": "stripped", "stub": "stub"}.get(removal.decision, "") if removal else ""
    return _Node(name, version, lean, cells)


def _nodes(report: Report) -> list[_Node]:
    """Every distribution, then the unowned files, largest first (removed bytes count)."""
    p = report.has_profile
    nodes = [
        _node(d.name, d.version, d.categories, d.removed, p, d.removable_categories)
        for d in report.distributions
    ]
    if report.unowned.files:
        # No profile can attribute unowned files: with a profile they are all removable.
        unowned = {c: CategoryUsage(u.files, u.bytes) for c, u in report.unowned.categories.items()}
        nodes.append(_node("(no distribution)", "", unowned, None, p, ()))
    return sorted(nodes, key=lambda n: (-n.total, n.name))


# -- SVG ------------------------------------------------------------------------------------


def _mb(size: int) -> str:
    return f"{size / 1e6:,.1f}"


def _fits(text: str, rect: Rect, size: int = _FONT) -> bool:
    """Whether ``text`` at font ``size`` fits in ``rect`` (a generous width estimate)."""
    return len(text) * size * 0.62 + 6 <= rect.w and rect.h >= size + 4


def _num(value: float) -> str:
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _rect(r: Rect, attrs: str) -> str:
    box = f'x="{_num(r.x)}" y="{_num(r.y)}" width="{_num(r.w)}" height="{_num(r.h)}"'
    return f"<rect {box} {attrs}/>"


def _text(r: Rect, text: str, attrs: str) -> str:
    x, y = _num(r.x + 4), _num(r.y + _FONT + 1)
    return f'<text x="{x}" y="{y}" {attrs}>{html.escape(text)}</text>'


def _fill(status: Status) -> str:
    return 'fill="url(#removed)"' if status == "removed" else f'fill="{COLOURS[status]}"'


def _tooltip(lines: Sequence[str]) -> str:
    return f"<title>{html.escape(chr(10).join(lines))}</title>"


def _cell_svg(node: _Node, category: Category, rect: Rect) -> list[str]:
    """One category of one distribution: a strip per status, a label if it fits."""
    cell = node.cells[category]
    statuses = list(cell)
    lines = [f"{node.name}: {category}", *(f"{s}: {_mb(cell[s])} MB" for s in statuses)]
    out = ['<g class="category">', _tooltip(lines)]
    strips = _slices(rect, [cell[s] for s in statuses])
    out += [_rect(r, f'class="{s}" {_fill(s)}') for s, r in zip(statuses, strips, strict=True)]
    out.append(_rect(rect, 'class="cell-edge" fill="none" stroke="#fff" stroke-width="1"'))
    label = f"{category} {_mb(sum(cell.values()))} MB"
    for text in (label, category):
        if _fits(text, rect):
            out.append(_text(rect, text, 'class="category-label"'))
            break
    return [*out, "</g>"]


def _node_svg(node: _Node, rect: Rect) -> list[str]:
    """One distribution: its frame, a name band if it fits, its categories inside."""
    lines = [f"{node.name} {node.version}".strip(), f"{_mb(node.total)} MB in total"]
    lines += [f"{s}: {_mb(node.bytes(s))} MB" for s in STATUSES if node.bytes(s)]
    if node.lean:
        lines.append(f"lean install: {node.lean}")
    out = [f'<g class="distribution" data-name="{html.escape(node.name)}">', _tooltip(lines)]
    out.append(_rect(rect, 'class="frame" fill="#2b2b2b"'))
    inner = Rect(rect.x + 1, rect.y + 1, max(rect.w - 2, 0), max(rect.h - 2, 0))
    name = f"{node.name} {_mb(node.total)} MB"
    label = next((t for t in (name, node.name) if _fits(t, inner)), None)
    if label is not None and inner.h >= 3 * _BAND:
        out.append(_text(inner, label, 'class="distribution-label"'))
        inner = Rect(inner.x, inner.y + _BAND, inner.w, inner.h - _BAND)
    categories = list(node.cells)
    sizes = [sum(node.cells[c].values()) for c in categories]
    for category, r in zip(categories, squarify(sizes, inner), strict=True):
        if r.area > 0:
            out += _cell_svg(node, category, r)
    return [*out, "</g>"]


def _treemap_svg(nodes: Sequence[_Node]) -> str:
    canvas = Rect(0, 0, WIDTH, HEIGHT)
    rects = squarify([n.total for n in nodes], canvas)
    hatch = (
        '<defs><pattern id="removed" width="8" height="8" patternUnits="userSpaceOnUse"'
        ' patternTransform="rotate(45)">'
        f'<rect width="8" height="8" fill="{COLOURS["removed"]}"/>'
        f'<rect width="3" height="8" fill="{_HATCH}"/></pattern></defs>'
    )
    out = [
        f'<svg class="treemap" width="{WIDTH}"'
        f' height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img"'
        ' aria-label="treemap of the environment by distribution and category">',
        hatch,
    ]
    for node, rect in zip(nodes, rects, strict=True):
        if rect.area > 0:
            out += _node_svg(node, rect)
    return "\n".join([*out, "</svg>"])


# -- the page -------------------------------------------------------------------------------


_CSS = """
body { font: 14px/1.4 system-ui, "DejaVu Sans", sans-serif; margin: 24px; color: #111;
       background: #fff; }
h1 { font-size: 20px; margin: 0 0 4px; }
h2 { font-size: 16px; margin: 24px 0 8px; }
p.where { color: #555; margin: 0 0 12px; }
ul.summary { margin: 0 0 12px; padding-left: 20px; }
.treemap { display: block; max-width: 100%; height: auto; }
.treemap rect { shape-rendering: crispEdges; }
.treemap text { font: 12px system-ui, "DejaVu Sans", sans-serif; pointer-events: none; }
.distribution-label { fill: #fff; font-weight: bold; }
.category-label { fill: #111; paint-order: stroke; stroke: #fff; stroke-width: 3px;
                  stroke-linejoin: round; }
.legend { display: flex; flex-wrap: wrap; gap: 6px 20px; margin: 10px 0; padding: 0;
          list-style: none; }
.legend li { display: flex; align-items: center; gap: 6px; }
.swatch { display: inline-block; width: 14px; height: 14px; border: 1px solid #555; }
table { border-collapse: collapse; margin-bottom: 8px; }
th, td { padding: 3px 10px; border-bottom: 1px solid #ddd; }
th { text-align: right; background: #f3f3f3; }
td { text-align: right; font-variant-numeric: tabular-nums; }
th:first-child, td:first-child, .text { text-align: left; }
tr.total td { font-weight: bold; border-top: 2px solid #999; }
p.note { color: #555; max-width: 1200px; }
"""


def _swatch(status: Status) -> str:
    colour = COLOURS[status]
    if status == "removed":
        background = f"repeating-linear-gradient(45deg, {_HATCH} 0 3px, {colour} 3px 8px)"
    else:
        background = colour
    return f'<span class="swatch" style="background: {background}"></span>'


def _legend(statuses: Sequence[Status], has_profile: bool) -> str:
    items = []
    for status in statuses:
        label = _LEGEND_NO_PROFILE if status == "removable" and not has_profile else _LEGEND[status]
        items.append(f'<li class="legend-{status}">{_swatch(status)}{html.escape(label)}</li>')
    return '<ul class="legend">' + "".join(items) + "</ul>"


def _shown(has_profile: bool, removed: bool) -> list[Status]:
    """The statuses the page shows: ``removed`` only when something was removed."""
    shown: list[Status] = ["used" if has_profile else "installed", "removable"]
    return [*shown, "removed"] if removed else shown


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], text_columns: int) -> str:
    """An HTML table; the first ``text_columns`` columns are text, the last row a total."""
    head = "".join(
        f'<th class="text">{html.escape(h)}</th>'
        if j < text_columns
        else f"<th>{html.escape(h)}</th>"
        for j, h in enumerate(headers)
    )
    body = []
    for i, row in enumerate(rows):
        cls = ' class="total"' if i == len(rows) - 1 else ""
        cells = "".join(
            f'<td class="text">{html.escape(c)}</td>' if j < text_columns else f"<td>{c}</td>"
            for j, c in enumerate(row)
        )
        body.append(f"<tr{cls}>{cells}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _distribution_table(report: Report, nodes: Sequence[_Node], statuses: Sequence[Status]) -> str:
    files = {d.name: d.files for d in report.distributions}
    files["(no distribution)"] = report.unowned.files
    rows = []
    for n in nodes:
        installed = _mb(n.total - n.bytes("removed"))
        head = [n.name, n.version, n.lean or "-", f"{files[n.name]:,}", installed]
        rows.append([*head, *(_mb(n.bytes(s)) for s in statuses)])
    t = report.totals
    sums = [_mb(sum(n.bytes(s) for n in nodes)) for s in statuses]
    rows.append(["total", "", "", f"{t.files:,}", _mb(t.bytes), *sums])
    headers = ["distribution", "version", "lean install", "files", "MB installed"]
    return _table([*headers, *(f"MB {s}" for s in statuses)], rows, 3)


def _category_table(report: Report, nodes: Sequence[_Node], statuses: Sequence[Status]) -> str:
    totals = report.totals
    rows = []
    for category in CATEGORIES:
        c = totals.categories.get(category, CategoryUsage())
        sums = [sum(n.cells.get(category, {}).get(s, 0) for n in nodes) for s in statuses]
        rows.append([category, f"{c.files:,}", _mb(c.bytes), *map(_mb, sums)])
    sums = [sum(n.bytes(s) for n in nodes) for s in statuses]
    rows.append(["total", f"{totals.files:,}", _mb(totals.bytes), *map(_mb, sums)])
    headers = ["category", "files", "MB installed", *(f"MB {s}" for s in statuses)]
    return _table(headers, rows, 1)


def _summary(report: Report, nodes: Sequence[_Node]) -> str:
    t = report.totals
    items = [
        f"Installed: {_mb(t.bytes)} MB in {t.files:,} files, "
        f"{len(report.distributions)} distributions."
    ]
    if report.has_profile:
        items.append(f"Used by the profile: {_mb(t.used_bytes)} MB in {t.used_files:,} files.")
    items.append(
        f"Removable: {_mb(report.bloat_bytes)} MB, {report.bloat_share * 100:.1f}% of the "
        "installed bytes."
    )
    removals = {d.name: d.removed for d in report.distributions if d.removed}
    stripped = [r for r in removals.values() if r.decision == "strip"]
    stubs = sorted(n for n, r in removals.items() if r.decision == "stub")
    if removals:
        removed = report.removed_bytes
        files = sum(r.files for r in stripped)
        text = f"Removed by lean install: {_mb(removed)} MB in {files:,} files"
        text += f" from {len(stripped)} stripped distributions"
        if stubs:
            text += f"; {len(stubs)} stubbed ({', '.join(stubs)}), original size not recorded"
        items.append(text + ".")
    return '<ul class="summary">' + "".join(f"<li>{html.escape(i)}</li>" for i in items) + "</ul>"


_NOTE = (
    "Each rectangle is a distribution, its area its bytes (removed bytes included); inside "
    "it, one cell per category of file, split by status. Hover for the numbers. Sizes are "
    "MB (10^6 bytes) measured on disk; removed bytes are the sizes the lean install's "
    "manifests record (the bytecode pip would have compiled for removed modules is not "
    "counted)."
)


def render_html(report: Report, *, title: str | None = None) -> str:
    """The report as one self-contained HTML page (no script, nothing fetched), with what
    lean installs removed from its environment (``DistributionReport.removed``)."""
    nodes = _nodes(report)
    env = report.environment
    heading = title or f"lean-install report: {env.prefix}"
    shown = _shown(report.has_profile, any(d.removed for d in report.distributions))
    where = f"Python {env.python} at {env.prefix} ({', '.join(env.site_packages)})"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{html.escape(heading)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{html.escape(heading)}</h1>",
        f'<p class="where">{html.escape(where)}</p>',
        _summary(report, nodes),
        _legend(shown, report.has_profile),
        _treemap_svg(nodes),
        f'<p class="note">{html.escape(_NOTE)}</p>',
        "<h2>Distributions</h2>",
        _distribution_table(report, nodes, shown),
        "<h2>Categories</h2>",
        _category_table(report, nodes, shown),
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def write_html(report: Report, path: Path, *, title: str | None = None) -> None:
    """Write ``report`` as an HTML page to ``path``."""
    Path(path).write_text(render_html(report, title=title), encoding="utf-8")
