"""scipy.optimize: minimize with BFGS (with a gradient), Nelder-Mead, L-BFGS-B with bounds
and SLSQP with constraints; curve_fit with covariance; root (hybr), fsolve, brentq and
root_scalar; least_squares with a robust loss; linprog; minimize_scalar; differential_evolution."""

import sys
import tempfile
from pathlib import Path

import numpy as np
from scipy import optimize


def rosen_grad(x: np.ndarray) -> np.ndarray:
    return optimize.rosen_der(x)


def main(workdir: Path) -> None:
    x0 = np.array([1.3, 0.7, 0.8, 1.9, 1.2])
    bfgs = optimize.minimize(optimize.rosen, x0, jac=rosen_grad, method="BFGS")
    assert bfgs.success and np.allclose(bfgs.x, 1, atol=1e-4), bfgs
    nm = optimize.minimize(
        optimize.rosen, x0[:2], method="Nelder-Mead", options={"xatol": 1e-8, "fatol": 1e-8}
    )
    assert np.allclose(nm.x, 1, atol=1e-3)
    bounded = optimize.minimize(
        lambda v: (v[0] - 3) ** 2 + (v[1] + 1) ** 2,
        [0, 0],
        method="L-BFGS-B",
        bounds=[(0, 2), (0, 5)],
    )
    assert np.allclose(bounded.x, [2, 0], atol=1e-6)
    cons = [
        {"type": "eq", "fun": lambda v: v.sum() - 1},
        {"type": "ineq", "fun": lambda v: v[0] - 0.5},
    ]
    slsqp = optimize.minimize(
        lambda v: (v**2).sum(),
        [0.3, 0.3, 0.4],
        method="SLSQP",
        constraints=cons,
        bounds=[(0, 1)] * 3,
    )
    assert np.allclose(slsqp.x, [0.5, 0.25, 0.25], atol=1e-5), slsqp.x
    rng = np.random.default_rng(25)
    t = np.linspace(0, 5, 200)

    def decay(t, a, k, c):
        return a * np.exp(-k * t) + c

    y = decay(t, 2.5, 1.3, 0.5) + rng.normal(0, 0.02, t.size)
    popt, pcov = optimize.curve_fit(decay, t, y, p0=[1, 1, 0])
    perr = np.sqrt(np.diag(pcov))
    assert np.allclose(popt, [2.5, 1.3, 0.5], atol=0.05) and (perr < 0.05).all(), (popt, perr)

    def system(v):
        return [v[0] ** 2 + v[1] ** 2 - 4, v[0] - v[1]]

    sol = optimize.root(system, [1, 1], method="hybr")
    assert sol.success and np.allclose(sol.x, [np.sqrt(2)] * 2)
    assert np.allclose(optimize.fsolve(system, [1, 1]), sol.x)
    assert np.isclose(optimize.brentq(lambda v: v**3 - 2 * v - 5, 2, 3), 2.0945514815)
    rs = optimize.root_scalar(np.cos, bracket=[1, 2], method="brentq")
    assert np.isclose(rs.root, np.pi / 2)
    assert np.isclose(optimize.newton(lambda v: v**2 - 2, 1.0), np.sqrt(2))
    xs = np.linspace(0, 10, 100)
    ys = 3 * xs + 1 + rng.normal(0, 0.1, 100)
    ys[::10] += 30  # outliers
    robust = optimize.least_squares(
        lambda p: p[0] * xs + p[1] - ys, [1, 0], loss="soft_l1", f_scale=0.5
    )
    assert abs(robust.x[0] - 3) < 0.1, robust.x
    lp = optimize.linprog(
        c=[-1, -2], A_ub=[[1, 1], [1, -1]], b_ub=[4, 2], bounds=[(0, None), (0, 3)]
    )
    assert lp.status == 0 and np.allclose(lp.x, [1, 3]) and np.isclose(lp.fun, -7)
    ms = optimize.minimize_scalar(lambda v: (v - 2) ** 2 + 1, bounds=(0, 5), method="bounded")
    assert np.isclose(ms.x, 2, atol=1e-5)
    de = optimize.differential_evolution(
        lambda v: optimize.rosen(v), [(-2, 2), (-2, 2)], seed=0, tol=1e-8
    )
    assert np.allclose(de.x, 1, atol=1e-3)
    assert optimize.check_grad(optimize.rosen, rosen_grad, x0) < 1e-4
    print(
        f"OK scipy_optimize bfgs_iters={bfgs.nit} popt={np.round(popt, 3).tolist()} lp={lp.fun:.1f}"
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
