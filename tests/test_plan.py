"""The plan: decide() on resolutions, plan_wheel() on wheel listings, both built in code.

plan_wheel's cases are data, one JSON file per case in tests/data/plan_cases/: a
synthetic wheel listing, the profile's entries for it, the policy, and the expected
decision, dropped files, stubs and notes.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from packaging.utils import NormalizedName, canonicalize_name

from lean_install.classify import REMOVABLE, REMOVABLE_WHY
from lean_install.errors import LeanInstallError, PlanError, RecordError
from lean_install.listing import WheelListing, entry_point_modules, top_level_modules
from lean_install.plan import DistributionPlan, Plan
from lean_install.planner import decide, name_stubs, plan_wheel
from lean_install.profile import DistributionUsage, Profile
from lean_install.resolve import Resolution, ResolvedDistribution, from_pip_report
from lean_install.runtime.dynlib import Dynamic, Libraries
from lean_install.runtime.layout import module_name, source_of_bytecode

CASES = sorted((Path(__file__).parent / "data" / "plan_cases").glob("*.json"))
DEFAULT_SIZE = 10


def _members(case: dict[str, Any], dist_info: str) -> dict[str, int]:
    given = case["members"]
    members = dict(given) if isinstance(given, dict) else dict.fromkeys(given, DEFAULT_SIZE)
    for name in ("METADATA", "WHEEL", "RECORD"):
        members[f"{dist_info}/{name}"] = 100
    return members


def _run_case(case: dict[str, Any]) -> tuple[DistributionPlan, dict[str, int]]:
    name = canonicalize_name(case.get("name", "pkg"))
    version = case.get("version", "1.0")
    dist_info = f"{name.replace('-', '_')}-{version}.dist-info"
    members = _members(case, dist_info)
    listing = WheelListing(
        dist_info=dist_info,
        members=members,
        dynamic={k: Dynamic(needed=tuple(v)) for k, v in case.get("needed", {}).items()},
        entry_points=case.get("entry_points", ""),
    )
    usage = [
        DistributionUsage(
            name=name,
            version=u["version"],
            files=tuple(u.get("files", ())),
            probed=tuple(u.get("probed", ())),
        )
        for u in case.get("usage", ())
    ]
    preliminary = DistributionPlan(name=name, version=version, decision="strip", reason="test")
    return plan_wheel(preliminary, listing, usage, case.get("policy", "profile")), members


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_plan_wheel_case(path: Path) -> None:
    case = json.loads(path.read_text())
    expect = case["expect"]
    plan, members = _run_case(case)
    assert plan.decision == expect["decision"], plan.reason
    assert expect.get("reason", "") in plan.reason
    assert sorted(plan.drop) == sorted(expect["drop"])
    assert list(plan.stub_modules) == sorted(expect["stubs"])
    for note in expect.get("notes", ()):
        assert any(note in n for n in plan.notes), (note, plan.notes)
    assert plan.bytes_installed == sum(members.values())
    assert plan.bytes_saved == sum(members[m] for m in expect["drop"])
    assert not any(".dist-info/" in m for m in plan.drop)
    assert DistributionPlan.from_dict(plan.to_dict()) == plan


def test_cases_cover_at_least_the_issue_list() -> None:
    assert len(CASES) >= 15


@pytest.mark.parametrize(
    ("path", "source"),
    [
        ("pkg/__pycache__/mod.cpython-311.pyc", "pkg/mod.py"),
        ("pkg/__pycache__/__init__.cpython-311.opt-2.pyc", "pkg/__init__.py"),
        ("__pycache__/six.cpython-311.pyc", "six.py"),
        ("pkg/legacy.pyc", "pkg/legacy.py"),
        ("pkg/mod.py", None),
    ],
)
def test_source_of_pyc(path: str, source: str | None) -> None:
    assert source_of_bytecode(path) == source


@pytest.mark.parametrize(
    ("path", "module"),
    [
        ("pkg/mod.py", "pkg.mod"),
        ("pkg/sub/__init__.py", "pkg.sub"),
        ("six.py", "six"),
        ("torch/_C.cpython-311-x86_64-linux-gnu.so", "torch._C"),
        ("pkg/_speedups.abi3.so", "pkg._speedups"),
        ("pkg/_win.cp311-win_amd64.pyd", "pkg._win"),
        ("pkg/__init__.cpython-311-x86_64-linux-gnu.so", "pkg"),
        ("torch/lib/libc10.so", None),
        ("pkg/mod.pyi", None),
        ("pkg/__pycache__/mod.cpython-311.pyc", "pkg.mod"),
        ("pkg-1.0.dist-info/METADATA", None),
        ("pkg/not-a-module.py", None),
        ("__init__.py", None),
    ],
)
def test_module_name(path: str, module: str | None) -> None:
    assert module_name(path) == module


def test_entry_point_modules() -> None:
    text = (
        "[console_scripts]\ntorchrun = torch.distributed.run:main\n"
        "# a comment\n[torchrun.logs_specs]\ndefault = torch.distributed.elastic.multiprocessing"
        ":DefaultLogsSpecs\n[x]\nplain = pkg.mod [extra1]\n"
    )
    assert entry_point_modules(text) == {
        "torch.distributed.run",
        "torch.distributed.elastic.multiprocessing",
        "pkg.mod",
    }


def test_resolve_soname() -> None:
    tree = Libraries(["a/libfoo.so.1", "b/libfoo.so.1", "c/libbar.so.2.4", "c/libbarbaz.so.2"])
    none = Dynamic()
    assert tree.resolve("libfoo.so.1", "x.so", none) == ("a/libfoo.so.1", "b/libfoo.so.1")
    assert tree.resolve("libbar.so.2", "x.so", none) == ("c/libbar.so.2.4",)
    assert tree.resolve("libc.so.6", "x.so", none) == ()


def test_stub_plan_sizes() -> None:
    listing = WheelListing(
        dist_info="pkg-1.0.dist-info",
        members={"pkg/__init__.py": 1000, "pkg-1.0.dist-info/METADATA": 50},
    )
    stub = DistributionPlan(name=NormalizedName("pkg"), version="1.0", decision="stub", reason="r")
    planned = plan_wheel(stub, listing, [], "profile")
    assert (planned.decision, planned.bytes_installed, planned.bytes_saved) == ("stub", 1050, 1000)


def test_safe_categories_documented() -> None:
    assert set(REMOVABLE) == {"tests", "headers", "static-libraries", "cmake", "type-stubs", "docs"}
    assert set(REMOVABLE_WHY) == set(REMOVABLE)
    assert all(c.what and c.why and c.keep for c in REMOVABLE_WHY.values())


# -- decide ----------------------------------------------------------------------


def _dist(
    name: str, *, requested: bool = False, sdist: bool = False, **kw: Any
) -> ResolvedDistribution:
    filename = f"{name}-1.0.tar.gz" if sdist else f"{name}-1.0-py3-none-any.whl"
    return ResolvedDistribution(
        name=canonicalize_name(name),
        version="1.0",
        url=f"https://example.invalid/{filename}",
        filename=filename,
        sha256=None,
        requested=requested,
        **kw,
    )


def _resolution(dists: tuple[ResolvedDistribution, ...], markers: dict[str, str]) -> Resolution:
    """A resolution with the extras-only set worked out, as pip's report reader does."""
    report = {
        "install": [
            {
                "metadata": {
                    "name": d.name,
                    "version": d.version,
                    "requires_dist": list(d.requires_dist),
                },
                "download_info": {"url": d.url, "archive_info": {}},
                "requested": d.requested,
                "requested_extras": list(d.requested_extras),
            }
            for d in dists
        ],
        "environment": markers,
    }
    return from_pip_report(report)


