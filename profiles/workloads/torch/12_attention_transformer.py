"""Attention and Transformer layers: scaled_dot_product_attention (causal, masks) against a
manual softmax(QK^T/sqrt(d))V, nn.MultiheadAttention (key_padding_mask, attention weights),
TransformerEncoder with a causal mask (no leakage from the future), and a short training run."""

import math
import sys
import tempfile
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F


def main(workdir: Path) -> None:
    torch.manual_seed(0)
    q, k, v = torch.randn(3, 2, 4, 6, 8).unbind(0)  # batch, heads, seq, dim
    manual = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(8), dim=-1) @ v
    assert torch.allclose(F.scaled_dot_product_attention(q, k, v), manual, atol=1e-5)
    causal = torch.ones(6, 6, dtype=torch.bool).tril()
    scores = (q @ k.transpose(-1, -2) / math.sqrt(8)).masked_fill(~causal, float("-inf"))
    assert torch.allclose(
        F.scaled_dot_product_attention(q, k, v, is_causal=True), scores.softmax(-1) @ v, atol=1e-5
    )
    assert torch.allclose(
        F.scaled_dot_product_attention(q, k, v, attn_mask=causal), scores.softmax(-1) @ v, atol=1e-5
    )

    mha = nn.MultiheadAttention(embed_dim=16, num_heads=4, batch_first=True)
    x = torch.randn(2, 5, 16)
    out, weights = mha(x, x, x)
    assert out.shape == (2, 5, 16) and weights.shape == (2, 5, 5)
    assert torch.allclose(weights.sum(-1), torch.ones(2, 5), atol=1e-5)
    padding = torch.tensor([[False] * 5, [False, False, False, True, True]])
    _, masked_weights = mha(x, x, x, key_padding_mask=padding)
    assert (masked_weights[1, :, 3:] == 0).all()
    _, per_head = mha(x, x, x, average_attn_weights=False)
    assert per_head.shape == (2, 4, 5, 5)
    cross, _ = mha(x, torch.randn(2, 9, 16), torch.randn(2, 9, 16), need_weights=False)
    assert cross.shape == (2, 5, 16)

    layer = nn.TransformerEncoderLayer(
        d_model=16, nhead=4, dim_feedforward=32, dropout=0.0, batch_first=True, norm_first=True
    )
    encoder = nn.TransformerEncoder(layer, num_layers=2, enable_nested_tensor=False)
    mask = nn.Transformer.generate_square_subsequent_mask(5)
    assert mask[0, 1] == float("-inf") and mask[1, 0] == 0
    changed = x.clone()
    changed[:, -1] += 1.0
    a = encoder(x, mask=mask, is_causal=True)
    b = encoder(changed, mask=mask, is_causal=True)
    assert torch.allclose(a[:, :-1], b[:, :-1], atol=1e-5) and not torch.allclose(
        a[:, -1], b[:, -1]
    )
    encoder.eval()
    with torch.no_grad():
        padded = encoder(x, src_key_padding_mask=padding)
    assert padded.shape == (2, 5, 16)

    # train a tiny encoder to reverse a sequence of tokens
    class Reverser(nn.Module):
        def __init__(self, vocab: int = 8, seq: int = 6, dim: int = 16) -> None:
            super().__init__()
            self.embed = nn.Embedding(vocab, dim)
            self.pos = nn.Parameter(torch.randn(1, seq, dim) * 0.1)
            block = nn.TransformerEncoderLayer(dim, 2, 32, dropout=0.0, batch_first=True)
            self.encoder = nn.TransformerEncoder(block, 2, enable_nested_tensor=False)
            self.head = nn.Linear(dim, vocab)

        def forward(self, tokens: torch.Tensor) -> torch.Tensor:
            return self.head(self.encoder(self.embed(tokens) + self.pos))

    model = Reverser()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    data = torch.randint(0, 8, (64, 6))
    first = None
    for _ in range(40):
        optimizer.zero_grad()
        loss = F.cross_entropy(model(data).flatten(0, 1), data.flip(1).flatten())
        loss.backward()
        optimizer.step()
        first = first if first is not None else loss.item()
    assert loss.item() < first * 0.5, (first, loss.item())
    print(f"OK 12_attention_transformer loss={first:.3f}->{loss.item():.3f}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
