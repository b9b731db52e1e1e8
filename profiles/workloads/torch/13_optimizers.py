"""Optimizers: SGD (momentum, Nesterov, weight decay), Adam, AdamW, RMSprop, Adagrad on a
least-squares problem; one Adam step checked against its update rule; parameter groups with
their own lr; zero_grad(set_to_none); optimizer state_dict save/load resumes identically."""

import io
import math
import sys
import tempfile
from pathlib import Path

import torch
import torch.nn as nn


def fit(make_optimizer, steps: int = 150) -> float:
    torch.manual_seed(1)
    features = torch.randn(128, 10)
    true_w = torch.randn(10, 1)
    targets = features @ true_w + 0.01 * torch.randn(128, 1)
    model = nn.Linear(10, 1)
    optimizer = make_optimizer(model.parameters())
    for _ in range(steps):
        optimizer.zero_grad()
        loss = ((model(features) - targets) ** 2).mean()
        loss.backward()
        optimizer.step()
    return loss.item()


def main(workdir: Path) -> None:
    torch.manual_seed(0)
    makers = {
        "sgd": lambda p: torch.optim.SGD(p, lr=0.05),
        "sgd_nesterov": lambda p: torch.optim.SGD(
            p, lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-4
        ),
        "adam": lambda p: torch.optim.Adam(p, lr=0.05),
        "adam_amsgrad": lambda p: torch.optim.Adam(p, lr=0.05, amsgrad=True),
        "adamw": lambda p: torch.optim.AdamW(p, lr=0.05, weight_decay=0.01),
        "rmsprop": lambda p: torch.optim.RMSprop(p, lr=0.01, momentum=0.5),
        "adagrad": lambda p: torch.optim.Adagrad(p, lr=0.5),
    }
    losses = {name: fit(make) for name, make in makers.items()}
    for name, loss in losses.items():
        assert loss < 0.05, (name, loss)

    # one Adam step by hand
    param = nn.Parameter(torch.tensor([1.0, -2.0]))
    adam = torch.optim.Adam([param], lr=0.1, betas=(0.9, 0.999), eps=1e-8)
    (param**2).sum().backward()
    grad = param.grad.clone()
    before = param.detach().clone()
    adam.step()
    m_hat = (0.1 * grad) / (1 - 0.9)
    v_hat = (0.001 * grad**2) / (1 - 0.999)
    assert torch.allclose(param.detach(), before - 0.1 * m_hat / (v_hat.sqrt() + 1e-8))
    assert adam.state[param]["step"].item() == 1

    # AdamW decays weights even with zero gradient; Adam's L2 goes through the gradient
    decayed = nn.Parameter(torch.ones(3))
    adamw = torch.optim.AdamW([decayed], lr=0.1, weight_decay=0.5)
    decayed.grad = torch.zeros(3)
    adamw.step()
    assert torch.allclose(decayed.detach(), torch.full((3,), 1 - 0.1 * 0.5))

    # parameter groups, per-group lr and zero_grad
    model = nn.Sequential(nn.Linear(4, 4), nn.Linear(4, 2))
    sgd = torch.optim.SGD(
        [
            {"params": model[0].parameters(), "lr": 0.0},
            {"params": model[1].parameters()},
        ],
        lr=0.1,
        momentum=0.9,
    )
    frozen_before = model[0].weight.detach().clone()
    trained_before = model[1].weight.detach().clone()
    model(torch.randn(8, 4)).sum().backward()
    sgd.step()
    assert torch.equal(model[0].weight, frozen_before) and not torch.equal(
        model[1].weight, trained_before
    )
    assert [g["lr"] for g in sgd.param_groups] == [0.0, 0.1]
    sgd.zero_grad(set_to_none=True)
    assert all(p.grad is None for p in model.parameters())
    sgd.add_param_group({"params": [nn.Parameter(torch.zeros(1))], "lr": 0.5})
    assert len(sgd.param_groups) == 3

    # resume from a saved optimizer state
    def run(opt_state=None, steps=5):
        torch.manual_seed(2)
        net = nn.Linear(3, 1)
        opt = torch.optim.RMSprop(net.parameters(), lr=0.01)
        data = torch.randn(16, 3)
        if opt_state is not None:
            net.load_state_dict(opt_state["net"])
            opt.load_state_dict(opt_state["opt"])
        for _ in range(steps):
            opt.zero_grad()
            net(data).pow(2).mean().backward()
            opt.step()
        return net, opt

    straight, _ = run(steps=10)
    half_net, half_opt = run(steps=5)
    buffer = io.BytesIO()
    torch.save({"net": half_net.state_dict(), "opt": half_opt.state_dict()}, buffer)
    buffer.seek(0)
    resumed, _ = run(torch.load(buffer, weights_only=True), steps=5)
    assert torch.allclose(resumed.weight, straight.weight) and torch.allclose(
        resumed.bias, straight.bias
    )
    best = min(losses, key=losses.get)
    assert math.isfinite(losses[best])
    print(f"OK 13_optimizers optimizers={len(losses)} best={best}:{losses[best]:.2e}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
