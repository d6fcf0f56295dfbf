// High-level API: thinking modes on the Pangu template, template sets, tool prompt injection, error positions.
import Foundation
import XCTest
@testable import PanguChat

/// Builds API messages from a golden's JSON message dictionaries.
func chatMessages(_ v: JinjaValue?) -> [ChatMessage] {
    guard case let .array(items)? = v else { return [] }
    return items.compactMap { item in
        guard case let .dict(d) = item else { return nil }
        var calls: [ChatToolCall] = []
        if case let .array(tcs)? = d["tool_calls"] {
            for case let .dict(t) in tcs {
                guard case let .dict(f)? = t["function"] else { continue }
                calls.append(ChatToolCall(id: str(t["id"]), name: str(f["name"])!, arguments: f["arguments"] ?? .none))
            }
        }
        return ChatMessage(role: str(d["role"])!, content: str(d["content"]), reasoningContent: str(d["reasoning_content"]),
                           toolCalls: calls, name: str(d["name"]), toolCallId: str(d["tool_call_id"]))
    }
}

final class ChatAPITests: XCTestCase {
    func testThinkingModesOnPanguTemplateMatchJinja2() throws {
        let data = try loadFixture("template_goldens")
        guard case let .array(cases)? = data["thinking_cases"] else { return XCTFail("bad fixture") }
        var pass = 0
        for case let .dict(c) in cases {
            let mode = try XCTUnwrap(ThinkingMode(rawValue: str(c["thinking"])!))
            let msgs = chatMessages(c["messages"])
            let agp = c["add_generation_prompt"] == .bool(true)
            let failure = checkCase({ try ChatTemplate.pangu.render(messages: msgs, addGenerationPrompt: agp, thinking: mode) }, c)
            if let failure { XCTFail("[\(str(c["conversation"])!) \(mode)] \(failure)") } else { pass += 1 }
        }
        print("thinking-mode parity: \(pass)/\(cases.count)")
        XCTAssertEqual(pass, cases.count)
        XCTAssertGreaterThanOrEqual(cases.count, 30)
    }

    func testContinueFinalMessageMatchesHF() throws {
        let data = try loadFixture("template_goldens")
        guard case let .array(cases)? = data["continue_cases"], case let .dict(templates)? = data["templates"] else {
            return XCTFail("bad fixture")
        }
        var pass = 0
        let now = fixedNow(str(data["fixed_now"])!)
        for case let .dict(c) in cases {
            let t = try ChatTemplate(str(templates[str(c["template"])!])!)
            let msgs = chatMessages(c["messages"])
            let failure = checkCase({
                try t.render(messages: msgs, addGenerationPrompt: false, bosToken: str(c["bos_token"])!,
                             eosToken: str(c["eos_token"])!, continueFinalMessage: true, now: now)
            }, c)
            if let failure { XCTFail("[continue \(str(c["template"])!)] \(failure)") } else { pass += 1 }
        }
        print("continue_final_message parity: \(pass)/\(cases.count)")
        XCTAssertEqual(pass, cases.count)
        XCTAssertThrowsError(try ChatTemplate.pangu.render(messages: [.user("x")], addGenerationPrompt: true,
                                                           continueFinalMessage: true))
    }

    func testBuiltInTemplateIsTheSpecTemplate() throws {
        let data = try loadFixture("template_goldens")
        guard case let .dict(t)? = data["templates"] else { return XCTFail("bad fixture") }
        XCTAssertEqual(str(t["pangu"]), ChatTemplate.panguSource)
    }

