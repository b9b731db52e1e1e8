"""The HTML report: the treemap layout, the removed bytes read from lean installs'
manifests, and the page as headless Chromium renders it (DOM and screenshot)."""

from __future__ import annotations

import dataclasses
import random
import re
import shutil
import struct
import subprocess
import zlib
from collections import Counter
from pathlib import Path

import pytest
from conftest import build_wheel, create_venv, pip_install
from packaging.utils import NormalizedName, canonicalize_name

from lean_install.environment import Environment
from lean_install.html import (
    COLOURS,
    HEIGHT,
    WIDTH,
    Rect,
    Status,
    render_html,
    squarify,
    write_html,
)
from lean_install.measure import _removal, build_report
from lean_install.plan import DistributionPlan
from lean_install.profile import DistributionUsage, Profile
from lean_install.report import Removal, Report
from lean_install.runtime.layout import MANIFEST_NAME
from lean_install.strip import build_stripped_wheel, build_stub_distribution

# -- squarify ---------------------------------------------------------------------------------


def overlap(a: Rect, b: Rect) -> float:
    w = min(a.x + a.w, b.x + b.w) - max(a.x, b.x)
    h = min(a.y + a.h, b.y + b.h) - max(a.y, b.y)
    return max(w, 0.0) * max(h, 0.0)


def test_squarify_reproduces_the_papers_example() -> None:
    """Bruls et al., figure 4: 6 6 4 3 2 2 1 in a 6 x 4 rectangle."""
    rects = squarify([6, 6, 4, 3, 2, 2, 1], Rect(0, 0, 6, 4))
    rounded = [tuple(round(v, 3) for v in (r.x, r.y, r.w, r.h)) for r in rects]
    assert rounded[:2] == [(0, 0, 3, 2), (0, 2, 3, 2)]
    assert rounded[2:4] == [(3, 0, 1.714, 2.333), (4.714, 0, 1.286, 2.333)]
    assert [r[1] for r in rounded[4:]] == [2.333] * 3  # the last row fills the bottom strip
    assert sum(r[2] for r in rounded[4:]) == pytest.approx(3, abs=0.01)


def test_squarify_tiles_the_rectangle_in_proportion() -> None:
    rng = random.Random(7)
    for _ in range(50):
        sizes = [
            rng.choice([0, rng.random(), rng.random() * 1000]) for _ in range(rng.randint(1, 30))
        ]
        box = Rect(
            rng.random() * 10, rng.random() * 10, 1 + rng.random() * 500, 1 + rng.random() * 300
        )
        rects = squarify(sizes, box)
        assert len(rects) == len(sizes)
        total = sum(sizes)
        for size, r in zip(sizes, rects, strict=True):
            assert r.area == pytest.approx(
                size / total * box.area if total else 0, rel=1e-9, abs=1e-9
            )
            assert box.x - 1e-9 <= r.x and r.x + r.w <= box.x + box.w + 1e-6
            assert box.y - 1e-9 <= r.y and r.y + r.h <= box.y + box.h + 1e-6
        for i, a in enumerate(rects):
            assert all(overlap(a, b) < 1e-6 for b in rects[i + 1 :])


def test_squarify_makes_squares_and_handles_nothing() -> None:
    quarters = squarify([1, 1, 1, 1], Rect(0, 0, 2, 2))
    assert sorted((r.x, r.y, r.w, r.h) for r in quarters) == [
        (0, 0, 1, 1),
        (0, 1, 1, 1),
        (1, 0, 1, 1),
        (1, 1, 1, 1),
    ]
    assert squarify([], Rect(0, 0, 5, 5)) == []
    assert [r.area for r in squarify([0, -1, 0], Rect(1, 2, 5, 5))] == [0, 0, 0]
    assert [r.area for r in squarify([3, 1], Rect(0, 0, 0, 5))] == [0, 0]


# -- a real environment: a kept, a stripped and a stubbed distribution --------------------

NATIVE = b"\x7fELF" + bytes(120_000)
ALPHA: dict[str, str | bytes] = {
    "alpha/__init__.py": "from alpha import core\n",
    "alpha/core.py": "def f():\n    return 1\n" * 200,
    "alpha/_native.cpython-311-x86_64-linux-gnu.so": NATIVE,
    "alpha/data/table.csv": "a,b\n1,2\n" * 40_000,
    "alpha/tests/test_core.py": "def test():\n    pass\n" * 3000,
}
BETA: dict[str, str | bytes] = {
    "beta/__init__.py": "from beta import core\n",
    "beta/core.py": "X = 1\n" * 3000,
    "beta/_native.cpython-311-x86_64-linux-gnu.so": NATIVE,
    "beta/extra.py": "Y = 2\n" * 8000,
    "beta/tests/test_beta.py": "def test():\n    pass\n" * 4000,
    "beta/include/beta.h": "int beta(void);\n" * 4000,
}
BETA_DROP = ("beta/extra.py", "beta/tests/test_beta.py", "beta/include/beta.h")


