"""nn.Linear / nn.Bilinear / nn.Identity and the usual activations (ReLU, LeakyReLU, ELU, GELU
exact and tanh, SiLU, Mish, Sigmoid, Tanh, Softplus, Hardswish, PReLU, Softmax/LogSoftmax),
module and functional forms checked against their formulas, plus a tiny MLP fit."""

import math
import sys
import tempfile
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F


def main(workdir: Path) -> None:
    torch.manual_seed(0)
    linear = nn.Linear(8, 3)
    x = torch.randn(16, 8)
    assert linear.weight.shape == (3, 8) and linear.bias.shape == (3,)
    assert torch.allclose(linear(x), x @ linear.weight.T + linear.bias, atol=1e-6)
    assert torch.allclose(F.linear(x, linear.weight, linear.bias), linear(x))
    assert nn.Linear(8, 3, bias=False).bias is None
    assert torch.equal(nn.Identity()(x), x)
    bilinear = nn.Bilinear(8, 4, 2)
    z = torch.randn(16, 4)
    expected = torch.einsum("bi,oij,bj->bo", x, bilinear.weight, z) + bilinear.bias
    assert torch.allclose(bilinear(x, z), expected, atol=1e-5)
    assert nn.LazyLinear(5)(x).shape == (16, 5)

    t = torch.linspace(-4, 4, 101)
    checks = {
        "relu": (nn.ReLU()(t), t.clamp(min=0)),
        "relu6": (nn.ReLU6()(t), t.clamp(0, 6)),
        "leaky": (nn.LeakyReLU(0.1)(t), torch.where(t > 0, t, 0.1 * t)),
        "elu": (nn.ELU()(t), torch.where(t > 0, t, torch.exp(t) - 1)),
        "gelu": (nn.GELU()(t), 0.5 * t * (1 + torch.erf(t / math.sqrt(2)))),
        "gelu_tanh": (
            nn.GELU(approximate="tanh")(t),
            0.5 * t * (1 + torch.tanh(math.sqrt(2 / math.pi) * (t + 0.044715 * t**3))),
        ),
        "silu": (nn.SiLU()(t), t * torch.sigmoid(t)),
        "mish": (nn.Mish()(t), t * torch.tanh(F.softplus(t))),
        "sigmoid": (nn.Sigmoid()(t), 1 / (1 + torch.exp(-t))),
        "tanh": (nn.Tanh()(t), (torch.exp(2 * t) - 1) / (torch.exp(2 * t) + 1)),
        "softplus": (nn.Softplus()(t), torch.log1p(torch.exp(t))),
        "hardswish": (nn.Hardswish()(t), t * (t + 3).clamp(0, 6) / 6),
        "hardtanh": (nn.Hardtanh()(t), t.clamp(-1, 1)),
        "selu": (
            F.selu(t),
            1.0507009873554805 * torch.where(t > 0, t, 1.6732632423543772 * (torch.exp(t) - 1)),
        ),
        "softsign": (F.softsign(t), t / (1 + t.abs())),
    }
    for name, (got, want) in checks.items():
        assert torch.allclose(got, want, atol=1e-5), name
    prelu = nn.PReLU(init=0.25)
    assert torch.allclose(prelu(t), torch.where(t > 0, t, 0.25 * t))
    assert prelu.weight.requires_grad

    logits = torch.randn(4, 6)
    probs = nn.Softmax(dim=1)(logits)
    assert torch.allclose(probs.sum(1), torch.ones(4))
    assert torch.allclose(nn.LogSoftmax(dim=1)(logits), probs.log(), atol=1e-6)
    assert (F.softmax(logits / 0.5, dim=-1).max(1).values >= probs.max(1).values).all()  # sharper
    assert torch.allclose(F.glu(torch.ones(2, 4)), torch.sigmoid(torch.ones(2, 2)))
    assert torch.equal(F.relu(torch.tensor([-1.0, 2.0]), inplace=False), torch.tensor([0.0, 2.0]))

    # a small MLP learns XOR-like targets
    inputs = torch.randint(0, 2, (256, 2)).float()
    targets = (inputs[:, 0] != inputs[:, 1]).float()[:, None]
    mlp = nn.Sequential(nn.Linear(2, 16), nn.GELU(), nn.Linear(16, 16), nn.SiLU(), nn.Linear(16, 1))
    optimizer = torch.optim.Adam(mlp.parameters(), lr=0.02)
    for _ in range(200):
        optimizer.zero_grad()
        loss = F.binary_cross_entropy_with_logits(mlp(inputs), targets)
        loss.backward()
        optimizer.step()
    accuracy = ((mlp(inputs) > 0).float() == targets).float().mean().item()
    assert accuracy == 1.0 and loss.item() < 0.05, (accuracy, loss.item())
    print(f"OK 07_linear_activations activations={len(checks)} xor_loss={loss.item():.4f}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
