"""Fine-tune a tiny Llama built locally (no hub): a word-level tokenizer trained in-process,
a few AdamW steps, save_pretrained / from_pretrained, then generate() a few tokens."""
import os

os.environ["HF_HUB_OFFLINE"] = "1"  # before transformers is imported: never touch the network
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

import torch  # noqa: E402
from tokenizers import Tokenizer, models, pre_tokenizers, trainers  # noqa: E402
from transformers import (  # noqa: E402
    AutoModelForCausalLM,
    AutoTokenizer,
    LlamaConfig,
    LlamaForCausalLM,
    PreTrainedTokenizerFast,
)

CORPUS = [
    "the cat sat on the mat",
    "the dog sat on the log",
    "a cat and a dog are friends",
    "the mat is red and the log is brown",
    "friends sit on the mat together",
] * 8


def build_tokenizer() -> PreTrainedTokenizerFast:
    backend = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    special = ["[PAD]", "[UNK]", "[BOS]", "[EOS]"]
    backend.train_from_iterator(CORPUS, trainers.WordLevelTrainer(special_tokens=special))
    return PreTrainedTokenizerFast(
        tokenizer_object=backend, pad_token="[PAD]", unk_token="[UNK]",
        bos_token="[BOS]", eos_token="[EOS]",
    )


def build_model(tokenizer: PreTrainedTokenizerFast) -> LlamaForCausalLM:
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
        pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    return LlamaForCausalLM(config)


def main(workdir: Path) -> None:
    torch.manual_seed(0)
    tokenizer = build_tokenizer()
    model = build_model(tokenizer)
    batch = tokenizer(CORPUS[:8], padding=True, return_tensors="pt")
    labels = batch["input_ids"].masked_fill(batch["attention_mask"] == 0, -100)
    optimizer = torch.optim.AdamW(model.parameters(), lr=5e-3)
    model.train()
    losses = []
    for _ in range(5):
        optimizer.zero_grad()
        loss = model(**batch, labels=labels).loss
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0], losses
    out = workdir / "tiny-llama"
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    restored = AutoModelForCausalLM.from_pretrained(out).eval()
    restored_tokenizer = AutoTokenizer.from_pretrained(out)
    prompt = restored_tokenizer(["the cat sat"], return_tensors="pt")
    with torch.no_grad():
        generated = restored.generate(
            **prompt, max_new_tokens=5, do_sample=False, pad_token_id=tokenizer.pad_token_id
        )
    assert generated.shape[1] > prompt["input_ids"].shape[1], generated.shape
    text = restored_tokenizer.decode(generated[0], skip_special_tokens=True)
    print(f"OK transformers_finetune loss={losses[0]:.3f}->{losses[-1]:.3f} text={text!r}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
