"""scipy.interpolate and scipy.integrate: interp1d (linear, cubic, extrapolate), CubicSpline
with derivatives and integrals, PchipInterpolator, UnivariateSpline smoothing, make_interp_spline,
RegularGridInterpolator and griddata; quad, dblquad, trapezoid, simpson, cumulative_trapezoid,
and solve_ivp (logistic growth, a damped oscillator with events)."""

import sys
import tempfile
from pathlib import Path

import numpy as np
from scipy import integrate, interpolate


def main(workdir: Path) -> None:
    x = np.linspace(0, 2 * np.pi, 20)
    y = np.sin(x)
    fine = np.linspace(0, 2 * np.pi, 500)
    lin = interpolate.interp1d(x, y)
    cub = interpolate.interp1d(x, y, kind="cubic", fill_value="extrapolate")
    assert np.max(np.abs(cub(fine) - np.sin(fine))) < np.max(np.abs(lin(fine) - np.sin(fine)))
    assert np.isfinite(cub(7.0))
    cs = interpolate.CubicSpline(x, y, bc_type="periodic")
    assert np.max(np.abs(cs(fine, 1) - np.cos(fine))) < 0.01
    assert abs(cs.integrate(0, np.pi) - 2) < 1e-3
    pchip = interpolate.PchipInterpolator([0, 1, 2, 3], [0, 1, 1, 2])
    assert np.all(np.diff(pchip(np.linspace(0, 3, 100))) >= -1e-12)
    rng = np.random.default_rng(28)
    noisy = y + rng.normal(0, 0.1, y.size)
    xs = np.linspace(0, 2 * np.pi, 200)
    ys = np.sin(xs) + rng.normal(0, 0.1, xs.size)
    spl = interpolate.UnivariateSpline(xs, ys, s=len(xs) * 0.01)
    assert np.max(np.abs(spl(fine) - np.sin(fine))) < 0.1
    bspl = interpolate.make_interp_spline(x, noisy, k=3)
    assert np.allclose(bspl(x), noisy)
    gx, gy = np.linspace(0, 1, 11), np.linspace(0, 2, 21)
    grid = np.add.outer(gx**2, gy)
    rgi = interpolate.RegularGridInterpolator((gx, gy), grid)
    assert np.isclose(rgi([[0.5, 1.0]])[0], 0.25 + 1.0, atol=0.01)
    pts = rng.random((400, 2))
    vals = pts[:, 0] + 2 * pts[:, 1]
    gd = interpolate.griddata(pts, vals, np.array([[0.5, 0.5], [0.2, 0.7]]), method="linear")
    assert np.allclose(gd, [1.5, 1.6], atol=1e-6)
    val, err = integrate.quad(lambda v: np.exp(-(v**2)), -np.inf, np.inf)
    assert np.isclose(val, np.sqrt(np.pi)) and err < 1e-6
    area, _ = integrate.dblquad(lambda yy, xx: xx * yy, 0, 1, 0, lambda xx: xx)
    assert np.isclose(area, 1 / 8)
    xt = np.linspace(0, np.pi, 1001)
    assert abs(integrate.trapezoid(np.sin(xt), xt) - 2) < 1e-5
    assert abs(integrate.simpson(np.sin(xt), x=xt) - 2) < 1e-10
    cum = integrate.cumulative_trapezoid(np.cos(xt), xt, initial=0)
    assert np.allclose(cum, np.sin(xt), atol=1e-5)
    r, cap = 0.8, 100.0
    logistic = integrate.solve_ivp(
        lambda t, p: r * p * (1 - p / cap), (0, 20), [5.0], dense_output=True, rtol=1e-8, atol=1e-8
    )
    exact = cap / (1 + (cap / 5 - 1) * np.exp(-r * 10))
    assert logistic.success and np.isclose(logistic.sol(10)[0], exact, rtol=1e-5)

    def oscillator(t, s):
        return [s[1], -0.3 * s[1] - 4 * s[0]]

    def crossing(t, s):
        return s[0]

    crossing.direction = -1
    osc = integrate.solve_ivp(
        oscillator,
        (0, 15),
        [1.0, 0.0],
        method="RK45",
        events=crossing,
        t_eval=np.linspace(0, 15, 300),
        max_step=0.05,
    )
    downs = osc.t_events[0]
    assert len(downs) >= 4 and np.allclose(
        np.diff(downs), 2 * np.pi / np.sqrt(4 - 0.0225), atol=0.02
    )
    stiff = integrate.solve_ivp(
        lambda t, s: [-1000 * (s[0] - np.cos(t))], (0, 1), [0.0], method="LSODA"
    )
    assert stiff.success and abs(stiff.y[0, -1] - np.cos(1)) < 0.01
    print(
        f"OK scipy_interpolate_integrate gauss={val:.6f} logistic10={logistic.sol(10)[0]:.3f} "
        f"period={np.diff(downs).mean():.4f}"
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
