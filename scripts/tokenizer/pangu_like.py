"""Shared helpers: train a Pangu-like SentencePiece BPE model and wrap it in a transformers slow tokenizer.

The wrapper mirrors the official openPangu `PanguTokenizer` as documented in shared/spec/PANGU.md §1.6:
`_tokenize = sp.encode(text, out_type=str)`, BOS prepended when `add_bos_token`, runs of normal pieces decoded
with `sp.decode`, special tokens appended verbatim with no added spaces.
"""
import io
import json
import os

import sentencepiece as spm
from sentencepiece import sentencepiece_model_pb2 as pb
from transformers import PreTrainedTokenizer

CHAT_TEMPLATE = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}{{ '[unused9]系统：[unused10]' }}"
    "{% endif %}{% if message['role'] == 'system' %}{{ '[unused9]系统：' + message['content'] + '[unused10]' }}{% endif %}"
    "{% if message['role'] == 'assistant' %}{{'[unused9]助手：' + message['content'] + '[unused10]'}}{% endif %}"
    "{% if message['role'] == 'tool' %}{{'[unused9]工具：' + message['content'] + '[unused10]'}}{% endif %}"
    "{% if message['role'] == 'function' %}{{'[unused9]方法：' + message['content'] + '[unused10]'}}{% endif %}"
    "{% if message['role'] == 'user' %}{{'[unused9]用户：' + message['content'] + '[unused10]'}}{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}{{ '[unused9]助手：' }}{% endif %}")

UNUSED = [f"[unused{i}]" for i in range(34)]


def train_pangu_like(lines, vocab_size):
    """BPE + byte fallback, identity normalisation, no dummy prefix, whitespace kept, `[unusedN]` user symbols
    scattered through the vocabulary (the real model has them at ids 45830...46257, not right after the controls).
    Returns the serialized ModelProto bytes."""
    buf = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines), model_writer=buf, model_type="bpe", vocab_size=vocab_size,
        byte_fallback=True, normalization_rule_name="identity", add_dummy_prefix=False,
        remove_extra_whitespaces=False, user_defined_symbols=UNUSED, character_coverage=0.9995,
        split_digits=True, allow_whitespace_only_pieces=True, max_sentence_length=20000,
        unk_id=0, bos_id=1, eos_id=2, pad_id=-1, num_threads=2, minloglevel=2)
    m = pb.ModelProto()
    m.ParseFromString(buf.getvalue())
    pieces = list(m.pieces)
    user = [p for p in pieces if p.type == pb.ModelProto.SentencePiece.USER_DEFINED]
    rest = [p for p in pieces if p.type != pb.ModelProto.SentencePiece.USER_DEFINED]
    # Scatter the user-defined pieces: insert them one by one at growing positions in the middle of the vocab.
    out = rest[:]
    pos = len(rest) // 2
    for i, p in enumerate(user):
        out.insert(min(pos + i * 3, len(out)), p)
    del m.pieces[:]
    m.pieces.extend(out)
    return m.SerializeToString()


def write_config(directory, sp, extra_special=None):
    """Writes a `tokenizer_config.json` in the official openPangu format for the model in `directory`."""
    decoder = {}
    for i in range(sp.get_piece_size()):
        piece = sp.id_to_piece(i)
        if i < 3 or piece in UNUSED:
            decoder[str(i)] = {"content": piece, "lstrip": False, "normalized": False, "rstrip": False,
                               "single_word": False, "special": True}
    cfg = {
        "add_bos_token": True, "add_eos_token": False, "add_prefix_space": True,
        "added_tokens_decoder": decoder,
        "auto_map": {"AutoTokenizer": ["tokenization_openpangu.PanguTokenizer", None]},
        "bos_token": "<s>", "chat_template": CHAT_TEMPLATE, "clean_up_tokenization_spaces": False,
        "eos_token": "[unused10]", "legacy": True, "model_max_length": 1000000000000000019884624838656,
        "pad_token": "<unk>", "sp_model_kwargs": {}, "spaces_between_special_tokens": False,
        "tokenizer_class": "PanguTokenizer", "unk_token": "<unk>", "use_default_system_prompt": False,
    }
    if extra_special:
        cfg["additional_special_tokens"] = extra_special
    with open(os.path.join(directory, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(cfg, f, ensure_ascii=False, indent=2)
        f.write("\n")


class PanguLikeTokenizer(PreTrainedTokenizer):
    """Slow tokenizer written after the description of the official openPangu `PanguTokenizer`."""
    vocab_files_names = {"vocab_file": "tokenizer.model"}
    model_input_names = ["input_ids", "attention_mask"]

    def __init__(self, vocab_file, add_bos_token=True, add_eos_token=False, **kwargs):
        self.vocab_file = vocab_file
        self.sp_model = spm.SentencePieceProcessor()
        self.sp_model.Load(vocab_file)
        self.add_bos_token = add_bos_token
        self.add_eos_token = add_eos_token
        super().__init__(**kwargs)

    @property
    def vocab_size(self):
        return self.sp_model.get_piece_size()

    def get_vocab(self):
        vocab = {self.sp_model.id_to_piece(i): i for i in range(self.vocab_size)}
        vocab.update(self.added_tokens_encoder)
        return vocab

    def _tokenize(self, text, **kwargs):
        return self.sp_model.encode(text, out_type=str)

    def _convert_token_to_id(self, token):
        return self.sp_model.piece_to_id(token)

    def _convert_id_to_token(self, index):
        return self.sp_model.id_to_piece(index)

    def convert_tokens_to_string(self, tokens):
        current, out = [], ""
        for token in tokens:
            if token in self.all_special_tokens:
                out += self.sp_model.decode(current) + token
                current = []
            else:
                current.append(token)
        return out + self.sp_model.decode(current)

    def build_inputs_with_special_tokens(self, token_ids_0, token_ids_1=None):
        bos = [self.bos_token_id] if self.add_bos_token else []
        eos = [self.eos_token_id] if self.add_eos_token else []
        out = bos + token_ids_0 + eos
        if token_ids_1 is not None:
            out = out + bos + token_ids_1 + eos
        return out

    def save_vocabulary(self, save_directory, filename_prefix=None):
        return ()
