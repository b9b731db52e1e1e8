"""Not traced for any profile: an embedding+LSTM text classifier served with TorchScript
(script, freeze, optimize_for_inference), saved and reloaded, and dynamically quantized."""
import sys
import tempfile
from pathlib import Path

import torch
import torch.nn as nn


class TextClassifier(nn.Module):
    def __init__(self, vocab: int = 100, dim: int = 16, classes: int = 3) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, dim, padding_idx=0)
        self.lstm = nn.LSTM(dim, dim, batch_first=True)
        self.out = nn.Linear(dim, classes)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        hidden, _ = self.lstm(self.embed(tokens))
        return torch.log_softmax(self.out(hidden[:, -1]), dim=-1)


def main(workdir: Path) -> None:
    torch.manual_seed(0)
    model = TextClassifier().eval()
    tokens = torch.randint(1, 100, (32, 12))
    with torch.no_grad():
        eager = model(tokens)
        frozen = torch.jit.optimize_for_inference(torch.jit.freeze(torch.jit.script(model)))
    path = workdir / "classifier.pt"
    torch.jit.save(frozen, str(path))
    served = torch.jit.load(str(path))
    quantized = torch.ao.quantization.quantize_dynamic(model, {nn.Linear, nn.LSTM}, torch.qint8)
    with torch.inference_mode():
        scores = torch.cat([served(chunk) for chunk in tokens.split(8)])
        approx = quantized(tokens)
    assert torch.allclose(scores, eager, atol=1e-5)
    assert (approx - eager).abs().max().item() < 0.1
    print(f"OK torch_infer_extra batch={len(scores)} quantized_max_err="
          f"{(approx - eager).abs().max().item():.4f}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
