"""Strip: stripped wheels and stub distributions, built from real wheels, installed by real pip."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
import re
import subprocess
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import build_wheel, create_venv, pip_install, record_hash, site_packages
from packaging.utils import canonicalize_name
from test_wheel import GOOD, INFO, write_wheel

from lean_install import __version__
from lean_install.cache import file_sha256
from lean_install.errors import WheelError
from lean_install.plan import Decision, DistributionPlan
from lean_install.runtime.layout import MANIFEST_NAME, RUNTIME_DIRECTORY
from lean_install.strip import (
    STUB_SUMMARY,
    build_stripped_wheel,
    build_stub_distribution,
)
from lean_install.stubs import runtime_files, startup_file
from lean_install.wheel import OriginalWheel
from lean_install.zipwriter import ZipWriter

PROFILE = "mlp-training.toml"

FILES: dict[str, str | bytes] = {
    "shop/__init__.py": "from . import core\n",
    "shop/core.py": "def price():\n    return 42\n",
    "shop/extra/__init__.py": "from . import heavy\n",
    "shop/extra/heavy.py": "BIG = 'x' * 10\n",
    "shop/optional.py": "FLAG = True\n",
    "shop/include/shop.h": "#define SHOP 1\n" * 50,
    "shop/tests/test_core.py": "def test():\n    pass\n",
    "shop/data/table.bin": bytes(range(256)) * 64,
}
DROP = (
    "shop/extra/__init__.py",
    "shop/extra/heavy.py",
    "shop/optional.py",
    "shop/include/shop.h",
    "shop/tests/test_core.py",
)
STUBS = ("shop.extra", "shop.optional")


def make_plan(
    name: str, version: str, /, decision: Decision = "strip", **changes: Any
) -> DistributionPlan:
    plan = DistributionPlan(
        name=canonicalize_name(name),
        version=version,
        decision=decision,
        reason="test",
        drop=DROP if decision == "strip" else (),
        stub_modules=STUBS,
        profile_label=PROFILE,
        profile_digest="0123abcd",
    )
    return dataclasses.replace(plan, **changes)


def original_wheel(directory: Path, name: str = "shop", version: str = "1.0") -> Path:
    files = {path.replace("shop", name.replace("-", "_"), 1): data for path, data in FILES.items()}
    return build_wheel(
        directory,
        name,
        version,
        files,
        entry_points=f"[console_scripts]\n{name} = {name.replace('-', '_')}.core:price\n",
    )


def python_run(python: Path, code: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(python), "-c", code],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **env},
    )


def pip(python: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(python), "-m", "pip", *args], capture_output=True, text=True, check=False
    )


REPORT_ERROR = """
try:
    import {module}
except ImportError as error:
    print(type(error).__mro__[1].__name__, error.name)
    print(error)
"""


def tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@pytest.fixture(scope="module")
def venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One real venv for the module; each test installs its own distribution names."""
    return create_venv(tmp_path_factory.mktemp("strip") / "venv")


@pytest.fixture
def stripped(tmp_path: Path) -> Iterator[tuple[Path, Path, DistributionPlan]]:
    original = original_wheel(tmp_path / "original")
    plan = make_plan("shop", "1.0", drop=(*DROP, "shop/data/table.bin"))
    yield original, build_stripped_wheel(original, plan, tmp_path / "out"), plan


def test_stripped_wheel_drops_files_adds_stubs_and_renames_dist_info(
    stripped: tuple[Path, Path, DistributionPlan],
) -> None:
    original, path, plan = stripped
    lean = plan.lean_version
    assert lean.startswith("1.0+lean.")
    assert path.name == f"shop-{lean}-py3-none-any.whl"
    info = f"shop-{lean}.dist-info"
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        assert archive.testzip() is None
        assert names == [
            "shop/__init__.py",
            "shop/core.py",
            "shop/extra/__init__.py",
            "shop/optional.py",
            startup_file("shop"),
            f"{info}/METADATA",
            f"{info}/WHEEL",
            f"{info}/entry_points.txt",
            *(f"{info}/{RUNTIME_DIRECTORY}/{name}" for name, _ in runtime_files()),
            f"{info}/{MANIFEST_NAME}",
            f"{info}/RECORD",
        ]
        stub = archive.read("shop/extra/__init__.py").decode()
        assert stub.startswith("# lean-install stub: shop.extra was removed from shop 1.0")
        assert "shop.optional" in archive.read("shop/optional.py").decode()
        assert all(i.date_time == (1980, 1, 1, 0, 0, 0) for i in archive.infolist())
        assert {i.external_attr >> 16 for i in archive.infolist()} == {0o100644}
        metadata = archive.read(f"{info}/METADATA")
        record = archive.read(f"{info}/RECORD").decode()
    with zipfile.ZipFile(original) as source:
        old_metadata = source.read("shop-1.0.dist-info/METADATA")
        old_record = source.read("shop-1.0.dist-info/RECORD").decode()
    assert metadata == old_metadata.replace(b"Version: 1.0\n", f"Version: {lean}\n".encode())
    old_rows = {row[0]: row[1:] for row in csv.reader(io.StringIO(old_record))}
    rows = {row[0]: row[1:] for row in csv.reader(io.StringIO(record))}
    assert list(rows) == [*names[:-1], f"{info}/RECORD"]
    assert rows["shop/core.py"] == old_rows["shop/core.py"]
    assert rows[f"{info}/WHEEL"] == old_rows["shop-1.0.dist-info/WHEEL"]
    assert rows[f"{info}/METADATA"] == [record_hash(metadata), str(len(metadata))]
    assert rows[f"{info}/RECORD"] == ["", ""]