RESOLUTION = _resolution(
    (
        _dist(
            "app",
            requested=True,
            requested_extras=("Fancy",),
            requires_dist=(
                "lib-used>=1",
                "lib-unused",
                "probed-only",
                "built-from-sdist",
                'extra-dep; extra == "fancy"',
                "lib-b[fast]",
                'win-only; sys_platform == "win32"',
            ),
        ),
        _dist("tool", requested=True),
        _dist("lib-used"),
        _dist("lib-unused"),
        _dist("probed-only"),
        _dist("built-from-sdist", sdist=True),
        _dist("extra-dep", requires_dist=("extra-dep-dep",)),
        _dist("extra-dep-dep"),
        _dist("lib-b", requires_dist=('fast-dep; extra == "fast"',)),
        _dist("fast-dep"),
        _dist("win-only"),
    ),
    {"sys_platform": "linux", "python_version": "3.11"},
)

PROFILE = Profile(
    distributions=(
        DistributionUsage(name=NormalizedName("app"), version="1.0", files=("app/__init__.py",)),
        DistributionUsage(
            name=NormalizedName("lib-used"), version="0.5", files=("lib_used/__init__.py",)
        ),
        DistributionUsage(
            name=NormalizedName("lib-unused"), version="1.0", probed=("libunused/__init__.py",)
        ),
        DistributionUsage(
            name=NormalizedName("probed-only"), version="1.0", probed=("probed_only/x.json",)
        ),
        DistributionUsage(
            name=NormalizedName("built-from-sdist"), version="1.0", files=("bfs/__init__.py",)
        ),
    )
)

