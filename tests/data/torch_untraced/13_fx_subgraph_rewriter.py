"""torch.fx.subgraph_rewriter.replace_pattern: rewrite relu into sigmoid in a traced graph."""

import torch
import torch.fx
from torch.fx import subgraph_rewriter


def f(x: torch.Tensor) -> torch.Tensor:
    return torch.relu(x) * 2 + torch.relu(x + 1)


def pattern(x: torch.Tensor) -> torch.Tensor:
    return torch.relu(x)


def replacement(x: torch.Tensor) -> torch.Tensor:
    return torch.sigmoid(x)


torch.manual_seed(0)
gm = torch.fx.symbolic_trace(f)
matches = subgraph_rewriter.replace_pattern(gm, pattern, replacement)
assert len(matches) == 2, matches
x = torch.randn(10)
assert torch.allclose(gm(x), torch.sigmoid(x) * 2 + torch.sigmoid(x + 1))
print("OK fx_subgraph_rewriter")
