"""Signals and complex tensors: window functions, stft/istft round trip, a spectrogram peak,
polar/abs/angle, complex matmul and autograd through a complex loss, conv1d as a filter."""

import sys
import tempfile
from pathlib import Path

import torch
import torch.nn.functional as F


def main(workdir: Path) -> None:
    torch.manual_seed(40)
    rate = 1000
    t = torch.arange(0, 2.0, 1 / rate)
    signal = torch.sin(2 * torch.pi * 50 * t) + 0.5 * torch.sin(2 * torch.pi * 120 * t)
    window = torch.hann_window(256)
    assert torch.allclose(window, torch.signal.windows.hann(256, sym=False), atol=1e-6)
    assert torch.hamming_window(16).shape == (16,) and torch.blackman_window(16).max() <= 1
    spec = torch.stft(signal, n_fft=256, hop_length=64, window=window, return_complex=True)
    assert spec.is_complex() and spec.shape[0] == 129
    power = spec.abs().pow(2).mean(dim=1)
    freqs = torch.fft.rfftfreq(256, 1 / rate)
    low = freqs < 85
    peaks = torch.stack([freqs[low][power[low].argmax()], freqs[~low][power[~low].argmax()]])
    assert abs(peaks[0].item() - 50) < 5 and abs(peaks[1].item() - 120) < 5, peaks
    back = torch.istft(spec, n_fft=256, hop_length=64, window=window, length=len(signal))
    assert torch.allclose(back, signal, atol=1e-4)
    z = torch.polar(torch.tensor([2.0, 1.0]), torch.tensor([torch.pi / 2, 0.0]))
    assert torch.allclose(z.abs(), torch.tensor([2.0, 1.0]))
    assert torch.allclose(z.angle(), torch.tensor([torch.pi / 2, 0.0]))
    a = torch.randn(4, 4, dtype=torch.cfloat)
    assert torch.allclose(a @ torch.linalg.inv(a), torch.eye(4, dtype=torch.cfloat), atol=1e-4)
    w = torch.randn(3, dtype=torch.cfloat, requires_grad=True)
    loss = (w * w.conj()).real.sum()
    loss.backward()
    assert torch.allclose(w.grad, 2 * w.detach())
    kernel = torch.ones(1, 1, 5) / 5
    smooth = F.conv1d(signal[None, None], kernel, padding=2)[0, 0]
    assert smooth.shape == signal.shape and smooth.abs().max() < signal.abs().max()
    print(f"OK 40_stft_complex peaks={peaks.round().tolist()}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
