"""nn.init: calculate_gain, xavier_uniform_/normal_, kaiming_uniform_/normal_ (fan_in/fan_out),
trunc_normal_, orthogonal_, sparse_, eye_/dirac_, constant_/zeros_/ones_, uniform_/normal_;
the statistics of each checked against the formula, default Linear/Conv init bounds,
model.apply() with a custom init function, and reset_parameters()."""

import math
import sys
import tempfile
from pathlib import Path

import torch
import torch.nn as nn


def main(workdir: Path) -> None:
    torch.manual_seed(0)
    assert nn.init.calculate_gain("relu") == math.sqrt(2)
    assert nn.init.calculate_gain("tanh") == 5 / 3
    assert math.isclose(nn.init.calculate_gain("leaky_relu", 0.2), math.sqrt(2 / (1 + 0.04)))
    assert nn.init.calculate_gain("linear") == 1

    fan_out, fan_in = 400, 600
    w = torch.empty(fan_out, fan_in)
    nn.init.xavier_uniform_(w)
    bound = math.sqrt(6 / (fan_in + fan_out))
    assert w.abs().max() <= bound and w.abs().max() > 0.99 * bound
    nn.init.xavier_normal_(w, gain=2.0)
    assert abs(w.std().item() - 2 * math.sqrt(2 / (fan_in + fan_out))) < 0.002
    nn.init.kaiming_normal_(w, mode="fan_in", nonlinearity="relu")
    assert abs(w.std().item() - math.sqrt(2 / fan_in)) < 0.002
    nn.init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu")
    assert abs(w.std().item() - math.sqrt(2 / fan_out)) < 0.002
    nn.init.kaiming_uniform_(w, a=0, nonlinearity="relu")
    assert w.abs().max() <= math.sqrt(6 / fan_in)
    nn.init.trunc_normal_(w, mean=0.0, std=1.0, a=-2.0, b=2.0)
    assert w.min() >= -2 and w.max() <= 2 and abs(w.mean().item()) < 0.01
    nn.init.uniform_(w, -3, 3)
    assert w.min() >= -3 and w.max() < 3
    nn.init.normal_(w, mean=1.0, std=0.1)
    assert abs(w.mean().item() - 1) < 0.001

    q = torch.empty(64, 32)
    nn.init.orthogonal_(q)
    assert torch.allclose(q.T @ q, torch.eye(32), atol=1e-5)
    sparse = torch.empty(100, 20)
    nn.init.sparse_(sparse, sparsity=0.9)
    assert ((sparse == 0).sum(0) == 90).all()
    eye = torch.empty(4, 4)
    nn.init.eye_(eye)
    assert torch.equal(eye, torch.eye(4))
    dirac = torch.empty(3, 3, 5)
    nn.init.dirac_(dirac)
    signal = torch.randn(1, 3, 9)
    assert torch.allclose(nn.functional.conv1d(signal, dirac, padding=2), signal)  # identity conv
    const = torch.empty(3)
    assert torch.allclose(nn.init.constant_(const, 0.7), torch.full((3,), 0.7))
    assert nn.init.zeros_(const).sum() == 0 and nn.init.ones_(const).sum() == 3

    linear = nn.Linear(300, 50)
    bound = 1 / math.sqrt(
        300
    )  # kaiming_uniform(a=sqrt(5)) gives U(-1/sqrt(fan_in), 1/sqrt(fan_in))
    assert linear.weight.abs().max() <= bound and linear.bias.abs().max() <= bound
    conv = nn.Conv2d(16, 8, 3)
    assert conv.weight.abs().max() <= 1 / math.sqrt(16 * 9)
    fan_in_conv, fan_out_conv = nn.init._calculate_fan_in_and_fan_out(conv.weight)
    assert (fan_in_conv, fan_out_conv) == (144, 72)

    def init_weights(module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.xavier_uniform_(module.weight, gain=nn.init.calculate_gain("tanh"))
            nn.init.zeros_(module.bias)
        elif isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)

    model = nn.Sequential(
        nn.Linear(64, 256), nn.Tanh(), nn.LayerNorm(256), nn.Linear(256, 64), nn.Tanh()
    )
    model.apply(init_weights)
    assert all(m.bias.abs().sum() == 0 for m in model if isinstance(m, nn.Linear))
    with torch.no_grad():
        activations = model(torch.randn(512, 64))
    assert 0.1 < activations.std().item() < 1.0  # signal neither vanished nor saturated
    before = model[0].weight.clone()
    model[0].reset_parameters()
    assert not torch.equal(before, model[0].weight)
    with torch.no_grad():
        model[3].weight.copy_(torch.eye(64, 256))
    assert model[3].weight.sum() == 64
    print(f"OK 33_nn_init activation_std={activations.std().item():.3f}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
