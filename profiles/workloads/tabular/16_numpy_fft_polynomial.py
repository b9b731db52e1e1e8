"""numpy.fft and numpy.polynomial: rfft/irfft and fftfreq to find the tones of a signal,
fft2 / fftshift, convolution by FFT, then Polynomial.fit, roots, derivatives and
integrals, Chebyshev fits, and the classic polyfit/polyval."""

import sys
import tempfile
from pathlib import Path

import numpy as np
from numpy.polynomial import Chebyshev, Polynomial, legendre


def main(workdir: Path) -> None:
    rng = np.random.default_rng(14)
    fs, seconds = 1000, 2.0
    t = np.arange(int(fs * seconds)) / fs
    signal = (
        np.sin(2 * np.pi * 50 * t) + 0.5 * np.sin(2 * np.pi * 120 * t) + rng.normal(0, 0.2, t.size)
    )
    spectrum = np.fft.rfft(signal)
    freqs = np.fft.rfftfreq(t.size, d=1 / fs)
    peaks = freqs[np.argsort(np.abs(spectrum))[-2:]]
    assert sorted(peaks.round()) == [50.0, 120.0], peaks
    assert np.allclose(np.fft.irfft(spectrum, n=t.size), signal)
    full = np.fft.fft(signal)
    assert np.allclose(np.fft.ifft(full).real, signal)
    assert np.allclose(full[: spectrum.size], spectrum)
    image = rng.random((64, 64))
    f2 = np.fft.fftshift(np.fft.fft2(image))
    assert np.isclose(np.abs(f2[32, 32]), image.sum())
    assert np.allclose(np.fft.ifft2(np.fft.ifftshift(f2)).real, image)
    a, b = rng.random(100), rng.random(50)
    n = a.size + b.size - 1
    via_fft = np.fft.irfft(np.fft.rfft(a, n) * np.fft.rfft(b, n), n)
    assert np.allclose(via_fft, np.convolve(a, b))
    x = np.linspace(-2, 2, 200)
    y = 1 - 2 * x + 0.5 * x**3 + rng.normal(0, 0.05, x.size)
    p = Polynomial.fit(x, y, deg=3).convert()
    assert np.allclose(p.coef, [1, -2, 0, 0.5], atol=0.05), p.coef
    cubic = Polynomial([-6, 11, -6, 1])  # (x-1)(x-2)(x-3)
    assert np.allclose(sorted(cubic.roots().real), [1, 2, 3])
    assert cubic.deriv()(2) == -1 and np.isclose(
        cubic.integ()(1) - cubic.integ()(0), -6 + 5.5 - 2 + 0.25
    )
    assert Polynomial.fromroots([1, 2, 3]) == cubic
    cheb = Chebyshev.fit(x, np.exp(x), deg=10)
    assert np.max(np.abs(cheb(x) - np.exp(x))) < 1e-6
    leg = legendre.legfit(x, np.cos(x), 6)
    assert np.max(np.abs(legendre.legval(x, leg) - np.cos(x))) < 1e-4
    coef = np.polyfit(x, y, 3)
    assert np.allclose(np.polyval(coef, x), p(x), atol=1e-8)
    assert np.allclose(np.roots([1, -3, 2]), [2, 1])
    print(
        f"OK numpy_fft_polynomial peaks={sorted(peaks.round().tolist())} "
        f"coef={np.round(p.coef, 2).tolist()}"
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
