"""``lean-install report --prefix``: a conda prefix made by the real conda 26.7.1 (vendored,
rattler solver, offline) from a test channel, measured on disk, traced, stripped by the
real ``conda lean strip``, and reported again. Nothing is mocked.

Packages (built with conda_package_handling, ``condakit``): a relocatable CPython;
``libb`` (a gcc-built ``lib/libb.so``, a header, a data file); ``pkga`` (modules used and
unused, data files, tests, a ``.dist-info``, ``lib/liba.so`` needing ``libb.so``, and a
symlink ``lib/liba.so.1``); ``pkgc`` (never used); ``pkgn`` (``noarch: python``, with the
bytecode conda compiles). Then pip installs a wheel (``wheelpkg``, with a script in
``bin/``) into the prefix, and stray files are left there and in its package-cache-like
``pkgs/``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import condakit
import pytest
from conftest import build_wheel

from lean_install.cli import main
from lean_install.conda.manifest import read_manifests
from lean_install.conda.records import parse_record, read_prefix
from lean_install.conda.report import EXCLUDED, build_conda_report, report_lines
from lean_install.environment import read_record
from lean_install.profile import Profile
from lean_install.report import DistributionReport, Report

REPO = Path(__file__).resolve().parents[1]
SP = "lib/python3.11/site-packages"

PKGA_INIT = """import ctypes, os, sys
_lib = ctypes.CDLL(os.path.join(sys.prefix, "lib", "liba.so"))
def value():
    return _lib.a_value()
def data_path(name):
    return os.path.join(os.path.dirname(__file__), "data", name)
"""

WORKLOAD = """import pkga, pkga.used, pkgn, pkgn.used, wheelpkg
assert pkga.value() == 43, pkga.value()
with open(pkga.data_path("used.txt")) as f:
    assert f.read() == "used data"
