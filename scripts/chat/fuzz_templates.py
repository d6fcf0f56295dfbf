"""Seeded grammar-based random templates (expressions, filters, tests, control flow, whitespace control) rendered
with jinja2 for differential testing of the Swift interpreter. Imported by make_template_goldens.py."""
import random

CTX = {
    "s": "Hello, World", "e": "", "n": 7, "m": -3, "f": 2.5, "t": True, "z": None,
    "l": [3, 1, 2], "w": ["b", "A", "c"], "d": {"k": "v", "a": 1},
    "msgs": [{"role": "user", "content": " hi "}, {"role": "assistant", "content": "yo"}],
}

VARS = ["s", "e", "n", "m", "f", "t", "z", "l", "w", "d", "msgs", "undef"]
LITS = ["0", "1", "2", "-1", "1.5", "'a'", "'x y'", '"q"', "true", "false", "none", "[]", "[1, 2]", "{'a': 1}", "''"]
BINOPS = ["+", "-", "*", "/", "//", "%", "~", "==", "!=", "<", ">", "<=", ">=", "and", "or", "in", "not in"]
FILTERS = ["length", "upper", "lower", "trim", "first", "last", "list", "string", "int", "float", "abs", "reverse",
           "sort", "unique", "tojson", "join", "join(', ')", "default('D')", "d(1, true)", "capitalize", "title",
           "replace('l', 'L')", "select", "reject('none')", "map('string')", "batch(2)", "indent(2)", "round",
           "items", "dictsort", "count", "sum", "max", "min", "wordcount", "center(9)", "e", "safe"]
TESTS = ["defined", "undefined", "none", "string", "number", "integer", "float", "mapping", "iterable", "sequence",
         "odd", "even", "divisibleby(2)", "eq(1)", "in([1, 2, 3])", "lower", "upper", "true", "false", "boolean"]
METHODS = ["strip()", "upper()", "lower()", "split()", "split(',')", "startswith('H')", "endswith('d')",
           "replace('o', '0')", "title()", "items()", "keys()", "values()", "get('k')", "get('zz', 0)", "count('l')"]


ATTRS = ["msgs[0].role", "msgs[-1]['content']", "d.k", "d['a']", "d.zz", "d.zz.yy", "msgs[0].zz", "s[0]", "w[1:]",
         "l | sort | first", "(l | list)[0]", "d.get('a', 0) + 1", "s ~ n ~ f", "'%s-%s' % (n, s)", "s.split(',')[0]",
         "range(n) | list", "namespace(a=1).a", "[n, m, f] | max", "w | sort(reverse=true)", "msgs | map(attribute='role') | list",
         "msgs | selectattr('role', 'eq', 'user') | list", "l | join('+')", "d | dictsort | list", "(d.items() | list)[0]"]


def expr(r, depth=0):
    if r.random() < 0.12:
        return r.choice(ATTRS)
    k = r.randint(0, 9 if depth < 3 else 2)
    if k <= 1:
        return r.choice(VARS)
    if k == 2:
        return r.choice(LITS)
    if k == 3:
        return f"({expr(r, depth + 1)} {r.choice(BINOPS)} {expr(r, depth + 1)})"
    if k == 4:
        return f"{expr(r, depth + 1)} | {r.choice(FILTERS)}"
    if k == 5:
        return f"({expr(r, depth + 1)} is {r.choice(['', 'not '])}{r.choice(TESTS)})"
    if k == 6:
        return f"({expr(r, depth + 1)} if {expr(r, depth + 1)} else {expr(r, depth + 1)})"
    if k == 7:
        return f"{r.choice(['s', 'd', 'l', 'w', 'e'])}.{r.choice(METHODS)}"
    if k == 8:
        return f"{r.choice(['l', 'w', 's', 'msgs'])}[{r.choice(['0', '-1', '1:', '::-1', ':2', '5'])}]"
    return f"(not {expr(r, depth + 1)})"


def ws(r):
    return r.choice(["", "", "-", "+"]) if r.random() < 0.4 else ""


