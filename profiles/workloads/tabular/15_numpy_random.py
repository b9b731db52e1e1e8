"""numpy.random with the Generator API: default_rng, the usual distributions checked by
their moments, choice with and without replacement, permutation / shuffle, SeedSequence
spawning, explicit bit generators (PCG64, Philox), reproducibility and multivariate normal."""

import sys
import tempfile
from pathlib import Path

import numpy as np


def main(workdir: Path) -> None:
    rng = np.random.default_rng(13)
    n = 200_000
    normal = rng.normal(5.0, 2.0, n)
    assert abs(normal.mean() - 5) < 0.05 and abs(normal.std() - 2) < 0.05
    assert abs(rng.uniform(0, 1, n).mean() - 0.5) < 0.01
    assert abs(rng.poisson(3.0, n).mean() - 3) < 0.05
    assert abs(rng.binomial(10, 0.3, n).mean() - 3) < 0.05
    assert abs(rng.exponential(2.0, n).mean() - 2) < 0.05
    assert abs(rng.gamma(2.0, 3.0, n).mean() - 6) < 0.1
    beta = rng.beta(2, 5, n)
    assert abs(beta.mean() - 2 / 7) < 0.01 and beta.min() >= 0 and beta.max() <= 1
    ints = rng.integers(0, 10, n)
    assert ints.min() == 0 and ints.max() == 9
    counts = np.bincount(ints)
    assert counts.min() > n / 10 * 0.95
    draws = rng.choice(["a", "b", "c"], size=n, p=[0.5, 0.3, 0.2])
    share = (draws == "a").mean()
    assert abs(share - 0.5) < 0.01
    sample = rng.choice(100, size=100, replace=False)
    assert sorted(sample) == list(range(100))
    perm = rng.permutation(50)
    arr = np.arange(50)
    rng.shuffle(arr)
    assert sorted(perm) == list(range(50)) and sorted(arr) == list(range(50))
    matrix = np.arange(20).reshape(10, 2)
    permuted = rng.permuted(matrix, axis=0)
    assert sorted(permuted[:, 0]) == list(range(0, 20, 2))
    a = np.random.default_rng(42).normal(size=5)
    b = np.random.default_rng(42).normal(size=5)
    assert np.array_equal(a, b)
    children = np.random.SeedSequence(2024).spawn(4)
    streams = [np.random.default_rng(s).random(3) for s in children]
    assert len({tuple(s) for s in streams}) == 4
    pcg = np.random.Generator(np.random.PCG64(7))
    philox = np.random.Generator(np.random.Philox(7))
    assert pcg.random() != philox.random()
    jumped = np.random.PCG64(7).jumped()
    assert np.random.Generator(jumped).random() != np.random.Generator(np.random.PCG64(7)).random()
    cov = np.array([[1.0, 0.8], [0.8, 1.0]])
    mv = rng.multivariate_normal([0, 0], cov, size=50_000)
    assert abs(np.corrcoef(mv.T)[0, 1] - 0.8) < 0.01
    dirichlet = rng.dirichlet([1, 2, 3], 1000)
    assert np.allclose(dirichlet.sum(axis=1), 1)
    state = rng.bit_generator.state
    first = rng.random(3)
    rng.bit_generator.state = state
    assert np.array_equal(rng.random(3), first)
    legacy = np.random.RandomState(0).rand(3)
    assert legacy.shape == (3,)
    print(f"OK numpy_random mean={normal.mean():.3f} share_a={share:.3f}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
