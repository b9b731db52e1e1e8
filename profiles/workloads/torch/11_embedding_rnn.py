"""Embeddings and recurrent layers: Embedding (padding_idx, from_pretrained), EmbeddingBag,
one_hot, LSTM (multi-layer, bidirectional, batch_first), GRU, RNNCell/LSTMCell, packed
variable-length sequences (pack_padded_sequence, pad_sequence), and a small sequence task."""

import sys
import tempfile
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence, pad_sequence


def main(workdir: Path) -> None:
    torch.manual_seed(0)
    emb = nn.Embedding(20, 8, padding_idx=0)
    tokens = torch.tensor([[1, 2, 0], [5, 0, 0]])
    vectors = emb(tokens)
    assert vectors.shape == (2, 3, 8) and (vectors[tokens == 0] == 0).all()
    vectors.sum().backward()
    assert (emb.weight.grad[0] == 0).all() and (emb.weight.grad[1] == 1).all()
    pretrained = nn.Embedding.from_pretrained(torch.eye(4), freeze=True)
    assert (
        torch.equal(pretrained(torch.tensor([2])), torch.eye(4)[2:3])
        and not pretrained.weight.requires_grad
    )
    bag = nn.EmbeddingBag(20, 4, mode="mean")
    flat, offsets = torch.tensor([1, 2, 3, 4, 5]), torch.tensor([0, 2])
    assert torch.allclose(bag(flat, offsets)[1], bag.weight[[3, 4, 5]].mean(0))
    assert F.one_hot(torch.tensor([0, 2]), 3).tolist() == [[1, 0, 0], [0, 0, 1]]

    lstm = nn.LSTM(8, 16, num_layers=2, batch_first=True, bidirectional=True, dropout=0.0)
    x = torch.randn(3, 7, 8)
    out, (h, c) = lstm(x)
    assert out.shape == (3, 7, 32) and h.shape == (4, 3, 16) and c.shape == (4, 3, 16)
    assert torch.allclose(out[:, -1, :16], h[2]) and torch.allclose(out[:, 0, 16:], h[3])
    gru = nn.GRU(8, 12)
    gru_out, gru_h = gru(x.transpose(0, 1))  # time-major
    assert gru_out.shape == (7, 3, 12) and torch.allclose(gru_out[-1], gru_h[0])

    cell = nn.LSTMCell(8, 16)
    state = (torch.zeros(3, 16), torch.zeros(3, 16))
    single = nn.LSTM(8, 16, batch_first=True)
    single.weight_ih_l0, single.weight_hh_l0 = cell.weight_ih, cell.weight_hh
    single.bias_ih_l0, single.bias_hh_l0 = cell.bias_ih, cell.bias_hh
    for t in range(7):
        state = cell(x[:, t], state)
    assert torch.allclose(single(x)[1][0][0], state[0], atol=1e-5)
    assert nn.RNNCell(8, 4)(x[:, 0]).shape == (3, 4)

    sequences = [torch.randn(n, 8) for n in (5, 2, 4)]
    lengths = torch.tensor([5, 2, 4])
    padded = pad_sequence(sequences, batch_first=True)
    assert padded.shape == (3, 5, 8) and (padded[1, 2:] == 0).all()
    packed = pack_padded_sequence(padded, lengths, batch_first=True, enforce_sorted=False)
    packed_out, (packed_h, _) = single(packed)
    unpacked, out_lengths = pad_packed_sequence(packed_out, batch_first=True)
    assert out_lengths.tolist() == [5, 2, 4]
    for i, seq in enumerate(sequences):
        alone_out, (alone_h, _) = single(seq[None])
        assert torch.allclose(packed_h[0, i], alone_h[0, 0], atol=1e-5)
        assert torch.allclose(unpacked[i, : len(seq)], alone_out[0], atol=1e-5)

    # learn to output the first token of a sequence after reading it all
    class FirstToken(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.embed = nn.Embedding(6, 16)
            self.rnn = nn.GRU(16, 32, batch_first=True)
            self.head = nn.Linear(32, 6)

        def forward(self, seq: torch.Tensor) -> torch.Tensor:
            return self.head(self.rnn(self.embed(seq))[1][0])

    model = FirstToken()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.03)
    data = torch.randint(0, 6, (128, 5))
    for _ in range(60):
        optimizer.zero_grad()
        loss = F.cross_entropy(model(data), data[:, 0])
        loss.backward()
        optimizer.step()
    accuracy = (model(data).argmax(1) == data[:, 0]).float().mean().item()
    assert accuracy > 0.9, accuracy
    print(f"OK 11_embedding_rnn accuracy={accuracy:.3f} loss={loss.item():.4f}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
