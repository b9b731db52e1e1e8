"""Not traced for any profile: the same tiny Llama family used differently -- a sequence
classification head trained with a warmup schedule and gradient accumulation, sampled
generation with a GenerationConfig, and a reload in bfloat16."""
import os

os.environ["HF_HUB_OFFLINE"] = "1"  # before transformers is imported: never touch the network
os.environ["TRANSFORMERS_OFFLINE"] = "1"

import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

import torch  # noqa: E402
from tokenizers import Tokenizer, models, pre_tokenizers, trainers  # noqa: E402
from transformers import (  # noqa: E402
    AutoModelForSequenceClassification,
    GenerationConfig,
    LlamaConfig,
    LlamaForCausalLM,
    LlamaForSequenceClassification,
    PreTrainedTokenizerFast,
    get_linear_schedule_with_warmup,
)

POSITIVE = ["what a great film", "i loved the music", "great acting and a great story"]
NEGATIVE = ["what a dull film", "i hated the music", "dull acting and a boring story"]


def build_tokenizer() -> PreTrainedTokenizerFast:
    backend = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    trainer = trainers.WordLevelTrainer(special_tokens=["[PAD]", "[UNK]", "[BOS]", "[EOS]"])
    backend.train_from_iterator(POSITIVE + NEGATIVE, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=backend, pad_token="[PAD]",
                                   unk_token="[UNK]", bos_token="[BOS]", eos_token="[EOS]")


def tiny_config(tokenizer: PreTrainedTokenizerFast, **extra: object) -> LlamaConfig:
    return LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=32,
        pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id, **extra,
    )


def classify(tokenizer: PreTrainedTokenizerFast, workdir: Path) -> float:
    model = LlamaForSequenceClassification(tiny_config(tokenizer, num_labels=2))
    batch = tokenizer(POSITIVE + NEGATIVE, padding=True, return_tensors="pt")
    labels = torch.tensor([1] * len(POSITIVE) + [0] * len(NEGATIVE))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    schedule = get_linear_schedule_with_warmup(optimizer, num_warmup_steps=2, num_training_steps=20)
    model.train()
    for _ in range(10):
        for half in (slice(0, 3), slice(3, 6)):  # two accumulated micro-batches per step
            part = {key: value[half] for key, value in batch.items()}
            (model(**part, labels=labels[half]).loss / 2).backward()
        optimizer.step()
        schedule.step()
        optimizer.zero_grad()
    model.save_pretrained(workdir / "classifier")
    restored = AutoModelForSequenceClassification.from_pretrained(
        workdir / "classifier", dtype=torch.bfloat16
    ).eval()
    with torch.no_grad():
        predicted = restored(**batch).logits.argmax(dim=-1)
    return (predicted == labels).float().mean().item()


def sample(tokenizer: PreTrainedTokenizerFast) -> torch.Tensor:
    torch.manual_seed(0)
    model = LlamaForCausalLM(tiny_config(tokenizer)).eval()
    settings = GenerationConfig(do_sample=True, top_k=5, top_p=0.9, temperature=0.8,
                                max_new_tokens=6, num_return_sequences=2,
                                pad_token_id=tokenizer.pad_token_id)
    prompt = tokenizer(["what a"], return_tensors="pt")
    with torch.no_grad():
        return model.generate(**prompt, generation_config=settings)


def main(workdir: Path) -> None:
    torch.manual_seed(0)
    tokenizer = build_tokenizer()
    accuracy = classify(tokenizer, workdir)
    generated = sample(tokenizer)
    assert generated.shape[0] == 2 and generated.shape[1] > 2, generated.shape
    assert accuracy >= 0.5, accuracy
    print(f"OK transformers_extra accuracy={accuracy:.2f} sampled={generated.shape[1]} tokens")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
