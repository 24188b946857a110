#!/usr/bin/env python3
"""Writes tests/ResidualLM.Tests/fixtures/safetensors/sample.safetensors and sample.json.

The safetensors file holds F32, F16 and BF16 tensors (with special values) and metadata. PyTorch does the
float16/bfloat16 rounding and widening, so the C# reader is checked against an independent conversion. The
`safetensors` package is not installed here, so a minimal writer that follows the reference implementation
(huggingface/safetensors) is included: tensors ordered by dtype alignment (descending) then name, compact JSON
header with __metadata__ first, padded with spaces to a multiple of 8 bytes.

sample.json holds, for each tensor, dtype, shape and the float32 bit patterns PyTorch gives after widening
(bit patterns rather than numbers so NaN, infinities and -0.0 compare exactly).

Run: /usr/bin/python3 tools/reference/safetensors_fixture.py
"""
import json
import os
import struct

import numpy as np
import torch

OUT_DIR = os.path.join(os.path.dirname(__file__), "..", "..", "tests", "ResidualLM.Tests", "fixtures", "safetensors")

# Reference Dtype enum order; the writer sorts by it descending so wider types come first (alignment).
DTYPE_ORDER = ["BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "I16", "U16", "F16", "BF16", "I32", "U32", "F32", "F64", "I64", "U64"]
TORCH_DTYPE = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}


def f32_from_bits(bits):
    return np.array(bits, dtype=np.uint32).view(np.float32)


def tensors():
    nan_with_payload = f32_from_bits([0x7FC00001])[0]
    smallest_subnormal = f32_from_bits([0x00000001])[0]
    return {
        "f32.matrix": ("F32", [2, 3], torch.from_numpy(np.array(
            [1.5, -0.0, np.inf, -np.inf, nan_with_payload, smallest_subnormal], dtype=np.float32)).reshape(2, 3)),
        "f32.scalar": ("F32", [], torch.tensor(3.25, dtype=torch.float32)),
        "f32.empty": ("F32", [0], torch.zeros(0, dtype=torch.float32)),
        # 6e-8 is a float16 subnormal; 65504 is the largest finite float16; 70000 overflows to infinity.
        "f16.vector": ("F16", [8], torch.tensor([0.1, -2.5, 65504.0, 6e-8, 70000.0, -0.0, float("nan"), 1.0 / 3.0]).to(torch.float16)),
        # bfloat16 keeps float32's range: -1e30 and 1e-40 (a float32 subnormal) survive, precision does not.
        "bf16.matrix": ("BF16", [2, 2], torch.tensor([[0.1, 3.14159265], [-1e30, 1e-40]]).to(torch.bfloat16)),
    }


def raw_bytes(dtype, tensor):
    if dtype == "F32":
        return tensor.contiguous().numpy().astype("<f4").tobytes()
    # float16/bfloat16: reinterpret as int16 and write the bit patterns little-endian.
    return tensor.contiguous().view(torch.int16).numpy().astype("<i2").tobytes()


def write_safetensors(path, items, metadata):
    order = sorted(items, key=lambda name: (-DTYPE_ORDER.index(items[name][0]), name.encode("utf-8")))
    header = {"__metadata__": metadata}
    chunks = []
    offset = 0
    for name in order:
        dtype, shape, tensor = items[name]
        data = raw_bytes(dtype, tensor)
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as file:
        file.write(struct.pack("<Q", len(text)))
        file.write(text)
        for chunk in chunks:
            file.write(chunk)


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    items = tensors()
    metadata = {"format": "pt", "note": "tiny fixture: ünïcode, \"quotes\" and a\nnewline"}
    write_safetensors(os.path.join(OUT_DIR, "sample.safetensors"), items, metadata)

    expected = {"metadata": metadata, "tensors": {}}
    for name, (dtype, shape, tensor) in items.items():
        widened = tensor.to(torch.float32).contiguous().reshape(-1).numpy().view(np.uint32)
        expected["tensors"][name] = {"dtype": dtype, "shape": shape, "float32_bits": [int(bits) for bits in widened]}
    with open(os.path.join(OUT_DIR, "sample.json"), "w", encoding="utf-8") as file:
        json.dump(expected, file, indent=1, ensure_ascii=False)
        file.write("\n")


if __name__ == "__main__":
    main()
