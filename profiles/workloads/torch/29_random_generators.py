"""Randomness: manual_seed reproducibility, torch.Generator objects (independent streams,
get_state/set_state), get_rng_state/set_rng_state, fork_rng, initial_seed/seed, sampling ops
(rand, randn, randint, randperm, multinomial with and without replacement, bernoulli, normal,
poisson, in-place uniform_/normal_/exponential_), and use_deterministic_algorithms."""

import math
import sys
import tempfile
from pathlib import Path

import torch


def draw(generator=None) -> torch.Tensor:
    return torch.cat(
        [
            torch.rand(3, generator=generator),
            torch.randn(3, generator=generator),
            torch.randint(0, 100, (3,), generator=generator).float(),
            torch.randperm(5, generator=generator).float(),
        ]
    )


def main(workdir: Path) -> None:
    torch.manual_seed(1234)
    first = draw()
    torch.manual_seed(1234)
    assert torch.equal(draw(), first)
    assert torch.initial_seed() == 1234

    state = torch.get_rng_state()
    a = torch.randn(4)
    torch.set_rng_state(state)
    assert torch.equal(torch.randn(4), a)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        torch.randn(100)
    assert not torch.equal(torch.randn(4), a)  # the outer stream continued, untouched by the fork

    g1, g2 = torch.Generator().manual_seed(7), torch.Generator().manual_seed(7)
    assert torch.equal(draw(g1), draw(g2))
    saved = g1.get_state()
    ahead = draw(g1)
    g1.set_state(saved)
    assert torch.equal(draw(g1), ahead)
    torch.manual_seed(99)
    before_global = torch.get_rng_state()
    draw(torch.Generator().manual_seed(3))
    assert torch.equal(
        torch.get_rng_state(), before_global
    )  # private generators leave the global one alone
    assert g1.initial_seed() == 7 and torch.Generator().seed() != torch.Generator().seed()

    g = torch.Generator().manual_seed(0)
    uniform = torch.rand(50000, generator=g)
    assert uniform.min() >= 0 and uniform.max() < 1 and abs(uniform.mean().item() - 0.5) < 0.01
    normal = torch.randn(50000, generator=g)
    assert abs(normal.mean().item()) < 0.02 and abs(normal.std().item() - 1) < 0.02
    shifted = torch.normal(mean=3.0, std=0.5, size=(50000,), generator=g)
    assert abs(shifted.mean().item() - 3) < 0.01
    probs = torch.tensor([0.1, 0.2, 0.7])
    picks = torch.multinomial(probs, 30000, replacement=True, generator=g)
    assert torch.allclose(torch.bincount(picks).float() / 30000, probs, atol=0.01)
    distinct = torch.multinomial(torch.ones(10), 10, replacement=False, generator=g)
    assert sorted(distinct.tolist()) == list(range(10))
    coins = torch.bernoulli(torch.full((50000,), 0.25), generator=g)
    assert abs(coins.mean().item() - 0.25) < 0.01
    counts = torch.poisson(torch.full((50000,), 3.0), generator=g)
    assert abs(counts.mean().item() - 3.0) < 0.05
    perm = torch.randperm(1000, generator=g)
    assert torch.equal(perm.sort().values, torch.arange(1000))
    filled = torch.empty(50000)
    assert abs(filled.uniform_(-2, 2, generator=g).mean().item()) < 0.03
    assert abs(filled.normal_(5, 1, generator=g).mean().item() - 5) < 0.02
    assert abs(filled.exponential_(2.0, generator=g).mean().item() - 0.5) < 0.01
    assert abs(filled.geometric_(0.5, generator=g).mean().item() - 2) < 0.05
    assert (
        abs(filled.log_normal_(0, 0.25, generator=g).mean().item() - math.exp(0.25**2 / 2)) < 0.01
    )
    shuffled = torch.arange(10)[torch.randperm(10, generator=g)]
    assert set(shuffled.tolist()) == set(range(10))

    torch.use_deterministic_algorithms(True)
    try:
        assert torch.are_deterministic_algorithms_enabled()
        torch.manual_seed(5)
        x = torch.randn(64, 64)
        r1 = torch.zeros(64).index_add_(0, torch.randint(0, 64, (64,)), x.sum(1))
        torch.manual_seed(5)
        x = torch.randn(64, 64)
        r2 = torch.zeros(64).index_add_(0, torch.randint(0, 64, (64,)), x.sum(1))
        assert torch.equal(r1, r2)
    finally:
        torch.use_deterministic_algorithms(False)
    print(f"OK 29_random_generators first={first[0].item():.6f} perm_head={perm[:3].tolist()}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
