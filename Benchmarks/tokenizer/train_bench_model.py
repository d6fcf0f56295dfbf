#!/usr/bin/env python3
"""Trains a 16k-piece Pangu-like BPE model (byte fallback, identity, no dummy prefix) for the benchmark.
Usage: train_bench_model.py <out.model>"""
import io
import os
import sys

import sentencepiece as spm

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "tokenizer"))
import corpus  # noqa: E402
import pangu_like  # noqa: E402

lines = corpus.training_corpus(99, 60000)
buf = io.BytesIO()
spm.SentencePieceTrainer.train(
    sentence_iterator=iter(lines), model_writer=buf, model_type="bpe", vocab_size=16000, byte_fallback=True,
    normalization_rule_name="identity", add_dummy_prefix=False, remove_extra_whitespaces=False,
    user_defined_symbols=pangu_like.UNUSED, character_coverage=0.9995, split_digits=True,
    allow_whitespace_only_pieces=True, max_sentence_length=20000, num_threads=1, minloglevel=2,
    hard_vocab_limit=False)
with open(sys.argv[1], "wb") as f:
    f.write(buf.getvalue())
