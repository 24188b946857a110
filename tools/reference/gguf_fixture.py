#!/usr/bin/env python3
"""Writes the GGUF fixtures in tests/ResidualLM.Tests/fixtures/gguf/, independently of the C# code.

A small GGUF v3 writer written from the spec (ggml-org/ggml docs/gguf.md; layout as llama.cpp's gguf.cpp writes it:
header, metadata, tensor infos, zero padding to the alignment, each tensor's data padded to the alignment) and
ggml's Q8_0 / Q4_0 reference quantizers (quantize_row_q8_0_ref / quantize_row_q4_0_ref in ggml-quants.c) in numpy.

Files:
  tiny-gpt2-{f32,f16,q8_0,q4_0}.gguf  a GPT-2-architecture model as llama.cpp names it (general.architecture "gpt2",
      gpt2.* hyper-parameters, token_embd / position_embd / blk.N.* / output_norm tensors, no output.weight: the head
      is tied to token_embd) with a byte-level BPE tokenizer (the 256 GPT-2 byte tokens, the first 23 GPT-2 merges,
      <|endoftext|>). Width 32, 2 heads, 2 layers, context 32, feed-forward 64, vocabulary 280, so that the four
      files fit the fixture budget of 300 KB. All four hold the same float32 weights (seeded numpy normal): f32 stores them all as
      float32; f16, q8_0 and q4_0 store the five matrices (token_embd, attn_qkv, attn_output, ffn_up, ffn_down) in
      that type and the rest (position_embd, norms, biases) as float32, as llama-quantize does.
  all-types.gguf  every metadata value type (scalars, arrays of each, an array of arrays, empty array and string,
      non-ASCII text), general.alignment = 64, tensors of types f32, f16 (with inf, NaN, subnormals), bf16, q8_0,
      q4_k (random bytes: only the size is checked), i32 and a 4-D one, listed out of offset order with a gap.
  v2.gguf  a version-2 file with default alignment.
  expected.json  for each file: version, alignment, data offset, the metadata in order (floats as bit patterns),
      and every tensor's name, type, shape (ne order), offset, byte length and sha256 of its bytes; for f16/bf16
      tensors also the sha256 of the values widened to float32 by numpy (for f32 that is the sha256 of the bytes).
  quant_cases.json  float32 blocks and their Q8_0 and Q4_0 bytes (see quant_cases() below).

Run: /usr/bin/python3 tools/reference/gguf_fixture.py
"""
import hashlib
import json
import os
import struct

import numpy as np

OUT_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "ResidualLM.Tests", "fixtures", "gguf")
SIZE_BUDGET = 300_000

# Metadata value types (gguf_metadata_value_type) and their struct formats.
U8, I8, U16, I16, U32, I32, F32, BOOL, STRING, ARRAY, U64, I64, F64 = range(13)
VALUE_FORMAT = {U8: "<B", I8: "<b", U16: "<H", I16: "<h", U32: "<I", I32: "<i", F32: "<f", U64: "<Q", I64: "<q", F64: "<d"}
VALUE_NAME = {U8: "u8", I8: "i8", U16: "u16", I16: "i16", U32: "u32", I32: "i32", F32: "f32", BOOL: "bool",
              STRING: "string", ARRAY: "array", U64: "u64", I64: "i64", F64: "f64"}

# ggml types used here: number, name, (elements per block, bytes per block).
GGML = {"f32": (0, 1, 4), "f16": (1, 1, 2), "q4_0": (2, 32, 18), "q8_0": (8, 32, 34), "q4_k": (12, 256, 144),
        "i32": (26, 1, 4), "bf16": (30, 1, 2)}
FILE_TYPE = {"f32": 0, "f16": 1, "q4_0": 2, "q8_0": 7}   # llama_ftype


# ------------------------------------------------------------------ writer

def gguf_string(text):
    data = text.encode("utf-8")
    return struct.pack("<Q", len(data)) + data


def encode_value(vtype, value):
    """Bytes of one value (without its type tag). An array value is (element type, list)."""
    if vtype == STRING:
        return gguf_string(value)
    if vtype == BOOL:
        return struct.pack("<B", 1 if value else 0)
    if vtype == ARRAY:
        element_type, items = value
        out = struct.pack("<IQ", element_type, len(items))
        return out + b"".join(encode_value(element_type, item) for item in items)
    return struct.pack(VALUE_FORMAT[vtype], value)


