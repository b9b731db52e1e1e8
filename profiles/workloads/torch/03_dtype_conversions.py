"""dtype conversions: casts between float/int/bool/half/bfloat16/float8/complex, type promotion
rules, rounding vs truncation, integer overflow, finfo/iinfo, default dtype, frombuffer,
tolist/item, and views between real and complex."""

import sys
import tempfile
from pathlib import Path

import torch


def main(workdir: Path) -> None:
    torch.manual_seed(0)
    values = torch.tensor([1.7, -2.3, 3.5, -0.5])
    assert values.dtype == torch.float32
    assert values.int().tolist() == [1, -2, 3, 0]  # truncation toward zero
    assert values.round().tolist() == [2.0, -2.0, 4.0, -0.0]  # round half to even
    assert values.floor().long().tolist() == [1, -3, 3, -1]
    assert values.to(torch.int16).dtype == torch.int16
    assert values.bool().tolist() == [True, True, True, True]
    assert torch.tensor([0.0, 2.0]).bool().tolist() == [False, True]
    assert (
        values.double().dtype == torch.float64 and values.type(torch.float16).dtype == torch.float16
    )

    # type promotion
    assert (torch.tensor([1, 2]) + 1.5).dtype == torch.float32
    assert (torch.tensor([1, 2]) * torch.tensor([1.0], dtype=torch.float64)).dtype == torch.float64
    assert (
        torch.tensor([1], dtype=torch.int8) + torch.tensor([1], dtype=torch.uint8)
    ).dtype == torch.int16
    assert torch.promote_types(torch.int32, torch.float16) == torch.float16
    assert torch.result_type(torch.tensor([True]), 2) == torch.int64
    assert (torch.tensor([3]) / 2).dtype == torch.float32
    assert (torch.tensor([7]) // 2).item() == 3 and torch.div(
        torch.tensor([-7]), 2, rounding_mode="floor"
    ).item() == -4
    assert torch.can_cast(torch.float64, torch.float32) and not torch.can_cast(
        torch.float32, torch.int32
    )

    # reduced precision
    third = torch.tensor(1.0 / 3)
    assert third.half().float().item() != third.item()
    assert abs(third.bfloat16().float().item() - third.item()) < 2e-3
    assert (
        torch.finfo(torch.bfloat16).eps
        > torch.finfo(torch.float16).eps
        > torch.finfo(torch.float32).eps
    )
    assert torch.finfo(torch.float16).max == 65504.0
    assert torch.tensor([70000.0]).half().isinf().all()
    assert torch.tensor([1.0, 2.0, 0.5]).to(torch.float8_e4m3fn).float().tolist() == [1.0, 2.0, 0.5]
    assert torch.iinfo(torch.int8).min == -128 and torch.iinfo(torch.uint8).max == 255
    assert (torch.tensor([250], dtype=torch.uint8) + 10).item() == 4  # wraps around

    # complex
    z = torch.complex(torch.tensor([3.0, 0.0]), torch.tensor([4.0, 1.0]))
    assert z.dtype == torch.complex64 and z.abs().tolist() == [5.0, 1.0]
    assert torch.allclose(z.angle()[1], torch.tensor(torch.pi / 2))
    assert torch.view_as_real(z).shape == (2, 2)
    assert torch.equal(torch.view_as_complex(torch.view_as_real(z)), z)
    assert z.conj().imag.tolist() == [-4.0, -1.0] and z.real.tolist() == [3.0, 0.0]
    assert (torch.tensor([1.0], dtype=torch.float64) * 1j).dtype == torch.complex128

    # default dtype
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        assert torch.tensor([1.0]).dtype == torch.float64 and torch.zeros(1).dtype == torch.float64
    finally:
        torch.set_default_dtype(previous)
    assert torch.tensor([1.0]).dtype == torch.float32

    # buffers, python scalars
    raw = bytearray(range(8))
    as_u8 = torch.frombuffer(raw, dtype=torch.uint8)
    assert as_u8.sum().item() == 28
    assert torch.frombuffer(raw, dtype=torch.int32).shape == (2,)
    assert as_u8.view(torch.int16).shape == (4,)  # reinterpret bits
    assert isinstance(torch.tensor(2.5).item(), float) and isinstance(torch.tensor(2).item(), int)
    assert isinstance(torch.tensor([True]).tolist()[0], bool)
    assert torch.tensor([1.9]).to(dtype=torch.int64, copy=True).item() == 1
    assert int(torch.tensor(5)) == 5 and float(torch.tensor(0.5)) == 0.5
    assert values.element_size() == 4 and values.half().element_size() == 2
    assert values.to(torch.bfloat16).nbytes == 8
    print(f"OK 03_dtype_conversions eps_bf16={torch.finfo(torch.bfloat16).eps}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp()))
