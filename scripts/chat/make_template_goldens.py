#!/usr/bin/env python3
"""Generate golden renderings for PanguChat's Jinja interpreter with the real jinja2 library.

The environment mirrors Hugging Face transformers' `_compile_jinja_template` / `apply_chat_template`:
ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[AssistantTracker, loopcontrols]),
`tojson` = json.dumps(x, ensure_ascii=False, indent=..., separators=..., sort_keys=...), globals
`raise_exception` (raises TemplateError) and `strftime_now` (here pinned to FIXED_NOW for reproducibility).
Render kwargs: messages, tools (None when absent), documents=None, add_generation_prompt, special tokens, extras.

Usage: python3 scripts/chat/make_template_goldens.py   (writes Tests/PanguChatTests/Fixtures/*.json)
"""
import copy
import json
import os
import sys
from datetime import datetime

import jinja2
import jinja2.ext
import jinja2.nodes
from jinja2.ext import loopcontrols
from jinja2.sandbox import ImmutableSandboxedEnvironment

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from templates import SPECIAL, TEMPLATES, TOOL_TEMPLATES  # noqa: E402
from snippets import SNIPPETS  # noqa: E402
from stream_goldens import stream_goldens  # noqa: E402
from fuzz_templates import CTX as FUZZ_CTX, fuzz_templates, whitespace_templates  # noqa: E402

FIXED_NOW = datetime(2024, 7, 26, 14, 5, 9)
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
OUT = os.path.join(ROOT, "Tests", "PanguChatTests", "Fixtures")


class AssistantTracker(jinja2.ext.Extension):
    """Like HF's extension of the same name: `{% generation %}…{% endgeneration %}` renders its body unchanged
    (HF additionally records assistant-token indices when return_assistant_tokens_mask=True)."""
    tags = {"generation"}

    def parse(self, parser):
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(["name:endgeneration"], drop_needle=True)
        return jinja2.nodes.CallBlock(self.call_method("_generation_support"), [], [], body).set_lineno(lineno)

    @jinja2.pass_eval_context
    def _generation_support(self, context, caller):
        return caller()


def make_env():
    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def strftime_now(fmt):
        return FIXED_NOW.strftime(fmt)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[AssistantTracker, loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    env.globals["strftime_now"] = strftime_now
    return env


ENV = make_env()


def render(source, context):
    try:
        out = ENV.from_string(source).render(**copy.deepcopy(context))
        return {"expected": out}
    except jinja2.exceptions.TemplateSyntaxError as e:
        return {"error": "syntax", "message": str(e.message)}
    except jinja2.exceptions.TemplateError as e:
        kind = "raised" if type(e) is jinja2.exceptions.TemplateError else "runtime"
        return {"error": kind, "message": str(e.message)}
    except Exception as e:  # TypeError etc. inside the template
        return {"error": "runtime", "message": f"{type(e).__name__}: {e}"}


TOOLS = [
    {"type": "function", "function": {
        "name": "get_weather", "description": "Get the current weather\nfor a city.",
        "parameters": {"type": "object", "properties": {
            "location": {"type": "string", "description": "City, e.g. 深圳"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]}},
            "required": ["location"]}}},
    {"type": "function", "function": {
        "name": "search", "description": "Web search \"quoted\" \\ backslash",
        "parameters": {"type": "object", "properties": {
            "query": {"type": "string"}, "top_k": {"type": "integer", "default": 5},
            "threshold": {"type": "number", "default": 0.5}},
            "required": ["query"]}}},
]


def tc(name, args, id=None, as_string=False):
    d = {"type": "function", "function": {"name": name, "arguments": json.dumps(args, ensure_ascii=False) if as_string else args}}
    if id:
        d = {"id": id, **d}
    return d


SYS = {"role": "system", "content": "You are a helpful assistant."}
PANGU_SYS = {"role": "system", "content": "你必须严格遵守法律法规和社会道德规范。"}

