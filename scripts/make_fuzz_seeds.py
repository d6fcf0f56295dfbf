#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz harnesses (Tests/FuzzCorpus/<target>/): small valid inputs copied from
the test fixtures or written here with the formats' own layout (no torch, no gguf package: plain struct/json), so
every harness starts from inputs that reach deep into its parser. Run from the repository root; see
Docs/Fuzzing.md."""
import json, os, shutil, struct

ROOT = "Tests/FuzzCorpus"


def put(target, name, data):
    os.makedirs(f"{ROOT}/{target}", exist_ok=True)
    with open(f"{ROOT}/{target}/{name}", "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def copy(target, name, src):
    with open(src, "rb") as f:
        put(target, name, f.read())


# --- safetensors: 8-byte header length, JSON header, data section ---------------------------------------------
def safetensors(tensors, metadata=None):
    header, blob = {}, b""
    for name, dtype, shape, data in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(blob), len(blob) + len(data)]}
        blob += data
    if metadata is not None:
        header["__metadata__"] = metadata
    h = json.dumps(header).encode()
    return struct.pack("<Q", len(h)) + h + blob


put("safetensors", "f32-bf16-f16.safetensors", safetensors([
    ("model.embed_tokens.weight", "F32", [2, 3], struct.pack("<6f", *range(6))),
    ("model.norm.weight", "BF16", [3], b"\x80\x3f" * 3),
    ("lm_head.weight", "F16", [3, 2], b"\x00\x3c" * 6)], {"format": "pt"}))
put("safetensors", "scalar-and-empty.safetensors", safetensors([
    ("s", "F32", [], struct.pack("<f", 1.5)), ("e", "F16", [0, 4], b"")]))
put("safetensors", "unknown-dtype.safetensors", safetensors([("i", "I64", [1], struct.pack("<q", 7))]))

# --- safetensors index next to the harness's two shards (a.weight, b.weight | c.weight) ----------------------------
put("safetensors-index", "two-shards.json", json.dumps({"metadata": {"total_size": 72}, "weight_map": {
    "a.weight": "model-00001-of-00002.safetensors", "b.weight": "model-00001-of-00002.safetensors",
    "c.weight": "model-00002-of-00002.safetensors"}}, indent=2))
put("safetensors-index", "partial.json", json.dumps({"weight_map": {"c.weight": "model-00002-of-00002.safetensors"}}))

# --- GGUF v3: header, metadata, tensor infos, aligned data ------------------------------------------------------
def gstr(s):
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


def gval(v):
    if isinstance(v, bool):
        return struct.pack("<I", 7) + struct.pack("<B", v)
    if isinstance(v, int):
        return struct.pack("<I", 4) + struct.pack("<I", v)
    if isinstance(v, float):
        return struct.pack("<I", 6) + struct.pack("<f", v)
    if isinstance(v, str):
        return struct.pack("<I", 8) + gstr(v)
    kind, items = v  # ("strings" | "floats" | "ints", list)
    if kind == "strings":
        return struct.pack("<IIQ", 9, 8, len(items)) + b"".join(gstr(s) for s in items)
    if kind == "floats":
        return struct.pack("<IIQ", 9, 6, len(items)) + b"".join(struct.pack("<f", x) for x in items)
    return struct.pack("<IIQ", 9, 5, len(items)) + b"".join(struct.pack("<i", x) for x in items)


def gguf(metadata, tensors, alignment=32):
    out = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(metadata))
    for k, v in metadata:
        out += gstr(k) + gval(v)
    data, infos = b"", b""
    for name, dims, ggml_type, blob in tensors:
        data += b"\0" * (-len(data) % alignment)
        infos += gstr(name) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<Q", d) for d in dims)
        infos += struct.pack("<IQ", ggml_type, len(data))
        data += blob
    out += infos
    out += b"\0" * (-len(out) % alignment)
    return out + data


a = "pangu-embedded"
tokens = ["<unk>", "<s>", "</s>", "[unused9]", "[unused10]", "▁", "a", "b", "ab", "▁a"] + [f"<0x{i:02X}>" for i in range(4)]
types = [2, 3, 3, 3, 3, 1, 1, 1, 1, 1] + [6] * 4
q8_block = struct.pack("<e", 0.5) + bytes(range(32))
put("gguf", "pangu-tiny.gguf", gguf([
    ("general.architecture", a), ("general.alignment", 32),
    (f"{a}.block_count", 1), (f"{a}.context_length", 64), (f"{a}.embedding_length", 32),
    (f"{a}.feed_forward_length", 64), (f"{a}.attention.head_count", 2), (f"{a}.attention.head_count_kv", 1),
    (f"{a}.rope.freq_base", 10000.0), (f"{a}.attention.layer_norm_rms_epsilon", 1e-5),
    (f"{a}.vocab_size", len(tokens)), (f"{a}.attention.key_length", 16),
    ("tokenizer.ggml.model", "llama"), ("tokenizer.ggml.tokens", ("strings", tokens)),
    ("tokenizer.ggml.scores", ("floats", [0.0] * 5 + [-1.0, -2.0, -2.0, -1.5, -1.2] + [0.0] * 4)),
    ("tokenizer.ggml.token_type", ("ints", types)),
    ("tokenizer.ggml.bos_token_id", 1), ("tokenizer.ggml.eos_token_id", 4), ("tokenizer.ggml.unknown_token_id", 0),
    ("tokenizer.ggml.add_bos_token", True), ("tokenizer.ggml.add_space_prefix", False),
    ("tokenizer.chat_template", "{% for m in messages %}[unused9]{{ m['role'] }}：{{ m['content'] }}[unused10]{% endfor %}"),
], [("token_embd.weight", [32, 2], 0, struct.pack("<64f", *[0.0] * 64)),
    ("output_norm.weight", [32], 1, b"\x00\x3c" * 32),
    ("blk.0.attn_q.weight", [32, 1], 8, q8_block),
    ("blk.0.ffn_up.weight", [32, 1], 30, b"\x80\x3f" * 32)]))
copy("gguf", "python-written.gguf", "Tests/PanguWeightsTests/Fixtures/python_written.gguf")

# --- SentencePiece models and texts ----------------------------------------------------------------------------
for name in ["char-identity", "word-identity", "unigram-identity-nodummy", "bpe-denormalizer", "bpe-custom-rules",
             "bpe-identity-nodummy"]:
    copy("sp-model", f"{name}.model", f"Tests/PanguTokenizerTests/Fixtures/sp/{name}.model")
copy("sp-model", "tiny-pangu.model", "Sources/PanguTokenizer/Resources/tiny-pangu/tokenizer.model")
for i, text in enumerate(["Hello world", "  leading and  double  spaces\n\tand tabs", "[unused9]用户：你好[unused10][unused9]助手：",
                          "[unused16]think[unused17]answer 123 4567", "\u00e9e\u0301 🙂 \x00\x7f <s></s><unk>",
                          "<0x41>▁▁x ffi ＡＢＣ"]):
    put("sp-text", f"text-{i}.txt", text)

# --- JSON configurations ---------------------------------------------------------------------------------------
copy("tokenizer-config", "tiny-pangu.json", "Sources/PanguTokenizer/Resources/tiny-pangu/tokenizer_config.json")
copy("tokenizer-config", "dummy-prefix.json", "Tests/PanguTokenizerTests/Fixtures/hf/dummy-prefix/tokenizer_config.json")
put("tokenizer-config", "objects.json", json.dumps({
    "bos_token": {"content": "<s>", "lstrip": False}, "eos_token": "[unused10]", "pad_token": None,
    "additional_special_tokens": ["[unused9]", {"content": "[unused11]"}], "model_max_length": 1e30,
    "chat_template": [{"name": "default", "template": "{{ messages[0]['content'] }}"},
                      {"name": "tool_use", "template": "{{ tools | tojson }}"}],
    "added_tokens_decoder": {"3": {"content": "[unused9]", "special": True, "lstrip": True, "rstrip": False}}}))
copy("model-config", "tiny-f32.json", "Tests/PanguModelsTests/Fixtures/tiny-f32/config.json")
put("model-config", "rope-scaling.json", json.dumps({
    "architectures": ["PanguEmbeddedForCausalLM"], "hidden_size": 64, "intermediate_size": 128,
    "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16, "vocab_size": 100,
    "max_position_embeddings": 128, "rope_theta": 1e4, "rms_norm_eps": 1e-6, "hidden_act": "silu",
    "rope_scaling": {"rope_type": "default"}, "tie_word_embeddings": True, "eos_token_id": [2, 3]}))
copy("generation-config", "tiny-f32.json", "Tests/PanguModelsTests/Fixtures/tiny-f32/generation_config.json")
put("generation-config", "all-fields.json", json.dumps({
    "do_sample": True, "temperature": 0.7, "top_k": 50, "top_p": 0.95, "min_p": 0.05, "repetition_penalty": 1.1,
    "eos_token_id": [2, 45892], "max_new_tokens": 512}))
put("generation-config", "greedy.json", json.dumps({"do_sample": False, "eos_token_id": 2}))

# --- chat templates and model output ---------------------------------------------------------------------------
with open("Tests/PanguChatTests/Fixtures/template_goldens.json") as f:
    templates = json.load(f)["templates"]
for name in ["pangu", "qwen2.5", "llama3.1", "mistral-v3-tools", "gemma3", "deepseek-r1", "macros"]:
    put("jinja", f"{name}.jinja", templates[name])
put("jinja", "loops.jinja", "{% set ns = namespace(n=0) %}{% for i in range(3) recursive %}{{ loop.index }}"
    "{% if i < 2 %}{{ loop([i]) }}{% endif %}{% set ns.n = ns.n + 1 %}{% endfor %}{{ ns.n }}"
    "{{ 'ab' * 3 }}{{ [1, 2] | join('-') }}{{ '%05d' % 42 }}{{ 'x'.center(9, '*') }}{{ {'a': 1} | tojson(indent=2) }}")
for i, out in enumerate([
        "[unused16]Let me think.[unused17]The answer is 4.[unused10]",
        "[unused16]plan[unused17][unused11][{\"name\": \"get\", \"arguments\": {\"q\": \"x\"}}][unused12]",
        "<think>r</think>content <|tool_call_start|>{\"name\": \"f\", \"arguments\": \"{}\"}<|tool_call_end|>",
        "text [unused11][{\"name\": \"a\", \"arguments\": {\"n\": [1, 2.5e3, null, true]}}, {\"name\": \"b\"}",
]):
    for first in (0, 3):
        put("chat-output", f"output-{i}-{first}.txt", bytes([first + 4 * i]) + out.encode())
# --- server request bodies: first byte picks the route (0 chat, 1 completions, 2 tokenize, 3 detokenize) ---------
weather = {"type": "function", "function": {"name": "get_weather", "description": "Weather of a city",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"},
                          "unit": {"enum": ["c", "f"]}, "days": {"type": "integer", "minimum": 1}},
                          "required": ["city"]}}}
requests = [
    (0, "chat", {"model": "tiny", "messages": [{"role": "system", "content": "Be brief."},
                                              {"role": "user", "content": "Hi"}], "max_tokens": 8,
                 "temperature": 0.7, "top_p": 0.9, "seed": 3, "stop": ["\n", "END"], "n": 2,
                 "presence_penalty": 0.5, "frequency_penalty": 0.2, "logprobs": True, "top_logprobs": 3}),
    (0, "chat-tools", {"messages": [{"role": "user", "content": [{"type": "text", "text": "Weather in Paris?"}]},
                                    {"role": "assistant", "content": None, "tool_calls": [
                                        {"id": "c1", "type": "function", "function": {
                                            "name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}]},
                                    {"role": "tool", "tool_call_id": "c1", "content": "sunny"}],
                       "tools": [weather], "tool_choice": "auto", "max_completion_tokens": 16}),
    (0, "chat-forced-tool", {"messages": [{"role": "user", "content": "x"}], "tools": [weather],
                             "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
                             "reasoning_effort": "low"}),
    (0, "chat-schema", {"messages": [{"role": "user", "content": "json"}], "stream": True,
                        "stream_options": {"include_usage": True},
                        "response_format": {"type": "json_schema", "json_schema": {"name": "r", "strict": True,
                            "schema": {"type": "object", "properties": {
                                "a": {"type": "array", "items": {"type": "number"}, "minItems": 1, "maxItems": 3},
                                "b": {"anyOf": [{"type": "string", "maxLength": 4}, {"type": "null"}]},
                                "c": {"$ref": "#/$defs/c"}, "d": {"const": "x"}, "e": {"type": "boolean"}},
                                "required": ["a"], "additionalProperties": False,
                                "$defs": {"c": {"type": "object", "properties": {"z": {"type": "integer"}}}}}}}}),
    (0, "chat-json-object", {"messages": [{"role": "user", "content": "j"}], "response_format": {"type": "json_object"},
                             "chat_template_kwargs": {"enable_thinking": False}}),
    (1, "completion", {"model": "tiny", "prompt": "Once upon a time", "max_tokens": 4, "logprobs": 2,
                       "temperature": 0, "stop": "."}),
    (1, "completion-batch", {"prompt": ["a", "b c"], "n": 2, "echo": True, "suffix": ""}),
    (1, "completion-ids", {"prompt": [[1, 5, 9], [1, 7]], "max_tokens": 2, "seed": 1}),
    (2, "tokenize", {"content": "Hello [unused10] wörld", "add_special": True, "with_pieces": True}),
    (3, "detokenize", {"tokens": [1, 5, 9, 200]}),
]
for route, name, body in requests:
    put("server-request", f"{name}.json", bytes([route]) + json.dumps(body).encode())
print("seeds written under", ROOT)