assert pkga.used.X == 1 and pkgn.used.Y == 2 and wheelpkg.W == 7
print("workload ok")
"""

WHEELPKG = {
    "wheelpkg/__init__.py": "W = 7\n",
    "wheelpkg/idle.py": "I = 8\n" * 40,
    "wheelpkg/tests/test_w.py": "def test(): pass\n",
    "wheelpkg-1.0.data/scripts/wtool": "#!/bin/sh\necho wtool\n",
}


# -- fixtures (the minimal setup of test_conda.py, copied: that file is edited elsewhere) -----


@pytest.fixture(scope="session")
def conda_python() -> Path:
    """The conda venv's python, with this checkout of lean-install installed (editable), so
    ``python -m conda lean`` finds the plugin."""
    if condakit.find_conda_tarball() is None:
        pytest.skip("the vendored conda release source (shared/vendor/conda-*.tar.gz) is missing")
    python = condakit.install_conda(condakit.default_venv_dir())
    probe = (
        "import importlib.metadata as m, json\n"
        "try:\n d = m.distribution('lean-install')\nexcept m.PackageNotFoundError:\n print('{}')\n"
        "else:\n print(json.dumps({'url': d.read_text('direct_url.json') or '',"
        " 'eps': [e.value for e in d.entry_points if e.group == 'conda']}))\n"
    )
    found = json.loads(
        subprocess.run([python, "-c", probe], capture_output=True, text=True, check=True).stdout
    )
    here = REPO.as_uri()
    if here not in found.get("url", "") or "lean_install.conda.plugin" not in found.get("eps", []):
        subprocess.run(
            [python, "-m", "pip", "install", "-q", "--disable-pip-version-check", "-e", str(REPO)],
            check=True,
        )
    return python


def _metadata(name: str) -> str:
    return f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n"


@pytest.fixture(scope="session")
def channel(conda_python: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("report-channel")
    work, channel = root / "work", root / "channel"
    try:
        libb = condakit.build_shared_library(
            work, "libb.so", "int b_value(void) { return 42; }\n", soname="libb.so"
        )
    except FileNotFoundError as error:
        pytest.skip(str(error))
    liba = condakit.build_shared_library(
        work,
        "liba.so",
        "int b_value(void);\nint a_value(void) { return b_value() + 1; }\n",
        link=["b"],
        lib_dirs=[work],
        soname="liba.so",
    )
    python = condakit.python_package(
        condakit.default_venv_dir().parent / "python-package", tool_python=conda_python
    )
    build: Callable[..., Path] = condakit.build_conda_package
    common = {"subdir": "linux-64", "tool_python": conda_python}
    build(
        channel,
        "libb",
        "1.0",
        "0",
        files={
            "lib/libb.so": libb,
            "include/libb.h": "int b_value(void);\n",
            "share/libb/README.txt": "libb's documentation\n",
        },
        **common,
    )
    build(
        channel,
        "pkga",
        "1.0",
        "0",
        depends=["libb", "python"],
        files={
            "lib/liba.so": liba,
            f"{SP}/pkga/__init__.py": PKGA_INIT,
            f"{SP}/pkga/used.py": "X = 1\n",
            f"{SP}/pkga/unused.py": "Z = 3\n" * 20,
            f"{SP}/pkga/data/used.txt": "used data",
            f"{SP}/pkga/data/unused.txt": "unused data" * 30,
            f"{SP}/pkga/tests/test_pkga.py": "def test(): pass\n",
            f"{SP}/pkga-1.0.dist-info/METADATA": _metadata("pkga"),
        },
        symlinks={"lib/liba.so.1": "liba.so"},
        **common,
    )
    build(
        channel,
        "pkgc",
        "1.0",
        "0",
        depends=["python"],
        files={
            f"{SP}/pkgc/__init__.py": "from pkgc.x import C\n",
            f"{SP}/pkgc/x.py": "C = 5\n",
            "share/pkgc/data.txt": "pkgc data\n",
            f"{SP}/pkgc-1.0.dist-info/METADATA": _metadata("pkgc"),
        },
        **common,
    )
    build(
        channel,
        "pkgn",
        "1.0",
        "py_0",
        noarch="python",
        depends=["python"],
        tool_python=conda_python,
        files={
            "site-packages/pkgn/__init__.py": "",
            "site-packages/pkgn/used.py": "Y = 2\n",
            "site-packages/pkgn/unused.py": "W = 6\n",
        },
    )
    return condakit.index_channel(channel, [python], tool_python=conda_python)


def _prefix(conda_python: Path, channel: Path, wheel: Path, root: Path) -> Path:
    """A prefix made by conda, then ``wheel`` installed into it by pip, then stray files."""
    prefix = root / "env"
    condakit.create_prefix(
        conda_python, prefix, channel, "python", "pkga", "pkgc", "pkgn", pkgs_dir=root / "pkgs"
    )
    pip = [sys.executable, "-m", "pip", "--python", str(condakit.prefix_python(prefix))]
    proc = subprocess.run(
        [*pip, "install", "-q", "--no-index", "--no-deps", "--disable-pip-version-check", wheel],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (prefix / "share" / "stray.txt").write_text("no record lists me\n")
    (prefix / SP / "stray_module.py").write_text("S = 1\n")
    (prefix / "pkgs").mkdir()
    (prefix / "pkgs" / "cached.bin").write_bytes(bytes(4096))  # as in a base installation
    return prefix


def _trace(prefix: Path, out: Path) -> Profile:
    script = prefix.parent / "workload.py"
    script.write_text(WORKLOAD)
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONNOUSERSITE": "1"}
    cmd = [sys.executable, "-m", "lean_install", "trace", "-o", str(out), "--"]
    cmd += [str(condakit.prefix_python(prefix)), str(script)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return Profile.load(out)


class Prefixes:
    """``full``: made and traced (``profile``); ``lean``: made the same way, then stripped
    by ``conda lean strip`` with that profile."""

    def __init__(self, full: Path, lean: Path, profile: Path) -> None:
        self.full, self.lean, self.profile = full, lean, profile


@pytest.fixture(scope="session")
def prefixes(
    conda_python: Path, channel: Path, tmp_path_factory: pytest.TempPathFactory
) -> Prefixes:
    root = tmp_path_factory.mktemp("conda-report")
    wheel = build_wheel(root / "wheels", "wheelpkg", "1.0", WHEELPKG)
    full = _prefix(conda_python, channel, wheel, root / "full")
    lean = _prefix(conda_python, channel, wheel, root / "lean")
    profile = root / "workload.toml"
    _trace(full, profile)
    args = ["lean", "strip", "-p", lean, "--profile", profile]
    proc = condakit.conda(conda_python, *args)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return Prefixes(full, lean, profile)


# -- helpers: the disk, read here independently of the report ----------------------------------


def _size(path: Path) -> int | None:
    """The lstat size of a file or link; None for a directory or nothing."""
    try:
        st = path.lstat()
    except OSError:
        return None
    return None if path.is_dir() and not path.is_symlink() else st.st_size


def _record_sizes(prefix: Path) -> dict[str, dict[str, int]]:
    """Per conda package, the on-disk size of each file its record lists (each file once)."""
    out: dict[str, dict[str, int]] = {}
    seen: set[str] = set()
    for record in read_prefix(prefix):
        sizes = out.setdefault(record.name, {})
        for path in record.files:
            size = _size(prefix / path)
            if size is not None and path not in seen:
                seen.add(path)
                sizes[path] = size
    return out


def _disk_total(prefix: Path) -> tuple[int, int]:
    """Files and bytes of every file and link under ``prefix``, ``EXCLUDED`` aside."""
    files = size = 0
    for dirpath, dirnames, filenames in os.walk(prefix):
        if Path(dirpath) == prefix:
            dirnames[:] = [d for d in dirnames if d not in EXCLUDED]
        for name in [*filenames, *(d for d in dirnames if (Path(dirpath) / d).is_symlink())]:
            files += 1
            size += (Path(dirpath) / name).lstat().st_size
    return files, size


def _dist(report: Report, name: str) -> DistributionReport:
    found = [d for d in report.distributions if d.name == name]
    assert len(found) == 1, [d.name for d in report.distributions]
    return found[0]


# -- the tests ----------------------------------------------------------------------------------


def test_each_package_counts_the_on_disk_sizes_of_its_record_files(prefixes: Prefixes) -> None:
    report = build_conda_report(prefixes.full)
    expected = _record_sizes(prefixes.full)
    assert {"python", "libb", "pkga", "pkgc", "pkgn"} <= set(expected)
    for name, sizes in expected.items():
        dist = _dist(report, name)
        assert (dist.files, dist.bytes, dist.missing) == (len(sizes), sum(sizes.values()), 0)
        assert sum(c.bytes for c in dist.categories.values()) == dist.bytes
    pkga = _dist(report, "pkga")
    link = prefixes.full / "lib" / "liba.so.1"
    assert link.is_symlink() and expected["pkga"]["lib/liba.so.1"] == len("liba.so")
    assert pkga.version == "1.0" and pkga.removed is None
    test_py = expected["pkga"][f"{SP}/pkga/tests/test_pkga.py"]
    assert pkga.categories["tests"].bytes == test_py
    assert (
        pkga.categories["metadata"].bytes == expected["pkga"][f"{SP}/pkga-1.0.dist-info/METADATA"]
    )
    assert pkga.categories["shared-library"].bytes == sum(
        expected["pkga"][p] for p in ("lib/liba.so", "lib/liba.so.1")
    )
    libb = _dist(report, "libb")
    assert libb.categories["headers"].bytes == expected["libb"]["include/libb.h"]
    assert libb.removable_bytes == expected["libb"]["include/libb.h"]
    pkgn = _dist(report, "pkgn")
    assert pkgn.categories["bytecode"].files == 3  # compiled by conda: pyc_file entries


def test_a_distribution_pip_installed_is_measured_by_its_record(prefixes: Prefixes) -> None:
    report = build_conda_report(prefixes.full)
    site = prefixes.full / SP
    info = site / "wheelpkg-1.0.dist-info"
    rows = read_record((info / "RECORD").read_text())
    paths = {os.path.normpath(site / r.path) for r in rows}
    paths |= {str(p) for p in info.iterdir()}
    assert str(prefixes.full / "bin" / "wtool") in paths
    dist = _dist(report, "wheelpkg")
    assert (dist.files, dist.bytes) == (len(paths), sum(os.lstat(p).st_size for p in paths))
    assert dist.categories["tests"].files == 2  # test_w.py and the bytecode pip compiled
    # conda packages' own .dist-info directories are not reported twice
    assert [d.name for d in report.distributions].count("pkga") == 1


def test_totals_are_the_prefix_on_disk_but_the_excluded_directories(prefixes: Prefixes) -> None:
    for prefix in (prefixes.full, prefixes.lean):
        report = build_conda_report(prefix)
        totals = report.totals
        assert (totals.files, totals.bytes) == _disk_total(prefix)
        assert totals.missing == 0
    assert (prefixes.lean / "lean-install" / "conda").is_dir()  # excluded, as conda-meta
    unowned = build_conda_report(prefixes.full).unowned.paths
    assert str(prefixes.full / "share" / "stray.txt") in unowned
    assert str(prefixes.full / SP / "stray_module.py") in unowned
    assert not [p for p in unowned if "/conda-meta/" in p or "/pkgs/" in p]


def test_with_the_profile_used_bytes_are_what_the_workload_used(prefixes: Prefixes) -> None:
    profile = Profile.load(prefixes.profile)
    report = build_conda_report(prefixes.full, profile)
    assert report.has_profile
    sizes = _record_sizes(prefixes.full)
    (usage,) = [d for d in profile.find("pkga") if d.kind == "conda"]
    used = set(usage.files) | set(usage.probed) | {f"{SP}/pkga-1.0.dist-info/METADATA"}
    assert f"{SP}/pkga/used.py" in used and f"{SP}/pkga/unused.py" not in used
    pkga = _dist(report, "pkga")
    expected = sum(s for p, s in sizes["pkga"].items() if p in used)
    assert (pkga.used_bytes, pkga.profile_version) == (expected, None)
    assert 0 < pkga.used_bytes < pkga.bytes
    pkgc = _dist(report, "pkgc")  # never used: its metadata only
    assert pkgc.used_bytes == sizes["pkgc"][f"{SP}/pkgc-1.0.dist-info/METADATA"]
    assert pkgc.used_files == 1
    wheelpkg = _dist(report, "wheelpkg")  # pip's: matched by RECORD paths, as the pip side
    assert 0 < wheelpkg.used_bytes < wheelpkg.bytes
    assert report.totals.used_bytes == sum(d.used_bytes for d in report.distributions)


def test_after_a_strip_each_stripped_package_reports_its_removed_bytes(
    prefixes: Prefixes,
) -> None:
    manifests = read_manifests(prefixes.lean)
    assert {m.name for m in manifests.values()} >= {"pkga", "pkgc", "libb"}
    report = build_conda_report(prefixes.lean, Profile.load(prefixes.profile))
    records = {r.stem: r for r in read_prefix(prefixes.lean)}
    for stem, manifest in manifests.items():
        original = parse_record(records[stem].source, manifest.original)
        removed = manifest.removed
        sizes = [original.entries[p].size_in_bytes or 0 for p in removed]
        dist = _dist(report, manifest.name)
        assert dist.removed is not None, stem
        assert (dist.removed.files, dist.removed.bytes) == (len(removed), sum(sizes)), stem
        assert dist.removed.decision == "strip"
        assert sum(dist.removed.categories.values()) == dist.removed.bytes
    assert _dist(report, "python").removed is None
    pkga = _dist(report, "pkga").removed
    assert pkga is not None and pkga.categories.get("tests", 0) > 0
    assert report.removed_bytes == sum(d.removed.bytes for d in report.distributions if d.removed)
    # what is on disk now (stubs included) is what each package counts
    for name, on_disk in _record_sizes(prefixes.lean).items():
        assert _dist(report, name).bytes == sum(on_disk.values()), name
    text, status = report_lines(prefixes.lean, str(prefixes.profile))
    assert status == 0 and "MB removed" in text and "Removed by lean installs:" in text


def test_json_round_trips_through_report_from_dict(
    prefixes: Prefixes, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["report", "--prefix", str(prefixes.lean), "--profile", str(prefixes.profile)]
    assert main([*args, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    expected = build_conda_report(prefixes.lean, Profile.load(prefixes.profile))
    assert Report.from_dict(data) == expected
    assert data["environment"]["prefix"] == str(prefixes.lean)
    text, _ = report_lines(prefixes.lean, str(prefixes.profile), as_json=True)
    assert Report.from_dict(json.loads(text)) == expected


def test_html_names_the_packages(prefixes: Prefixes, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    args = ["report", "--prefix", str(prefixes.lean), "--profile", str(prefixes.profile)]
    assert main([*args, "--html", str(out)]) == 0
    page = out.read_text()
    for name in ("python", "libb", "pkga", "pkgc", "pkgn", "wheelpkg"):
        assert f'data-name="{name}"' in page, name
    assert 'class="removed"' in page and "stripped" in page
    text, status = report_lines(prefixes.full, html_path=tmp_path / "full.html")
    assert (text, status) == (f"wrote {tmp_path / 'full.html'}", 0)
    assert 'data-name="pkga"' in (tmp_path / "full.html").read_text()


def test_the_table_prints_the_packages(
    prefixes: Prefixes, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", "--prefix", str(prefixes.full)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Python 3.11") and f"at {prefixes.full} " in out
    assert "| pkga " in out and "| wheelpkg " in out and "| (no distribution) " in out


def test_a_directory_without_conda_meta_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", "--prefix", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert f"error: {tmp_path} is not a conda prefix: it has no conda-meta directory" in err
    assert "hint: lean-install report --prefix needs a conda environment's prefix" in err
    proc = subprocess.run(
        [sys.executable, "-m", "lean_install", "report", "--prefix", str(tmp_path / "nowhere")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert "is not a conda prefix: it does not exist" in proc.stderr


def test_prefix_and_python_are_exclusive(tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "lean_install", "report", "--prefix", str(tmp_path)]
    proc = subprocess.run([*cmd, "--python", sys.executable], capture_output=True, text=True)
    assert proc.returncode == 2
    assert "argument --python: not allowed with argument --prefix" in proc.stderr


def test_what_comes_back_is_no_longer_removed(conda_python: Path, prefixes: Prefixes) -> None:
    # runs last (pytest keeps file order): it changes the stripped prefix
    before = build_conda_report(prefixes.lean)
    removed = _dist(before, "pkga").removed
    assert removed is not None
    back = f"{SP}/pkga/data/unused.txt"
    (pkga,) = [r for r in read_prefix(prefixes.lean) if r.name == "pkga"]
    original = Path(pkga.extracted_package_dir, back).read_bytes()
    (prefixes.lean / back).write_bytes(original)  # by hand: back on disk, in no record
    after = build_conda_report(prefixes.lean)
    now = _dist(after, "pkga").removed
    assert now is not None
    assert (now.files, now.bytes) == (removed.files - 1, removed.bytes - len(original))
    assert str(prefixes.lean / back) in after.unowned.paths
    proc = condakit.conda(conda_python, "lean", "restore", "-p", prefixes.lean, "pkgc")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    restored = build_conda_report(prefixes.lean)
    assert _dist(restored, "pkgc").removed is None
    sizes = _record_sizes(prefixes.lean)["pkgc"]
    assert _dist(restored, "pkgc").bytes == sum(sizes.values())
    assert (restored.totals.files, restored.totals.bytes) == _disk_total(prefixes.lean)


def test_conda_lean_report_prints_what_report_prefix_prints(
    conda_python: Path, prefixes: Prefixes
) -> None:
    done = condakit.conda(conda_python, "lean", "report", "-p", str(prefixes.lean),
                          "--profile", str(prefixes.profile), "--json")  # fmt: skip
    assert done.returncode == 0, done.stderr
    expected = build_conda_report(prefixes.lean, Profile.load(prefixes.profile))
    assert Report.from_dict(json.loads(done.stdout)) == expected
    missing = condakit.conda(conda_python, "lean", "report", "-p", str(prefixes.lean / "nope"))
    assert missing.returncode == 2 and "conda lean: error:" in missing.stderr, missing.stderr