def beta_plan() -> DistributionPlan:
    return DistributionPlan(
        name=canonicalize_name("beta"),
        version="2.0",
        decision="strip",
        reason="test",
        drop=BETA_DROP,
        stub_modules=("beta.extra",),
        profile_label="html-test",
    )


def gamma_plan() -> DistributionPlan:
    return DistributionPlan(
        name=canonicalize_name("gamma"),
        version="0.5",
        decision="stub",
        reason="test",
        stub_modules=("gamma",),
        profile_label="html-test",
    )


def make_profile() -> Profile:
    return Profile(
        distributions=(
            DistributionUsage(
                name=NormalizedName("alpha"),
                version="1.0",
                files=("alpha/__init__.py", "alpha/_native.cpython-311-x86_64-linux-gnu.so"),
            ),
            DistributionUsage(
                name=NormalizedName("beta"),
                version="2.0",
                files=(
                    "beta/__init__.py",
                    "beta/core.py",
                    "beta/_native.cpython-311-x86_64-linux-gnu.so",
                ),
            ),
        )
    )


@pytest.fixture(scope="module")
def environment(tmp_path_factory: pytest.TempPathFactory) -> Environment:
    base = tmp_path_factory.mktemp("html")
    python = create_venv(base / "venv")
    alpha = build_wheel(base / "wheels", "alpha", "1.0", ALPHA)
    beta = build_wheel(base / "wheels", "beta", "2.0", BETA)
    stripped = build_stripped_wheel(beta, beta_plan(), base / "lean")
    stub = build_stub_distribution(gamma_plan(), base / "lean")
    pip_install(python, str(alpha), str(stripped), str(stub))
    return Environment.inspect(python)


@pytest.fixture(scope="module")
def report(environment: Environment) -> Report:
    return build_report(environment, make_profile())


def read_removals(report: Report) -> dict[str, Removal]:
    return {d.name: d.removed for d in report.distributions if d.removed}


def test_removals_come_from_the_manifests(report: Report) -> None:
    removals = read_removals(report)
    assert set(removals) == {"beta", "gamma"}
    beta, gamma = removals["beta"], removals["gamma"]
    sizes = {path: len(str(BETA[path]).encode()) for path in BETA_DROP}
    assert (beta.decision, beta.files, beta.bytes) == ("strip", 3, sum(sizes.values()))
    assert beta.categories == {
        "source": sizes["beta/extra.py"],
        "tests": sizes["beta/tests/test_beta.py"],
        "headers": sizes["beta/include/beta.h"],
    }
    assert beta.profile == "html-test"
    assert (gamma.decision, gamma.files, gamma.bytes) == ("stub", 0, 0)


def test_unreadable_manifests_are_skipped(tmp_path: Path) -> None:
    for name, text in [("bad", "{not json"), ("odd", '{"removed": {"x.py": "12"}}'), ("ok", "")]:
        info = tmp_path / f"{name}-1.0.dist-info"
        info.mkdir()
        if text:
            (info / MANIFEST_NAME).write_text(text)
    good = tmp_path / "good-1.0+lean.ab.dist-info"
    good.mkdir()
    (good / MANIFEST_NAME).write_text(
        '{"name": "good", "version": "1.0", "decision": "strip", '
        '"removed": {"good/tests/test_t.py": 5}}'
    )
    names = ("bad", "odd", "ok")
    removals = {n: _removal(str(tmp_path), f"{n}-1.0.dist-info") for n in names}
    assert removals == dict.fromkeys(names)
    good_removal = _removal(str(tmp_path), good.name)
    assert good_removal is not None and good_removal.categories == {"tests": 5}


def frame_area(page: str, name: str) -> float:
    found = re.search(
        rf'data-name="{name}">\s*<title>[^<]*</title>\s*<rect x="[\d.]+" y="[\d.]+"'
        r' width="([\d.]+)" height="([\d.]+)"',
        page,
    )
    assert found, name
    return float(found[1]) * float(found[2])


