"""torch.func: vmap (in_dims, nested), grad and grad_and_value, jacrev/jacfwd, hessian,
functional_call with a swapped parameter dict, per-sample gradients of a model via
vmap(grad(...)) checked against a loop, and model ensembling with stack_module_state."""

import copy
import sys
import tempfile
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.func import (
    functional_call,
    grad,
    grad_and_value,
    hessian,
    jacfwd,
    jacrev,
    stack_module_state,
    vmap,
)


def main(workdir: Path) -> None:
    torch.manual_seed(0)
    batch = torch.randn(8, 5)
    weight = torch.randn(5)
    assert torch.allclose(vmap(torch.dot, in_dims=(0, None))(batch, weight), batch @ weight)
    outer = vmap(vmap(torch.mul, in_dims=(None, 0)), in_dims=(0, None))(
        torch.arange(3.0), torch.arange(4.0)
    )
    assert torch.equal(outer, torch.outer(torch.arange(3.0), torch.arange(4.0)))
    assert vmap(lambda row: row.sum(), in_dims=1)(batch).shape == (5,)

    def f(x: torch.Tensor) -> torch.Tensor:
        return (x.sin() * x).sum()

    x = torch.randn(5)
    assert torch.allclose(grad(f)(x), x.cos() * x + x.sin())
    g, value = grad_and_value(f)(x)
    assert torch.allclose(value, f(x)) and torch.allclose(g, grad(f)(x))
    second = grad(lambda t: grad(lambda s: s**3)(t))(torch.tensor(2.0))
    assert second.item() == 12.0

    def h(v: torch.Tensor) -> torch.Tensor:
        return torch.stack([v[0] ** 2 * v[1], v[1].exp()])

    point = torch.tensor([1.0, 0.5])
    assert torch.allclose(jacrev(h)(point), jacfwd(h)(point))
    assert torch.allclose(hessian(f)(x), torch.autograd.functional.hessian(f, x), atol=1e-6)

    model = nn.Sequential(nn.Linear(5, 16), nn.Tanh(), nn.Linear(16, 3))
    params = {k: v.detach() for k, v in model.named_parameters()}
    zeroed = {k: torch.zeros_like(v) for k, v in params.items()}
    assert torch.equal(functional_call(model, zeroed, (batch,)), torch.zeros(8, 3))
    assert torch.allclose(functional_call(model, params, (batch,)), model(batch))

    targets = torch.randint(0, 3, (8,))

    def sample_loss(p, sample, target):
        logits = functional_call(model, p, (sample[None],))
        return F.cross_entropy(logits, target[None])

    per_sample = vmap(grad(sample_loss), in_dims=(None, 0, 0))(params, batch, targets)
    assert per_sample["0.weight"].shape == (8, 16, 5)
    for i in range(8):
        model.zero_grad()
        F.cross_entropy(model(batch[i : i + 1]), targets[i : i + 1]).backward()
        for name, p in model.named_parameters():
            assert torch.allclose(per_sample[name][i], p.grad, atol=1e-6), (name, i)
    clipped = {k: v.flatten(1).norm(dim=1) for k, v in per_sample.items()}  # DP-SGD style norms
    assert all(n.shape == (8,) for n in clipped.values())

    members = [nn.Linear(5, 2) for _ in range(4)]
    stacked_params, stacked_buffers = stack_module_state(members)
    base = copy.deepcopy(members[0]).to("meta")

    def run_member(p, b, inp):
        return functional_call(base, (p, b), (inp,))

    ensemble = vmap(run_member, in_dims=(0, 0, None))(stacked_params, stacked_buffers, batch)
    assert ensemble.shape == (4, 8, 2)
    for i, member in enumerate(members):
        assert torch.allclose(ensemble[i], member(batch), atol=1e-6)
    print(
        f"OK 28_func_vmap_grad per_sample_norm={clipped['0.weight'].mean().item():.4f}"
        f" ensemble={len(members)}"
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