CONVERSATIONS = {
    "single_user": [{"role": "user", "content": "Hello!"}],
    "system_user": [SYS, {"role": "user", "content": "What is 2+2?"}],
    "multi_turn": [SYS, {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello! How can I help?"},
                   {"role": "user", "content": "Tell me a joke."}],
    "multi_turn_nosys": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hey."},
                         {"role": "user", "content": "Bye"}, {"role": "assistant", "content": "Goodbye!"}],
    "unicode": [PANGU_SYS, {"role": "user", "content": "你是谁？🙂 naïve café — “quotes” 'single' \\ back\nnew line\ttab"},
                {"role": "assistant", "content": "我是盘古。🐉"}, {"role": "user", "content": "ｆｕｌｌ－ｗｉｄｔｈ：ok"}],
    "whitespace": [{"role": "system", "content": "  padded system  \n"}, {"role": "user", "content": "\n  spaced user \n\n"},
                   {"role": "assistant", "content": " answer "}, {"role": "user", "content": "again"}],
    "tool_call": [SYS, {"role": "user", "content": "Weather in Shenzhen?"},
                  {"role": "assistant", "content": "", "tool_calls": [tc("get_weather", {"location": "深圳", "unit": "celsius"}, id="call_1")]},
                  {"role": "tool", "name": "get_weather", "tool_call_id": "call_1", "content": "{\"temp\": 28, \"sky\": \"晴\"}"},
                  {"role": "assistant", "content": "It is 28°C and sunny."}],
    "tool_calls_multi": [{"role": "user", "content": "Search two things"},
                         {"role": "assistant", "content": "Let me search.", "tool_calls": [
                             tc("search", {"query": "pangu", "top_k": 3}), tc("search", {"query": "ascend", "threshold": 0.25})]},
                         {"role": "tool", "content": "result A"}, {"role": "tool", "content": "result B"},
                         {"role": "user", "content": "thanks"}],
    "tool_call_string_args": [{"role": "user", "content": "Weather?"},
                              {"role": "assistant", "content": None, "tool_calls": [tc("get_weather", {"location": "Paris"}, as_string=True)]},
                              {"role": "tool", "content": "sunny"}],
    "reasoning": [{"role": "user", "content": "1+1?"},
                  {"role": "assistant", "content": "<think>\nadd them\n</think>\n\n2"},
                  {"role": "user", "content": "2+2?"}],
    "reasoning_field": [{"role": "user", "content": "1+1?"},
                        {"role": "assistant", "content": "2", "reasoning_content": "simple addition"},
                        {"role": "user", "content": "and 3+3?"}, {"role": "assistant", "content": "6", "reasoning_content": "again"}],
    "bad_alternation": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}],
    "function_role": [{"role": "user", "content": "call"}, {"role": "function", "content": "fn output"},
                      {"role": "tool", "content": "tool output"}],
    "empty_content": [{"role": "system", "content": ""}, {"role": "user", "content": ""}],
    "multimodal": [{"role": "system", "content": [{"type": "text", "text": "Sys in parts"}]},
                   {"role": "user", "content": [{"type": "image"}, {"type": "text", "text": " Describe this. "}]}],
    "tool_call_id9": [SYS, {"role": "user", "content": "Weather in Paris and Rome?"},
                      {"role": "assistant", "content": None, "tool_calls": [
                          tc("get_weather", {"location": "Paris"}, id="abcdefghi"), tc("get_weather", {"location": "Rome"}, id="ABCDEFGH1")]},
                      {"role": "tool", "tool_call_id": "abcdefghi", "content": "sunny"},
                      {"role": "tool", "tool_call_id": "ABCDEFGH1", "content": {"content": "rain"}},
                      {"role": "assistant", "content": "Paris is sunny, Rome rainy."}, {"role": "user", "content": "Thanks"}],
    "empty": [],
}