def test_manifest_records_what_was_removed_and_why(
    stripped: tuple[Path, Path, DistributionPlan],
) -> None:
    original, path, plan = stripped
    with zipfile.ZipFile(path) as archive:
        manifest = json.loads(archive.read(f"shop-{plan.lean_version}.dist-info/{MANIFEST_NAME}"))
    sizes = {p: len(d) for p, d in FILES.items()}
    assert manifest == {
        "lean-install": __version__,
        "name": "shop",
        "version": "1.0",
        "lean-version": plan.lean_version,
        "decision": "strip",
        "plan-digest": plan.digest(),
        "profile": {"label": PROFILE, "digest": "0123abcd"},
        "original": {
            "filename": original.name,
            "sha256": file_sha256(original),
            "record": "shop-1.0.dist-info/RECORD",
            "record-hash": record_hash(_original_record(original)),
        },
        "removed": {p: sizes[p] for p in sorted(plan.drop)},
        "stub-modules": list(STUBS),
    }


def test_stripped_wheel_is_deterministic(tmp_path: Path) -> None:
    original = original_wheel(tmp_path / "original")
    plan = make_plan("shop", "1.0")
    first = build_stripped_wheel(original, plan, tmp_path / "a")
    second = build_stripped_wheel(original, plan, tmp_path / "b")
    again = build_stripped_wheel(original, plan, tmp_path / "a")
    assert first.read_bytes() == second.read_bytes() == again.read_bytes()
    assert [p.name for p in (tmp_path / "a").iterdir()] == [first.name]
    other = build_stripped_wheel(original, make_plan("shop", "1.0", drop=DROP[:-1]), tmp_path / "c")
    assert other.name != first.name


def test_stripped_wheel_installs_imports_checks_freezes_and_uninstalls(
    venv: Path, tmp_path: Path
) -> None:
    original = original_wheel(tmp_path / "original", "store")
    plan = make_plan(
        "store",
        "1.0",
        drop=tuple(p.replace("shop", "store", 1) for p in DROP),
        stub_modules=("store.extra", "store.optional"),
    )
    path = build_stripped_wheel(original, plan, tmp_path / "out")
    before = tree(site_packages(venv))
    # by name from a directory, as lean-install installs (a file path would freeze as a URL)
    pip_install(venv, "--find-links", str(path.parent), f"store=={plan.lean_version}")
    assert python_run(venv, "import store.core; print(store.core.price())").stdout == "42\n"
    failed = python_run(venv, "import store.extra")
    assert failed.returncode == 1
    assert "store.extra.LeanInstallRemovedError: lean-install removed module" in failed.stderr
    code = REPORT_ERROR.format(module="store.extra")
    first = [
        "ModuleNotFoundError store.extra",
        f"lean-install removed module 'store.extra' (distribution store 1.0, profile {PROFILE}):"
        " the workload traced for that profile never used it.",
        f"To bring it back: lean-install restore --python {venv} store",
    ]
    # on-miss "error": the message says how to have it restored instead
    message = python_run(venv, code, LEAN_INSTALL_ON_MISS="error").stdout.splitlines()
    assert message == [
        *first,
        "To have removed code come back when imported: lean-install config --python"
        f" {venv} on-miss restore",
    ]
    # the default, "restore": it tried, and says why it could not (no original anywhere)
    message = python_run(venv, code).stdout.splitlines()
    assert message == [
        *first,
        "lean-install could not restore it: the original wheel is not in the cache and its"
        " URL is not recorded",
    ]
    fallback = python_run(venv, REPORT_ERROR.format(module="store.optional")).stdout
    assert fallback.startswith("ModuleNotFoundError store.optional\n")
    assert pip(venv, "check").returncode == 0
    assert f"store=={plan.lean_version}" in pip(venv, "freeze").stdout.splitlines()
    assert pip(venv, "uninstall", "-y", "store").returncode == 0
    assert tree(site_packages(venv)) == before


