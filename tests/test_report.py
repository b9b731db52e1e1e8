"""The bloat report, measured on a real venv with real wheels installed by the real pip."""

from __future__ import annotations

import csv
import dataclasses
import importlib.util
import json
import os
from pathlib import Path

import pytest
from conftest import build_wheel, create_venv, pip_install, site_packages
from packaging.utils import NormalizedName

from lean_install.classify import CATEGORIES, REMOVABLE, Category, Classifier
from lean_install.environment import Environment
from lean_install.measure import build_report
from lean_install.profile import DistributionUsage, Profile
from lean_install.report import DistributionReport, Report
from lean_install.text import render_table

NATIVE = b"\x7fELF" + bytes(1000)
LIBFOO = bytes(300)
HEADERS = {
    "alpha/include/alpha.h": "int alpha(void);\n",
    "alpha/include/README": "the C API of alpha\n",
    "alpha/csrc/kernel.cuh": "__global__ void k(void);\n",
}
ALPHA = {
    "alpha/__init__.py": "from alpha.core import f\n",
    "alpha/core.py": "def f():\n    return 1\n",
    "alpha/_native.cpython-311-x86_64-linux-gnu.so": NATIVE,
    "alpha/libs/libfoo.so.1.2": LIBFOO,
    "alpha/libs/libstatic.a": b"!<arch>\n" + bytes(50),
    "alpha/tests/__init__.py": "",
    "alpha/tests/test_core.py": "def test_f():\n    pass\n",
    "alpha/tests/fixture.json": "{}\n",
    "alpha/testing/__init__.py": "def helper():\n    return 2\n",
    **HEADERS,
    "alpha/__init__.pyi": "def f() -> int: ...\n",
    "alpha/py.typed": "",
    "alpha/data/table.csv": "a,b\n1,2\n" * 50,
    "alpha/data/gone.txt": "deleted after install\n",
    "alpha-1.0.data/scripts/alpha-tool": "#!/bin/sh\necho alpha\n",
    "alpha-1.0.data/data/share/alpha/notes.txt": "installed outside site-packages\n",
}
BETA = {"beta/__init__.py": "", "beta/blob.bin": bytes(5000)}
GAMMA = {"gamma/__init__.py": "X = 1\n", "gamma/extra.py": "Y = 2\n"}
COMMON = "# shared by delta and epsilon\n"


def pyc(source: str) -> str:
    return importlib.util.cache_from_source(source)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Environment, Path]:
    """One venv: alpha, beta, gamma, delta and epsilon (both own ``common/__init__.py``),
    a distribution without RECORD, stray unowned files and a file RECORD lists but is gone."""
    base = tmp_path_factory.mktemp("report")
    wheels = base / "wheels"
    built = [
        build_wheel(wheels, "alpha", "1.0", ALPHA),
        build_wheel(wheels, "beta", "2.0", BETA),
        build_wheel(wheels, "gamma", "1.0", GAMMA),
        build_wheel(wheels, "delta", "1.0", {"common/__init__.py": COMMON, "delta.py": ""}),
        build_wheel(wheels, "epsilon", "1.0", {"common/__init__.py": COMMON, "eps.py": ""}),
    ]
    python = create_venv(base / "venv")
    pip_install(python, *map(str, built))
    sp = site_packages(python).resolve()
    (sp / "alpha" / "data" / "gone.txt").unlink()
    (sp / "stray_pkg" / "__pycache__").mkdir(parents=True)
    (sp / "stray_pkg" / "__pycache__" / "old.cpython-311.pyc").write_bytes(bytes(123))
    (sp / "stray.txt").write_text("left behind\n")
    (sp / "alpha-link").symlink_to("alpha")
    (sp / "ghost-0.1.dist-info").mkdir()
    (sp / "ghost-0.1.dist-info" / "METADATA").write_text("Name: ghost\nVersion: 0.1\n")
    return Environment.inspect(python), sp


def lstat_size(path: str | Path) -> int:
    return os.lstat(path).st_size


def disk_total(sp: Path) -> tuple[int, int]:
    """Files and bytes, independently: lstat over site-packages plus RECORD files outside."""
    seen: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(sp):
        links = [d for d in dirnames if Path(dirpath, d).is_symlink()]
        seen.update(str(Path(dirpath, name)) for name in [*filenames, *links])
    for record in sp.glob("*.dist-info/RECORD"):
        for row in csv.reader(record.read_text().splitlines()):
            path = os.path.normpath(sp / row[0])
            if os.path.lexists(path):
                seen.add(path)
    return len(seen), sum(lstat_size(p) for p in seen)