# Which conversations make sense per template (others still rendered: errors are goldens too).
def cases():
    out = []
    for tname, src in TEMPLATES.items():
        bos, eos = SPECIAL[tname]
        for cname, msgs in CONVERSATIONS.items():
            if cname == "multimodal" and tname not in ("gemma3", "macros"):
                continue
            if cname == "empty" and tname not in ("pangu", "phi3", "zephyr", "macros"):
                continue
            tool_opts = [None, TOOLS] if tname in TOOL_TEMPLATES else [None]
            for tools in tool_opts:
                for agp in (True, False):
                    ctx = {"messages": msgs, "tools": tools, "documents": None, "add_generation_prompt": agp,
                           "bos_token": bos, "eos_token": eos}
                    out.append({"template": tname, "conversation": cname, "context": ctx})
        if tname == "qwen3":
            for flag in (True, False):
                ctx = {"messages": CONVERSATIONS["reasoning"], "tools": None, "documents": None,
                       "add_generation_prompt": True, "bos_token": bos, "eos_token": eos, "enable_thinking": flag}
                out.append({"template": tname, "conversation": f"reasoning+enable_thinking={flag}", "context": ctx})
        if tname == "llama3.1":
            ctx = {"messages": CONVERSATIONS["tool_call"], "tools": TOOLS, "documents": None, "add_generation_prompt": True,
                   "bos_token": bos, "eos_token": eos, "tools_in_user_message": False, "date_string": "01 Jan 2025"}
            out.append({"template": tname, "conversation": "tool_call+tools_in_system", "context": ctx})
            ctx = {"messages": CONVERSATIONS["single_user"], "tools": None, "documents": None, "add_generation_prompt": True,
                   "bos_token": bos, "eos_token": eos, "builtin_tools": ["brave_search", "code_interpreter", "wolfram_alpha"]}
            out.append({"template": tname, "conversation": "builtin_tools", "context": ctx})
    for c in out:
        c.update(render(TEMPLATES[c["template"]], c["context"]))
    return out


def random_conversations(seed=20240726, count=12):
    """Seeded random conversations (alternating user/assistant, optional system, tool turns, odd characters)."""
    import random
    rng = random.Random(seed)
    alphabet = list("abc xyz\n\t  {}%#'\"\\") + ["你好", "🙂", "é", "e\u0301", "[unused9]", "<think>", "</think>", "{{ x }}", "{% if %}", "\u2028"]
    def text():
        return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))
    convs = []
    for _ in range(count):
        msgs = []
        if rng.random() < 0.5:
            msgs.append({"role": "system", "content": text()})
        for t in range(rng.randint(1, 4)):
            msgs.append({"role": "user", "content": text()})
            if rng.random() < 0.8:
                if rng.random() < 0.3:
                    msgs.append({"role": "assistant", "content": text(), "tool_calls": [
                        tc("get_weather", {"location": text(), "n": rng.randint(-5, 5), "f": rng.choice([0.5, 1e-7, 2.0, None, True])})]})
                    msgs.append({"role": "tool", "content": text()})
                msgs.append({"role": "assistant", "content": text()})
        convs.append(msgs)
    return convs


def random_cases():
    out = []
    for k, msgs in enumerate(random_conversations()):
        for tname in TEMPLATES:
            bos, eos = SPECIAL[tname]
            tools = TOOLS if (tname in TOOL_TEMPLATES and k % 2 == 0) else None
            ctx = {"messages": msgs, "tools": tools, "documents": None, "add_generation_prompt": k % 3 != 0,
                   "bos_token": bos, "eos_token": eos}
            out.append({"template": tname, "conversation": f"random{k}", "context": ctx, **render(TEMPLATES[tname], ctx)})
    return out


def thinking_cases():
    """High-level API cases: Pangu template + thinking mode, suffix applied per PANGU.md 1.7 (last user message)."""
    suffix = {"slow": "", "fast": " /no_think", "auto": " /auto_think"}
    out = []
    for cname in ("single_user", "system_user", "multi_turn", "unicode", "tool_call", "function_role"):
        for mode in ("slow", "fast", "auto"):
            for agp in (True, False):
                msgs = copy.deepcopy(CONVERSATIONS[cname])
                idx = max(i for i, m in enumerate(msgs) if m["role"] == "user")
                msgs[idx]["content"] = msgs[idx]["content"] + suffix[mode]
                ctx = {"messages": msgs, "tools": None, "documents": None, "add_generation_prompt": agp,
                       "bos_token": "<s>", "eos_token": "[unused10]"}
                r = render(TEMPLATES["pangu"], ctx)
                out.append({"conversation": cname, "messages": CONVERSATIONS[cname], "thinking": mode,
                            "add_generation_prompt": agp, **r})
    return out


