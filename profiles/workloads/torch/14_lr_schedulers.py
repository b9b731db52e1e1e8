"""Learning-rate schedulers: StepLR, MultiStepLR, ExponentialLR, CosineAnnealingLR,
CosineAnnealingWarmRestarts, OneCycleLR, LambdaLR, LinearLR + SequentialLR warm-up,
ReduceLROnPlateau; values checked against closed forms, and scheduler state_dict resume."""

import math
import sys
import tempfile
from pathlib import Path

import torch
import torch.nn as nn
from torch.optim import lr_scheduler


def lrs(make_scheduler, steps: int, lr: float = 0.1) -> list[float]:
    param = nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([param], lr=lr, momentum=0.9)
    scheduler = make_scheduler(optimizer)
    seen = []
    for _ in range(steps):
        seen.append(optimizer.param_groups[0]["lr"])
        param.grad = torch.ones(1)
        optimizer.step()
        scheduler.step()
    return seen


def close(a: list[float], b: list[float]) -> bool:
    return len(a) == len(b) and all(
        math.isclose(x, y, rel_tol=1e-6, abs_tol=1e-9) for x, y in zip(a, b, strict=True)
    )


def main(workdir: Path) -> None:
    torch.manual_seed(0)
    step = lrs(lambda o: lr_scheduler.StepLR(o, step_size=3, gamma=0.5), 9)
    assert close(step, [0.1] * 3 + [0.05] * 3 + [0.025] * 3), step
    multi = lrs(lambda o: lr_scheduler.MultiStepLR(o, milestones=[2, 5], gamma=0.1), 6)
    assert close(multi, [0.1, 0.1, 0.01, 0.01, 0.01, 0.001])
    expo = lrs(lambda o: lr_scheduler.ExponentialLR(o, gamma=0.9), 4)
    assert close(expo, [0.1 * 0.9**i for i in range(4)])
    cosine = lrs(lambda o: lr_scheduler.CosineAnnealingLR(o, T_max=10, eta_min=0.001), 11)
    expected = [0.001 + (0.1 - 0.001) * (1 + math.cos(math.pi * t / 10)) / 2 for t in range(11)]
    assert close(cosine, expected), cosine
    restarts = lrs(lambda o: lr_scheduler.CosineAnnealingWarmRestarts(o, T_0=4), 9)
    assert math.isclose(restarts[4], 0.1) and math.isclose(restarts[8], 0.1) and restarts[3] < 0.02
    lam = lrs(lambda o: lr_scheduler.LambdaLR(o, lambda epoch: 1 / (epoch + 1)), 4)
    assert close(lam, [0.1, 0.05, 0.1 / 3, 0.025])
    warmup = lrs(
        lambda o: lr_scheduler.SequentialLR(
            o,
            [
                lr_scheduler.LinearLR(o, start_factor=0.25, total_iters=3),
                lr_scheduler.ConstantLR(o, factor=1.0, total_iters=0),
            ],
            milestones=[3],
        ),
        6,
    )
    assert close(warmup[:3], [0.025, 0.05, 0.075]) and close(warmup[3:], [0.1] * 3), warmup

    total = 100
    one_cycle = lrs(
        lambda o: lr_scheduler.OneCycleLR(o, max_lr=1.0, total_steps=total, pct_start=0.3), total
    )
    peak = max(range(total), key=lambda i: one_cycle[i])
    assert math.isclose(one_cycle[0], 1.0 / 25, rel_tol=1e-6) and math.isclose(max(one_cycle), 1.0)
    assert 28 <= peak <= 30 and one_cycle[-1] < 1e-3, (peak, one_cycle[-1])

    param = nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.Adam([param], lr=0.1)
    plateau = lr_scheduler.ReduceLROnPlateau(optimizer, mode="min", factor=0.5, patience=2)
    history = []
    for val_loss in [1.0, 0.9, 0.9, 0.9, 0.9, 0.8, 0.8, 0.8, 0.8]:
        optimizer.step()
        plateau.step(val_loss)
        history.append(optimizer.param_groups[0]["lr"])
    assert history[:4] == [0.1] * 4 and history[4] == 0.05 and history[-1] == 0.025, history
    assert plateau.get_last_lr() == [0.025]

    # resume a cosine schedule halfway through
    def make():
        p = nn.Parameter(torch.zeros(1))
        o = torch.optim.SGD([p], lr=0.1)
        return p, o, lr_scheduler.CosineAnnealingLR(o, T_max=20)

    p, o, s = make()
    for _ in range(7):
        o.step()
        s.step()
    saved = {"opt": o.state_dict(), "sched": s.state_dict()}
    p2, o2, s2 = make()
    o2.load_state_dict(saved["opt"])
    s2.load_state_dict(saved["sched"])
    for _ in range(5):
        o.step()
        s.step()
        o2.step()
        s2.step()
    assert s.get_last_lr() == s2.get_last_lr() and s2.last_epoch == 12
    print(f"OK 14_lr_schedulers one_cycle_peak={peak} plateau_final={history[-1]}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
