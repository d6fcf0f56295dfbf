"""Reference outputs for ReasoningSplitter and ToolCallParser (imported by make_template_goldens.py).

Reasoning: the official openPangu generate.py parse (PANGU.md 1.7), verbatim formula.
Tool calls: PANGU.md 10 -- preamble text kept as content, [unused11] JSON array [unused12] spans concatenated,
OpenAI arguments = json.dumps(arguments, ensure_ascii=False).
"""
import json
import re

REASONING_OUTPUTS = [
    # (output, well_formed)
    ("[unused16]Let me think.\nStep 1.[unused17]The answer is 42.[unused10]", True),
    (" [unused16] 思考：一加一等于二。 [unused17]\n\n答案是 2。🙂[unused10]", True),
    ("[unused16][unused17]Fast answer without reasoning.[unused10]", True),
    ("[unused16]\n\n[unused17]\n\nfast mode\n[unused10]trailing junk after eos", True),
    ("[unused16]reasoning with [brackets] and [unused1 lookalikes [unused17]answer [unused] ok", True),
    ("\n\t[unused16]multi\nline\n  reasoning  \n[unused17]  multi\nline\n answer  ", True),
    ("[unused16]only reasoning, never closed", False),
    ("plain answer, no markers[unused10]", False),
    ("reasoning from an opened prompt[unused17]answer[unused10]", False),
    ("[unused16]a[unused17]b[unused17]c", False),
    ("", False),
]

THINK_OUTPUTS = [
    ("<think>\nhmm\n</think>\n\nfinal", True),
    ("<think></think>x", True),
]


def official(out, o="[unused16]", c="[unused17]", e="[unused10]"):
    thinking = out.split(c)[0].split(o)[-1].strip()
    content = out.split(c)[-1]
    if e is not None:
        content = content.split(e)[0]
    return thinking, content.strip()


TOOL_OUTPUTS = [
    'I will check the weather.[unused11][{"name": "get_weather", "arguments": {"location": "深圳", "unit": "celsius"}}][unused12]',
    '[unused11][{"name": "search", "arguments": {"query": "pangu \\"7B\\"", "top_k": 3}}, {"name": "noop", "arguments": {}}][unused12]',
    'Two spans: [unused11][{"name": "a", "arguments": {"x": [1, 2, {"y": null}]}}][unused12] then [unused11][{"arguments": {"z": 1.5}, "name": "b"}][unused12] done.',
    'No tools here, just text with [brackets] and [unused1.',
    '[unused11][{"name": "s", "arguments": "{\\"k\\": \\"v\\"}"}][unused12]',
    '[unused11]not json[unused12] after',
]


def tool_reference(text, o="[unused11]", c="[unused12]"):
    content, calls = "", []
    pos = 0
    while True:
        i = text.find(o, pos)
        if i < 0:
            content += text[pos:]
            break
        content += text[pos:i]
        j = text.find(c, i + len(o))
        body = text[i + len(o): j if j >= 0 else len(text)]
        try:
            arr = json.loads(body)
            if isinstance(arr, dict):
                arr = [arr]
            for item in arr:
                args = item.get("arguments", {})
                if isinstance(args, str):
                    try:
                        args = json.loads(args)
                    except ValueError:
                        pass
                calls.append({"name": item["name"], "arguments": args,
                              "arguments_json": json.dumps(args, ensure_ascii=False)})
        except (ValueError, KeyError, TypeError):
            content += o + body + (c if j >= 0 else "")
        if j < 0:
            break
        pos = j + len(c)
    return content.strip(), calls


PIPELINE_OUTPUTS = [
    ' [unused16]用户想知道天气，我应调用工具。[unused17]我来查一下。[unused11][{"name": "get_weather", "arguments": {"location": "深圳"}}][unused12][unused10]',
    '[unused16][unused17][unused11][{"name": "a", "arguments": {}}][unused12][unused11][{"name": "b", "arguments": {"n": [1, 2]}}][unused12][unused10]',
    '[unused16]no tools needed[unused17]Plain answer 🙂\n[unused10]',
]


def pipeline_goldens():
    """ReasoningSplitter then ToolCallParser: official reasoning parse, tool reference on the answer."""
    out = []
    for text in PIPELINE_OUTPUTS:
        thinking, content = official(text)
        answer, calls = tool_reference(content)
        out.append({"output": text, "thinking": thinking, "content": answer, "calls": calls})
    return out


def stream_goldens():
    reasoning = []
    for out, wf in REASONING_OUTPUTS:
        t, c = official(out)
        reasoning.append({"output": out, "well_formed": wf, "markers": "pangu", "thinking": t, "content": c})
    for out, wf in THINK_OUTPUTS:
        t, c = official(out, "<think>", "</think>", None)
        reasoning.append({"output": out, "well_formed": wf, "markers": "think", "thinking": t, "content": c})
    tools = []
    for text in TOOL_OUTPUTS:
        content, calls = tool_reference(text)
        tools.append({"output": text, "content": content, "calls": calls})
    return {"reasoning": reasoning, "tools": tools, "pipeline": pipeline_goldens()}