def dist_info_files(sp: Path, dist_info: str) -> list[Path]:
    return [p for p in (sp / dist_info).rglob("*") if p.is_file()]


def by_name(report: Report) -> dict[str, DistributionReport]:
    return {d.name: d for d in report.distributions}


# -- categorize -------------------------------------------------------------------------

CASES: list[tuple[str, Category]] = [
    ("alpha-1.0.dist-info/RECORD", "metadata"),
    ("alpha-1.0.dist-info/licenses/tests/LICENSE.h", "metadata"),
    ("alpha/tests/test_x.py", "tests"),
    ("alpha/test/data.bin", "tests"),
    ("alpha/sub/Tests/x.h", "tests"),
    ("alpha/tests/__pycache__/x.cpython-311.pyc", "tests"),
    ("torch/testing/_internal/common.py", "source"),
    ("numpy/testing/__pycache__/x.cpython-311.pyc", "bytecode"),
    ("alpha/test.py", "source"),
    ("alpha/tests", "data"),
    ("torch/include/ATen/core/Tensor.h", "headers"),
    ("torch/include/README", "headers"),
    ("../../../include/site/python3.11/alpha/api.hpp", "headers"),
    ("alpha/x.hh", "headers"),
    ("alpha/x.hxx", "headers"),
    ("alpha/x.cuh", "headers"),
    ("alpha/x.inc", "headers"),
    ("alpha/include/x.pyi", "headers"),
    ("alpha/__init__.pyi", "type-stubs"),
    ("alpha/py.typed", "type-stubs"),
    ("alpha/_C.cpython-311-x86_64-linux-gnu.so", "shared-library"),
    ("torch/lib/libgomp.so.1", "shared-library"),
    ("alpha/libs/libz.so.1.2.13", "shared-library"),
    ("alpha/libx.dylib", "shared-library"),
    ("alpha/_x.PYD", "shared-library"),
    ("alpha/x.dll", "shared-library"),
    ("alpha/libx.a", "static-libraries"),
    ("alpha/x.lib", "static-libraries"),
    ("alpha/lib/cmake/AlphaConfig.cmake", "cmake"),
    ("alpha/docs/guide.txt", "docs"),
    ("alpha/README.md", "docs"),
    ("alpha/standalone.pyi", "data"),  # a .pyi beside no module: a type checker's data
    ("alpha/x.so.bak", "data"),
    ("alpha/so.txt", "data"),
    ("alpha/__pycache__/core.cpython-311.pyc", "bytecode"),
    ("alpha/core.py", "source"),
    ("alpha/core.pyx", "data"),
    ("torch/bin/torch_shm_manager", "data"),
    ("torch/bin/test_api", "tests"),
    ("torch/bin/TCPStoreTest", "tests"),
    ("torch/lib/libtorchbind_test.so", "tests"),
    ("alpha/test_helpers", "data"),  # a file named test_* outside bin/
    ("torch/lib/libtorch_cpu.so", "shared-library"),
    ("../../../bin/alpha-tool", "data"),
]


CLASSIFIER = Classifier(
    "alpha", [p for p, _ in CASES] + ["alpha/__init__.py"], "alpha-1.0.dist-info"
)


@pytest.mark.parametrize(("path", "category"), CASES)
def test_categorize(path: str, category: Category) -> None:
    assert CLASSIFIER.category(path) == category


def test_categorize_metadata_only_in_own_dist_info() -> None:
    assert CLASSIFIER.category("beta-2.0.dist-info/METADATA") == "data"


def test_headers_stay_where_c_sources_ship_and_build_tools_keep_theirs() -> None:
    paths = ["t/include/a.h", "t/csrc/k.cpp", "t/x.cmake", "t/m.py", "t/m.pyi"]
    assert Classifier("t", paths, "t-1.dist-info").removable("t/include/a.h") is False
    assert Classifier("t", paths[:1], "t-1.dist-info").removable("t/include/a.h") is True
    tool = Classifier("pybind11", paths, "pybind11-1.dist-info")
    assert not any(tool.removable(p) for p in ("t/include/a.h", "t/x.cmake", "t/m.pyi"))


