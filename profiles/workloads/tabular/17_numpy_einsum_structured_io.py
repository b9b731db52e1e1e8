"""numpy beyond basics: einsum (matmul, batch, trace, outer, bilinear), broadcasting,
structured arrays with sorting and field access, recarray, and file IO with save/load,
savez_compressed, savetxt/loadtxt, genfromtxt with names, memmap and tofile/fromfile."""

import sys
import tempfile
from pathlib import Path

import numpy as np


def main(workdir: Path) -> None:
    rng = np.random.default_rng(15)
    a, b = rng.normal(size=(30, 40)), rng.normal(size=(40, 20))
    assert np.allclose(np.einsum("ij,jk->ik", a, b), a @ b)
    batch = rng.normal(size=(8, 5, 6)), rng.normal(size=(8, 6, 4))
    assert np.allclose(np.einsum("bij,bjk->bik", *batch), np.matmul(*batch))
    sq = rng.normal(size=(25, 25))
    assert np.isclose(np.einsum("ii", sq), np.trace(sq))
    u, v = rng.normal(size=5), rng.normal(size=7)
    assert np.allclose(np.einsum("i,j->ij", u, v), np.outer(u, v))
    m = rng.normal(size=(5, 5))
    assert np.isclose(np.einsum("i,ij,j", u, m, u), u @ m @ u)
    path, _ = np.einsum_path("ij,jk,kl->il", a, b, rng.normal(size=(20, 3)), optimize="greedy")
    assert path[0] == "einsum_path"
    pts = rng.random((100, 2))
    dist = np.sqrt(((pts[:, None, :] - pts[None, :, :]) ** 2).sum(-1))
    assert dist.shape == (100, 100) and np.allclose(np.diag(dist), 0)
    person = np.dtype([("name", "U10"), ("age", "i4"), ("height", "f8")])
    people = np.array([("ann", 31, 1.62), ("bob", 25, 1.80), ("cid", 47, 1.75)], dtype=person)
    assert people["age"].sum() == 103 and people[1]["name"] == "bob"
    by_age = np.sort(people, order="age")
    assert by_age["name"].tolist() == ["bob", "ann", "cid"]
    rec = people.view(np.recarray)
    assert np.isclose(rec.height.mean(), people["height"].mean())
    tall = people[people["height"] > 1.7]
    assert len(tall) == 2
    npy = workdir / "a.npy"
    np.save(npy, a)
    assert np.array_equal(np.load(npy), a)
    npz = workdir / "bundle.npz"
    np.savez_compressed(npz, a=a, b=b, people=people)
    with np.load(npz) as data:
        assert set(data.files) == {"a", "b", "people"} and np.array_equal(data["people"], people)
    txt = workdir / "table.csv"
    np.savetxt(
        txt, a[:5], delimiter=",", header="c" + ",c".join(map(str, range(1, 40))), fmt="%.8f"
    )
    back = np.loadtxt(txt, delimiter=",", skiprows=1)
    assert np.allclose(back, a[:5], atol=1e-7)
    named = workdir / "named.csv"
    named.write_text("x,y,label\n1,2.5,a\n3,,b\n5,6.5,c\n")
    g = np.genfromtxt(named, delimiter=",", names=True, dtype=None, encoding="utf-8")
    assert g.dtype.names == ("x", "y", "label") and np.isnan(g["y"][1])
    mm = np.memmap(workdir / "big.dat", dtype="float32", mode="w+", shape=(1000, 10))
    mm[:] = 1.5
    mm.flush()
    del mm
    ro = np.memmap(workdir / "big.dat", dtype="float32", mode="r", shape=(1000, 10))
    assert float(ro.sum()) == 15000.0
    raw = workdir / "raw.bin"
    b.astype("<f8").tofile(raw)
    assert np.array_equal(np.fromfile(raw, dtype="<f8").reshape(b.shape), b)
    print(f"OK numpy_einsum_structured_io people={len(people)} npz={npz.stat().st_size}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
