"""nn.utils.parametrize and the built-in parametrizations: a custom Symmetric parametrization
(register_parametrization, .original, cached, remove_parametrizations), weight_norm (g and v
round trip), spectral_norm (largest singular value pulled to 1 by power iteration),
orthogonal (W^T W = I kept during training), and state_dict round trips of parametrized models."""

import sys
import tempfile
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.utils.parametrize as parametrize
from torch.nn.utils.parametrizations import orthogonal, spectral_norm, weight_norm


class Symmetric(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.triu() + x.triu(1).transpose(-1, -2)


def main(workdir: Path) -> None:
    torch.manual_seed(0)
    layer = nn.Linear(5, 5)
    parametrize.register_parametrization(layer, "weight", Symmetric())
    assert parametrize.is_parametrized(layer, "weight")
    assert torch.allclose(layer.weight, layer.weight.T)
    assert hasattr(layer.parametrizations.weight, "original")
    optimizer = torch.optim.SGD(layer.parameters(), lr=0.1)
    for _ in range(5):
        optimizer.zero_grad()
        layer(torch.randn(8, 5)).pow(2).sum().backward()
        optimizer.step()
    assert torch.allclose(layer.weight, layer.weight.T)  # still symmetric after training
    with parametrize.cached():
        w1, w2 = layer.weight, layer.weight
        assert w1 is w2
    frozen_weight = layer.weight.detach().clone()
    parametrize.remove_parametrizations(layer, "weight", leave_parametrized=True)
    assert not parametrize.is_parametrized(layer) and torch.equal(layer.weight, frozen_weight)
    assert isinstance(layer.weight, nn.Parameter)

    conv = weight_norm(nn.Conv1d(3, 4, 3), name="weight", dim=0)
    g = conv.parametrizations.weight.original0
    v = conv.parametrizations.weight.original1
    assert g.shape == (4, 1, 1) and v.shape == (4, 3, 3)
    recomposed = g * v / v.norm(dim=(1, 2), keepdim=True)
    assert torch.allclose(conv.weight, recomposed, atol=1e-6)
    with torch.no_grad():
        g.mul_(2)
    assert torch.allclose(conv.weight.norm(dim=(1, 2)), g.flatten(), atol=1e-5)  # g is the norm
    state = conv.state_dict()
    assert "parametrizations.weight.original0" in state
    clone = weight_norm(nn.Conv1d(3, 4, 3))
    clone.load_state_dict(state)
    signal = torch.randn(2, 3, 10)
    assert torch.allclose(clone(signal), conv(signal), atol=1e-6)

    big = nn.Linear(20, 20)
    with torch.no_grad():
        big.weight.mul_(10)
    assert torch.linalg.matrix_norm(big.weight, ord=2) > 2
    sn = spectral_norm(big, n_power_iterations=1)
    for _ in range(30):  # each training-mode forward runs one power iteration
        sn(torch.randn(4, 20))
    sigma = torch.linalg.matrix_norm(sn.weight.detach(), ord=2).item()
    assert abs(sigma - 1.0) < 0.05, sigma

    ortho = orthogonal(nn.Linear(6, 6))
    eye = torch.eye(6)
    assert torch.allclose(ortho.weight.T @ ortho.weight, eye, atol=1e-5)
    opt = torch.optim.Adam(ortho.parameters(), lr=0.05)
    target = torch.randn(32, 6)
    inputs = torch.randn(32, 6)
    first = None
    for _ in range(40):
        opt.zero_grad()
        loss = (ortho(inputs) - target).pow(2).mean()
        loss.backward()
        opt.step()
        first = first if first is not None else loss.item()
    assert torch.allclose(ortho.weight.T @ ortho.weight, eye, atol=1e-4)
    assert loss.item() < first
    path = workdir / "ortho.pt"
    torch.save(ortho.state_dict(), path)
    restored = orthogonal(nn.Linear(6, 6))
    restored.load_state_dict(torch.load(path))
    assert torch.allclose(restored.weight, ortho.weight, atol=1e-5)
    print(
        f"OK 32_parametrize_weight_norm sigma={sigma:.4f} ortho_loss={first:.3f}->{loss.item():.3f}"
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