def test_record_hash_that_lies_is_refused_and_leaves_nothing(tmp_path: Path) -> None:
    lines = [f"demo/__init__.py,{record_hash(b'lies')},{len(GOOD[0][1])}"]
    lines += [f"demo/core.py,{record_hash(GOOD[1][1])},{len(GOOD[1][1])}"]
    for name, data in ((f"{INFO}/METADATA", b"Metadata-Version: 2.1\nName: demo\nVersion: 1.0\n"),):
        lines.append(f"{name},{record_hash(data)},{len(data)}")
    wheel = b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    lines += [f"{INFO}/WHEEL,{record_hash(wheel)},{len(wheel)}", f"{INFO}/RECORD,,"]
    original = write_wheel(tmp_path / "original", GOOD, record="\n".join(lines).encode())
    out = tmp_path / "out"
    plan = make_plan("demo", "1.0", drop=("demo/core.py",), stub_modules=("demo.core",))
    with pytest.raises(WheelError) as caught:
        build_stripped_wheel(original, plan, out)
    assert caught.value.issues[0].startswith(
        "demo/__init__.py: content does not match its RECORD hash"
    )
    assert list(out.iterdir()) == []
    # dropping the member whose hash lies: nothing copied is false, the build succeeds
    plan = make_plan("demo", "1.0", drop=("demo/__init__.py",), stub_modules=("demo",))
    assert build_stripped_wheel(original, plan, out).exists()


@pytest.mark.parametrize(
    ("entries", "expected"),
    [
        ([("../evil.py", b"x")], "'../evil.py' has a '..' component"),
        ([("/evil.py", b"x")], "'/evil.py' is absolute"),
    ],
)
def test_hostile_original_is_refused_before_anything_is_written(
    tmp_path: Path, entries: list[tuple[str, bytes]], expected: str
) -> None:
    original = write_wheel(tmp_path / "original", [*GOOD, *entries])
    with pytest.raises(WheelError, match=re.escape(expected)):
        build_stripped_wheel(original, make_plan("demo", "1.0", drop=()), tmp_path / "out")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"drop": ("shop/absent.py",)}, "the plan drops shop/absent.py, which the wheel"),
        ({"drop": ("shop-1.0.dist-info/WHEEL",)}, "the .dist-info is always kept"),
        ({"drop": (), "stub_modules": ("shop.core",)}, "stubs shop.core but keeps shop/core.py"),
        ({"stub_modules": ("shop..evil",)}, "'shop..evil' is not a dotted module name"),
        ({"name": "other"}, "the plan is for other 1.0, the wheel is shop 1.0"),
        ({"decision": "keep"}, "the plan's decision for shop is keep, not strip"),
    ],
)
def test_plan_that_does_not_fit_the_wheel_is_refused(
    tmp_path: Path, changes: dict[str, Any], expected: str
) -> None:
    original = original_wheel(tmp_path / "original")
    plan = make_plan("shop", "1.0", **changes)
    with pytest.raises(WheelError) as caught:
        build_stripped_wheel(original, plan, tmp_path / "out")
    assert any(expected in issue for issue in caught.value.issues), caught.value.issues
    assert not (tmp_path / "out").exists()


