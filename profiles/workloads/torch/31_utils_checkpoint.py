"""Activation checkpointing with torch.utils.checkpoint: checkpoint (use_reentrant=False) of a
block and checkpoint_sequential over a deep Sequential give the same outputs and gradients
as the plain model, dropout RNG is replayed (preserve_rng_state), the block's forward runs
again during backward, and fewer tensors are saved for backward."""

import sys
import tempfile
from pathlib import Path

import torch
import torch.nn as nn
from torch.utils.checkpoint import checkpoint, checkpoint_sequential


class Block(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(dim, 4 * dim), nn.GELU(), nn.Dropout(0.1), nn.Linear(4 * dim, dim)
        )
        self.norm = nn.LayerNorm(dim)
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return self.norm(x + self.net(x))


class Deep(nn.Module):
    def __init__(self, dim: int = 32, depth: int = 6, use_checkpoint: bool = False) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(Block(dim) for _ in range(depth))
        self.use_checkpoint = use_checkpoint

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = checkpoint(block, x, use_reentrant=False) if self.use_checkpoint else block(x)
        return x


def saved_tensor_count(fn) -> int:
    count = 0

    def pack(t):
        nonlocal count
        count += 1
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        fn()
    return count


def main(workdir: Path) -> None:
    torch.manual_seed(0)
    plain = Deep()
    checkpointed = Deep(use_checkpoint=True)
    checkpointed.load_state_dict(plain.state_dict())
    x = torch.randn(16, 32, requires_grad=True)
    x2 = x.detach().clone().requires_grad_()

    torch.manual_seed(1)
    out_plain = plain(x)
    out_plain.pow(2).mean().backward()
    torch.manual_seed(1)
    out_ckpt = checkpointed(x2)
    calls_after_forward = checkpointed.blocks[0].calls
    out_ckpt.pow(2).mean().backward()
    assert checkpointed.blocks[0].calls == calls_after_forward + 1  # recomputed in backward
    assert torch.allclose(out_plain, out_ckpt, atol=1e-6)  # same dropout masks
    assert torch.allclose(x.grad, x2.grad, atol=1e-6)
    for (name, p), q in zip(plain.named_parameters(), checkpointed.parameters(), strict=True):
        assert torch.allclose(p.grad, q.grad, atol=1e-6), name

    plain.eval()
    checkpointed.eval()
    inputs = torch.randn(16, 32, requires_grad=True)
    plain_saved = saved_tensor_count(lambda: plain(inputs))
    ckpt_saved = saved_tensor_count(lambda: checkpointed(inputs))
    assert ckpt_saved < plain_saved, (ckpt_saved, plain_saved)

    seq = nn.Sequential(*[nn.Sequential(nn.Linear(32, 32), nn.Tanh()) for _ in range(8)])
    a = torch.randn(4, 32, requires_grad=True)
    b = a.detach().clone().requires_grad_()
    seq(a).sum().backward()
    reference = [p.grad.clone() for p in seq.parameters()]
    seq.zero_grad()
    out = checkpoint_sequential(seq, 4, b, use_reentrant=False)
    out.sum().backward()
    assert torch.allclose(a.grad, b.grad, atol=1e-6)
    assert all(
        torch.allclose(p.grad, r, atol=1e-6)
        for p, r in zip(seq.parameters(), reference, strict=True)
    )

    fn_out = checkpoint(lambda t, s: torch.sin(t) * s, a, 2.0, use_reentrant=False)
    assert torch.allclose(fn_out, torch.sin(a) * 2)
    print(f"OK 31_utils_checkpoint saved_tensors={plain_saved}->{ckpt_saved}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
