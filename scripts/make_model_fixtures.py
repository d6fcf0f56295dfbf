#!/usr/bin/env python3
"""Build tiny openPangu-Embedded checkpoints + golden logits for the Swift numeric tests.

For every variant this script
  1. builds a Hugging Face `transformers.LlamaForCausalLM` with `attention_bias=True, mlp_bias=False`
     (numerically the openPangu-Embedded graph: q/k/v/o biases, SwiGLU without bias, RMSNorm, NeoX RoPE, GQA),
  2. fills it with deterministic random weights (seeded torch.Generator, fixed parameter order),
  3. rounds the weights to the variant's storage dtype (f32 / bf16 / f16),
  4. writes the checkpoint in the OFFICIAL openPangu layout (config.json with PanguEmbedded keys,
     generation_config.json, safetensors with official names incl. the per-layer fp32 `rotary_emb.inv_freq`
     buffers, optionally sharded with model.safetensors.index.json),
  5. computes goldens in float32 with eager attention from the exact stored (rounded) weights:
     prefill logits, one-token-at-a-time cached decode logits, greedy generate ids,
  6. self-checks: reloads each directory by mapping the official names back onto LlamaForCausalLM
     (strict load) and verifies the logits reproduce bit-exactly.

Goldens come only from transformers; nothing here is derived from the Swift engine.

Usage (from the repository root):
    python scripts/make_model_fixtures.py [--out Tests/PanguModelsTests/Fixtures]

CPU only, deterministic, runs in a few seconds.
"""

import argparse
import inspect
import json
import os
import shutil
import sys

import numpy as np
import torch
import transformers
from safetensors import safe_open
from safetensors.torch import save_file
from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

torch.set_num_threads(1)  # deterministic reduction order on CPU
torch.use_deterministic_algorithms(True)

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}

N_DECODE = 6
GREEDY_NEW_TOKENS = 16

# ---------------------------------------------------------------------------------------------------------------
# Variants. Token ids: bos 1, pad 0 (as official). The official eos (45892) is outside a tiny vocab, so each variant
# uses an in-vocab eos id that is deliberately NOT 2 (as in the real model, where `</s>`=2 is not the chat EOS).
# ---------------------------------------------------------------------------------------------------------------
VARIANTS = [
    dict(
        name="tiny-f32",  # like 7B: untied lm_head, sharded
        seed=1001,
        dtype="float32",
        vocab_size=384, hidden_size=96, intermediate_size=128, num_hidden_layers=3,
        num_attention_heads=6, num_key_value_heads=3, head_dim=None,  # head_dim 16, GQA group 2
        rope_theta=16000000.0, max_position_embeddings=32768,
        tie_word_embeddings=False,
        eos_token_id=300, gen_eos_token_id=300,
        shards=3,
    ),
    dict(
        name="tiny-f32-tied",  # like 1B: tied embeddings (no lm_head tensor), rope_theta 4e6
        seed=2004,
        dtype="float32",
        vocab_size=256, hidden_size=96, intermediate_size=192, num_hidden_layers=2,
        num_attention_heads=6, num_key_value_heads=2, head_dim=None,  # head_dim 16, GQA group 3
        rope_theta=4000000.0, max_position_embeddings=32768,
        tie_word_embeddings=True,
        eos_token_id=250, gen_eos_token_id=250,
        shards=1,
    ),
    dict(
        name="tiny-bf16",  # bf16 storage, explicit head_dim (32) != hidden/heads (16)
        seed=3003,
        dtype="bfloat16",
        vocab_size=512, hidden_size=64, intermediate_size=160, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=1, head_dim=32,  # GQA group 4, q_proj out 128
        rope_theta=16000000.0, max_position_embeddings=32768,
        tie_word_embeddings=False,
        eos_token_id=500, gen_eos_token_id=500,
        shards=1,
    ),
    dict(
        name="tiny-f16",  # f16 storage, untied, generation_config with a LIST of eos ids
        seed=4004,
        dtype="float16",
        vocab_size=320, hidden_size=80, intermediate_size=144, num_hidden_layers=2,
        num_attention_heads=5, num_key_value_heads=5, head_dim=None,  # head_dim 16, MHA (group 1)
        rope_theta=10000.0, max_position_embeddings=4096,
        tie_word_embeddings=False,
        eos_token_id=310, gen_eos_token_id=[310, 2],
        shards=1,
    ),
]