EXPECTED_DECISIONS = {
    "app": "strip",
    "tool": "stub",  # requested: never omitted
    "lib-used": "strip",  # used at another version: still a strip candidate
    "lib-unused": "stub",
    "probed-only": "strip",  # a probed data file must stay
    "built-from-sdist": "keep",
    "extra-dep": "omit",  # only app[fancy], an extra the user asked for, needs it
    "extra-dep-dep": "omit",
    "lib-b": "stub",
    "fast-dep": "stub",  # lib-b[fast] is a base requirement of app: app needs it
    "win-only": "omit",  # its marker is false here: nothing needs it
}


def test_decide_profile_policy() -> None:
    plans = name_stubs(
        decide(RESOLUTION, PROFILE, "profile", profile_label="train.toml"), PROFILE, {}
    )
    assert {n: p.decision for n, p in plans.items()} == EXPECTED_DECISIONS
    assert plans[NormalizedName("lib-unused")].stub_modules == ("libunused",)
    assert plans[NormalizedName("tool")].stub_modules == ("tool",)  # no listing: a guess, said
    assert "a guess" in plans[NormalizedName("tool")].notes[0]
    assert plans[NormalizedName("lib-unused")].reason == "the profile never used it"
    assert "app[fancy]" in plans[NormalizedName("extra-dep")].reason
    assert "not a wheel" in plans[NormalizedName("built-from-sdist")].reason
    assert all(p.profile_label == "train.toml" for p in plans.values())
    assert plans[NormalizedName("app")].profile_digest
    assert plans[NormalizedName("fast-dep")].profile_digest == ""


def test_decide_stub_names_from_namespace_paths() -> None:
    profile = Profile(
        distributions=(
            DistributionUsage(
                name=NormalizedName("lib-unused"),
                version="1.0",
                probed=(
                    "google/protobuf/__init__.py",
                    "google/protobuf/__pycache__/x.cpython-311.pyc",
                ),
            ),
        )
    )
    plans = name_stubs(decide(RESOLUTION, profile, "profile"), profile, {})
    assert plans[NormalizedName("lib-unused")].stub_modules == ("google.protobuf",)


def test_decide_safe_policy() -> None:
    plans = decide(RESOLUTION, None, "safe")
    assert {n for n, p in plans.items() if p.decision != "strip"} == {"built-from-sdist"}
    assert plans[NormalizedName("built-from-sdist")].decision == "keep"


def test_decide_profile_policy_needs_a_profile() -> None:
    with pytest.raises(PlanError) as info:
        decide(RESOLUTION, None, "profile")
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, LeanInstallError)
    assert info.value.hint


def test_decide_then_plan_wheel_round_trips_as_a_plan() -> None:
    plans = decide(RESOLUTION, PROFILE, "profile", profile_label="train.toml")
    listing = WheelListing(
        dist_info="app-1.0.dist-info",
        members={"app/__init__.py": 10, "app/big.py": 5000, "app-1.0.dist-info/METADATA": 9},
    )
    app = plan_wheel(plans[NormalizedName("app")], listing, PROFILE.find("app"), "profile")
    assert (app.decision, app.drop, app.stub_modules) == ("strip", ("app/big.py",), ("app.big",))
    plan = Plan(policy="profile", profile_label="train.toml", distributions=(app,))
    assert Plan.from_dict(plan.to_dict()) == plan
    assert plan.bytes_saved == 5000
    below = replace(app, symbols=True, gpu_archs=(80, 90))  # what --gpu-arch adds after the cache
    assert DistributionPlan.from_dict(below.to_dict()) == below
    assert below.lean_version != app.lean_version != replace(below, gpu_archs=(90,)).lean_version
    wrong = {**below.to_dict(), "gpu-archs": ["sm_90"]}
    with pytest.raises(RecordError, match="gpu-archs"):
        DistributionPlan.from_dict(wrong)


def test_top_level_modules_from_a_wheel_listing() -> None:
    names = [
        "yaml/__init__.py",
        "yaml/composer.py",
        "_yaml/__init__.py",
        "six.py",
        "_cffi_backend.cpython-311-x86_64-linux-gnu.so",
        "google/protobuf/__init__.py",  # google: a namespace shared with other distributions
        "google/protobuf/message.py",
        "google/_upb/_message.abi3.so",  # a namespace's module outside any package: no stub
        "PyYAML-6.0.dist-info/METADATA",
        "PyYAML-6.0.data/scripts/tool",
        "README.txt",
        "not-a-module/__init__.py",
        "dir/",
    ]
    assert top_level_modules(names) == ("_cffi_backend", "_yaml", "google.protobuf", "six", "yaml")
