"""Not traced for any profile: another architecture -- a tiny GPT-2 built from GPT2Config with a
character-level vocabulary written here, one training step, then beam-search generation."""
import os

os.environ["HF_HUB_OFFLINE"] = "1"  # before transformers is imported: never touch the network
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

import torch  # noqa: E402
from transformers import GPT2Config, GPT2LMHeadModel  # noqa: E402

TEXT = "hello lean world, hello tiny model. "


def main(workdir: Path) -> None:
    torch.manual_seed(0)
    alphabet = sorted(set(TEXT))
    index = {char: i for i, char in enumerate(alphabet)}
    ids = torch.tensor([[index[c] for c in TEXT * 2]])
    config = GPT2Config(vocab_size=len(alphabet), n_positions=128, n_embd=32, n_layer=2, n_head=4,
                        bos_token_id=0, eos_token_id=0)
    model = GPT2LMHeadModel(config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    loss = model(input_ids=ids, labels=ids).loss
    loss.backward()
    optimizer.step()
    model.save_pretrained(workdir / "gpt2")
    restored = GPT2LMHeadModel.from_pretrained(workdir / "gpt2").eval()
    with torch.no_grad():
        out = restored.generate(ids[:, :5], max_new_tokens=8, num_beams=3, do_sample=False,
                                pad_token_id=0)
    text = "".join(alphabet[i] for i in out[0].tolist())
    print(f"OK transformers_gpt2_extra loss={loss.item():.3f} text={text!r}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
