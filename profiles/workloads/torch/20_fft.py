"""torch.fft: fft/ifft, rfft/irfft round trips, fftfreq/rfftfreq and the peak of a sine wave,
fft2/fftn, fftshift, Parseval's theorem, convolution through the frequency domain checked
against a direct convolution, and stft/istft with a Hann window."""

import math
import sys
import tempfile
from pathlib import Path

import torch
import torch.nn.functional as F


def main(workdir: Path) -> None:
    torch.manual_seed(0)
    rate, n = 256, 512
    t = torch.arange(n) / rate
    signal = (
        torch.sin(2 * math.pi * 40 * t)
        + 0.5 * torch.sin(2 * math.pi * 90 * t)
        + 0.1 * torch.randn(n)
    )
    spectrum = torch.fft.rfft(signal)
    freqs = torch.fft.rfftfreq(n, d=1 / rate)
    assert spectrum.shape == (n // 2 + 1,) and spectrum.dtype == torch.complex64
    peaks = freqs[spectrum.abs().topk(2).indices].sort().values
    assert peaks.tolist() == [40.0, 90.0], peaks
    assert torch.allclose(torch.fft.irfft(spectrum, n=n), signal, atol=1e-5)

    x = torch.randn(64, dtype=torch.complex128)
    X = torch.fft.fft(x)
    assert torch.allclose(torch.fft.ifft(X), x)
    k = torch.arange(64, dtype=torch.float64)
    dft = torch.exp(-2j * math.pi * k[:, None] * k[None, :] / 64)
    assert torch.allclose(X, dft @ x)
    assert torch.allclose((x.abs() ** 2).sum(), (X.abs() ** 2).sum() / 64)  # Parseval
    assert torch.allclose(torch.fft.fft(x, norm="ortho"), X / 8)
    assert torch.fft.fftfreq(4).tolist() == [0.0, 0.25, -0.5, -0.25]
    assert torch.fft.fftshift(torch.fft.fftfreq(4)).tolist() == [-0.5, -0.25, 0.0, 0.25]
    assert torch.equal(torch.fft.ifftshift(torch.fft.fftshift(k)), k)

    image = torch.randn(3, 16, 16)
    assert torch.allclose(
        torch.fft.fft2(image), torch.fft.fft(torch.fft.fft(image, dim=-1), dim=-2), atol=1e-4
    )
    assert torch.allclose(torch.fft.ifftn(torch.fft.fftn(image)).real, image, atol=1e-5)
    assert torch.allclose(torch.fft.irfft2(torch.fft.rfft2(image), s=(16, 16)), image, atol=1e-5)

    a, b = torch.randn(50, dtype=torch.float64), torch.randn(20, dtype=torch.float64)
    size = 50 + 20 - 1
    via_fft = torch.fft.irfft(torch.fft.rfft(a, n=size) * torch.fft.rfft(b, n=size), n=size)
    direct = F.conv1d(a.view(1, 1, -1), b.flip(0).view(1, 1, -1), padding=19).flatten()
    assert torch.allclose(via_fft, direct)

    window = torch.hann_window(64)
    spec = torch.stft(signal, n_fft=64, hop_length=16, window=window, return_complex=True)
    assert spec.shape == (33, n // 16 + 1)
    dominant_bin = spec.abs().mean(1).argmax().item()
    assert dominant_bin == round(40 / (rate / 64)), dominant_bin
    rebuilt = torch.istft(spec, n_fft=64, hop_length=16, window=window, length=n)
    assert torch.allclose(rebuilt, signal, atol=1e-4)
    print(f"OK 20_fft peaks={[int(p) for p in peaks.tolist()]} stft={tuple(spec.shape)}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