# -- build_report -----------------------------------------------------------------------


def test_totals_equal_the_bytes_on_disk(installed: tuple[Environment, Path]) -> None:
    env, sp = installed
    report = build_report(env)
    files, size = disk_total(sp)
    assert (report.totals.files, report.totals.bytes) == (files, size)
    assert sum(c.bytes for c in report.totals.categories.values()) == size
    assert report.totals.missing == 1


def test_symlinked_second_site_packages_counts_nothing_twice(
    installed: tuple[Environment, Path], tmp_path: Path
) -> None:
    env, sp = installed
    alias = tmp_path / "lib64-site-packages"
    alias.symlink_to(sp, target_is_directory=True)
    doubled = dataclasses.replace(env, site_packages=(*env.site_packages, alias))
    assert build_report(doubled).totals.bytes == disk_total(sp)[1]


def test_categories_of_a_wheel(installed: tuple[Environment, Path]) -> None:
    env, sp = installed
    alpha = by_name(build_report(env))["alpha"]
    files = {c: u.files for c, u in alpha.categories.items()}
    metadata = len(dist_info_files(sp, "alpha-1.0.dist-info"))
    assert files == {
        "shared-library": 2,  # _native...so, libfoo.so.1.2
        "bytecode": 3,  # __init__, core, testing/__init__
        "source": 3,  # the same three .py
        "tests": 5,  # three files and two .pyc in alpha/tests
        "headers": 3,  # alpha.h, include/README, kernel.cuh
        "type-stubs": 2,  # __init__.pyi, py.typed
        "static-libraries": 1,  # libstatic.a
        "data": 3,  # table.csv, bin/alpha-tool, share/alpha/notes.txt
        "metadata": metadata,
    }
    assert alpha.categories["shared-library"].bytes == len(NATIVE) + len(LIBFOO)
    assert alpha.categories["headers"].bytes == sum(len(t) for t in HEADERS.values())
    assert alpha.missing == 1
    assert list(alpha.categories) == [c for c in CATEGORIES if c in alpha.categories]


def test_each_file_counted_once_for_its_first_owner(installed: tuple[Environment, Path]) -> None:
    env, sp = installed
    dists = by_name(build_report(env))
    delta, epsilon = dists["delta"], dists["epsilon"]
    assert delta.categories["source"].bytes == len(COMMON)  # common/__init__.py; delta.py empty
    assert epsilon.categories["source"] == dataclasses.replace(
        epsilon.categories["source"], files=1, bytes=0
    )  # only eps.py (empty): common/__init__.py went to delta
    assert "common/__init__.py" in (sp / "epsilon-1.0.dist-info" / "RECORD").read_text()


def test_distribution_without_record_owns_its_metadata(
    installed: tuple[Environment, Path],
) -> None:
    env, sp = installed
    report = build_report(env)
    ghost = by_name(report)["ghost"]
    size = lstat_size(sp / "ghost-0.1.dist-info" / "METADATA")
    assert (ghost.files, ghost.bytes, list(ghost.categories)) == (1, size, ["metadata"])
    assert not any("ghost" in p for p in report.unowned.paths)


def test_unowned_files(installed: tuple[Environment, Path]) -> None:
    env, sp = installed
    unowned = build_report(env).unowned
    expected = [
        sp / "alpha-link",
        sp / "stray.txt",
        sp / "stray_pkg" / "__pycache__" / "old.cpython-311.pyc",
    ]
    assert unowned.paths == tuple(sorted(str(p) for p in expected))
    assert unowned.bytes == sum(lstat_size(p) for p in expected)
    assert unowned.categories["bytecode"].bytes == 123
    assert unowned.categories["data"].files == 2


def test_without_profile_bloat_is_what_no_program_needs(
    installed: tuple[Environment, Path],
) -> None:
    report = build_report(installed[0])
    totals = report.totals
    assert not report.has_profile and report.unused_bytes is None
    assert report.bloat_basis == "categories"
    dev = sum(totals.categories[c].bytes for c in REMOVABLE if c in totals.categories)
    assert report.bloat_bytes == dev > 0
    assert report.bloat_bytes == sum(d.removable_bytes for d in report.distributions)
    alpha = by_name(report)["alpha"]
    assert set(alpha.removable_categories) == set(REMOVABLE)
    assert report.bloat_share == dev / totals.bytes
    assert totals.used_bytes == 0


