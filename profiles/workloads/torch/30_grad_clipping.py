"""Gradient clipping and accumulation: clip_grad_norm_ (returned total norm checked against a
manual computation, inf-norm, error_if_nonfinite), get_total_norm + clip_grads_with_norm_,
clip_grad_value_, gradient accumulation over micro-batches equal to one large batch, and a
regression on badly scaled inputs that diverges unless gradients are clipped."""

import math
import sys
import tempfile
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F


def main(workdir: Path) -> None:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(10, 20), nn.ReLU(), nn.Linear(20, 1))
    x, y = torch.randn(32, 10), torch.randn(32, 1)
    (F.mse_loss(model(x), y) * 1000).backward()
    grads = [p.grad.clone() for p in model.parameters()]
    manual_norm = math.sqrt(sum(g.pow(2).sum().item() for g in grads))
    total = nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
    assert math.isclose(total.item(), manual_norm, rel_tol=1e-5)
    clipped_norm = math.sqrt(sum(p.grad.pow(2).sum().item() for p in model.parameters()))
    assert math.isclose(clipped_norm, 1.0, rel_tol=1e-4), clipped_norm
    for p, g in zip(model.parameters(), grads, strict=True):  # direction preserved
        assert torch.allclose(p.grad, g * (1.0 / (manual_norm + 1e-6)), rtol=1e-4, atol=1e-7)

    for p, g in zip(model.parameters(), grads, strict=True):
        p.grad = g.clone()
    inf_norm = nn.utils.clip_grad_norm_(model.parameters(), max_norm=0.5, norm_type=float("inf"))
    assert math.isclose(inf_norm.item(), max(g.abs().max().item() for g in grads), rel_tol=1e-6)
    assert max(p.grad.abs().max().item() for p in model.parameters()) <= 0.5 + 1e-5

    for p, g in zip(model.parameters(), grads, strict=True):
        p.grad = g.clone()
    norm = nn.utils.get_total_norm([p.grad for p in model.parameters()])
    nn.utils.clip_grads_with_norm_(model.parameters(), max_norm=2.0, total_norm=norm)
    assert math.isclose(norm.item(), manual_norm, rel_tol=1e-5)
    assert math.isclose(
        nn.utils.get_total_norm([p.grad for p in model.parameters()]).item(), 2.0, rel_tol=1e-4
    )

    for p, g in zip(model.parameters(), grads, strict=True):
        p.grad = g.clone()
    nn.utils.clip_grad_value_(model.parameters(), clip_value=0.01)
    assert all(p.grad.abs().max() <= 0.01 for p in model.parameters())

    model[0].weight.grad[0, 0] = float("nan")
    try:
        nn.utils.clip_grad_norm_(model.parameters(), 1.0, error_if_nonfinite=True)
    except RuntimeError as error:
        assert "non-finite" in str(error)
    else:
        raise AssertionError("nan gradient not reported")

    # accumulation: 4 micro-batches of 8 == one batch of 32
    model.zero_grad()
    F.mse_loss(model(x), y).backward()
    full = [p.grad.clone() for p in model.parameters()]
    model.zero_grad()
    for xs, ys in zip(x.split(8), y.split(8), strict=True):
        (F.mse_loss(model(xs), ys) / 4).backward()
    for p, g in zip(model.parameters(), full, strict=True):
        assert torch.allclose(p.grad, g, atol=1e-6)

    # badly scaled inputs: plain SGD at this lr diverges, clipping the norm keeps it stable
    def train(clip: bool) -> tuple[float, float]:
        torch.manual_seed(1)
        net = nn.Linear(10, 1)
        opt = torch.optim.SGD(net.parameters(), lr=0.05)
        inputs = 10 * torch.randn(128, 10)
        targets = inputs @ torch.randn(10, 1)
        losses = []
        for _ in range(100):
            opt.zero_grad()
            loss = F.mse_loss(net(inputs), targets)
            loss.backward()
            if clip:
                nn.utils.clip_grad_norm_(net.parameters(), max_norm=1.0)
            opt.step()
            losses.append(loss.item())
        return losses[0], losses[-1]

    (start, unclipped), (_, clipped) = train(False), train(True)
    assert not math.isfinite(unclipped) or unclipped > start, (start, unclipped)
    assert math.isfinite(clipped) and clipped < start * 0.01, (start, clipped)
    print(
        f"OK 30_grad_clipping norm={manual_norm:.2f} clipped_loss={clipped:.2f}"
        f" unclipped_loss={unclipped:.3g}"
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