    func testTemplateSetSelectionLikeHF() throws {
        let list: JinjaValue = [["name": "default", "template": "D{{ messages|length }}"],
                                ["name": "tool_use", "template": "T{{ tools|length }}"]]
        let set = try ChatTemplateSet(chatTemplateValue: list)
        XCTAssertEqual(try set.select(hasTools: false).render(messages: [.user("x")]), "D1")
        XCTAssertEqual(try set.select(hasTools: true).render(messages: [.user("x")], tools: [["a": 1]]), "T1")
        XCTAssertEqual(try set.select(name: "tool_use", hasTools: false).source, "T{{ tools|length }}")
        XCTAssertThrowsError(try set.select(name: "rag", hasTools: false))
        let onlyTools = try ChatTemplateSet(chatTemplateValue: [["name": "tool_use", "template": "x"]])
        XCTAssertThrowsError(try onlyTools.select(hasTools: false))
        let cfg = Data(#"{"add_bos_token": true, "chat_template": "{{ bos_token }}{{ messages[0].content }}"}"#.utf8)
        XCTAssertEqual(try ChatTemplateSet(tokenizerConfigJSON: cfg).select(hasTools: false).render(messages: [.user("hi")]), "<s>hi")
        let fallback = try ChatTemplateSet(tokenizerConfigJSON: Data(#"{"eos_token": "[unused10]"}"#.utf8))
        XCTAssertEqual(try fallback.select(hasTools: false).source, ChatTemplate.panguSource)
    }

    func testToolPromptInjectionIntoSystemTurn() throws {
        let data = try loadFixture("template_goldens")
        guard case let .array(cases)? = data["cases"], case let .dict(first)? = cases.first(where: {
            if case let .dict(c) = $0, case let .dict(ctx)? = c["context"], case .array? = ctx["tools"] { return true }
            return false
        }), case let .dict(ctx)? = first["context"], case let .array(tools)? = ctx["tools"] else { return XCTFail("no tools") }
        let msgs = try ToolPrompt.inject(tools: tools, into: [.user("天气？")])
        let prompt = try ChatTemplate.pangu.render(messages: msgs, thinking: .fast)
        XCTAssertTrue(prompt.hasPrefix("[unused9]系统：# 工具 / Tools\n"))
        XCTAssertTrue(prompt.hasSuffix("[unused10][unused9]用户：天气？ /no_think[unused10][unused9]助手："))
        // Each schema line is exactly Python's json.dumps(tool, ensure_ascii=False) (as rendered by jinja2's
        // `tool | tojson` in the Qwen golden of the same case).
        let qwenExpected = try XCTUnwrap(str(first["expected"]))
        for t in tools {
            let line = try JSONCoding.dumps(t)
            XCTAssertTrue(qwenExpected.contains("\n" + line + "\n"), "schema line differs from Python json.dumps")
            XCTAssertTrue(prompt.contains("\n" + line + "\n"))
        }
        let withSystem = try ToolPrompt.inject(tools: tools, into: [.system("Be brief."), .user("x")])
        XCTAssertEqual(withSystem.count, 2)
        XCTAssertTrue(withSystem[0].content!.hasPrefix("Be brief.\n\n# 工具 / Tools\n"))
        XCTAssertEqual(try ToolPrompt.inject(tools: [], into: [.user("x")]), [.user("x")])
    }

    func testErrorsCarryPositionsAndNeverCrash() {
        func err(_ src: String, _ ctx: [String: JinjaValue] = [:]) -> ChatTemplateError? {
            do { _ = try ChatTemplate(src).render(context: ctx); return nil } catch let e as ChatTemplateError { return e } catch {
                XCTFail("unexpected error type \(error)"); return nil
            }
        }
        let syntax = err("line one\n{% if x %}\n  {{ 1 + }}\n{% endif %}")
        XCTAssertEqual(syntax?.line, 3)
        XCTAssertEqual(syntax?.column, 10)
        let undefinedAttr = err("ok\n\n   {{ user.name.first }}")
        XCTAssertEqual(undefinedAttr?.line, 3)
        XCTAssertEqual(undefinedAttr?.raisedByTemplate, false)
        let raised = err("{{ raise_exception('nope') }}")
        XCTAssertEqual(raised?.message, "nope")
        XCTAssertEqual(raised?.raisedByTemplate, true)
        XCTAssertNotNil(err("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}"), "recursion must be an error, not a crash")
        XCTAssertNotNil(err("{{ range(10**9) | length }}"))
        XCTAssertNotNil(err("{{ ('x' * 1000000000) | length }}"))
        XCTAssertNotNil(err("{{ ([1, 2] * 1000000000) | length }}"))
        XCTAssertNotNil(err("{{ 2 ** 100000000000 }}"))
        XCTAssertEqual(try ChatTemplate("{{ 1 ** 100000000000 }}{{ (-1) ** 3 }}{{ 0 ** 0 }}").render(context: [:]), "1-11")
        XCTAssertNotNil(err("{{ " + String(repeating: "(", count: 5000) + "1" + String(repeating: ")", count: 5000) + " }}"))
        XCTAssertNotNil(err("{{ " + String(repeating: "-", count: 5000) + "1 }}"))
        XCTAssertNotNil(err(String(repeating: "{% if true %}", count: 3000)))
        XCTAssertEqual(try ChatTemplate(String(repeating: "{% if true %}", count: 40) + "x" + String(repeating: "{% endif %}", count: 40)).render(context: [:]), "x")
        XCTAssertNotNil(err("{% for %}"))
        XCTAssertNotNil(err("{{ [1, 2 }}"))
        XCTAssertNotNil(err("{{ x[1:2:0] }}", ["x": [1, 2]]))
        XCTAssertEqual(err("{{ 9223372036854775807 + 1 }}")?.message, "integer overflow (Python would use a big int)")
    }

    func testThinkingModeSuffixes() {
        XCTAssertEqual(ThinkingMode.slow.promptSuffix, "")
        XCTAssertEqual(ThinkingMode.fast.promptSuffix, " /no_think")
        XCTAssertEqual(ThinkingMode.auto.promptSuffix, " /auto_think")
        let msgs: [ChatMessage] = [.user("a"), .assistant("b"), .user("c"), .tool("d")]
        XCTAssertEqual(ThinkingMode.fast.apply(to: msgs).map(\.content), ["a", "b", "c /no_think", "d"])
        XCTAssertEqual(ThinkingMode.slow.apply(to: msgs), msgs)
        XCTAssertEqual(ThinkingMode.auto.apply(to: [.system("s")]), [.system("s")])
    }
}

final class ChatPromptTests: XCTestCase {
    func testPromptInjectsToolsOnlyForTemplatesThatIgnoreThem() throws {
        let tools: [JinjaValue] = [["type": "function", "function": ["name": "f", "parameters": ["type": "object"]]]]
        XCTAssertFalse(ChatTemplate.pangu.rendersTools)
        let p = try ChatTemplate.pangu.prompt(messages: [.user("hi")], tools: tools)
        let expectedSystem = try ToolPrompt.block(tools: tools)
        XCTAssertEqual(p, "[unused9]系统：" + expectedSystem + "[unused10][unused9]用户：hi[unused10][unused9]助手：")
        let toolTemplate = try ChatTemplate("{% for t in tools %}{{ t.function.name }};{% endfor %}{{ messages[0].content }}")
        XCTAssertTrue(toolTemplate.rendersTools)
        XCTAssertEqual(try toolTemplate.prompt(messages: [.user("hi")], tools: tools, thinking: .auto), "f;hi /auto_think")
        XCTAssertEqual(try ChatTemplate.pangu.prompt(messages: [.user("hi")]),
                       "[unused9]系统：[unused10][unused9]用户：hi[unused10][unused9]助手：")
    }
}

final class ChatPerformanceTests: XCTestCase {
    func testLongConversationRendersQuickly() throws {
        let data = try loadFixture("template_goldens")
        guard case let .dict(t)? = data["templates"], let qwen3 = str(t["qwen3"]) else { return XCTFail("fixture") }
        let template = try ChatTemplate(qwen3)
        var msgs: [ChatMessage] = [.system("sys")]
        for i in 0..<500 { msgs.append(.user("question \(i) 你好")); msgs.append(.assistant("<think>r</think>answer \(i)")) }
        msgs.append(.user("last"))
        let start = Date()
        let out = try template.render(messages: msgs, addGenerationPrompt: true)
        let elapsed = Date().timeIntervalSince(start)
        print("qwen3 template, \(msgs.count) messages: \(out.count) chars in \(String(format: "%.3f", elapsed)) s")
        XCTAssertTrue(out.hasSuffix("<|im_start|>user\nlast<|im_end|>\n<|im_start|>assistant\n"))
        let p0 = Date()
        _ = try ChatTemplate.pangu.prompt(messages: msgs)
        print("pangu template, \(msgs.count) messages: \(String(format: "%.3f", Date().timeIntervalSince(p0))) s")
        XCTAssertLessThan(elapsed, 5.0)
    }
}

final class ChatConcurrencyTests: XCTestCase {
    /// Rendering on cooperative-pool threads (small stacks) must survive the nesting/recursion limits.
    func testLimitsAreSafeOnTaskThreads() async throws {
        let deepParens = "{{ " + String(repeating: "(", count: 45) + "1" + String(repeating: ")", count: 45) + " }}"
        let recursion = "{% macro f(n) %}{% if n > 0 %}{{ f(n - 1) }}{% endif %}.{% endmacro %}{{ f(1000) }}"
        let nestedIf = String(repeating: "{% if true %}", count: 90) + "x" + String(repeating: "{% endif %}", count: 90)
        let results = try await withThrowingTaskGroup(of: String.self) { group in
            for src in [deepParens, recursion, nestedIf] {
                group.addTask {
                    do { return try ChatTemplate(src).render(context: [:]) } catch let e as ChatTemplateError { return "error: " + e.message }
                }
            }
            var out: [String] = []
            for try await r in group { out.append(r) }
            return out.sorted()
        }
        XCTAssertEqual(results, ["1", "error: maximum recursion depth exceeded", "x"])
        // Many renders in parallel from one compiled template.
        let t = ChatTemplate.pangu
        let outs = try await withThrowingTaskGroup(of: String.self) { group in
            for i in 0..<16 { group.addTask { try t.prompt(messages: [.user("q\(i)")], thinking: .fast) } }
            var out: [String] = []
            for try await r in group { out.append(r) }
            return out
        }
        XCTAssertEqual(Set(outs).count, 16)
    }
}

final class ChatTemplateSetTests: XCTestCase {
    func testCheckpointDirectoryPrecedenceAndSpecialTokens() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pangu-chat-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        // No files: built-in Pangu template and tokens.
        var set = try ChatTemplateSet(checkpointDirectory: dir)
        XCTAssertTrue(set.usesBuiltInFallback)
        XCTAssertEqual(try set.prompt(messages: [.user("hi")], thinking: .fast),
                       "[unused9]系统：[unused10][unused9]用户：hi /no_think[unused10][unused9]助手：")
        // tokenizer_config.json with AddedToken-style eos and a template.
        let cfg = #"{"bos_token": "<s>", "eos_token": {"content": "</s>", "lstrip": false}, "chat_template": "CFG{{ eos_token }}"}"#
        try Data(cfg.utf8).write(to: dir.appendingPathComponent("tokenizer_config.json"))
        set = try ChatTemplateSet(checkpointDirectory: dir)
        XCTAssertFalse(set.usesBuiltInFallback)
        XCTAssertEqual(set.specialTokens["eos_token"], "</s>")
        XCTAssertEqual(try set.prompt(messages: [.user("x")]), "CFG</s>")
        // chat_template.json overrides tokenizer_config; chat_template.jinja overrides both.
        try Data(#"{"chat_template": "JSON{{ bos_token }}"}"#.utf8).write(to: dir.appendingPathComponent("chat_template.json"))
        XCTAssertEqual(try ChatTemplateSet(checkpointDirectory: dir).prompt(messages: [.user("x")]), "JSON<s>")
        try Data("JINJA{{ messages|length }}\n".utf8).write(to: dir.appendingPathComponent("chat_template.jinja"))
        XCTAssertEqual(try ChatTemplateSet(checkpointDirectory: dir).prompt(messages: [.user("x")]), "JINJA1")
        // Named extras; tool_use picked when tools are given.
        let extra = dir.appendingPathComponent("additional_chat_templates")
        try FileManager.default.createDirectory(at: extra, withIntermediateDirectories: true)
        try Data("TOOLS{{ tools|length }}".utf8).write(to: extra.appendingPathComponent("tool_use.jinja"))
        set = try ChatTemplateSet(checkpointDirectory: dir)
        XCTAssertEqual(try set.prompt(messages: [.user("x")], tools: [["type": "function"]]), "TOOLS1")
        XCTAssertEqual(try set.prompt(messages: [.user("x")]), "JINJA1")
    }
}