def stmt(r, depth=0):
    k = r.randint(0, 6 if depth < 2 else 2)
    pad = r.choice(["", " ", "  ", "\n", "\n  ", " \n"])
    if k <= 1:
        return f"{pad}{{{{{r.choice(['', '-'])} {expr(r)} {r.choice(['', '-'])}}}}}"
    if k == 2:
        return pad + r.choice(["text", "a b", "\n", "  x  \n", "·é"])
    if k == 3:
        body = "".join(stmt(r, depth + 1) for _ in range(r.randint(1, 3)))
        other = "".join(stmt(r, depth + 1) for _ in range(r.randint(0, 2)))
        els = f"{{%{ws(r)} else {ws(r).replace('+', '')}%}}{other}" if other else ""
        return f"{pad}{{%{ws(r)} if {expr(r)} %}}{body}{els}{{%{ws(r)} endif %}}"
    if k == 4:
        body = "".join(stmt(r, depth + 1) for _ in range(r.randint(1, 3)))
        it = r.choice(["l", "w", "msgs", "s", "d", "range(3)", "undef", "[]"])
        extra = r.choice(["{{ loop.index }}", "{{ loop.first }}", "{{ loop.last }}", "{{ loop.revindex0 }}", "{{ loop.length }}", ""])
        return f"{pad}{{%{ws(r)} for x in {it} %}}{{{{ x }}}}{extra}{body}{{%{ws(r)} endfor %}}"
    if k == 5:
        return f"{pad}{{%{ws(r)} set v = {expr(r)} %}}{{{{ v }}}}"
    if k == 6 and r.random() < 0.5:
        return pad + r.choice([
            f"{{% macro mac(a, b='B') %}}[{{{{ a }}}}|{{{{ b }}}}]{{% endmacro %}}{{{{ mac({expr(r)}) }}}}{{{{ mac(1, b={expr(r)}) }}}}",
            f"{{% set ns = namespace(c=0) %}}{{% for x in l %}}{{% set ns.c = ns.c + x %}}{{% endfor %}}{{{{ ns.c }}}}",
            f"{{% set blk %}} {{{{ {expr(r)} }}}} {{% endset %}}[{{{{ blk }}}}]",
            f"{{% for a, b in d.items() %}}{{{{ a }}}}={{{{ b }}}}{{{{ loop.cycle(',', ';') }}}}{{% endfor %}}",
            f"{{% for x in l if x > 1 %}}{{{{ x }}}}{{% else %}}E{{% endfor %}}",
            f"{{% raw %}}{{{{ raw }}}}{{% endraw %}}",
            f"{{% filter upper %}}{{{{ {expr(r)} }}}}{{% endfilter %}}",
        ])
    return f"{pad}{{#{r.choice(['', '-'])} c {r.choice(['', '-'])}#}}"


def fuzz_templates(seed=7, count=600):
    r = random.Random(seed)
    return ["".join(stmt(r) for _ in range(r.randint(1, 4))) for _ in range(count)]


WS_TEXT = ["", " ", "  ", "\t", "\n", "\n\n", " \n", "\n  ", "x", "a b", " \t\n ", "\r\n", "  \n\t"]


def whitespace_templates(seed=5, count=1000):
    """Random nestings of text, tags, comments and raw blocks with every `-`/`+` marker combination, for the
    trim_blocks / lstrip_blocks / whitespace-control rules."""
    r = random.Random(seed)

    def sign(plus=True):
        return r.choice(["", "-", "+"] if plus else ["", "-"])

    def tag(kind):
        o, c = sign(), sign()
        if kind == "var":
            return "{{" + sign(False) + " 'v' " + sign(False) + "}}"
        if kind == "com":
            return "{#" + sign(False) + " c " + sign(False) + "#}"
        if kind == "if":
            return ("{%" + o + " if true " + c + "%}", "{%" + sign() + " endif " + sign() + "%}")
        if kind == "for":
            return ("{%" + o + " for i in [1, 2] " + c + "%}", "{%" + sign() + " endfor " + sign() + "%}")
        if kind == "set":
            return "{%" + o + " set q = 1 " + c + "%}"
        return ("{%" + o + " raw " + sign(False) + "%}" + r.choice(WS_TEXT) + "{{ x }}" + r.choice(WS_TEXT)
                + "{%" + sign() + " endraw " + sign() + "%}")

    def gen(depth=0):
        out = ""
        for _ in range(r.randint(1, 5)):
            out += r.choice(WS_TEXT)
            k = r.choice(["var", "com", "if", "for", "set", "raw", "text"])
            if k in ("if", "for") and depth < 2:
                a, b = tag(k)
                out += a + gen(depth + 1) + b
            elif k != "text" and k not in ("if", "for"):
                out += tag(k)
            out += r.choice(WS_TEXT)
        return out

    return [gen() for _ in range(count)]
