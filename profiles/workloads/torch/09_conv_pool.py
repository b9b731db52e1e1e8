"""Convolutions and pooling: Conv1d/Conv2d (stride, padding, dilation, groups, padding modes)
checked against an unfold-based implementation, ConvTranspose2d, Max/Avg/Adaptive pooling,
MaxUnpool, interpolate/upsampling, and a small CNN trained for a few steps."""

import sys
import tempfile
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F


def main(workdir: Path) -> None:
    torch.manual_seed(0)
    image = torch.randn(2, 3, 12, 12)
    conv = nn.Conv2d(3, 4, kernel_size=3, stride=2, padding=1)
    out = conv(image)
    assert out.shape == (2, 4, 6, 6)
    columns = F.unfold(image, kernel_size=3, stride=2, padding=1)  # (N, C*k*k, L)
    manual = (conv.weight.view(4, -1) @ columns + conv.bias[:, None]).view(2, 4, 6, 6)
    assert torch.allclose(out, manual, atol=1e-5)
    assert nn.Conv2d(3, 6, 3, groups=3)(image).shape == (2, 6, 10, 10)
    assert nn.Conv2d(3, 2, 3, dilation=2)(image).shape == (2, 2, 8, 8)
    assert nn.Conv2d(3, 2, 3, padding="same", padding_mode="reflect")(image).shape == (2, 2, 12, 12)
    assert nn.Conv2d(3, 2, 3, padding=1, padding_mode="circular")(image).shape == (2, 2, 12, 12)
    depthwise = nn.Conv2d(3, 3, 3, groups=3, bias=False)
    assert depthwise.weight.shape == (3, 1, 3, 3)

    signal = torch.randn(2, 2, 20)
    conv1 = nn.Conv1d(2, 3, kernel_size=5)
    manual1 = torch.stack(
        [
            (signal[:, None, :, i : i + 5] * conv1.weight[None]).sum((2, 3)) + conv1.bias
            for i in range(16)
        ],
        dim=-1,
    )
    assert torch.allclose(conv1(signal), manual1, atol=1e-5)
    assert F.conv1d(signal, torch.ones(1, 2, 1)).shape == (2, 1, 20)

    up = nn.ConvTranspose2d(4, 3, kernel_size=4, stride=2, padding=1)
    assert up(out).shape == (2, 3, 12, 12)
    # the transposed convolution is the adjoint of the convolution
    w = torch.randn(4, 3, 3, 3)
    y = torch.randn(2, 4, 6, 6)
    lhs = (F.conv2d(image, w, stride=2, padding=1) * y).sum()
    rhs = (image * F.conv_transpose2d(y, w, stride=2, padding=1, output_padding=1)).sum()
    assert torch.allclose(lhs, rhs, rtol=1e-4, atol=1e-3)

    x = torch.arange(16.0).view(1, 1, 4, 4)
    assert nn.MaxPool2d(2)(x).flatten().tolist() == [5.0, 7.0, 13.0, 15.0]
    assert nn.AvgPool2d(2)(x).flatten().tolist() == [2.5, 4.5, 10.5, 12.5]
    assert nn.AdaptiveAvgPool2d(1)(x).item() == 7.5
    assert nn.AdaptiveMaxPool2d((2, 1))(x).flatten().tolist() == [7.0, 15.0]
    pooled, indices = F.max_pool2d(x, 2, return_indices=True)
    restored = nn.MaxUnpool2d(2)(pooled, indices)
    assert restored.sum() == pooled.sum() and restored[0, 0, 3, 3] == 15
    assert nn.MaxPool1d(3, stride=1, padding=1)(torch.tensor([[[1.0, 3.0, 2.0]]])).tolist() == [
        [[3.0, 3.0, 3.0]]
    ]
    assert F.avg_pool1d(torch.ones(1, 1, 6), 2).shape == (1, 1, 3)
    assert F.lp_pool2d(x, 2, 2).shape == (1, 1, 2, 2)

    assert F.interpolate(x, scale_factor=2, mode="nearest").shape == (1, 1, 8, 8)
    bilinear = F.interpolate(x, size=(7, 7), mode="bilinear", align_corners=True)
    assert bilinear[0, 0, 0, 0] == 0 and bilinear[0, 0, -1, -1] == 15
    assert nn.Upsample(scale_factor=2, mode="bicubic")(x).shape == (1, 1, 8, 8)
    assert F.pixel_shuffle(torch.randn(1, 8, 3, 3), 2).shape == (1, 2, 6, 6)
    assert F.pad(x, (1, 1, 2, 0)).shape == (1, 1, 6, 6)

    # tiny CNN: tell vertical from horizontal bars
    bars = torch.zeros(64, 1, 8, 8)
    labels = torch.arange(64) % 2
    for i in range(64):
        pos = i // 2 % 8
        if labels[i]:
            bars[i, 0, :, pos] = 1.0
        else:
            bars[i, 0, pos, :] = 1.0
    bars += 0.1 * torch.randn_like(bars)
    cnn = nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(8, 8, 3, padding=1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(8, 2),
    )
    optimizer = torch.optim.Adam(cnn.parameters(), lr=0.01)
    for _ in range(60):
        optimizer.zero_grad()
        loss = F.cross_entropy(cnn(bars), labels)
        loss.backward()
        optimizer.step()
    accuracy = (cnn(bars).argmax(1) == labels).float().mean().item()
    assert accuracy > 0.9, accuracy
    print(f"OK 09_conv_pool accuracy={accuracy:.3f} loss={loss.item():.4f}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