def prompt_ids(vocab):
    # 12 ids, BOS first, includes the last vocabulary row (vocab-1); never the pad id 0.
    return [1, 17, 93, 5, 211, 42, 128, 7, 64, vocab - 1, 33, 99]


def decode_ids(vocab):
    return [11, vocab - 2, 150, 3, 77, 200]


def head_dim_of(v):
    return v["head_dim"] if v["head_dim"] is not None else v["hidden_size"] // v["num_attention_heads"]


# ---------------------------------------------------------------------------------------------------------------
# Official-layout config / generation config
# ---------------------------------------------------------------------------------------------------------------
def official_config(v):
    cfg = {
        "architectures": ["PanguEmbeddedForCausalLM"],
        "attention_dropout": 0.0,
        "auto_map": {
            "AutoConfig": "configuration_openpangu_dense.PanguEmbeddedConfig",
            "AutoModel": "modeling_openpangu_dense.PanguEmbeddedModel",
            "AutoModelForCausalLM": "modeling_openpangu_dense.PanguEmbeddedForCausalLM",
        },
        "bias": True,
        "bos_token_id": 1,
        "eos_token_id": v["eos_token_id"],
        "hidden_act": "silu",
        "hidden_size": v["hidden_size"],
        "initializer_range": 0.02,
        "intermediate_size": v["intermediate_size"],
        "max_position_embeddings": v["max_position_embeddings"],
        "model_type": "PanguEmbedded",
        "num_attention_heads": v["num_attention_heads"],
        "num_hidden_layers": v["num_hidden_layers"],
        "num_key_value_heads": v["num_key_value_heads"],
        "pad_token_id": 0,
        "rms_norm_eps": 1e-05,
        "rope_theta": v["rope_theta"],
        "tie_word_embeddings": v["tie_word_embeddings"],
        "torch_dtype": v["dtype"],
        "transformers_version": transformers.__version__,
        "use_cache": True,
        "vocab_size": v["vocab_size"],
    }
    if v["head_dim"] is not None:
        cfg["head_dim"] = v["head_dim"]
    return dict(sorted(cfg.items()))  # official file is key-sorted


def official_generation_config(v):
    return {
        "_from_model_config": True,
        "do_sample": True,
        "bos_token_id": 1,
        "pad_token_id": 0,
        "eos_token_id": v["gen_eos_token_id"],
        "temperature": 1.0,
        "top_k": 0,
        "top_p": 0.8,
    }


def llama_config_from_official(cfg):
    """Map an official openPangu config.json dict onto a LlamaConfig (what the self-check uses)."""
    assert cfg["model_type"] == "PanguEmbedded" and cfg["hidden_act"] == "silu" and cfg["bias"] is True
    kw = dict(
        vocab_size=cfg["vocab_size"],
        hidden_size=cfg["hidden_size"],
        intermediate_size=cfg["intermediate_size"],
        num_hidden_layers=cfg["num_hidden_layers"],
        num_attention_heads=cfg["num_attention_heads"],
        num_key_value_heads=cfg["num_key_value_heads"],
        max_position_embeddings=cfg["max_position_embeddings"],
        rope_theta=cfg["rope_theta"],
        rms_norm_eps=cfg["rms_norm_eps"],
        hidden_act="silu",
        attention_bias=cfg["bias"],
        mlp_bias=False,
        tie_word_embeddings=cfg["tie_word_embeddings"],
        bos_token_id=cfg["bos_token_id"],
        eos_token_id=cfg["eos_token_id"],
        pad_token_id=cfg["pad_token_id"],
        attention_dropout=cfg["attention_dropout"],
        initializer_range=cfg["initializer_range"],
        use_cache=True,
    )
    if "head_dim" in cfg:
        kw["head_dim"] = cfg["head_dim"]
    c = LlamaConfig(**kw)
    c._attn_implementation = "eager"
    return c


def build_model(cfg):
    c = llama_config_from_official(cfg)
    torch.manual_seed(0)  # HF init is overwritten below; seed only to keep construction deterministic
    m = LlamaForCausalLM(c).to(torch.float32).eval()
    assert m.config._attn_implementation == "eager"
    return m


