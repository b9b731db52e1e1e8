"""Plain text a person reads: the bloat report as Markdown tables (``render_table``), a
plan (``plan_table``) and a profile (``profile_table``)."""

from __future__ import annotations

from collections.abc import Sequence

from lean_install.classify import CATEGORIES
from lean_install.plan import Plan
from lean_install.profile import Profile
from lean_install.report import CategoryUsage, DistributionReport, Report, _share

__all__ = ["render_table", "plan_table", "profile_table"]


def _mb(size: int) -> str:
    return f"{size / 1e6:,.1f}"


def _pct(share: float) -> str:
    return f"{share * 100:.1f}%"


def _table(headers: list[str], rows: list[list[str]], *, left: int) -> list[str]:
    """A Markdown pipe table, padded; the first ``left`` columns left-aligned, the rest right."""
    widths = [max(len(r[i]) for r in [headers, *rows]) for i in range(len(headers))]

    def line(cells: list[str]) -> str:
        pairs = enumerate(zip(cells, widths, strict=True))
        padded = [c.ljust(w) if i < left else c.rjust(w) for i, (c, w) in pairs]
        return "| " + " | ".join(padded) + " |"

    rule = ["-" * (w + 2) if i < left else "-" * (w + 1) + ":" for i, w in enumerate(widths)]
    return [line(headers), "|" + "|".join(rule) + "|", *(line(r) for r in rows)]


def _row(
    name: str,
    version: str,
    files: int,
    size: int,
    used: int,
    removable: int,
    removed: int,
    report: Report,
    inside: Sequence[int] = (),
) -> list[str]:
    head = [name, version, f"{files:,}", _mb(size)]
    if report.has_profile:
        cells = [*head, _mb(used), _mb(size - used), _pct(_share(size - used, size))]
    else:
        cells = [*head, _mb(removable), _pct(_share(removable, size))]
    return [*cells, *map(_mb, (removed, *inside))] if report.removed_bytes else cells


_INSIDE = {"symbols": "of it MB symbols", "fatbins": "of it MB GPU code"}
"""The parts of the removed bytes that came out of libraries kept, and their columns."""


def _inside(report: Report) -> list[str]:
    """The parts of ``_INSIDE`` that some distribution of ``report`` has."""
    removals = [d.removed for d in report.distributions if d.removed]
    return [part for part in _INSIDE if any(getattr(r, part) for r in removals)]


def _distribution_table(report: Report, top: int) -> list[str]:
    dists = sorted(report.distributions, key=lambda d: (-d.bytes, d.name))
    parts = _inside(report)

    def inside(group: Sequence[DistributionReport]) -> list[int]:
        return [sum(getattr(d.removed, part) for d in group if d.removed) for part in parts]

    rows = []
    for d in dists[:top]:
        version = d.version + (f" (profile: {d.profile_version})" if d.profile_version else "")
        removed = d.removed.bytes if d.removed else 0
        rows.append(_row(d.name, version, d.files, d.bytes, d.used_bytes, d.removable_bytes,
                         removed, report, inside([d])))  # fmt: skip
    rest = dists[top:]
    if rest:
        rows.append(
            _row(
                f"({len(rest)} more)",
                "",
                sum(d.files for d in rest),
                sum(d.bytes for d in rest),
                sum(d.used_bytes for d in rest),
                sum(d.removable_bytes for d in rest),
                sum(d.removed.bytes for d in rest if d.removed),
                report,
                inside(rest),
            )
        )
    u = report.unowned
    if u.files:
        rows.append(_row("(no distribution)", "", u.files, u.bytes, 0, u.removable_bytes, 0,
                         report, [0] * len(parts)))  # fmt: skip
    t = report.totals
    rows.append(
        _row(
            "total",
            "",
            t.files,
            t.bytes,
            t.used_bytes,
            report.bloat_bytes if not report.has_profile else 0,
            report.removed_bytes,
            report,
            inside(report.distributions),
        )
    )
    tail = ["MB used", "MB unused", "% unused"] if report.has_profile else ["MB removable", "%"]
    tail += ["MB removed", *(_INSIDE[part] for part in parts)] if report.removed_bytes else []
    return _table(["distribution", "version", "files", "MB installed", *tail], rows, left=2)


