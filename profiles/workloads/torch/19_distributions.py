"""torch.distributions: Normal, Bernoulli, Categorical, MultivariateNormal, Dirichlet, Beta,
Gamma, Poisson, Uniform, Independent, TransformedDistribution; log_prob/entropy against closed
forms, sample moments, rsample gradients (reparameterisation), kl_divergence, and a
maximum-likelihood fit of a Normal by gradient descent."""

import math
import sys
import tempfile
from pathlib import Path

import torch
import torch.distributions as D


def main(workdir: Path) -> None:
    torch.manual_seed(0)
    normal = D.Normal(torch.tensor(1.0), torch.tensor(2.0))
    x = torch.tensor(0.5)
    manual = -((x - 1) ** 2) / (2 * 4) - math.log(2) - 0.5 * math.log(2 * math.pi)
    assert torch.allclose(normal.log_prob(x), manual)
    assert torch.allclose(normal.entropy(), torch.tensor(0.5 * math.log(2 * math.pi * math.e * 4)))
    assert torch.allclose(normal.cdf(torch.tensor(1.0)), torch.tensor(0.5))
    samples = normal.sample((20000,))
    assert abs(samples.mean().item() - 1) < 0.05 and abs(samples.std().item() - 2) < 0.05

    coin = D.Bernoulli(probs=torch.tensor(0.3))
    assert torch.allclose(coin.log_prob(torch.tensor(1.0)), torch.log(torch.tensor(0.3)))
    assert abs(coin.sample((10000,)).mean().item() - 0.3) < 0.02
    cat = D.Categorical(logits=torch.tensor([0.0, 1.0, 2.0]))
    assert torch.allclose(cat.probs, torch.softmax(torch.tensor([0.0, 1.0, 2.0]), 0))
    counts = torch.bincount(cat.sample((20000,)), minlength=3).float() / 20000
    assert torch.allclose(counts, cat.probs, atol=0.02)
    assert cat.batch_shape == () and cat.event_shape == ()

    cov = torch.tensor([[2.0, 0.6], [0.6, 1.0]])
    mvn = D.MultivariateNormal(torch.zeros(2), covariance_matrix=cov)
    draws = mvn.sample((20000,))
    assert torch.allclose(torch.cov(draws.T), cov, atol=0.08)
    point = torch.tensor([0.3, -0.2])
    manual_mvn = -0.5 * (point @ torch.linalg.inv(cov) @ point) - 0.5 * torch.logdet(
        2 * math.pi * cov
    )
    assert torch.allclose(mvn.log_prob(point), manual_mvn, atol=1e-5)

    dirichlet = D.Dirichlet(torch.tensor([2.0, 3.0, 5.0]))
    assert torch.allclose(dirichlet.sample((5,)).sum(-1), torch.ones(5))
    assert torch.allclose(dirichlet.mean, torch.tensor([0.2, 0.3, 0.5]))
    assert torch.allclose(D.Beta(2.0, 2.0).mean, torch.tensor(0.5))
    assert torch.allclose(D.Gamma(3.0, 2.0).mean, torch.tensor(1.5))
    assert abs(D.Poisson(4.0).sample((20000,)).mean().item() - 4) < 0.1
    assert torch.allclose(
        D.Uniform(0.0, 4.0).log_prob(torch.tensor(1.0)), torch.log(torch.tensor(0.25))
    )
    diag = D.Independent(D.Normal(torch.zeros(3), torch.ones(3)), 1)
    assert diag.event_shape == (3,) and diag.log_prob(torch.zeros(3)).shape == ()
    log_normal = D.TransformedDistribution(D.Normal(0.0, 1.0), [D.transforms.ExpTransform()])
    value = torch.tensor(2.0)
    assert torch.allclose(log_normal.log_prob(value), D.LogNormal(0.0, 1.0).log_prob(value))

    p, q = D.Normal(0.0, 1.0), D.Normal(1.0, 2.0)
    manual_kl = math.log(2) + (1 + 1) / (2 * 4) - 0.5
    assert torch.allclose(D.kl_divergence(p, q), torch.tensor(manual_kl))
    assert torch.allclose(D.kl_divergence(cat, cat), torch.tensor(0.0), atol=1e-6)

    mu = torch.tensor(0.0, requires_grad=True)
    sample = D.Normal(mu, 1.0).rsample((1000,))
    (sample**2).mean().backward()  # d/dmu E[(mu + eps)^2] = 2 mu + noise
    assert abs(mu.grad.item()) < 0.2
    assert D.Normal(0.0, 1.0).has_rsample and not D.Categorical(logits=torch.zeros(2)).has_rsample

    data = D.Normal(3.0, 0.5).sample((2000,))
    loc = torch.zeros((), requires_grad=True)
    log_scale = torch.zeros((), requires_grad=True)
    optimizer = torch.optim.Adam([loc, log_scale], lr=0.05)
    for _ in range(300):
        optimizer.zero_grad()
        nll = -D.Normal(loc, log_scale.exp()).log_prob(data).mean()
        nll.backward()
        optimizer.step()
    assert abs(loc.item() - data.mean().item()) < 0.02 and abs(log_scale.exp().item() - 0.5) < 0.03
    print(f"OK 19_distributions mle_loc={loc.item():.3f} mle_scale={log_scale.exp().item():.3f}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
