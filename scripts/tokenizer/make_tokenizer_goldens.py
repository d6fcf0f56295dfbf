#!/usr/bin/env python3
"""Trains small SentencePiece models with the Python library and writes golden encode/decode results.

Usage: python3 scripts/tokenizer/make_tokenizer_goldens.py
Writes Tests/PanguTokenizerTests/Fixtures/{sp/<name>.model, sp/<name>.json, hf/<name>/...}.
All expected values come from the `sentencepiece` and `transformers` libraries, never from the Swift code.
"""
import io
import json
import os
import random
import shutil
import sys
import tempfile
import zlib

import sentencepiece as spm

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import corpus  # noqa: E402
import pangu_like  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FIX = os.path.join(ROOT, "Tests", "PanguTokenizerTests", "Fixtures")
N_TEST = int(os.environ.get("N_TEST", "900"))
N_RANDOM = int(os.environ.get("N_RANDOM", "300"))
USER = ["[unused9]", "[unused10]", "[unused16]", "[unused17]"]

MODELS = {
    "bpe-bytefallback-nfkc": dict(model_type="bpe", vocab_size=1200, byte_fallback=True,
                                  normalization_rule_name="nmt_nfkc", user_defined_symbols=USER),
    "bpe-identity-nodummy": dict(model_type="bpe", vocab_size=900, byte_fallback=False,
                                 normalization_rule_name="identity", add_dummy_prefix=False,
                                 remove_extra_whitespaces=False, user_defined_symbols=USER),
    "bpe-suffix-nfkc": dict(model_type="bpe", vocab_size=700, normalization_rule_name="nmt_nfkc",
                            treat_whitespace_as_suffix=True, byte_fallback=True),
    "bpe-nfkc-cf-nows": dict(model_type="bpe", vocab_size=600, normalization_rule_name="nmt_nfkc_cf",
                             remove_extra_whitespaces=False, add_dummy_prefix=True),
    "unigram-bytefallback-nfkc": dict(model_type="unigram", vocab_size=1500, byte_fallback=True,
                                      normalization_rule_name="nmt_nfkc", user_defined_symbols=USER),
    "unigram-identity-nodummy": dict(model_type="unigram", vocab_size=800, normalization_rule_name="identity",
                                     add_dummy_prefix=False, remove_extra_whitespaces=False,
                                     user_defined_symbols=USER),
    "unigram-nfkc-nobf": dict(model_type="unigram", vocab_size=400, normalization_rule_name="nmt_nfkc"),
    "bpe-custom-rules": dict(model_type="bpe", vocab_size=900, normalization_rule_tsv="@CUSTOM_TSV@",
                             byte_fallback=True),
    "bpe-denormalizer": dict(model_type="bpe", vocab_size=700, byte_fallback=True,
                             normalization_rule_name="identity", denormalization_rule_tsv="@DENORM_TSV@"),
    "char-identity": dict(model_type="char", vocab_size=300, normalization_rule_name="identity"),
    "word-identity": dict(model_type="word", vocab_size=500, normalization_rule_name="identity"),
}


# Custom normalisation rules (source code points TAB target code points, hex): single and multi-character
# sources, longest match wins, deletion-free.
CUSTOM_RULES = [("41", "61"), ("42", "62"), ("FB01", "66 69"), ("2460", "31"), ("61 62 63", "58"),
                ("61 62", "59"), ("3000", "20"), ("9", "20"), ("4E2D 6587", "4E2D 6587 20"), ("1F600", "3A 29")]


# Decode-side rules (applied by the library's denormaliser after decoding).
DENORM_RULES = [("61", "41"), ("74 68", "54 48"), ("4E2D", "4E2D 21"), ("2E", "2E 2E")]


def train(lines, **kw):
    buf = io.BytesIO()
    if kw.get("normalization_rule_tsv") == "@CUSTOM_TSV@":
        # A fixed path: the trainer records it in the model, which must stay byte-identical between runs.
        path = os.path.join(tempfile.gettempdir(), "pangu_custom_rules.tsv")
        with open(path, "w") as f:
            for src, dst in CUSTOM_RULES:
                f.write(f"{src}\t{dst}\n")
        kw["normalization_rule_tsv"] = path
    if kw.get("denormalization_rule_tsv") == "@DENORM_TSV@":
        path = os.path.join(tempfile.gettempdir(), "pangu_denorm_rules.tsv")
        with open(path, "w") as f:
            for src, dst in DENORM_RULES:
                f.write(f"{src}\t{dst}\n")
        kw["denormalization_rule_tsv"] = path
    base = dict(character_coverage=0.9995, num_threads=2, minloglevel=2, max_sentence_length=20000,
                hard_vocab_limit=False)
    base.update(kw)
    spm.SentencePieceTrainer.train(sentence_iterator=iter(lines), model_writer=buf, **base)
    return buf.getvalue()


def random_ids(r, sp, n):
    """Random id sequences for decode goldens: uniform ids, byte-piece runs (random bytes), control/unk mixes."""
    size = sp.get_piece_size()
    byte_ids = [i for i in range(size) if sp.is_byte(i)]
    special = [i for i in range(size) if sp.is_control(i) or sp.is_unknown(i)]
    out = []
    for _ in range(n):
        k = r.random()
        if k < 0.4 or not byte_ids:
            ids = [r.randrange(size) for _ in range(r.randint(0, 20))]
        elif k < 0.8:
            ids = [r.choice(byte_ids + special) if r.random() < 0.8 else r.randrange(size)
                   for _ in range(r.randint(1, 12))]
        else:
            text = corpus.line(r, 1, 4, rare=0.2)
            ids = sp.encode(text)
            cut = r.randint(0, len(ids))
            ids = ids[cut:] + [r.choice(special or [0])] + ids[:cut]
        out.append(ids)
    return out


