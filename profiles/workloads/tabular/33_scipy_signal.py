"""scipy.signal on a sampled sensor trace: butter + filtfilt (low/high-pass), sosfiltfilt,
lfilter, find_peaks with height/distance/prominence, welch and periodogram PSDs,
savgol_filter, detrend, resample, medfilt, correlate with correlation_lags and spectrogram."""

import sys
import tempfile
from pathlib import Path

import numpy as np
from scipy import signal


def main(workdir: Path) -> None:
    rng = np.random.default_rng(26)
    fs = 500.0
    t = np.arange(0, 10, 1 / fs)
    clean = np.sin(2 * np.pi * 1.5 * t)
    noisy = clean + 0.4 * np.sin(2 * np.pi * 60 * t) + rng.normal(0, 0.2, t.size) + 0.05 * t
    b, a = signal.butter(4, 5, btype="low", fs=fs)
    low = signal.filtfilt(b, a, noisy)
    assert np.corrcoef(low[500:-500], clean[500:-500] + 0.05 * t[500:-500])[0, 1] > 0.99
    sos = signal.butter(4, 0.5, btype="high", fs=fs, output="sos")
    high = signal.sosfiltfilt(sos, low)
    assert abs(high[1000:-1000].mean()) < 0.05
    causal = signal.lfilter(b, a, noisy)
    assert causal.shape == noisy.shape
    w, h = signal.freqz(b, a, fs=fs)
    assert abs(h[0]) > 0.99 and abs(h[np.argmin(np.abs(w - 60))]) < 1e-3
    peaks, props = signal.find_peaks(high, height=0.5, distance=fs / 3, prominence=0.5)
    assert len(peaks) == 15, len(peaks)
    intervals = np.diff(t[peaks])
    assert np.allclose(intervals, 1 / 1.5, atol=0.03) and abs(np.median(intervals) - 1 / 1.5) < 0.01
    f, pxx = signal.welch(noisy, fs=fs, nperseg=1024)
    band = (f > 40) & (f < 80)
    assert abs(f[band][np.argmax(pxx[band])] - 60) < 1
    fp, pp = signal.periodogram(noisy, fs=fs, detrend="linear")
    assert abs(fp[np.argmax(pp)] - 1.5) < 0.2
    smooth = signal.savgol_filter(noisy, window_length=51, polyorder=3)
    assert np.std(smooth - noisy) < np.std(noisy)
    flat = signal.detrend(noisy, type="linear")
    assert abs(np.polyfit(t, flat, 1)[0]) < 1e-6
    down = signal.resample(low, t.size // 5)
    poly = signal.resample_poly(low, up=1, down=5)
    assert down.shape == poly.shape == (1000,)
    spikes = clean.copy()
    spikes[::250] += 5
    assert np.abs(signal.medfilt(spikes, 5) - clean).max() < 0.1
    lag = 37
    shifted = np.roll(clean, lag) + rng.normal(0, 0.05, t.size)
    corr = signal.correlate(shifted - shifted.mean(), clean - clean.mean(), mode="full")
    lags = signal.correlation_lags(shifted.size, clean.size, mode="full")
    assert lags[np.argmax(corr)] == lag
    conv = signal.fftconvolve(noisy, np.ones(25) / 25, mode="same")
    assert conv.shape == noisy.shape
    fs_, ts_, sxx = signal.spectrogram(noisy, fs=fs, nperseg=256)
    assert sxx.shape == (len(fs_), len(ts_))
    win = signal.get_window("hann", 64)
    assert win.shape == (64,) and np.isclose(win.max(), 1, atol=1e-2)
    print(f"OK scipy_signal peaks={len(peaks)} mains={f[band][np.argmax(pxx[band])]:.1f}Hz")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
