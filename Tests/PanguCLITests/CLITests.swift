// End-to-end: the `pangu` binary as a user runs it, checked against the transformers goldens.
import Foundation
import PanguTestSupport
import PanguWeights
import XCTest

final class CLITests: XCTestCase {
    /// The built `pangu` executable (next to the test bundle).
    var binary: URL {
        var dir = Bundle(for: CLITests.self).bundleURL
        while !FileManager.default.fileExists(atPath: dir.appendingPathComponent("pangu").path), dir.path != "/" {
            dir.deleteLastPathComponent()
        }
        return dir.appendingPathComponent("pangu")
    }

    var fixtures: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("PanguModelsTests/Fixtures")
    }

    @discardableResult
    func run(_ args: [String], stdin: String? = nil, env: [String: String] = [:]) throws -> (out: String, err: String, status: Int32) {
        let p = Process()
        p.executableURL = binary
        p.arguments = args
        var environment = ProcessInfo.processInfo.environment
        for (k, v) in env { environment[k] = v }
        p.environment = environment
        let out = Pipe(), err = Pipe(), input = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = input
        try p.run()
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        try input.fileHandleForWriting.close()
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self), p.terminationStatus)
    }

    struct Golden: Decodable { let prompt_ids: [Int]; let greedy_new_tokens: [Int] }

    func testLogitsCommandWritesTransformersLogits() throws {
        let dir = fixtures.appendingPathComponent("tiny-f32")
        let golden = try JSONDecoder().decode(Golden.self, from: Data(contentsOf: dir.appendingPathComponent("golden.json")))
        let tmp = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: tmp) }
        let out = tmp.appendingPathComponent("logits.npy").path
        let r = try run(["logits", "--model", dir.path, "--token-ids", golden.prompt_ids.map(String.init).joined(separator: ","),
                         "--output", out])
        XCTAssertEqual(r.status, 0, r.err)
        let (mine, shape) = try NPYFile.read(out)
        let (ref, refShape) = try NPYFile.read(dir.appendingPathComponent("prefill_logits.npy").path)
        XCTAssertEqual(shape, refShape)
        let c = compare(mine, ref)
        XCTAssertTrue(c.within(relative: 1e-4), "\(c)")
    }

    func testGenerateTokenIdsGreedyMatchesTransformers() throws {
        let dir = fixtures.appendingPathComponent("tiny-bf16")
        let golden = try JSONDecoder().decode(Golden.self, from: Data(contentsOf: dir.appendingPathComponent("golden.json")))
        let r = try run(["generate", "--model", dir.path, "--greedy", "--max-tokens", "16",
                         "--token-ids", golden.prompt_ids.map(String.init).joined(separator: ",")])
        XCTAssertEqual(r.status, 0, r.err)
        let ids = r.out.split(whereSeparator: { $0 == " " || $0 == "\n" }).compactMap { Int($0) }
        // The reference generated 16 tokens with EOS stopping disabled, and none of them is the config's EOS
        // (golden.json: contains_config_eos false), so the whole sequence must match, not just a prefix.
        XCTAssertEqual(ids, golden.greedy_new_tokens)
    }

    /// Speculative decoding (prompt lookup, a draft model) gives the plain greedy tokens; a draft model with
    /// another vocabulary is refused.
    func testSpeculativeGenerateEqualsPlainGreedy() throws {
        let dir = fixtures.appendingPathComponent("tiny-f32")
        let golden = try JSONDecoder().decode(Golden.self, from: Data(contentsOf: dir.appendingPathComponent("golden.json")))
        let base = ["generate", "--model", dir.path, "--greedy", "--max-tokens", "16",
                    "--token-ids", golden.prompt_ids.map(String.init).joined(separator: ",")]
        func ids(_ out: String) -> [Int] { out.split(whereSeparator: { $0 == " " || $0 == "\n" }).compactMap { Int($0) } }
        let plain = try run(base)
        XCTAssertEqual(plain.status, 0, plain.err)
        XCTAssertGreaterThan(plain.out.count, 20, "the replies must not be empty: \(plain.out)")
        for extra in [["--lookup-ngram", "2"], ["--draft-model", dir.path, "--draft-max", "3"]] {
            let r = try run(base + extra)
            XCTAssertEqual(r.status, 0, r.err)
            XCTAssertEqual(ids(r.out), ids(plain.out), "\(extra)")
            XCTAssertTrue(r.err.contains("speculative:"), r.err)
        }
        let bad = try run(base + ["--draft-model", fixtures.appendingPathComponent("tiny-f16").path])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.err.contains("vocabulary"), bad.err)
    }

    /// With `--draft-by-acceptance` the draft lengths do not depend on timings, so a sampled speculative run
    /// repeats token for token for a seed (the runs below also differ in thread count, which changes timings).
    /// The model drafts for itself, so every draft is accepted (rejection sampling with p = q) and the acceptance
    /// rule keeps drafting 4 tokens per round: 24 tokens take at most 6 target passes. Timed lengths would see a
    /// draft step as dear as a target step and decode almost plainly (one pass per token).
    func testSampledSpeculativeRepeatsForASeedWithDraftByAcceptance() throws {
        let dir = fixtures.appendingPathComponent("tiny-f32")
        let golden = try JSONDecoder().decode(Golden.self, from: Data(contentsOf: dir.appendingPathComponent("golden.json")))
        let base = ["generate", "--model", dir.path, "--temperature", "1", "--seed", "11", "--max-tokens", "24",
                    "--token-ids", golden.prompt_ids.map(String.init).joined(separator: ","),
                    "--draft-model", dir.path, "--draft-max", "4", "--draft-by-acceptance"]
        let first = try run(base)
        XCTAssertEqual(first.status, 0, first.err)
        let passes = first.err.firstMatch(of: /(\d+) target passes/).flatMap { Int($0.1) }
        XCTAssertNotNil(passes, first.err)
        XCTAssertLessThanOrEqual(passes ?? .max, 6, first.err)
        for threads in ["1", "2"] {
            let again = try run(base, env: ["PANGU_THREADS": threads])
            XCTAssertEqual(again.status, 0, again.err)
            XCTAssertEqual(again.out, first.out, "threads \(threads)")
        }
    }

    func testInspectReportsShapesAndParameters() throws {
        let r = try run(["inspect", fixtures.appendingPathComponent("tiny-bf16").path])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue(r.out.contains("head dim 32"), r.out)
        XCTAssertTrue(r.out.contains("bf16"), r.out)
        XCTAssertTrue(r.out.contains("PanguEmbeddedForCausalLM"), r.out)
    }

    func testBadInputsGiveClearErrors() throws {
        let dir = fixtures.appendingPathComponent("tiny-f32")
        var r = try run(["logits", "--model", dir.path, "--token-ids", "1,x,3", "--output", "/tmp/never.npy"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.err.contains("item 2"), r.err)
        r = try run(["generate", "--model", dir.path, "--token-ids", "1,99999"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.err.contains("99999") && r.err.contains("position 1"), r.err)
        r = try run(["inspect", "/nonexistent/dir"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.err.contains("/nonexistent/dir"), r.err)
    }

    func testBuiltinModelChatAndGenerateAndCreateTestModel() throws {
        let cache = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: cache) }
        let env = ["PANGU_CACHE": cache.path]
        var r = try run(["generate", "Hello", "--max-tokens", "5", "--seed", "1"], env: env)
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue(r.out.hasPrefix("Hello"), r.out)
        r = try run(["chat", "--max-tokens", "4", "--think", "fast"], stdin: "hi\nagain\n/exit\n", env: env)
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertTrue(r.err.contains("reused from cache"), r.err)
        let made = cache.appendingPathComponent("made")
        // (7b-shape writes gigabytes; the same writer is exercised here with the tiny shapes in f16.)
        r = try run(["create-test-model", made.path, "--preset", "tiny", "--layers", "2", "--dtype", "f16"], env: env)
        XCTAssertEqual(r.status, 0, r.err)
        r = try run(["inspect", made.path], env: env)
        XCTAssertTrue(r.out.contains("layers:           2") && r.out.contains("f16"), r.out)
        r = try run(["create-test-model", made.path, "--preset", "13b"], env: env)
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.err.contains("13b"), r.err)
        r = try run(["tokenize", "--json", "--model", made.path], stdin: "\"hello\"\n\"[unused9]x\"\n", env: env)
        XCTAssertEqual(r.out.split(separator: "\n").count, 2, r.out)
    }

    /// `pangu bench --json` on a checkpoint prints one JSON object with the llama-bench-like fields, all positive,
    /// and a peak RSS that covers at least the weights it streamed.
    func testBenchJSON() throws {
        let dir = fixtures.appendingPathComponent("tiny-f32")
        let r = try run(["bench", "--model", dir.path, "-p", "8", "-n", "4", "-r", "2", "--json"])
        XCTAssertEqual(r.status, 0, r.err)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any], r.out)
        for key in ["pp_tokens_per_s", "tg_tokens_per_s", "peak_rss_bytes", "bandwidth_bytes_per_s",
                    "weight_bytes_per_token", "roofline_fraction", "kv_bytes"] {
            let v = try XCTUnwrap((object[key] as? NSNumber)?.doubleValue, "missing \(key) in \(r.out)")
            XCTAssertGreaterThan(v, 0, key)
        }
        let rss = (object["peak_rss_bytes"] as! NSNumber).intValue, weights = (object["weight_bytes_per_token"] as! NSNumber).intValue
        XCTAssertGreaterThanOrEqual(rss, weights)
        XCTAssertEqual((object["repetitions"] as? NSNumber)?.intValue, 2)
    }

    /// `bench --cold`: load and first-token times from process start, in order, and the repacked bytes of a bf16
    /// checkpoint (every matrix is repacked; nothing is repacked with PANGU_REPACK=0).
    func testBenchColdJSON() throws {
        let dir = try makeTemporaryDirectory("pangu-cold")
        defer { try? FileManager.default.removeItem(at: dir) }
        XCTAssertEqual(try run(["create-test-model", dir.path, "--preset", "tiny", "--dtype", "bf16", "--layers", "1"]).status, 0)
        let r = try run(["bench", "--model", dir.path, "--cold", "--json"])
        XCTAssertEqual(r.status, 0, r.err)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any], r.out)
        func value(_ key: String) throws -> Double { try XCTUnwrap((object[key] as? NSNumber)?.doubleValue, "missing \(key) in \(r.out)") }
        XCTAssertGreaterThan(try value("load_s"), 0)
        XCTAssertGreaterThanOrEqual(try value("load_s"), try value("process_start_s"))
        XCTAssertGreaterThan(try value("first_token_s"), try value("load_s"))
        XCTAssertGreaterThan(try value("prompt_tokens"), 0)
        XCTAssertGreaterThan(try value("repacked_bytes"), 0)
    }

    /// `pangu chat` with `--lookup-ngram` and with `--draft-model` prints exactly the plain chat's greedy replies
    /// over two turns (the second reuses the first turn's cache, so a cache left holding rejected drafts shows).
    func testChatWithSpeculativeFlagsPrintsThePlainReplies() throws {
        let cache = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: cache) }
        let env = ["PANGU_CACHE": cache.path]
        let draft = cache.appendingPathComponent("draft")
        var r = try run(["create-test-model", draft.path, "--preset", "tiny", "--layers", "1"], env: env)
        XCTAssertEqual(r.status, 0, r.err)
        let chat = ["chat", "--max-tokens", "16", "--think", "fast", "--greedy"]
        let input = "hello hello hello\nsay hello again\n/exit\n"
        let plain = try run(chat, stdin: input, env: env)
        XCTAssertEqual(plain.status, 0, plain.err)
        XCTAssertGreaterThan(plain.out.count, 20, "the replies must not be empty: \(plain.out)")
        for flags in [["--lookup-ngram", "2", "--draft-max", "3"], ["--draft-model", draft.path, "--draft-max", "4"]] {
            r = try run(chat + flags, stdin: input, env: env)
            XCTAssertEqual(r.status, 0, r.err)
            XCTAssertEqual(r.out, plain.out, "\(flags)")
            XCTAssertTrue(r.err.contains("speculative so far"), r.err)
        }
        r = try run(chat + ["--lookup-ngram", "2", "--draft-model", draft.path], stdin: input, env: env)
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.err.contains("either --draft-model or --lookup-ngram"), r.err)
    }
}