def align(n, alignment):
    return n + (alignment - n % alignment) % alignment


def write_gguf(path, metadata, tensors, version=3, alignment=32, offsets=None):
    """metadata: [(key, type, value)]; tensors: [(name, ggml type name, ne list, bytes)].
    offsets: data-section offsets per tensor (default: in order, each padded to the alignment)."""
    if offsets is None:
        offsets, position = [], 0
        for _, _, _, data in tensors:
            offsets.append(position)
            position = align(position + len(data), alignment)
    out = bytearray(b"GGUF" + struct.pack("<IQQ", version, len(tensors), len(metadata)))
    for key, vtype, value in metadata:
        out += gguf_string(key) + struct.pack("<I", vtype) + encode_value(vtype, value)
    for (name, type_name, ne, _), offset in zip(tensors, offsets):
        out += gguf_string(name) + struct.pack("<I", len(ne)) + b"".join(struct.pack("<Q", n) for n in ne)
        out += struct.pack("<IQ", GGML[type_name][0], offset)
    data_start = align(len(out), alignment)
    out += bytes(data_start - len(out))
    end = max((offset + len(data) for (_, _, _, data), offset in zip(tensors, offsets)), default=0)
    section = bytearray(align(end, alignment))
    for (_, _, _, data), offset in zip(tensors, offsets):
        section[offset:offset + len(data)] = data
    out += section
    with open(path, "wb") as f:
        f.write(out)
    return data_start


# ------------------------------------------------------------------ quantizers (ggml-quants.c *_ref, float32 math)

def round_half_away(x32):
    """C roundf of float32 values, exact in float64."""
    x = x32.astype(np.float64)
    return np.where(x >= 0, np.floor(x + 0.5), np.ceil(x - 0.5))


def reciprocal(d):
    """id = d ? 1.0f/d : 0.0f in float32 (from the float32 d, before it is rounded to fp16)."""
    with np.errstate(divide="ignore"):
        return np.where(d != 0, np.float32(1) / d, np.float32(0)).astype(np.float32)


def quantize_q8_0(values):
    """Blocks of 32: fp16 d = amax / 127, then 32 int8 q = roundf(x * id)."""
    x = np.asarray(values, dtype=np.float32).reshape(-1, 32)
    amax = np.abs(x).max(axis=1)
    d = (amax / np.float32(127)).astype(np.float32)
    q = round_half_away((x * reciprocal(d)[:, None]).astype(np.float32)).astype(np.int8)
    return join_blocks(d, q.view(np.uint8))


def quantize_q4_0(values):
    """Blocks of 32: max = the first value of largest |x|, fp16 d = max / -8, q = min(15, (int8)(x * id + 8.5f))
    truncating; byte j holds q[j] in its low nibble and q[j + 16] in its high nibble."""
    x = np.asarray(values, dtype=np.float32).reshape(-1, 32)
    first_largest = np.argmax(np.abs(x), axis=1)   # argmax returns the first index, as the strict '<' scan keeps it
    peak = x[np.arange(x.shape[0]), first_largest]
    d = (peak / np.float32(-8)).astype(np.float32)
    shifted = ((x * reciprocal(d)[:, None]).astype(np.float32) + np.float32(8.5)).astype(np.float32)
    q = np.minimum(15, np.trunc(shifted.astype(np.float64))).astype(np.uint8)
    return join_blocks(d, (q[:, :16] | (q[:, 16:] << 4)).astype(np.uint8))


def join_blocks(d, packed):
    """Each block: d as fp16 (round to nearest even; overflow gives infinity, as in ggml), then its packed bytes."""
    with np.errstate(over="ignore"):
        scales = d.astype("<f2").view(np.uint8).reshape(-1, 2)
    return np.concatenate([scales, packed], axis=1).tobytes()


# ------------------------------------------------------------------ tiny GPT-2

HP = dict(vocab=280, context=32, width=32, heads=2, layers=2, ff=64, eps=1e-5)

