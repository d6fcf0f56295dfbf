#!/usr/bin/env python3
"""Small GGUF fixture written by the official `gguf` Python package (pip install gguf numpy), read back by
Tests/PanguWeightsTests/GGUFReaderTests.swift.

Tensors (values chosen to be exactly representable so Swift can recompute them):
  t_f32   f32  numpy shape (3, 5)  = arange(15) - 7           (GGUF dims [5, 3])
  t_f16   f16  numpy shape (2, 32) = arange(64) / 4            (GGUF dims [32, 2])
  t_q8_0  q8_0 numpy shape (3, 64) = (arange(192) % 17) / 8 - 1, quantised by gguf.quants
  t_q4_0  q4_0 numpy shape (2, 32) = (arange(64) % 16) - 7.5,  quantised by gguf.quants
  t_bf16  bf16 numpy shape (1, 8)  = [1, -2, 0.5, 3, 0, -0.25, 7, 1024]
Usage: python3 scripts/quant/make_gguf_fixture.py [OUT.gguf]
"""
import os
import sys

import numpy as np
import gguf

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(__file__), "..", "..", "Tests", "PanguWeightsTests", "Fixtures", "python_written.gguf")

w = gguf.GGUFWriter(out, arch="pangu-embedded")
w.add_block_count(2)
w.add_context_length(32768)
w.add_embedding_length(64)
w.add_rope_freq_base(16000000.0)
w.add_layer_norm_rms_eps(1e-5)
w.add_uint8("test.u8", 200)
w.add_int8("test.i8", -100)
w.add_uint16("test.u16", 60000)
w.add_int16("test.i16", -30000)
w.add_uint32("test.u32", 4000000000)
w.add_int32("test.i32", -2000000000)
w.add_float32("test.f32", 0.125)
w.add_uint64("test.u64", 2**63 + 5)
w.add_int64("test.i64", -(2**62))
w.add_float64("test.f64", 3.141592653589793)
w.add_bool("test.bool", True)
w.add_string("test.string", "héllo ▁wörld")
w.add_array("test.ints", [1, -2, 3])
w.add_array("test.floats", [0.5, -1.5])
w.add_token_list(["<unk>", "<s>", "</s>", "▁hi", "你好"])
w.add_token_scores([0.0, 0.0, 0.0, -1.5, -2.25])
w.add_token_types([2, 3, 3, 1, 1])

w.add_tensor("t_f32", (np.arange(15, dtype=np.float32) - 7).reshape(3, 5))
w.add_tensor("t_f16", (np.arange(64, dtype=np.float32) / 4).astype(np.float16).reshape(2, 32))
q8 = ((np.arange(192) % 17) / 8 - 1).astype(np.float32).reshape(3, 64)
w.add_tensor("t_q8_0", gguf.quants.quantize(q8, gguf.GGMLQuantizationType.Q8_0), raw_dtype=gguf.GGMLQuantizationType.Q8_0)
q4 = ((np.arange(64) % 16) - 7.5).astype(np.float32).reshape(2, 32)
w.add_tensor("t_q4_0", gguf.quants.quantize(q4, gguf.GGMLQuantizationType.Q4_0), raw_dtype=gguf.GGMLQuantizationType.Q4_0)
bf = np.array([[1, -2, 0.5, 3, 0, -0.25, 7, 1024]], dtype=np.float32)
w.add_tensor("t_bf16", gguf.quants.quantize(bf, gguf.GGMLQuantizationType.BF16), raw_dtype=gguf.GGMLQuantizationType.BF16)

w.write_header_to_file()
w.write_kv_data_to_file()
w.write_tensors_to_file()
w.close()
print("wrote", out, os.path.getsize(out), "bytes")