def test_stub_distribution_satisfies_dependents(venv: Path, tmp_path: Path) -> None:
    plan = make_plan("Helper-Lib", "2.5", "stub", stub_modules=("helper_lib", "helper_ext"))
    path = build_stub_distribution(plan, tmp_path / "out")
    assert path.name == f"helper_lib-{plan.lean_version}-py3-none-any.whl"
    assert build_stub_distribution(plan, tmp_path / "again").read_bytes() == path.read_bytes()
    with OriginalWheel.open(path) as wheel:
        wheel.verify_members(wheel.members)
        metadata = wheel.read(f"{wheel.dist_info}/METADATA").decode()
        manifest = json.loads(wheel.read(f"{wheel.dist_info}/{MANIFEST_NAME}"))
        assert "helper_lib/__init__.py" in wheel.members
        assert "helper_ext/__init__.py" in wheel.members
    assert "Requires-Dist" not in metadata
    assert f"Summary: {STUB_SUMMARY}\n" in metadata
    assert (manifest["decision"], manifest["original"], manifest["removed"]) == ("stub", None, {})
    app = build_wheel(
        tmp_path / "app",
        "stub-app",
        "1.0",
        {"stub_app.py": "import helper_lib\n"},
        requires=("helper-lib>=2.5,<3",),
    )
    requirement = f"helper-lib=={plan.lean_version}"
    pip_install(venv, "--find-links", str(path.parent), requirement, str(app))
    assert pip(venv, "check").returncode == 0
    assert f"helper-lib=={plan.lean_version}" in pip(venv, "freeze").stdout.splitlines()
    failed = python_run(venv, "import stub_app")
    assert "lean-install removed module 'helper_lib' (distribution helper-lib 2.5" in failed.stderr
    assert pip(venv, "uninstall", "-y", "helper-lib", "stub-app").returncode == 0


def test_stub_distribution_summary_and_bad_module_names(tmp_path: Path) -> None:
    plan = make_plan("helper", "1.0", "stub", stub_modules=("helper",))
    path = build_stub_distribution(plan, tmp_path, summary="custom\nsummary")
    with OriginalWheel.open(path) as wheel:
        assert "Summary: custom summary\n" in wheel.read(f"{wheel.dist_info}/METADATA").decode()
    with pytest.raises(WheelError, match="is not a dotted module name"):
        build_stub_distribution(make_plan("x", "1.0", "stub", stub_modules=("../x",)), tmp_path)


def test_zip64_records_are_read_by_zipfile_and_pip(venv: Path, tmp_path: Path) -> None:
    """Force every zip64 field (sizes, offsets, end records) on a small wheel."""
    original = build_wheel(
        tmp_path / "original",
        "bigzip",
        "1.0",
        {"bigzip/__init__.py": "VALUE = 7\n", "bigzip/run.sh": "#!/bin/sh\n"},
    )
    target = tmp_path / "zip64" / original.name
    target.parent.mkdir()
    with OriginalWheel.open(original) as wheel, target.open("wb") as out:
        writer = ZipWriter(out.fileno(), source=wheel.fileno, force_zip64=True)
        for name, member in wheel.members.items():
            if name.endswith("RECORD"):
                writer.add_bytes(name, wheel.read(name))
            else:
                writer.add_member(name, member)
        writer.finish()
    with zipfile.ZipFile(target) as archive:
        assert archive.testzip() is None
        assert archive.read("bigzip/__init__.py") == b"VALUE = 7\n"
    with OriginalWheel.open(target) as copy:
        copy.verify_members(copy.members)
    pip_install(venv, str(target))
    assert python_run(venv, "import bigzip; print(bigzip.VALUE)").stdout == "7\n"
    assert pip(venv, "uninstall", "-y", "bigzip").returncode == 0


def test_executable_bit_survives_and_nothing_else(tmp_path: Path) -> None:
    original = tmp_path / "original" / "tool-1.0-py3-none-any.whl"
    original.parent.mkdir()
    entries = {
        "tool/__init__.py": b"",
        "tool-1.0.data/scripts/run": b"#!/bin/sh\necho hi\n",
        "tool-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: tool\nVersion: 1.0\n",
        "tool-1.0.dist-info/WHEEL": b"Wheel-Version: 1.0\nTag: py3-none-any\n",
    }
    lines = [f"{n},{record_hash(d)},{len(d)}" for n, d in entries.items()]
    lines.append("tool-1.0.dist-info/RECORD,,")
    entries["tool-1.0.dist-info/RECORD"] = "\n".join(lines).encode()
    with zipfile.ZipFile(original, "w") as archive:
        for name, data in entries.items():
            info = zipfile.ZipInfo(name, date_time=(2024, 5, 6, 7, 8, 9))
            info.external_attr = (0o100775 if "scripts" in name else 0o100600) << 16
            archive.writestr(info, data)
    plan = make_plan("tool", "1.0", drop=(), stub_modules=())
    with zipfile.ZipFile(build_stripped_wheel(original, plan, tmp_path / "out")) as archive:
        modes = {i.filename: i.external_attr >> 16 for i in archive.infolist()}
    assert modes["tool-1.0.data/scripts/run"] == 0o100755
    assert modes["tool/__init__.py"] == 0o100644


def _original_record(wheel: Path) -> bytes:
    with zipfile.ZipFile(wheel) as archive:
        return archive.read("shop-1.0.dist-info/RECORD")
