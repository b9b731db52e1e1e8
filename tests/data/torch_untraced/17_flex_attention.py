"""torch.nn.attention.flex_attention in eager mode, checked against scaled_dot_product_attention."""

import torch
import torch.nn.functional as F
from torch.nn.attention.flex_attention import flex_attention

torch.manual_seed(0)
q, k, v = (torch.randn(1, 2, 16, 8) for _ in range(3))


def causal(score, b, h, q_idx, kv_idx):  # type: ignore[no-untyped-def]
    return torch.where(q_idx >= kv_idx, score, -float("inf"))


out = flex_attention(q, k, v, score_mod=causal)
ref = F.scaled_dot_product_attention(q, k, v, is_causal=True)
assert torch.allclose(out, ref, atol=1e-5), (out - ref).abs().max()
print("OK flex_attention")
