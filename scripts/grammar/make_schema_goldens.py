#!/usr/bin/env python3
"""Writes Tests/PanguGrammarTests/Fixtures/schema_goldens.json: JSON Schemas with candidate documents and the
verdict of Python's `jsonschema` (Draft 2020-12) for each. The Swift tests feed every document to the grammar
built from its schema and require acceptance exactly for the documents jsonschema says are valid.

Documents are written in the canonical forms the grammar generates (properties in schema order, compact or
indent=2 whitespace, enum/const values compact, numbers without exponent where bounds apply, no "-0"), see
Docs/ConstrainedDecoding.md; texts that are not JSON at all get verdict false.

Usage: python3 scripts/grammar/make_schema_goldens.py   (needs `pip install jsonschema`)
"""
import json
import pathlib

import jsonschema

OUT = pathlib.Path(__file__).resolve().parents[2] / "Tests/PanguGrammarTests/Fixtures/schema_goldens.json"

# (name, schema, values, raw texts, pretty): values are dumped compactly (and with indent=2 when pretty);
# raw texts are used verbatim.
CASES = [
    ("person", {
        "type": "object",
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 5},
            "age": {"type": "integer", "minimum": 0, "maximum": 120},
            "color": {"enum": ["red", "green", "blue"]},
        },
        "required": ["name", "age"],
        "additionalProperties": False,
    }, [
        {"name": "Ann", "age": 30}, {"name": "Ann", "age": 30, "color": "red"}, {"name": "", "age": 3},
        {"name": "abcdef", "age": 3}, {"name": "日本語", "age": 0}, {"name": "x", "age": 121},
        {"name": "x", "age": -1}, {"name": "x", "age": 120, "color": "pink"}, {"name": "x"}, {"age": 5},
        {"name": "x", "age": 7.5}, {"name": "x", "age": 5, "extra": 1}, {}, [], "x",
    ], ['{"name":"ab\\"c","age":5}', '{"name":"a\\u00e9","age":5}', '{"name":"a","age":05}',
        '{"name":"a","age":5,}', '{"name":"a" "age":5}', '{"name":"a","age":5'], True),
    ("int_array", {
        "type": "array", "items": {"type": "integer", "exclusiveMinimum": -5, "exclusiveMaximum": 10},
        "minItems": 1, "maxItems": 3,
    }, [[1], [1, 2, 3], [1, 2, 3, 4], [], [-5], [-4], [9], [10], [0, -0], [1.5], ["1"]],
       ["[ 1 , 2 ]", "[1,]", "[007]"], True),
    ("number_range", {"type": "number", "minimum": -1.5, "maximum": 2.25},
     [-1.5, -1.51, -1.49, 0, 2.25, 2.2500001, 2.24999, 3, -2, 1, 0.5],
     ["2.250", "-1.500", "2.2501", "-1.50001", "1.0", "0.00"], False),
    ("number_exclusive", {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
     [0, 1, 0.5, 0.999, 0.0001, -0.5, 1.0000001],
     ["0.0", "1.000", "0.9999999999999999", "-0.1"], False),
    ("int_fraction_bounds", {"type": "integer", "minimum": 0.5, "exclusiveMaximum": 3}, [0, 1, 2, 3, -1, 2.5], [], False),
    ("number_min_only", {"type": "number", "minimum": -2.5}, [-2.5, -2.6, -3, -2.4999, 0, 1000.0, 123456789, 0.001],
     ["-2.50", "-2.500000001"], False),
    ("number_max_negative", {"type": "number", "exclusiveMaximum": -0.25},
     [-0.25, -0.26, -1, 0, -0.2500001, -0.24, -100.5, 5], ["-0.250", "-0.2500", "-0.25000000000001"], False),
    ("int_negative_range", {"type": "integer", "minimum": -120, "maximum": -7},
     [-7, -6, -120, -121, -50, 0, 5, -99, -100, -119], ["-007"], False),
    ("int_big_range", {"type": "integer", "minimum": 95, "maximum": 12345},
     [94, 95, 96, 99, 100, 999, 1000, 12345, 12346, 12299, 20000, 9999, 10000], [], False),
    ("short_string", {"type": "string", "maxLength": 3},
     ["", "abc", "abcd", "é日本", "é日本語", "😀😀😀", "😀😀😀😀", "a\"b", "a\\b", "\n\t"],
     ['"\\u00e9\\u00e9\\u00e9"', '"\\u00e9\\u00e9\\u00e9\\u00e9"', '"a\\/b"', '"\\x"', '"a\nb"', '"\\ud7ff\\uE000"',
      '"\\u0041\\u0042\\u0043\\u0044"', '"\\u004"'], False),
    ("min_string", {"type": "string", "minLength": 2}, ["", "a", "ab", "abc", "日本"], [], False),
    ("nullable", {"type": ["string", "null"]}, [None, "x", 1, False], [], False),
    ("const_object", {"const": {"a": [1, 2], "b": None}}, [{"a": [1, 2], "b": None}, {"a": [1], "b": None}, {"a": [1, 2]}],
     [], False),
    ("nested", {
        "type": "object",
        "properties": {
            "items": {"type": "array", "maxItems": 2, "items": {
                "type": "object",
                "properties": {"id": {"type": "integer"}, "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 2}},
                "required": ["id"], "additionalProperties": False}},
            "ok": {"type": "boolean"},
        },
        "required": ["items", "ok"], "additionalProperties": False,
    }, [
        {"items": [], "ok": True}, {"items": [{"id": 1}], "ok": False}, {"items": [{"id": 1, "tags": ["a", "b"]}], "ok": True},
        {"items": [{"id": 1, "tags": ["a", "b", "c"]}], "ok": True}, {"items": [{"id": 1}, {"id": 2}, {"id": 3}], "ok": True},
        {"items": [{"tags": []}], "ok": True}, {"items": [{"id": "1"}], "ok": True}, {"items": [], "ok": "yes"},
        {"items": [{"id": 1, "name": "x"}], "ok": True},
    ], [], True),
    ("any_of", {"anyOf": [{"type": "integer", "maximum": 3}, {"type": "string", "maxLength": 1}]},
     [3, 4, -100, "a", "ab", None], [], False),
    ("one_of", {"oneOf": [{"type": "boolean"}, {"type": "array", "items": {"type": "null"}, "maxItems": 1}]},
     [True, [], [None], [None, None], [1], 0], [], False),
    ("one_of_tagged", {"oneOf": [
        {"type": "object", "properties": {"kind": {"const": "circle"}, "r": {"type": "number", "minimum": 0}},
         "required": ["kind", "r"], "additionalProperties": False},
        {"$ref": "#/$defs/square"},
    ], "$defs": {"square": {"type": "object", "properties": {"kind": {"enum": ["square", "box"]}, "side": {"type": "integer"}},
                            "required": ["kind", "side"], "additionalProperties": False}}},
     [{"kind": "circle", "r": 1.5}, {"kind": "circle", "r": -1}, {"kind": "square", "side": 2}, {"kind": "box", "side": 2},
      {"kind": "circle", "side": 2}, {"kind": "square", "r": 1}, {"kind": "tri", "r": 1}], [], True),
    ("one_of_nullable", {"oneOf": [{"type": "string", "maxLength": 2}, {"type": "null"}]}, ["", "ab", "abc", None, 1], [], False),
    ("no_items", {"type": "array", "items": False}, [[], [1], [None]], ["[ ]"], False),
    ("refs", {
        "$defs": {"point": {"type": "object", "properties": {"x": {"type": "number"}, "y": {"type": "number"}},
                            "required": ["x", "y"], "additionalProperties": False}},
        "type": "array", "items": {"$ref": "#/$defs/point"},
    }, [[], [{"x": 1, "y": 2.5}], [{"x": 1}], [{"x": -1e-7, "y": 1e20}], [{"x": "1", "y": 2}]], [], True),
    ("enum_mixed", {"enum": ["a", 1, None, True, [1, "x"]]}, ["a", 1, None, True, False, "b", [1, "x"], [1]],
     [], False),
    ("any_value", {}, [1, "x", None, [1, [2, {"a": {}}]], {"k": [True, False, None, -0.5e-3]}],
     ["{\"a\":1,\"a\":2}", "[1,2", "tru"], True),
    ("free_object", {"type": "object"}, [{}, {"a": 1}, {"a": {"b": [1, 2]}, "c": "d"}, [], "x", 5], [], True),
    ("map", {"type": "object", "additionalProperties": {"type": "integer", "minimum": 0}},
     [{}, {"a": 1}, {"a": 1, "b": -1}, {"a": "1"}], [], True),
    ("bool_items", {"type": "array", "items": {"type": "boolean"}, "minItems": 2},
     [[], [True], [True, False], [True, False, True, True], [1, 2]], [], False),
    ("optional_props", {
        "type": "object",
        "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}, "c": {"type": "integer"}},
        "additionalProperties": False,
    }, [{}, {"a": 1}, {"b": 1}, {"c": 1}, {"a": 1, "c": 2}, {"b": 1, "c": 2}, {"a": 1, "b": 2, "c": 3}, {"d": 1}],
     ["{,}", "{\"a\":1,}", "{,\"a\":1}"], True),
]


def main():
    validator_cls = jsonschema.Draft202012Validator
    out = []
    for name, schema, values, raws, pretty in CASES:
        validator_cls.check_schema(schema)
        v = validator_cls(schema)
        texts = []
        for value in values:
            texts.append(json.dumps(value, ensure_ascii=False, separators=(",", ":")))
            if pretty:
                texts.append(json.dumps(value, ensure_ascii=False, indent=2))
        texts += raws
        cases = []
        for t in dict.fromkeys(texts):
            try:
                doc = json.loads(t)
            except ValueError:
                cases.append({"text": t, "valid": False})
                continue
            cases.append({"text": t, "valid": v.is_valid(doc)})
        out.append({"name": name, "schema": schema, "cases": cases})
    OUT.write_text(json.dumps(out, ensure_ascii=False, indent=1) + "\n")
    n = sum(len(c["cases"]) for c in out)
    print(f"wrote {OUT} ({len(out)} schemas, {n} documents)")


if __name__ == "__main__":
    main()