PROFILE_ALPHA = (
    "alpha/__init__.py",
    pyc("alpha/core.py"),
    "alpha/_native.cpython-311-x86_64-linux-gnu.so",
)


def make_profile() -> Profile:
    return Profile(
        distributions=(
            DistributionUsage(
                name=NormalizedName("alpha"),
                version="1.0",
                files=PROFILE_ALPHA,
                probed=("alpha/py.typed",),
                scripts=("alpha-tool",),
            ),
            DistributionUsage(
                name=NormalizedName("gamma"), version="0.9", files=("gamma/__init__.py",)
            ),
        )
    )


def test_used_and_unused_with_a_profile(installed: tuple[Environment, Path]) -> None:
    env, sp = installed
    report = build_report(env, make_profile())
    dists = by_name(report)
    alpha, beta, gamma = dists["alpha"], dists["beta"], dists["gamma"]
    meta = {n: dist_info_files(sp, n) for n in ("alpha-1.0.dist-info", "beta-2.0.dist-info")}

    used = [sp / p for p in PROFILE_ALPHA] + [sp / "alpha/core.py", sp / "alpha/py.typed"]
    used += [env.scripts / "alpha-tool", *meta["alpha-1.0.dist-info"]]
    assert (alpha.used_files, alpha.used_bytes) == (len(used), sum(map(lstat_size, used)))
    assert alpha.unused_bytes == alpha.bytes - alpha.used_bytes
    # a .pyc marks its .py, not the other way round
    assert alpha.categories["bytecode"].used_files == 1
    assert alpha.categories["source"].used_files == 2
    assert alpha.profile_version is None

    beta_meta = meta["beta-2.0.dist-info"]
    assert (beta.used_files, beta.used_bytes) == (len(beta_meta), sum(map(lstat_size, beta_meta)))
    assert beta.categories["source"].used_files == 0

    assert gamma.profile_version == "0.9"
    assert gamma.categories["source"].used_bytes == len(GAMMA["gamma/__init__.py"])

    totals = report.totals
    assert report.has_profile and report.bloat_basis == "profile"
    assert totals.used_bytes == sum(d.used_bytes for d in report.distributions)
    assert report.unused_bytes == report.bloat_bytes == totals.bytes - totals.used_bytes
    assert report.bloat_share == report.bloat_bytes / totals.bytes


@pytest.mark.parametrize("with_profile", [False, True])
def test_json_round_trip(installed: tuple[Environment, Path], with_profile: bool) -> None:
    report = build_report(installed[0], make_profile() if with_profile else None)
    data = json.loads(json.dumps(report.to_dict()))
    assert Report.from_dict(data) == report
    assert data["totals"]["bytes"] == report.totals.bytes
    assert ("used-bytes" in data["totals"]) is with_profile
    assert data["totals"]["bloat-bytes"] == report.bloat_bytes


# -- render_table -----------------------------------------------------------------------


def table_rows(text: str) -> list[list[str]]:
    first_table = text.split("\n\n")[1].splitlines()[2:]
    return [[c.strip() for c in line.strip("|").split("|")] for line in first_table]


def test_table_sorted_by_size_with_totals(installed: tuple[Environment, Path]) -> None:
    report = build_report(installed[0], make_profile())
    text = render_table(report)
    rows = table_rows(text)
    names = [r[0] for r in rows]
    by_size = sorted(report.distributions, key=lambda d: (-d.bytes, d.name))
    assert names == [d.name for d in by_size] + ["(no distribution)", "total"]
    assert rows[-1][3] == f"{report.totals.bytes / 1e6:,.1f}"
    assert rows[-1][6] == f"{report.bloat_share * 100:.1f}%"
    gamma = next(r for r in rows if r[0] == "gamma")
    assert gamma[1] == "1.0 (profile: 0.9)"
    assert "| tests " in text and "Bloat:" in text and "never used by the profile" in text


def test_table_top_folds_the_rest(installed: tuple[Environment, Path]) -> None:
    report = build_report(installed[0])
    rows = table_rows(render_table(report, top=2))
    rest = len(report.distributions) - 2
    assert [r[0] for r in rows[2:]] == [f"({rest} more)", "(no distribution)", "total"]
    assert sum(int(r[2].replace(",", "")) for r in rows[:-1]) == report.totals.files
