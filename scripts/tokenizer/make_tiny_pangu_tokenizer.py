#!/usr/bin/env python3
"""Builds the tokenizer of the built-in tiny demo model (Pangu-like conventions, small vocabulary).

Usage: python3 scripts/tokenizer/make_tiny_pangu_tokenizer.py
Writes Sources/PanguTokenizer/Resources/tiny-pangu/{tokenizer.model,tokenizer_config.json}:
SentencePiece BPE with byte fallback, identity normalisation, no dummy prefix, `[unused0]`...`[unused33]` as
user-defined pieces scattered through the vocabulary, `<unk>`=0, `<s>`=1, `</s>`=2, EOS `[unused10]`,
BOS added, and the official openPangu chat template.
"""
import os
import sys

import sentencepiece as spm

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import corpus  # noqa: E402
import pangu_like  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "Sources", "PanguTokenizer", "Resources", "tiny-pangu")
VOCAB = int(os.environ.get("TINY_VOCAB", "2048"))


def main():
    os.makedirs(OUT, exist_ok=True)
    lines = corpus.training_corpus(2024, 20000)
    blob = pangu_like.train_pangu_like(lines, VOCAB)
    path = os.path.join(OUT, "tokenizer.model")
    with open(path, "wb") as f:
        f.write(blob)
    sp = spm.SentencePieceProcessor(model_file=path)
    pangu_like.write_config(OUT, sp)
    ids = {p: sp.piece_to_id(p) for p in ["<unk>", "<s>", "</s>", "[unused9]", "[unused10]", "[unused16]", "[unused17]"]}
    print(f"tiny-pangu: vocab {sp.get_piece_size()}, {os.path.getsize(path)} bytes, ids {ids}")


if __name__ == "__main__":
    main()
