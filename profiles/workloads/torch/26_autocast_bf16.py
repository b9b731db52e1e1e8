"""Mixed precision on CPU: torch.autocast("cpu", dtype=torch.bfloat16) for forward passes
(matmul/conv in bfloat16, reductions kept in float32), autocast disabled in a nested region,
a training loop under autocast with float32 master weights and gradients, a custom op with
torch.amp.custom_fwd, and a model converted to bfloat16 for inference."""

import sys
import tempfile
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F


class ScaledDot(torch.autograd.Function):
    @staticmethod
    @torch.amp.custom_fwd(device_type="cpu", cast_inputs=torch.float32)
    def forward(ctx, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(a, b)
        return (a * b).sum(-1)

    @staticmethod
    @torch.amp.custom_bwd(device_type="cpu")
    def backward(ctx, grad: torch.Tensor):
        a, b = ctx.saved_tensors
        return grad[:, None] * b, grad[:, None] * a


def main(workdir: Path) -> None:
    torch.manual_seed(0)
    assert torch.amp.is_autocast_available("cpu")
    a, b = torch.randn(16, 32), torch.randn(32, 8)
    linear = nn.Linear(32, 8)
    conv = nn.Conv1d(4, 4, 3)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert torch.is_autocast_enabled("cpu")
        product = a @ b
        projected = linear(a)
        convolved = conv(torch.randn(2, 4, 10))
        summed = product.sum()
        with torch.autocast("cpu", enabled=False):
            exact = a @ b
        custom = ScaledDot.apply(a.bfloat16(), a)
    assert not torch.is_autocast_enabled("cpu")
    assert product.dtype == torch.bfloat16 and projected.dtype == torch.bfloat16
    assert convolved.dtype == torch.bfloat16
    assert exact.dtype == torch.float32 and custom.dtype == torch.float32
    assert linear.weight.dtype == torch.float32  # weights are not converted
    assert summed.dtype in (torch.bfloat16, torch.float32)
    rel = ((product.float() - exact).norm() / exact.norm()).item()
    assert rel < 0.02, rel

    features = torch.randn(128, 20)
    targets = (features[:, :5].sum(1) > 0).long()
    model = nn.Sequential(nn.Linear(20, 32), nn.GELU(), nn.LayerNorm(32), nn.Linear(32, 2))
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-2)
    losses = []
    for _ in range(25):
        optimizer.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            logits = model(features)
            loss = F.cross_entropy(logits, targets)
        assert logits.dtype == torch.bfloat16 and loss.dtype == torch.float32
        loss.backward()
        assert all(p.grad.dtype == torch.float32 for p in model.parameters())
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] * 0.5, (losses[0], losses[-1])

    x = torch.randn(4, 5, requires_grad=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = ScaledDot.apply(x, torch.ones(4, 5))
    out.sum().backward()
    assert torch.allclose(x.grad, torch.ones(4, 5))

    model.eval()
    with torch.no_grad():
        fp32 = model(features).argmax(1)
        bf16_model = model.to(torch.bfloat16)
        bf16 = bf16_model(features.bfloat16()).argmax(1)
    assert next(bf16_model.parameters()).dtype == torch.bfloat16
    agreement = (fp32 == bf16).float().mean().item()
    assert agreement > 0.95, agreement
    print(
        f"OK 26_autocast_bf16 rel_err={rel:.4f} loss={losses[0]:.3f}->{losses[-1]:.3f}"
        f" agree={agreement:.3f}"
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