def _category_table(report: Report) -> list[str]:
    totals = report.totals
    rows = []
    for category in CATEGORIES:
        c = totals.categories.get(category, CategoryUsage())
        cells = [category, f"{c.files:,}", _mb(c.bytes)]
        if report.has_profile:
            cells += [_mb(c.used_bytes), _mb(c.unused_bytes)]
        rows.append([*cells, _pct(_share(c.bytes, totals.bytes))])
    tail = ["MB used", "MB unused"] if report.has_profile else []
    return _table(["category", "files", "MB installed", *tail, "% of installed"], rows, left=1)


def _summary(report: Report) -> list[str]:
    t = report.totals
    lines = [
        f"Installed: {_mb(t.bytes)} MB in {t.files:,} files "
        f"({len(report.distributions)} distributions; {report.unowned.files:,} files "
        f"owned by none)."
    ]
    if report.has_profile:
        lines.append(f"Used by the profile: {_mb(t.used_bytes)} MB in {t.used_files:,} files.")
        why = "never used by the profile"
    else:
        why = (
            "what no program needs to run (tests, headers, static libraries, CMake files, "
            "type stubs, docs: what --policy safe removes); pass a profile to measure what "
            "a workload never used"
        )
    lines.append(
        f"Bloat: {_mb(report.bloat_bytes)} MB, {_pct(report.bloat_share)} of the bytes ({why})."
    )
    if report.removed_bytes:
        removals = [d.removed for d in report.distributions if d.removed]
        symbols, fatbins = sum(r.symbols for r in removals), sum(r.fatbins for r in removals)
        parts = [f"{_mb(symbols)} MB symbol tables"] if symbols else []
        parts += [f"{_mb(fatbins)} MB other GPUs' code"] if fatbins else []
        of_which = f", of it {' and '.join(parts)} in libraries kept" if parts else ""
        lines.append(
            f"Removed by lean installs: {_mb(report.removed_bytes)} MB{of_which} "
            "(and not restored since)."
        )
    if t.missing:
        lines.append(f"Missing: {t.missing:,} files listed in a RECORD are not on disk.")
    return lines


def render_table(report: Report, *, top: int = 30) -> str:
    """The report as plain text: Markdown tables of the ``top`` distributions by size and
    of the categories, then the totals. Sizes in MB (10^6 bytes) with one decimal."""
    env = report.environment
    head = [f"Python {env.python} at {env.prefix} ({', '.join(env.site_packages)})", ""]
    body = [*_distribution_table(report, top), "", *_category_table(report), ""]
    return "\n".join([*head, *body, *_summary(report)]) + "\n"


def profile_table(profile: Profile) -> str:
    lines = [
        f"{'distribution':<28} {'version':<16} {'loaded':>7} {'probed':>7} {'listed':>7}  scripts"
    ]
    for dist in profile.distributions:
        mark = " (also seen: " + ", ".join(dist.also_seen) + ")" if dist.also_seen else ""
        lines.append(
            f"{dist.name:<28} {dist.version:<16} {len(dist.files):>7} "
            f"{len(dist.probed):>7} {len(dist.listing):>7}  {', '.join(dist.scripts)}{mark}"
        )
    lines.append("")
    for trace in profile.traces:
        gpu = " gpu" if trace.gpu else ""
        lines.append(
            f"trace {trace.created} {trace.status:<6} backend={trace.backend} "
            f"processes={trace.processes}{gpu} python={trace.environment.python} "
            f"{trace.environment.platform} {trace.environment.prefix_kind}: "
            + " ".join(trace.command)
        )
    return "\n".join(lines)


def plan_table(plan: Plan) -> str:
    lines = [
        f"{'distribution':<26} {'version':<24} {'decision':<8} {'rule':<8} {'MB':>8} "
        f"{'saved':>8}  reason"
    ]
    for d in plan.distributions:
        lines.append(
            f"{d.name:<26} {d.lean_version:<24} {d.decision:<8} {d.rule:<8} "
            f"{d.bytes_installed / 1e6:>8.1f} {d.bytes_saved / 1e6:>8.1f}  {d.reason}"
        )
        lines.extend(f"{'':<26} note: {note}" for note in d.notes)
    total, saved = plan.bytes_installed, plan.bytes_saved
    share = f" ({saved / total:.0%})" if total else ""
    lines.append(
        f"policy {plan.policy}; profile {plan.profile_label or '(none)'}; "
        f"{saved / 1e6:.1f} MB of {total / 1e6:.1f} MB left out{share}"
    )
    lines.extend(f"note: {note}" for note in plan.notes)
    return "\n".join(lines)
