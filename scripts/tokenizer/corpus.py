"""Deterministic mixed-language text generator shared by the tokenizer fixture scripts.

Produces English, Chinese, code, emoji, digits, whitespace runs, tabs/newlines and rare Unicode.
"""
import random

EN_WORDS = ("the of and to in is you that it he was for on are as with his they at be this have from or one "
            "had by word but not what all were we when your can said there use an each which she do how their "
            "if will up other about out many then them these so some her would make like him into time has look "
            "two more write go see number no way could people my than first water been call who oil its now find "
            "long down day did get come made may part model language token inference engine Swift Pangu Huawei "
            "transformer attention layer cache tensor matrix vector quantize sample temperature").split()
ZH = ("的一是不了人我在有他这为之大来以个中上们到说国和地也子时道出而要于就下得可你年生自会那后能对着事其里所去行过家"
      "十用发天如然作方成者多日都三小军二无同么经法当起与好看学进种将还分此心前面又定见只主没公从系统用户助手工具方法"
      "模型语言推理引擎你好世界中华人民共和国北京上海深圳华为盘古大规模预训练")
ZH_PUNCT = "，。！？、；：“”‘’（）《》【】…—："
CODE = ["def f(x):\n    return x * 2\n", "for (int i = 0; i < n; ++i) { sum += a[i]; }", "let x: [Int] = []",
        "if a != b && c >= d {", "print(\"hello, world\")", "#include <stdio.h>", "x = {'k': [1, 2, 3]}",
        "SELECT * FROM t WHERE id = 42;", "git commit -m \"fix\"", "fn main() -> i32 { 0 }", "<div class=\"a\">",
        "\tindent\twith\ttabs", "a_b_c = 0x1F; // hex", "$ ls -la /tmp", "λx.x + 1", "i++; j--;", "```swift"]
EMOJI = "😀😃😄😁🤖🚀🔥✨🎉👍🏽🇨🇳🇺🇸❤️‍🔥👨‍👩‍👧"
RARE = ("ǅǈǋ ﬁﬂ ㍻ ① ② ³ ½ Ⅻ ｶﾞ ｱｲｳ ＡＢＣ １２３ ㈱ ™ Å Ω µ ﹏ \u00a0 \u3000 \u2003 \u200b é e\u0301 ñ n\u0303 "
        "ß ẞ İ ı ς Ж ж Ω ψ א ب ि ก 한국어 日本語 カタカナ 𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𠀀 𪚥 \ufeff ⁇ ▁ ▁▁ ＜ｓ＞")
WS = [" ", "  ", "   ", "\t", "\n", "\n\n", " \n", "\r\n", "\t\t", "    ", "\u3000", "\u00a0"]
SPECIAL = ["[unused9]", "[unused10]", "[unused16]", "[unused17]"]


def _digits(r):
    return r.choice([str(r.randint(0, 9)), str(r.randint(0, 99999)), f"{r.random() * 1000:.3f}",
                     "2025-11-29", "3.14159", "1,000,000", "0x%X" % r.randint(0, 65535)])


def _zh(r, n):
    return "".join(r.choice(ZH) if r.random() > 0.12 else r.choice(ZH_PUNCT) for _ in range(n))


def fragment(r, rare=0.05, special=0.0):
    """One random fragment of text."""
    x = r.random()
    if special and r.random() < special:
        return r.choice(SPECIAL)
    if x < 0.35:
        return " ".join(r.choice(EN_WORDS) for _ in range(r.randint(1, 8))) + r.choice(["", ".", ",", "!", "?", ":"])
    if x < 0.6:
        return _zh(r, r.randint(1, 14))
    if x < 0.7:
        return r.choice(CODE)
    if x < 0.8:
        return _digits(r)
    if x < 0.88:
        return r.choice(WS)
    if x < 0.93:
        return "".join(r.choice(EMOJI) for _ in range(r.randint(1, 3)))
    if x < 0.93 + rare:
        return "".join(r.choice(RARE) for _ in range(r.randint(1, 6)))
    return r.choice(EN_WORDS).capitalize()


def line(r, n_min=1, n_max=10, rare=0.05, special=0.0):
    """One line made of several fragments joined by random whitespace (or none)."""
    parts = [fragment(r, rare, special) for _ in range(r.randint(n_min, n_max))]
    out = parts[0]
    for p in parts[1:]:
        out += r.choice(["", " ", " ", " ", "  ", "\n", "\t"]) + p
    return out


def training_corpus(seed, n_lines):
    """Training lines (one sentence per line, as the SentencePiece trainer expects)."""
    r = random.Random(seed)
    return [line(r, rare=0.02).replace("\n", " ").replace("\r", " ") for _ in range(n_lines)]


def test_strings(seed, n, special=0.0):
    """Test strings: different generator stream, more rare Unicode, leading/trailing whitespace, edge cases."""
    r = random.Random(seed)
    fixed = ["", " ", "  ", "\n", "\t", "a", " a", "a ", "  a  b  ", "▁", "▁▁x", "\u3000中文", "ｶﾞｷﾞ", "①②",
             "hello world", "Hello  World!!", "你好，世界", "x\u00a0y", "😀", "👨‍👩‍👧", "e\u0301", "ﬁ", "<unk>",
             "<s>", "</s>", "<0x41>", "[unused9]", "[unused10]x[unused16]", "[unused9][unused10]", "[unused9 ",
             "1234567890", "  leading", "trailing  ", "\n\nnewlines\n\n", "tab\tsep", "⁇", "\ufeffbom"]
    out = list(fixed)
    while len(out) < n:
        s = line(r, 1, 8, rare=0.15, special=special)
        k = r.random()
        if k < 0.1:
            s = r.choice(WS) + s
        elif k < 0.2:
            s = s + r.choice(WS)
        out.append(s)
    return out