# ---------------------------------------------------------------------------------------------------------------
# Random weights
# ---------------------------------------------------------------------------------------------------------------
def randomise(m, seed, emb_std):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in sorted(m.named_parameters(), key=lambda kv: kv[0]):
            shape = p.shape
            if name.endswith("layernorm.weight") or name == "model.norm.weight":
                val = 1.0 + 0.15 * torch.randn(shape, generator=g)
            elif name == "model.embed_tokens.weight":
                val = emb_std * torch.randn(shape, generator=g)
            elif name == "lm_head.weight":
                val = 0.2 * torch.randn(shape, generator=g)
            elif name.endswith(".bias"):
                val = 0.1 * torch.randn(shape, generator=g)
            elif "self_attn.q_proj" in name or "self_attn.k_proj" in name:
                val = 0.2 * torch.randn(shape, generator=g)
            else:  # v_proj, o_proj, gate/up/down
                val = 0.12 * torch.randn(shape, generator=g)
            p.copy_(val)


def round_to(m, dtype):
    """Round every parameter to the storage dtype and back to f32 (goldens use the exact stored values)."""
    with torch.no_grad():
        for _, p in m.named_parameters():
            p.copy_(p.to(dtype).to(torch.float32))


# ---------------------------------------------------------------------------------------------------------------
# Official-layout tensors
# ---------------------------------------------------------------------------------------------------------------
def official_tensors(m, cfg, dtype):
    """Ordered dict official-name -> tensor (storage dtype), including the fp32 inv_freq buffers."""
    sd = m.state_dict()
    inv_freq = m.model.rotary_emb.inv_freq.detach().to(torch.float32).clone()
    hd = cfg.get("head_dim", cfg["hidden_size"] // cfg["num_attention_heads"])
    assert inv_freq.shape == (hd // 2,)
    out = {"model.embed_tokens.weight": sd["model.embed_tokens.weight"]}
    for i in range(cfg["num_hidden_layers"]):
        pre = f"model.layers.{i}."
        for proj in ("q_proj", "k_proj", "v_proj", "o_proj"):
            out[pre + f"self_attn.{proj}.weight"] = sd[pre + f"self_attn.{proj}.weight"]
            out[pre + f"self_attn.{proj}.bias"] = sd[pre + f"self_attn.{proj}.bias"]
        out[pre + "self_attn.rotary_emb.inv_freq"] = inv_freq  # fp32, engine must ignore
        for proj in ("gate_proj", "up_proj", "down_proj"):
            out[pre + f"mlp.{proj}.weight"] = sd[pre + f"mlp.{proj}.weight"]
        out[pre + "input_layernorm.weight"] = sd[pre + "input_layernorm.weight"]
        out[pre + "post_attention_layernorm.weight"] = sd[pre + "post_attention_layernorm.weight"]
    out["model.norm.weight"] = sd["model.norm.weight"]
    if not cfg["tie_word_embeddings"]:
        out["lm_head.weight"] = sd["lm_head.weight"]
    res = {}
    for k, t in out.items():
        t = t.detach()
        if not k.endswith("rotary_emb.inv_freq"):
            t = t.to(dtype)
        res[k] = t.contiguous().clone()
    return res


def shard_groups(names, cfg, n):
    """Split into n shards by layer: embed + first layers | ... | last layers + norm + lm_head."""
    L = cfg["num_hidden_layers"]
    groups = [[] for _ in range(n)]
    for k in names:
        if k.startswith("model.layers."):
            i = int(k.split(".")[2])
            s = min(i * n // L, n - 1)
        elif k == "model.embed_tokens.weight":
            s = 0
        else:
            s = n - 1
        groups[s].append(k)
    return groups


def write_checkpoint(d, cfg, gen, tensors, shards):
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
        f.write("\n")
    with open(os.path.join(d, "generation_config.json"), "w") as f:
        json.dump(gen, f, indent=2)
        f.write("\n")
    meta = {"format": "pt"}
    if shards == 1:
        save_file(tensors, os.path.join(d, "model.safetensors"), metadata=meta)
        return ["model.safetensors"]
    files = []
    weight_map = {}
    total = 0
    for si, names in enumerate(shard_groups(list(tensors), cfg, shards)):
        fn = f"model-{si + 1:05d}-of-{shards:05d}.safetensors"
        part = {k: tensors[k] for k in names}
        save_file(part, os.path.join(d, fn), metadata=meta)
        files.append(fn)
        for k, t in part.items():
            weight_map[k] = fn
            total += t.numel() * t.element_size()
    index = {"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}
    with open(os.path.join(d, "model.safetensors.index.json"), "w") as f:
        json.dump(index, f, indent=2)
        f.write("\n")
    return files


def read_checkpoint(d):
    """Read tensors back from an official-layout directory (index-driven when sharded)."""
    idx = os.path.join(d, "model.safetensors.index.json")
    if os.path.exists(idx):
        with open(idx) as f:
            index = json.load(f)
        files = sorted(set(index["weight_map"].values()))
    else:
        index, files = None, ["model.safetensors"]
    tensors = {}
    total = 0
    for fn in files:
        with safe_open(os.path.join(d, fn), framework="pt") as f:
            for k in f.keys():
                assert k not in tensors, f"duplicate tensor {k}"
                tensors[k] = f.get_tensor(k)
                total += tensors[k].numel() * tensors[k].element_size()
                if index is not None:
                    assert index["weight_map"][k] == fn, f"{k} in {fn} but index says {index['weight_map'][k]}"
    if index is not None:
        assert set(index["weight_map"]) == set(tensors), "index weight_map does not match shard contents"
        assert index["metadata"]["total_size"] == total, "index total_size mismatch"
    return tensors


# ---------------------------------------------------------------------------------------------------------------
# Goldens
# ---------------------------------------------------------------------------------------------------------------
def save_npy(path, arr):
    arr = np.ascontiguousarray(np.asarray(arr, dtype="<f4"))
    np.save(path, arr, allow_pickle=False)
    with open(path, "rb") as f:
        head = f.read(8)
    assert head == b"\x93NUMPY\x01\x00", f"{path}: expected NPY v1.0, got {head!r}"


@torch.no_grad()
def prefill(m, ids):
    return m(input_ids=torch.tensor([ids]), use_cache=False).logits[0].float()


# transformers >= 5.x renamed `past_key_values` to `cache` (same DynamicCache object); support both spellings.
_CACHE_KW = "cache" if "cache" in inspect.signature(LlamaForCausalLM.forward).parameters else "past_key_values"


@torch.no_grad()
def cached_decode(m, prompt, dec):
    """Cached prefill of the prompt, then one token at a time through HF's KV cache."""
    out = m(input_ids=torch.tensor([prompt]), use_cache=True)
    kv = getattr(out, _CACHE_KW)
    assert kv is not None and kv.get_seq_length() == len(prompt)
    last_prompt = out.logits[0, -1].float().clone()
    steps = []
    for j, t in enumerate(dec):
        out = m(input_ids=torch.tensor([[t]]), use_cache=True, **{_CACHE_KW: kv})
        kv = getattr(out, _CACHE_KW)
        assert kv.get_seq_length() == len(prompt) + j + 1
        steps.append(out.logits[0, -1].float().clone())
    return last_prompt, torch.stack(steps)


@torch.no_grad()
def greedy(m, prompt, n):
    gc = GenerationConfig(
        do_sample=False, max_new_tokens=n, min_new_tokens=n, eos_token_id=None,
        bos_token_id=1, pad_token_id=0, use_cache=True,
    )
    out = m.generate(torch.tensor([prompt]), attention_mask=torch.ones(1, len(prompt), dtype=torch.long),
                     generation_config=gc)
    return out[0, len(prompt):].tolist()


@torch.no_grad()
def greedy_manual(m, prompt, n):
    """Uncached argmax loop (independent cross-check of generate) + the top1-top2 logit margin per step."""
    ids = list(prompt)
    margins = []
    for _ in range(n):
        row = prefill(m, ids)[-1]
        top2 = torch.topk(row, 2).values
        margins.append(float(top2[0] - top2[1]))
        ids.append(int(torch.argmax(row)))
    return ids[len(prompt):], margins


def make_variant(v, root):
    name = v["name"]
    d = os.path.join(root, name)
    if os.path.isdir(d):
        shutil.rmtree(d)
    dtype = DTYPES[v["dtype"]]
    cfg = official_config(v)
    gen = official_generation_config(v)

    m = build_model(cfg)
    # Tied models use the embedding as lm_head: keep it small so logits stay O(1) and greedy is not degenerate.
    randomise(m, v["seed"], 0.25 if v["tie_word_embeddings"] else 1.0)
    round_to(m, dtype)
    if cfg["tie_word_embeddings"]:
        assert m.lm_head.weight.data_ptr() == m.model.embed_tokens.weight.data_ptr()
    hd = head_dim_of(v)
    assert m.model.layers[0].self_attn.head_dim == hd, "LlamaConfig did not honour head_dim"
    assert m.model.layers[0].self_attn.q_proj.out_features == v["num_attention_heads"] * hd

    tensors = official_tensors(m, cfg, dtype)
    files = write_checkpoint(d, cfg, gen, tensors, v["shards"])

    P = prompt_ids(v["vocab_size"])
    D = decode_ids(v["vocab_size"])
    pre = prefill(m, P)
    last_prompt, dec = cached_decode(m, P, D)
    full = prefill(m, P + D)  # uncached recompute of prompt + decode tokens
    d_cache_vs_full = float((dec - full[len(P):]).abs().max())
    d_prefill_cached = float((last_prompt - pre[-1]).abs().max())
    d_prefill_vs_full = float((pre - full[: len(P)]).abs().max())

    g_tokens = greedy(m, P, GREEDY_NEW_TOKENS)
    g_manual, margins = greedy_manual(m, P, GREEDY_NEW_TOKENS)
    assert g_tokens == g_manual, f"{name}: generate {g_tokens} != manual argmax {g_manual}"

    save_npy(os.path.join(d, "prefill_logits.npy"), pre.numpy())
    save_npy(os.path.join(d, "decode_logits.npy"), dec.numpy())

    extra = {}
    if dtype == torch.bfloat16:
        mb = build_model(cfg)
        mb.load_state_dict(m.state_dict())
        mb = mb.to(torch.bfloat16).eval()
        ref = prefill(mb, P)  # computed by transformers in torch.bfloat16, cast to f32
        save_npy(os.path.join(d, "bf16_reference_logits.npy"), ref.numpy())
        extra["bf16_reference_logits"] = {
            "file": "bf16_reference_logits.npy", "shape": list(ref.shape),
            "what": "prefill logits of prompt_ids computed by transformers with the model in torch.bfloat16 "
                    "(eager attention), cast to float32; informational, looser tolerance",
            "max_abs_diff_vs_f32_prefill": float((ref - pre).abs().max()),
            "argmax_agreement_with_f32": int((ref.argmax(-1) == pre.argmax(-1)).sum()),
        }

    golden = {
        "variant": name,
        "generator": "scripts/make_model_fixtures.py",
        "transformers_version": transformers.__version__,
        "torch_version": torch.__version__.split("+")[0],
        "compute": "float32, eager attention, transformers.LlamaForCausalLM(attention_bias=True, mlp_bias=False) "
                   "on the exact stored weights (upcast to f32)",
        "storage_dtype": v["dtype"],
        "head_dim": hd,
        "prompt_ids": P,
        "prefill_logits": {"file": "prefill_logits.npy", "shape": list(pre.shape), "dtype": "<f4",
                           "what": "logits for every prompt position, one forward over the whole prompt"},
        "decode_input_ids": D,
        "decode_logits": {"file": "decode_logits.npy", "shape": list(dec.shape), "dtype": "<f4",
                          "what": "row j = logits after feeding decode_input_ids[j] (position len(prompt)+j) one "
                                  "token at a time through HF's KV cache after a cached prefill of prompt_ids"},
        "greedy_new_tokens": g_tokens,
        "greedy": {"max_new_tokens": GREEDY_NEW_TOKENS, "do_sample": False, "eos_stopping": "disabled "
                   "(eos_token_id=None, min_new_tokens=max_new_tokens), so exactly 16 tokens",
                   "min_top1_top2_margin": min(margins), "top1_top2_margins": margins,
                   "contains_config_eos": cfg["eos_token_id"] in g_tokens},
        "sanity": {
            "max_abs_cached_decode_vs_uncached_recompute": d_cache_vs_full,
            "max_abs_cached_prefill_last_row_vs_uncached": d_prefill_cached,
            "max_abs_prefill_vs_longer_uncached_forward": d_prefill_vs_full,
            "prefill_logits_std": float(pre.std()),
            "prefill_logits_max_abs": float(pre.abs().max()),
        },
        "tolerance": {"f32_compute_relative": 1e-4,
                      "rule": "max|swift - golden| <= 1e-4 * max(1, max|golden|) per logits row"},
        "files": files,
    }
    golden.update(extra)
    with open(os.path.join(d, "golden.json"), "w") as f:
        json.dump(golden, f, indent=2)
        f.write("\n")
    return golden


def self_check(d):
    """Reload an official-layout directory into LlamaForCausalLM by name and verify the goldens reproduce."""
    with open(os.path.join(d, "config.json")) as f:
        cfg = json.load(f)
    with open(os.path.join(d, "golden.json")) as f:
        golden = json.load(f)
    tensors = read_checkpoint(d)
    dtype = DTYPES[cfg["torch_dtype"]]
    m = build_model(cfg)
    hd = cfg.get("head_dim", cfg["hidden_size"] // cfg["num_attention_heads"])
    sd = {}
    for k, t in tensors.items():
        if k.endswith("self_attn.rotary_emb.inv_freq"):
            assert t.dtype == torch.float32 and t.shape == (hd // 2,), k
            assert torch.equal(t, m.model.rotary_emb.inv_freq.float()), f"{k} differs from RoPE inv_freq"
            continue
        assert t.dtype == dtype, f"{k}: stored {t.dtype}, config says {dtype}"
        sd[k] = t.to(torch.float32)
    n_inv = sum(k.endswith("rotary_emb.inv_freq") for k in tensors)
    assert n_inv == cfg["num_hidden_layers"]
    assert ("lm_head.weight" in tensors) == (not cfg["tie_word_embeddings"])
    missing, unexpected = m.load_state_dict(sd, strict=False)
    if cfg["tie_word_embeddings"]:
        missing = [k for k in missing if k != "lm_head.weight"]
        assert m.lm_head.weight.data_ptr() == m.model.embed_tokens.weight.data_ptr()
    assert not missing and not unexpected, (missing, unexpected)
    P = golden["prompt_ids"]
    D = golden["decode_input_ids"]
    pre = prefill(m, P).numpy()
    _, dec = cached_decode(m, P, D)
    g_pre = np.load(os.path.join(d, "prefill_logits.npy"))
    g_dec = np.load(os.path.join(d, "decode_logits.npy"))
    assert g_pre.dtype == np.dtype("<f4") and g_pre.flags.c_contiguous
    assert g_pre.shape == (len(P), cfg["vocab_size"]) and g_dec.shape == (len(D), cfg["vocab_size"])
    e1 = float(np.abs(pre - g_pre).max())
    e2 = float(np.abs(dec.numpy() - g_dec).max())
    assert e1 == 0.0 and e2 == 0.0, f"{d}: reload mismatch prefill {e1} decode {e2}"
    assert greedy(m, P, GREEDY_NEW_TOKENS) == golden["greedy_new_tokens"]
    return e1, e2


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    here = os.path.dirname(os.path.abspath(__file__))
    ap.add_argument("--out", default=os.path.join(here, "..", "Tests", "PanguModelsTests", "Fixtures"))
    args = ap.parse_args()
    root = os.path.normpath(args.out)
    os.makedirs(root, exist_ok=True)
    for v in VARIANTS:
        g = make_variant(v, root)
        e1, e2 = self_check(os.path.join(root, v["name"]))
        size = sum(os.path.getsize(os.path.join(root, v["name"], f)) for f in os.listdir(os.path.join(root, v["name"])))
        s = g["sanity"]
        print(f"{v['name']:14s} {size / 1e6:.3f} MB  files={g['files']}  greedy={g['greedy_new_tokens']}  "
              f"min_margin={g['greedy']['min_top1_top2_margin']:.4f}  "
              f"cache_vs_uncached={s['max_abs_cached_decode_vs_uncached_recompute']:.3g}  "
              f"logit_std={s['prefill_logits_std']:.3f}  reload_err={e1},{e2}"
              + (f"  bf16_ref_maxdiff={g['bf16_reference_logits']['max_abs_diff_vs_f32_prefill']:.4g}"
                 if "bf16_reference_logits" in g else ""))
    print("self-check OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