def sp_goldens(name, sp, tests, r):
    enc = []
    for t in tests:
        ids = sp.encode(t)
        enc.append([t, ids, sp.decode(ids)])
    dec = [[ids, sp.decode(ids)] for ids in random_ids(r, sp, N_RANDOM)]
    return {"model": name, "encode": enc, "decode": dec}


def hf_goldens(directory, r, n_test=N_TEST, n_random=N_RANDOM):
    tok = pangu_like.PanguLikeTokenizer.from_pretrained(directory)
    tests = corpus.test_strings(4242, n_test, special=0.15)
    tests += ["[unused9]系统：[unused10][unused9]用户：Give me a short introduction to large language model."
              "[unused10][unused9]助手：", "<s>hello</s>", "a<unk>b", "[unused9][unused9]", " [unused10] ",
              "[unused1][unused16]思考[unused17]答案[unused10]", "[unused9"]
    enc = []
    for t in tests:
        ids = tok.encode(t, add_special_tokens=True)
        plain = tok.encode(t, add_special_tokens=False)
        enc.append({"text": t, "ids": ids, "ids_plain": plain,
                    "decode": tok.decode(ids, skip_special_tokens=False),
                    "decode_skip": tok.decode(ids, skip_special_tokens=True)})
    dec = []
    special_ids = sorted(tok.added_tokens_decoder.keys())
    for ids in random_ids(r, tok.sp_model, n_random):
        ids = [r.choice(special_ids) if r.random() < 0.15 else i for i in ids]
        dec.append({"ids": ids, "decode": tok.decode(ids, skip_special_tokens=False),
                    "decode_skip": tok.decode(ids, skip_special_tokens=True)})
    info = {"vocab_size": tok.vocab_size, "bos_token_id": tok.bos_token_id, "eos_token_id": tok.eos_token_id,
            "pad_token_id": tok.pad_token_id, "unk_token_id": tok.unk_token_id,
            "all_special_ids": sorted(tok.all_special_ids)}
    return {"info": info, "encode": enc, "decode": dec}


def dump(obj, path):
    """Compact UTF-8 JSON; U+FEFF is written as an escape because Foundation drops a literal leading BOM."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":")).replace("\ufeff", "\\ufeff")
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def main():
    sp_dir = os.path.join(FIX, "sp")
    hf_root = os.path.join(FIX, "hf")
    for d in (sp_dir, hf_root):
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
    lines = corpus.training_corpus(1, 6000)
    tests = corpus.test_strings(7, N_TEST)
    for name, kw in MODELS.items():
        blob = train(lines, **kw)
        path = os.path.join(sp_dir, name + ".model")
        with open(path, "wb") as f:
            f.write(blob)
        sp = spm.SentencePieceProcessor(model_file=path)
        g = sp_goldens(name, sp, tests, random.Random(zlib.crc32(name.encode())))
        dump(g, os.path.join(sp_dir, name + ".json"))
        print(f"{name}: vocab {sp.get_piece_size()}, {len(g['encode'])} encode, {len(g['decode'])} decode")

    blob = pangu_like.train_pangu_like(lines, 1500)
    for variant, extra in (("pangu-like", None), ("pangu-like-extra-special", ["[unused16]", "[unused17]"])):
        d = os.path.join(hf_root, variant)
        os.makedirs(d)
        with open(os.path.join(d, "tokenizer.model"), "wb") as f:
            f.write(blob)
        sp = spm.SentencePieceProcessor(model_file=os.path.join(d, "tokenizer.model"))
        pangu_like.write_config(d, sp, extra)
        g = hf_goldens(d, random.Random(99), n_test=N_TEST if extra is None else 400, n_random=N_RANDOM if extra is None else 150)
        dump(g, os.path.join(hf_root, variant + ".json"))
        print(f"{variant}: {g['info']}, {len(g['encode'])} encode, {len(g['decode'])} decode")

    # A model WITH add_dummy_prefix and nmt_nfkc behind the same HF wrapper: each text segment between added
    # tokens is encoded separately, so each one gets its own dummy prefix.
    # Only its tokenizer_config.json is kept: the tests pair it with sp/bpe-bytefallback-nfkc.model.
    d = os.path.join(hf_root, "dummy-prefix")
    os.makedirs(d)
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copy(os.path.join(sp_dir, "bpe-bytefallback-nfkc.model"), os.path.join(tmp, "tokenizer.model"))
        pangu_like.write_config(tmp, spm.SentencePieceProcessor(model_file=os.path.join(tmp, "tokenizer.model")))
        shutil.copy(os.path.join(tmp, "tokenizer_config.json"), d)
        g = hf_goldens(tmp, random.Random(5), n_test=300, n_random=100)
    dump(g, os.path.join(hf_root, "dummy-prefix.json"))
    print(f"dummy-prefix: {g['info']}, {len(g['encode'])} encode, {len(g['decode'])} decode")

    # Goldens for the built-in tiny demo tokenizer (made by make_tiny_pangu_tokenizer.py), read in place.
    tiny = os.path.join(ROOT, "Sources", "PanguTokenizer", "Resources", "tiny-pangu")
    if os.path.exists(os.path.join(tiny, "tokenizer.model")):
        g = hf_goldens(tiny, random.Random(7), n_test=400, n_random=150)
        dump(g, os.path.join(hf_root, "tiny-pangu.json"))
        print(f"tiny-pangu: {g['info']}, {len(g['encode'])} encode, {len(g['decode'])} decode")


if __name__ == "__main__":
    main()