def continue_final(rendered, final_message):
    """transformers' continue_final_message post-processing (string content)."""
    if final_message.strip() not in rendered:
        raise ValueError("final message not in rendering")
    loc = rendered.rindex(final_message.strip())
    if rendered[loc: loc + len(final_message.lstrip())] == final_message:
        return rendered[: loc + len(final_message.lstrip())]
    return rendered[: loc + len(final_message.strip())]


def continue_cases():
    """Prefill: last message is a partial assistant turn, add_generation_prompt=False, continue_final_message=True."""
    prefills = ["Sure, the answer is", "  spaced prefill  ", "[unused16]思考中", "Let me check.\n"]
    out = []
    for tname in ("pangu", "qwen2.5", "llama3.1", "mistral", "zephyr", "phi3"):
        bos, eos = SPECIAL[tname]
        for pre in prefills:
            msgs = [{"role": "user", "content": "Question?"}, {"role": "assistant", "content": pre}]
            ctx = {"messages": msgs, "tools": None, "documents": None, "add_generation_prompt": False,
                   "bos_token": bos, "eos_token": eos}
            r = render(TEMPLATES[tname], ctx)
            if "expected" in r:
                try:
                    r = {"expected": continue_final(r["expected"], pre)}
                except ValueError as e:
                    r = {"error": "runtime", "message": str(e)}
            out.append({"template": tname, "messages": msgs, "bos_token": bos, "eos_token": eos, **r})
    return out


def snippet_cases():
    out = []
    for i, (src, ctx) in enumerate(SNIPPETS):
        out.append({"id": i, "template": src, "context": ctx, **render(src, ctx)})
    return out


def fuzz_cases():
    """Random templates; cases whose output prints a Python object address (`<generator object … at 0x…>`)
    are dropped: that text is not reproducible."""
    import re
    out = []
    sources = [(f"{seed}-{i}", src) for seed in (7, 101) for i, src in enumerate(fuzz_templates(seed=seed, count=1000))]
    sources += [(f"ws-{i}", src) for i, src in enumerate(whitespace_templates(seed=5, count=1000))]
    for i, src in sources:
        r = render(src, FUZZ_CTX)
        if re.search(r" at 0x[0-9a-f]+", r.get("expected", ""), re.IGNORECASE):
            continue
        out.append({"id": i, "template": src, **r})
    return out


def main():
    os.makedirs(OUT, exist_ok=True)
    data = {"jinja2_version": jinja2.__version__, "fixed_now": FIXED_NOW.isoformat(), "templates": TEMPLATES,
            "cases": cases() + random_cases(), "thinking_cases": thinking_cases(),
            "continue_cases": continue_cases()}
    with open(os.path.join(OUT, "template_goldens.json"), "w", encoding="utf-8") as f:
        json.dump(data, f, ensure_ascii=False, indent=1)
        f.write("\n")
    snips = {"jinja2_version": jinja2.__version__, "fixed_now": FIXED_NOW.isoformat(), "cases": snippet_cases()}
    with open(os.path.join(OUT, "snippet_goldens.json"), "w", encoding="utf-8") as f:
        json.dump(snips, f, ensure_ascii=False, indent=1)
        f.write("\n")
    with open(os.path.join(OUT, "stream_goldens.json"), "w", encoding="utf-8") as f:
        json.dump(stream_goldens(), f, ensure_ascii=False, indent=1)
        f.write("\n")
    fuzz = {"context": FUZZ_CTX, "cases": fuzz_cases()}
    with open(os.path.join(OUT, "fuzz_goldens.json"), "w", encoding="utf-8") as f:
        json.dump(fuzz, f, ensure_ascii=False, indent=0)
        f.write("\n")
    print(f"fuzz: {len(fuzz['cases'])} random templates ({sum(1 for c in fuzz['cases'] if 'error' in c)} errors)")
    n_err = sum(1 for c in data["cases"] if "error" in c)
    s_err = sum(1 for c in snips["cases"] if "error" in c)
    print(f"templates: {len(data['cases'])} cases ({n_err} errors), thinking: {len(data['thinking_cases'])}, "
          f"snippets: {len(snips['cases'])} ({s_err} errors)")


if __name__ == "__main__":
    main()