def test_page_is_self_contained_and_counts_removed_bytes(report: Report) -> None:
    removals = read_removals(report)
    page = render_html(report, title='<lean> & "env"')
    assert "<title>&lt;lean&gt; &amp; &quot;env&quot;</title>" in page
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", page, re.I)
    assert "<script" not in page.lower() and "@import" not in page and "url(http" not in page
    assert "<link" not in page.lower()
    # Areas are bytes: beta is drawn with its removed bytes, gamma has none to draw.
    dists = {d.name: d for d in report.distributions}
    alpha_total, beta_total = dists["alpha"].bytes, dists["beta"].bytes + removals["beta"].bytes
    total = sum(d.bytes for d in dists.values()) + removals["beta"].bytes
    for name, size in [("alpha", alpha_total), ("beta", beta_total)]:
        assert frame_area(page, name) == pytest.approx(size / total * WIDTH * HEIGHT, rel=1e-3)
    assert 'class="legend-removed"' in page and 'class="removed"' in page
    assert "1 stubbed (gamma)" in page


def without_removals(report: Report) -> Report:
    return dataclasses.replace(
        report,
        distributions=tuple(dataclasses.replace(d, removed=None) for d in report.distributions),
    )


def test_without_profile_or_removals(report: Report, environment: Environment) -> None:
    page = render_html(without_removals(build_report(environment)))
    assert 'class="legend-installed"' in page and 'class="legend-used"' not in page
    assert "what no program needs to run (what --policy safe removes)" in page
    assert 'class="removed"' not in page and "MB removed" not in page
    # With a profile but no removals: used and removable only.
    page = render_html(without_removals(report))
    assert 'class="legend-used"' in page and 'class="legend-removed"' not in page


# -- in a browser -------------------------------------------------------------------------


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("no chromium found (Debian: apt-get install -y chromium)")


def run_chromium(profile_dir: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    command = [
        chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        f"--user-data-dir={profile_dir}",
        *args,
    ]
    done = subprocess.run(command, capture_output=True, timeout=180, check=False)
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-2000:]
    return done


def read_png(data: bytes) -> tuple[int, int, list[bytes]]:
    """Width, height and RGB rows of an 8-bit RGB or RGBA, non-interlaced PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks, header = 8, [], b""
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        header = body if kind == b"IHDR" else header
        chunks += [body] if kind == b"IDAT" else []
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    assert (depth, colour, interlace) in {(8, 2, 0), (8, 6, 0)}
    bpp = 3 if colour == 2 else 4
    raw, stride = zlib.decompress(b"".join(chunks)), width * bpp
    prev, rows = bytearray(stride), []
    for y in range(height):
        start = y * (stride + 1)
        line = unfilter(raw[start], bytearray(raw[start + 1 : start + 1 + stride]), prev, bpp)
        rows.append(b"".join(line[i : i + 3] for i in range(0, stride, bpp)))
        prev = line
    return width, height, rows


def unfilter(kind: int, line: bytearray, prev: bytearray, bpp: int) -> bytearray:
    for i in range(len(line)):
        a = line[i - bpp] if i >= bpp else 0
        b, c = prev[i], prev[i - bpp] if i >= bpp else 0
        if kind == 1:
            line[i] = (line[i] + a) & 255
        elif kind == 2:
            line[i] = (line[i] + b) & 255
        elif kind == 3:
            line[i] = (line[i] + ((a + b) >> 1)) & 255
        elif kind == 4:
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    return line


def pixel_colours(rows: list[bytes]) -> Counter[str]:
    return Counter(row[i : i + 3].hex() for row in rows for i in range(0, len(row), 3))


def test_chromium_renders_the_page(report: Report, tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    write_html(report, page, title="html test report")
    dom = run_chromium(tmp_path / "dom", "--dump-dom", page.as_uri()).stdout.decode()
    assert "<h1>html test report</h1>" in dom
    for name in ("alpha", "beta", "gamma"):
        assert f'data-name="{name}"' in dom and f'<td class="text">{name}</td>' in dom
    for status in ("used", "removable", "removed"):
        assert f'class="legend-{status}"' in dom
    assert dom.count('class="category"') >= 5

    shot = tmp_path / "report.png"
    run_chromium(
        tmp_path / "shot", f"--screenshot={shot}", "--window-size=1280,1000", page.as_uri()
    )
    width, height, rows = read_png(shot.read_bytes())
    assert (width, height) == (1280, 1000)
    colours = pixel_colours(rows)
    assert colours["ffffff"] < 0.8 * width * height  # not a blank page
    statuses: tuple[Status, ...] = ("used", "removable", "removed")
    for status in statuses:  # removed: the hatch's background
        assert colours[COLOURS[status].lstrip("#")] > 2000, status
    assert len(colours) > 50  # text is drawn: anti-aliased glyphs bring many shades