# The first 23 merges of GPT-2's vocab.bpe, in rank order (Ġ is the byte-level space).
MERGES = ["Ġ t", "Ġ a", "h e", "i n", "r e", "o n", "Ġt he", "e r", "Ġ s", "a t", "Ġ w", "Ġ o", "e n", "Ġ c",
          "i t", "i s", "a n", "o r", "e s", "Ġ b", "e d", "Ġ f", "in g"]


def byte_tokens():
    """GPT-2's 256 byte tokens in id order: printable bytes map to themselves, the others to U+0100 upwards."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    order, chars, extra = list(printable), list(printable), 0
    for byte in range(256):
        if byte not in printable:
            order.append(byte)
            chars.append(256 + extra)
            extra += 1
    return [chr(c) for c in chars]


def tokenizer():
    tokens = byte_tokens() + [m.replace(" ", "") for m in MERGES] + ["<|endoftext|>"]
    assert len(tokens) == HP["vocab"] and len(set(tokens)) == len(tokens)
    types = [1] * (len(tokens) - 1) + [3]   # normal, and control for <|endoftext|>
    return tokens, types


def weights(seed=14):
    """[(name, float32 array in numpy (outer..inner) order, is one of the five matrices)]."""
    w, v, c, f, layers = HP["width"], HP["vocab"], HP["context"], HP["ff"], HP["layers"]
    counter = [0]

    def normal(shape, std, mean=0.0):
        counter[0] += 1
        rng = np.random.default_rng([seed, counter[0]])
        return (rng.standard_normal(shape) * std + mean).astype(np.float32)

    out = [("token_embd.weight", normal((v, w), 0.1), True), ("position_embd.weight", normal((c, w), 0.05), False)]
    for layer in range(layers):
        p = f"blk.{layer}."
        out += [(p + "attn_norm.weight", normal((w,), 0.1, 1.0), False), (p + "attn_norm.bias", normal((w,), 0.05), False),
                (p + "attn_qkv.weight", normal((3 * w, w), 0.1), True), (p + "attn_qkv.bias", normal((3 * w,), 0.05), False),
                (p + "attn_output.weight", normal((w, w), 0.1), True), (p + "attn_output.bias", normal((w,), 0.05), False),
                (p + "ffn_norm.weight", normal((w,), 0.1, 1.0), False), (p + "ffn_norm.bias", normal((w,), 0.05), False),
                (p + "ffn_up.weight", normal((f, w), 0.1), True), (p + "ffn_up.bias", normal((f,), 0.05), False),
                (p + "ffn_down.weight", normal((w, f), 0.1), True), (p + "ffn_down.bias", normal((w,), 0.05), False)]
    out += [("output_norm.weight", normal((w,), 0.1, 1.0), False), ("output_norm.bias", normal((w,), 0.05), False)]
    return out


def gpt2_metadata(file_type):
    tokens, types = tokenizer()
    eot = len(tokens) - 1
    return [("general.architecture", STRING, "gpt2"), ("general.name", STRING, "tiny-gpt2 fixture"),
            ("general.file_type", U32, FILE_TYPE[file_type]), ("general.quantization_version", U32, 2),
            ("gpt2.context_length", U32, HP["context"]), ("gpt2.embedding_length", U32, HP["width"]),
            ("gpt2.feed_forward_length", U32, HP["ff"]), ("gpt2.block_count", U32, HP["layers"]),
            ("gpt2.attention.head_count", U32, HP["heads"]), ("gpt2.attention.layer_norm_epsilon", F32, HP["eps"]),
            ("tokenizer.ggml.model", STRING, "gpt2"), ("tokenizer.ggml.pre", STRING, "gpt-2"),
            ("tokenizer.ggml.tokens", ARRAY, (STRING, tokens)), ("tokenizer.ggml.token_type", ARRAY, (I32, types)),
            ("tokenizer.ggml.merges", ARRAY, (STRING, MERGES)),
            ("tokenizer.ggml.bos_token_id", U32, eot), ("tokenizer.ggml.eos_token_id", U32, eot)]


def encode_tensor(array, type_name):
    if type_name == "f32":
        return array.astype("<f4").tobytes()
    if type_name == "f16":
        return array.astype("<f2").tobytes()
    if type_name == "q8_0":
        return quantize_q8_0(array)
    return quantize_q4_0(array)


def gpt2_tensors(matrix_type):
    return [(name, matrix_type if is_matrix else "f32", list(reversed(array.shape)),
             encode_tensor(array, matrix_type if is_matrix else "f32")) for name, array, is_matrix in weights()]


# ------------------------------------------------------------------ all-types and v2

def f32_bits(bits):
    return np.array(bits, dtype=np.uint32).view(np.float32)


def all_types_file():
    rng = np.random.default_rng([14, 1000])
    metadata = [
        ("general.alignment", U32, 64),
        ("general.architecture", STRING, "test"),
        ("test.u8", U8, 255), ("test.i8", I8, -128), ("test.u16", U16, 65535), ("test.i16", I16, -32768),
        ("test.u32", U32, 4294967295), ("test.i32", I32, -2147483648), ("test.f32", F32, float(np.float32(0.1))),
        ("test.bool_true", BOOL, True), ("test.bool_false", BOOL, False),
        ("test.string", STRING, "ünïcødé ✓ 𝄞"), ("test.empty_string", STRING, ""),
        ("test.u64", U64, 18446744073709551615), ("test.i64", I64, -9223372036854775808), ("test.f64", F64, -1e-300),
        ("test.array.u8", ARRAY, (U8, [0, 1, 254, 255])), ("test.array.i8", ARRAY, (I8, [-128, -1, 0, 127])),
        ("test.array.u16", ARRAY, (U16, [0, 65535])), ("test.array.i16", ARRAY, (I16, [-32768, 32767])),
        ("test.array.u32", ARRAY, (U32, [0, 7, 4294967295])), ("test.array.i32", ARRAY, (I32, [-2147483648, 2147483647, 3])),
        ("test.array.f32", ARRAY, (F32, [float(v) for v in f32_bits([0x3F800000, 0x7F800000, 0xFF800000, 0x7FC00000, 0x00000001, 0x80000000])])),
        ("test.array.bool", ARRAY, (BOOL, [True, False, True])),
        ("test.array.string", ARRAY, (STRING, ["a", "", "Ġthe", "\u0000x", "€"])),
        ("test.array.u64", ARRAY, (U64, [0, 18446744073709551615])), ("test.array.i64", ARRAY, (I64, [-9223372036854775808, 5])),
        ("test.array.f64", ARRAY, (F64, [0.5, -2.0, float("inf")])),
        ("test.array.empty", ARRAY, (U32, [])),
        ("test.array.nested", ARRAY, (ARRAY, [(I16, [1, -2]), (STRING, ["x", "yz"]), (ARRAY, [(U8, [9])]), (F32, [])])),
    ]
    f16_values = np.array([1.0, -0.0, 65504.0, 6e-8, np.inf, -np.inf, np.nan, 1 / 3], dtype=np.float32).astype(np.float16)
    bf16_source = rng.standard_normal(2 * 3 * 4).astype(np.float32)
    bf16_bits = (bf16_source.view(np.uint32) >> 16).astype("<u2")   # truncated: any bit pattern is a valid bf16
    tensors = [
        ("vector.f32", "f32", [5], rng.standard_normal(5).astype("<f4").tobytes()),
        ("specials.f16", "f16", [4, 2], f16_values.astype("<f2").tobytes()),
        ("cube.bf16", "bf16", [4, 3, 2], bf16_bits.tobytes()),
        ("rows.q8_0", "q8_0", [64, 2], quantize_q8_0(rng.standard_normal(128))),
        ("raw.q4_k", "q4_k", [256, 2], rng.integers(0, 256, 288, dtype=np.uint8).tobytes()),
        ("ids.i32", "i32", [3], np.array([7, -1, 2147483647], dtype="<i4").tobytes()),
        ("four.f32", "f32", [1, 2, 1, 3], rng.standard_normal(6).astype("<f4").tobytes()),
    ]
    # Out of offset order, with a gap of one alignment unit before the last tensor in the file.
    sizes = {name: align(len(data), 64) for name, _, _, data in tensors}
    layout = ["rows.q8_0", "vector.f32", "cube.bf16", "specials.f16", "ids.i32", "four.f32", "raw.q4_k"]
    offsets_by_name, position = {}, 0
    for name in layout:
        if name == "raw.q4_k":
            position += 64
        offsets_by_name[name] = position
        position += sizes[name]
    return metadata, tensors, [offsets_by_name[name] for name, _, _, _ in tensors]


def v2_file():
    metadata = [("general.architecture", STRING, "test"), ("test.count", U64, 3)]
    tensors = [("w", "f32", [3], np.array([1.5, -2.25, 0.0], dtype="<f4").tobytes()),
               ("h", "f16", [2], np.array([0.5, -4.0], dtype="<f2").tobytes())]
    return metadata, tensors


# ------------------------------------------------------------------ quantization cases

def quant_cases():
    """Blocks of 32 float32 values chosen to separate a correct Q8_0 / Q4_0 quantizer from near misses."""
    rng = np.random.default_rng([14, 2000])
    cases = []

    def add(name, values):
        values = np.asarray(values, dtype=np.float32).reshape(-1)
        assert values.size % 32 == 0
        cases.append((name, values))

    add("random normal, 3 blocks", rng.standard_normal(96) * 0.3)
    # amax 127 gives d = 1 exactly, so x * id lands on .5: roundf goes away from zero (bankers' rounding would not).
    q8_ties = np.array([127.0, 0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 126.5, -126.5, 3.5, 64.5, -64.5] + [0.25 * k for k in range(20)])
    add("q8_0 ties at .5 (d = 1)", q8_ties)
    # max = -8 gives d = 1 exactly: x + 8.5 is an integer for these, and truncation differs from rounding.
    q4_ties = np.array([-8.0, -7.5, -0.5, 0.5, 6.5, 7.0, 7.5, -3.5, 2.5, 1.0, -1.0, 0.0] + [0.5 * k - 5 for k in range(20)])
    add("q4_0 ties at .5 (d = 1)", q4_ties)
    add("all zero (d = 0, and -0.0)", np.array([0.0, -0.0] * 16))
    negative_peak = rng.standard_normal(32) * 0.5
    negative_peak[11] = -3.0
    add("largest |x| negative", negative_peak)
    plus_first = rng.uniform(-1, 1, 32)
    plus_first[4], plus_first[20] = 2.0, -2.0
    add("equal extremes, positive first", plus_first)
    minus_first = rng.uniform(-1, 1, 32)
    minus_first[3], minus_first[30] = -2.0, 2.0
    add("equal extremes, negative first", minus_first)
    add("tiny: d underflows fp16 to zero", rng.standard_normal(32) * 1e-7)
    add("huge: d overflows fp16 to infinity", rng.standard_normal(32) * 4e6)
    add("odd scale, values near the quantization grid", rng.integers(-127, 128, 32) * np.float32(0.0123) + rng.uniform(-1e-4, 1e-4, 32))
    return [{"name": name, "float32_bits": [int(b) for b in values.view(np.uint32)],
             "q8_0": quantize_q8_0(values).hex(), "q4_0": quantize_q4_0(values).hex()} for name, values in cases]


# ------------------------------------------------------------------ expected.json

def describe_value(vtype, value):
    if vtype == ARRAY:
        element_type, items = value
        return {"type": "array", "element_type": VALUE_NAME[element_type], "value": [describe_item(element_type, item) for item in items]}
    return {"type": VALUE_NAME[vtype], "value": describe_item(vtype, value)}


def describe_item(vtype, value):
    if vtype == F32:
        return int(np.array([value], dtype=np.float32).view(np.uint32)[0])
    if vtype == F64:
        return int(np.array([value], dtype=np.float64).view(np.uint64)[0])
    if vtype == ARRAY:
        return describe_value(ARRAY, value)
    return value


def widened_sha256(type_name, data):
    if type_name == "f16":
        values = np.frombuffer(data, dtype="<f2").astype(np.float32)
    elif type_name == "bf16":
        values = (np.frombuffer(data, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
    else:
        return None
    return hashlib.sha256(values.astype("<f4").tobytes()).hexdigest()


def describe_file(path, version, alignment, data_start, metadata, tensors, offsets, base=None):
    """base: (file name, metadata) this file's metadata repeats except for the keys listed under metadata_changes."""
    entries = []
    for (name, type_name, ne, data), offset in zip(tensors, offsets):
        number, block, block_bytes = GGML[type_name]
        assert len(data) == int(np.prod(ne)) // block * block_bytes
        entry = {"name": name, "type": type_name, "type_id": number, "shape": ne, "offset": offset,
                 "byte_length": len(data), "sha256": hashlib.sha256(data).hexdigest()}
        widened = widened_sha256(type_name, data)
        if widened:
            entry["float32_sha256"] = widened
        entries.append(entry)
    described = {"file": os.path.basename(path), "version": version, "alignment": alignment, "data_offset": data_start,
                 "file_length": os.path.getsize(path)}
    if base is None:
        described["metadata"] = [dict(key=key, **describe_value(vtype, value)) for key, vtype, value in metadata]
    else:
        base_name, base_metadata = base
        assert [key for key, _, _ in metadata] == [key for key, _, _ in base_metadata]
        described["metadata_same_as"] = base_name
        described["metadata_changes"] = [dict(key=key, **describe_value(vtype, value))
                                         for (key, vtype, value), old in zip(metadata, base_metadata) if (key, vtype, value) != old]
    described["tensors"] = entries
    return described


