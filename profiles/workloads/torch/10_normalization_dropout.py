"""Normalization and dropout layers: BatchNorm1d/2d (batch statistics in train mode, running
statistics in eval mode, momentum), LayerNorm, GroupNorm, InstanceNorm, RMSNorm, LocalResponse
norm, Dropout/Dropout2d/AlphaDropout in train vs eval, and model.train()/eval() switching."""

import sys
import tempfile
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F


def main(workdir: Path) -> None:
    torch.manual_seed(0)
    x = torch.randn(32, 6) * 3 + 1
    bn = nn.BatchNorm1d(6)
    out = bn(x)
    assert torch.allclose(out.mean(0), torch.zeros(6), atol=1e-5)
    assert torch.allclose(out.var(0, unbiased=False), torch.ones(6), atol=1e-3)
    assert torch.allclose(bn.running_mean, 0.1 * x.mean(0), atol=1e-5)  # momentum 0.1 from zero
    assert torch.allclose(bn.running_var, 0.9 + 0.1 * x.var(0), atol=1e-4)
    assert bn.num_batches_tracked.item() == 1
    bn.eval()
    expected = (x - bn.running_mean) / torch.sqrt(bn.running_var + bn.eps) * bn.weight + bn.bias
    assert torch.allclose(bn(x), expected, atol=1e-5)

    images = torch.randn(4, 3, 5, 5)
    bn2 = nn.BatchNorm2d(3, affine=False)
    normed = bn2(images)
    assert torch.allclose(normed.mean((0, 2, 3)), torch.zeros(3), atol=1e-5)
    frozen = nn.BatchNorm2d(3, track_running_stats=False).eval()
    assert torch.allclose(frozen(images).mean((0, 2, 3)), torch.zeros(3), atol=1e-5)

    ln = nn.LayerNorm(6)
    manual = (x - x.mean(-1, keepdim=True)) / torch.sqrt(
        x.var(-1, unbiased=False, keepdim=True) + ln.eps
    )
    assert torch.allclose(ln(x), manual, atol=1e-5)
    assert torch.allclose(F.layer_norm(images, (5, 5)).mean((-2, -1)), torch.zeros(4, 3), atol=1e-5)
    rms = nn.RMSNorm(6, eps=1e-6)
    assert torch.allclose(rms(x), x / torch.sqrt(x.pow(2).mean(-1, keepdim=True) + 1e-6), atol=1e-5)
    gn = nn.GroupNorm(num_groups=2, num_channels=6)
    grouped = gn(torch.randn(4, 6, 7)).view(4, 2, 21)
    assert torch.allclose(grouped.mean(-1), torch.zeros(4, 2), atol=1e-5)
    inorm = nn.InstanceNorm2d(3)
    assert torch.allclose(inorm(images).mean((-2, -1)), torch.zeros(4, 3), atol=1e-5)
    assert nn.LocalResponseNorm(2)(images).shape == images.shape

    ones = torch.ones(10000)
    dropout = nn.Dropout(p=0.3)
    dropped = dropout(ones)
    kept = (dropped != 0).float().mean().item()
    assert 0.67 < kept < 0.73, kept
    assert torch.allclose(dropped[dropped != 0], torch.full_like(dropped[dropped != 0], 1 / 0.7))
    dropout.eval()
    assert torch.equal(dropout(ones), ones)
    channel_drop = nn.Dropout2d(0.5)(torch.ones(2, 64, 3, 3))
    per_channel = channel_drop.flatten(2)
    assert ((per_channel == 0).all(-1) | (per_channel != 0).all(-1)).all()  # whole channels
    assert torch.equal(F.dropout(ones, 0.5, training=False), ones)
    alpha = nn.AlphaDropout(0.2)(torch.randn(10000))
    assert abs(alpha.mean().item()) < 0.1

    model = nn.Sequential(
        nn.Linear(6, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.5), nn.Linear(16, 2)
    )
    model.train()
    assert all(m.training for m in model.modules())
    a, b = model(x), model(x)
    assert not torch.allclose(a, b)  # dropout differs between calls
    model.eval()
    assert not any(m.training for m in model.modules())
    with torch.no_grad():
        assert torch.equal(model(x), model(x))
    print(f"OK 10_normalization_dropout kept={kept:.3f}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
