"""Quantization: torch.ao.quantization.quantize_dynamic of Linear and LSTM layers to qint8 (and
float16), module types after conversion, accuracy close to float, smaller serialized size,
quantized state_dict save/load, and per-tensor / per-channel quantize/dequantize by hand."""

import io
import sys
import tempfile
from pathlib import Path

import torch
import torch.nn as nn
from torch.ao.quantization import quantize_dynamic


class Tagger(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(50, 32)
        self.lstm = nn.LSTM(32, 64, batch_first=True)
        self.mlp = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 5))

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.mlp(self.lstm(self.embed(tokens))[0])


def size_of(module: nn.Module) -> int:
    buffer = io.BytesIO()
    torch.save(module.state_dict(), buffer)
    return buffer.tell()


def main(workdir: Path) -> None:
    torch.manual_seed(0)
    model = Tagger().eval()
    tokens = torch.randint(0, 50, (8, 12))
    with torch.no_grad():
        reference = model(tokens)
    quantized = quantize_dynamic(model, {nn.Linear, nn.LSTM}, dtype=torch.qint8)
    assert isinstance(quantized.mlp[0], torch.ao.nn.quantized.dynamic.Linear)
    assert isinstance(quantized.lstm, torch.ao.nn.quantized.dynamic.LSTM)
    assert isinstance(quantized.embed, nn.Embedding)  # not in the qconfig set
    assert isinstance(model.mlp[0], nn.Linear)  # the original is left alone
    with torch.no_grad():
        approx = quantized(tokens)
    error = (approx - reference).abs().max().item()
    assert error < 0.05, error
    assert (approx.argmax(-1) == reference.argmax(-1)).float().mean() > 0.9
    float_size, quant_size = size_of(model), size_of(quantized)
    assert quant_size < float_size * 0.6, (quant_size, float_size)

    half = quantize_dynamic(model, {nn.Linear}, dtype=torch.float16)
    with torch.no_grad():
        assert (half(tokens) - reference).abs().max().item() < 0.01

    path = workdir / "quantized_state.pt"
    torch.save(quantized.state_dict(), path)
    fresh = quantize_dynamic(Tagger().eval(), {nn.Linear, nn.LSTM}, dtype=torch.qint8)
    # packed quantized weights pickle as torch.ScriptObject, which weights_only=True refuses
    fresh.load_state_dict(torch.load(path, weights_only=False))
    with torch.no_grad():
        assert torch.allclose(fresh(tokens), approx)
    scripted = torch.jit.script(quantized)
    with torch.no_grad():
        assert torch.allclose(scripted(tokens), approx, atol=1e-6)

    weights = torch.randn(4, 16)
    scale = weights.abs().max().item() / 127
    q = torch.quantize_per_tensor(weights, scale=scale, zero_point=0, dtype=torch.qint8)
    assert q.is_quantized and q.int_repr().dtype == torch.int8 and q.q_scale() == scale
    assert (q.dequantize() - weights).abs().max().item() <= scale / 2 + 1e-6
    scales = weights.abs().amax(dim=1) / 127
    per_channel = torch.quantize_per_channel(
        weights, scales, torch.zeros(4, dtype=torch.long), axis=0, dtype=torch.qint8
    )
    assert ((per_channel.dequantize() - weights).abs().amax(dim=1) <= scales / 2 + 1e-6).all()
    assert torch.quantize_per_tensor(
        torch.tensor([0.0, 1.0]), 0.1, 10, torch.quint8
    ).int_repr().tolist() == [10, 20]
    print(f"OK 25_quantize_dynamic max_err={error:.4f} size={float_size}->{quant_size}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