def sequential_offsets(tensors, alignment):
    offsets, position = [], 0
    for _, _, _, data in tensors:
        offsets.append(position)
        position = align(position + len(data), alignment)
    return offsets


def main():
    os.makedirs(OUT_DIR, exist_ok=True)
    files, base = [], None
    for matrix_type in ("f32", "f16", "q8_0", "q4_0"):
        path = os.path.join(OUT_DIR, f"tiny-gpt2-{matrix_type}.gguf")
        metadata, tensors = gpt2_metadata(matrix_type), gpt2_tensors(matrix_type)
        start = write_gguf(path, metadata, tensors)
        files.append(describe_file(path, 3, 32, start, metadata, tensors, sequential_offsets(tensors, 32), base))
        base = base or (os.path.basename(path), metadata)

    metadata, tensors, offsets = all_types_file()
    path = os.path.join(OUT_DIR, "all-types.gguf")
    start = write_gguf(path, metadata, tensors, alignment=64, offsets=offsets)
    files.append(describe_file(path, 3, 64, start, metadata, tensors, offsets))

    metadata, tensors = v2_file()
    path = os.path.join(OUT_DIR, "v2.gguf")
    start = write_gguf(path, metadata, tensors, version=2)
    files.append(describe_file(path, 2, 32, start, metadata, tensors, sequential_offsets(tensors, 32)))

    with open(os.path.join(OUT_DIR, "expected.json"), "w", encoding="utf-8") as f:
        # Compact, one file per line: the fixture budget is tight.
        compact = dict(separators=(",", ":"), ensure_ascii=False)
        f.write('{"generator":"tools/reference/gguf_fixture.py","hyper_parameters":' + json.dumps(HP, **compact) + ',"files":[\n')
        f.write(",\n".join(json.dumps(described, **compact) for described in files) + "\n]}\n")
    with open(os.path.join(OUT_DIR, "quant_cases.json"), "w", encoding="utf-8") as f:
        json.dump({"generator": "tools/reference/gguf_fixture.py",
                   "format": "each case: float32_bits = 32*k float32 values as uint32 bit patterns; q8_0 / q4_0 = the "
                             "blocks ggml's quantize_row_q8_0_ref / quantize_row_q4_0_ref make of them, as hex "
                             "(Q8_0: fp16 d little-endian + 32 int8; Q4_0: fp16 d + 16 bytes, low nibbles = elements "
                             "0..15, high nibbles = 16..31)",
                   "cases": quant_cases()}, f, separators=(",", ":"))
        f.write("\n")

    total = sum(os.path.getsize(os.path.join(OUT_DIR, name)) for name in os.listdir(OUT_DIR))
    for name in sorted(os.listdir(OUT_DIR)):
        print(f"{os.path.getsize(os.path.join(OUT_DIR, name)):8d}  {name}")
    print(f"{total:8d}  in all (budget {SIZE_BUDGET})")
    assert total < SIZE_BUDGET, "fixtures over budget"


if __name__ == "__main__":
    main()
