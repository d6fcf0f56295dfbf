// `pangu … --expert-parallel` under mpirun with 1, 2 and 4 ranks on this machine (loopback TCP): logits and greedy
// tokens must equal the single-process run (which the parity tests check against Huawei's reference code), and on
// the moe-f32 fixture also the transformers goldens directly. Bad splits must be clear errors, not hangs.
import Foundation
import PanguTestSupport
import PanguWeights
import XCTest

final class ExpertParallelCLITests: XCTestCase {
    var binary: URL {
        var dir = Bundle(for: ExpertParallelCLITests.self).bundleURL
        while !FileManager.default.fileExists(atPath: dir.appendingPathComponent("pangu").path), dir.path != "/" {
            dir.deleteLastPathComponent()
        }
        return dir.appendingPathComponent("pangu")
    }

    var repository: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    var moeF32: URL { repository.appendingPathComponent("Tests/PanguModelsTests/Fixtures/moe-f32") }

    struct Golden: Decodable { let prompt_ids: [Int]; let greedy_new_tokens: [Int] }

    struct NoLauncher: Error {}

    /// `pangu args` alone.
    func single(_ args: [String], stdin: String? = nil) throws -> ProcessOutcome {
        try runProcess(binary, args, stdin: stdin)
    }

    /// `mpirun -np ranks pangu args` (a missing mpirun is a failure: .ci/run installs openmpi-bin).
    func mpi(_ ranks: Int, _ args: [String], stdin: String? = nil) throws -> ProcessOutcome {
        guard let mpirun = MPILaunch.launcher else {
            XCTFail("mpirun not found in PATH: install the Debian package openmpi-bin (.ci/run does)")
            throw NoLauncher()
        }
        let r = try runProcess(mpirun, MPILaunch.arguments(ranks: ranks) + [binary.path] + args, stdin: stdin,
                               env: MPILaunch.environment, timeout: 180)
        XCTAssertFalse(r.timedOut, "mpirun -np \(ranks) pangu \(args) timed out\n\(r.err)")
        return r
    }

    func ids(_ list: [Int]) -> String { list.map(String.init).joined(separator: ",") }

    /// Tokens printed by `pangu generate --token-ids`.
    func tokens(_ out: String) -> [Int] { out.split(whereSeparator: { $0 == " " || $0 == "\n" }).compactMap { Int($0) } }

    /// Logits of `model` for `prompt`: single process vs `--expert-parallel` with each of `ranks`, within 1e-5
    /// relative (float sums in another order), and the same greedy continuation.
    func checkParity(model: URL, prompt: [Int], ranks: [Int], maxTokens: Int = 12) throws {
        let tmp = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: tmp) }
        let reference = tmp.appendingPathComponent("single.npy").path
        var r = try single(["logits", "--model", model.path, "--token-ids", ids(prompt), "--output", reference])
        XCTAssertEqual(r.status, 0, r.err)
        let (want, wantShape) = try NPYFile.read(reference)
        r = try single(["generate", "--model", model.path, "--token-ids", ids(prompt), "--greedy",
                        "--max-tokens", String(maxTokens)])
        XCTAssertEqual(r.status, 0, r.err)
        let wantTokens = tokens(r.out)
        XCTAssertEqual(wantTokens.count, maxTokens, r.out)
        for n in ranks {
            let path = tmp.appendingPathComponent("ep\(n).npy").path
            r = try mpi(n, ["logits", "--expert-parallel", "--model", model.path, "--token-ids", ids(prompt),
                            "--output", path])
            XCTAssertEqual(r.status, 0, "N=\(n): \(r.err)")
            XCTAssertTrue(r.err.contains("expert parallel: \(n) rank(s)") && r.err.contains("rank \(n - 1): weights"),
                          r.err)
            let (got, shape) = try NPYFile.read(path)
            XCTAssertEqual(shape, wantShape)
            let c = compare(got, want)
            XCTAssertTrue(c.within(relative: 1e-5), "N=\(n) \(model.lastPathComponent): \(c)")
            r = try mpi(n, ["generate", "--expert-parallel", "--model", model.path, "--token-ids", ids(prompt),
                            "--greedy", "--max-tokens", String(maxTokens)])
            XCTAssertEqual(r.status, 0, "N=\(n): \(r.err)")
            XCTAssertEqual(tokens(r.out), wantTokens, "N=\(n) \(model.lastPathComponent): \(r.err)")
        }
    }

    /// The moe-f32 fixture (16 experts in 4 groups, 2 KV heads): N = 1 and 2, against the single process and
    /// against the transformers goldens (prefill logits, greedy tokens).
    func testMoEFixtureMatchesSingleProcessAndReference() throws {
        let golden = try JSONDecoder().decode(Golden.self, from: Data(contentsOf: moeF32.appendingPathComponent("golden.json")))
        try checkParity(model: moeF32, prompt: golden.prompt_ids, ranks: [1, 2])
        let tmp = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: tmp) }
        let out = tmp.appendingPathComponent("ep.npy").path
        var r = try mpi(2, ["logits", "--expert-parallel", "--model", moeF32.path, "--token-ids", ids(golden.prompt_ids),
                            "--output", out])
        XCTAssertEqual(r.status, 0, r.err)
        let (got, _) = try NPYFile.read(out)
        let (ref, _) = try NPYFile.read(moeF32.appendingPathComponent("prefill_logits.npy").path)
        let c = compare(got, ref)
        XCTAssertTrue(c.within(relative: 1e-4), "vs transformers: \(c)")
        r = try mpi(2, ["generate", "--expert-parallel", "--model", moeF32.path, "--token-ids", ids(golden.prompt_ids),
                        "--greedy", "--max-tokens", String(golden.greedy_new_tokens.count)])
        XCTAssertEqual(r.status, 0, r.err)
        XCTAssertEqual(tokens(r.out), golden.greedy_new_tokens)
    }

    /// A model whose 4 groups and 4 KV heads split 4 ways, as safetensors (f32) and as a Q8_0 GGUF (block-aligned
    /// column slices of o_proj and the shared down_proj, repacked dense parts, file-backed stacked experts).
    func testFourRanksSafetensorsAndGGUF() throws {
        let tmp = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: tmp) }
        let model = tmp.appendingPathComponent("kv4"), gguf = tmp.appendingPathComponent("kv4-q8_0.gguf")
        var r = try single(["create-test-model", model.path, "--preset", "tiny-moe-kv4", "--dtype", "f32"])
        XCTAssertEqual(r.status, 0, r.err)
        r = try single(["quantize", "--model", model.path, "--type", "q8_0", "--output", gguf.path])
        XCTAssertEqual(r.status, 0, r.err)
        let prompt = [1, 17, 93, 5, 211, 42, 1280, 7, 64, 2000, 33]
        try checkParity(model: model, prompt: prompt, ranks: [2, 4])
        try checkParity(model: gguf, prompt: prompt, ranks: [4], maxTokens: 8)
        // Chat goes through the chat template and reuses (truncates) the cache between turns on rank 0: the
        // followers' mirrors must follow.
        let args = ["chat", "--model", model.path, "--greedy", "--think", "fast", "--max-tokens", "6"]
        let turns = "hello\nand again\n/exit\n"
        let want = try single(args, stdin: turns)
        XCTAssertEqual(want.status, 0, want.err)
        let got = try mpi(4, args + ["--expert-parallel"], stdin: turns)
        XCTAssertEqual(got.status, 0, got.err)
        XCTAssertEqual(got.out, want.out)
        XCTAssertTrue(got.err.contains("reused from cache"), got.err)
    }

    /// `pangu serve --expert-parallel` under mpirun -np 2: only rank 0 listens, and greedy completions and chat
    /// answers equal those of a single-process server on the same model.
    func testServeMatchesSingleProcess() throws {
        let tmp = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: tmp) }
        let model = tmp.appendingPathComponent("kv4")
        let r = try single(["create-test-model", model.path, "--preset", "tiny-moe-kv4", "--dtype", "f32"])
        XCTAssertEqual(r.status, 0, r.err)
        let mpirun = try XCTUnwrap(MPILaunch.launcher, "mpirun not found: install openmpi-bin")
        let requests = [
            ("/v1/completions", #"{"prompt":"hello world 你好","max_tokens":8,"temperature":0}"#),
            ("/v1/chat/completions", #"{"messages":[{"role":"user","content":"hi there"}],"max_tokens":6,"temperature":0}"#),
        ]
        func answers(_ executable: URL, _ args: [String]) throws -> [String] {
            let log = tmp.appendingPathComponent("serve-\(UUID().uuidString).log")
            _ = FileManager.default.createFile(atPath: log.path, contents: nil)
            let p = Process()
            p.executableURL = executable
            p.arguments = args
            p.environment = ProcessInfo.processInfo.environment.merging(MPILaunch.environment) { $1 }
            p.standardOutput = try FileHandle(forWritingTo: log)
            p.standardError = p.standardOutput
            p.standardInput = FileHandle.nullDevice
            try p.run()
            defer {
                p.terminate()  // mpirun forwards SIGTERM to every rank
                p.waitUntilExit()
            }
            var port: String?
            let deadline = Date().addingTimeInterval(120)
            while port == nil, p.isRunning, Date() < deadline {
                usleep(100_000)
                let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
                if text.contains("model loaded"), let m = text.firstMatch(of: /listening on http:\/\/127\.0\.0\.1:(\d+)/) {
                    port = String(m.1)
                }
            }
            let bound = try XCTUnwrap(port, (try? String(contentsOf: log, encoding: .utf8)) ?? "")
            return try requests.map { path, body in
                let c = try runProcess(URL(fileURLWithPath: "/usr/bin/curl"),
                                       ["-s", "-m", "60", "http://127.0.0.1:\(bound)\(path)", "-H",
                                        "content-type: application/json", "-d", body], timeout: 90)
                XCTAssertEqual(c.status, 0, c.err)
                // The generated text only (ids and timestamps differ between runs).
                let object = try JSONSerialization.jsonObject(with: Data(c.out.utf8)) as? [String: Any]
                let choice = (object?["choices"] as? [[String: Any]])?.first
                return (choice?["text"] as? String) ?? ((choice?["message"] as? [String: Any])?["content"] as? String)
                    ?? "no answer: \(c.out)"
            }
        }
        let serve = ["serve", "--model", model.path, "--port", "0"]
        let want = try answers(binary, serve)
        let got = try answers(mpirun, MPILaunch.arguments(ranks: 2) + [binary.path] + serve + ["--expert-parallel"])
        XCTAssertEqual(got, want)
        XCTAssertFalse(want.contains { $0.hasPrefix("no answer") }, "\(want)")
    }

    /// Splits that do not fit, a dense model, and mpirun without the flag: clear errors naming the problem.
    func testBadSplitsAreClearErrors() throws {
        let prompt = "1,2,3"
        var r = try mpi(4, ["generate", "--expert-parallel", "--model", moeF32.path, "--token-ids", prompt])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.err.contains("4 ranks do not divide the 2 KV heads"), r.err)
        r = try mpi(3, ["generate", "--expert-parallel", "--model", moeF32.path, "--token-ids", prompt])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.err.contains("3 ranks do not divide the 4 expert groups"), r.err)
        let dense = repository.appendingPathComponent("Tests/PanguModelsTests/Fixtures/tiny-f32")
        r = try mpi(2, ["generate", "--expert-parallel", "--model", dense.path, "--token-ids", prompt])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.err.contains("needs a mixture-of-experts model"), r.err)
        r = try mpi(2, ["generate", "--model", moeF32.path, "--token-ids", prompt])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.err.contains("without --expert-parallel"), r.err)
        // A K-quant whose 256-value blocks are wider than a rank's slice of the shared expert.
        let tmp = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: tmp) }
        let model = tmp.appendingPathComponent("kv4"), gguf = tmp.appendingPathComponent("q4_k_m.gguf")
        r = try single(["create-test-model", model.path, "--preset", "tiny-moe-kv4", "--dtype", "f32"])
        XCTAssertEqual(r.status, 0, r.err)
        r = try single(["quantize", "--model", model.path, "--type", "q4_k_m", "--output", gguf.path])
        XCTAssertEqual(r.status, 0, r.err)
        r = try mpi(2, ["generate", "--expert-parallel", "--model", gguf.path, "--token-ids", prompt])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.err.contains("the shared expert's 256 rows make 1 blocks of 256, fewer than the 2 ranks"), r.err)
    }

    /// Two "hosts" (network namespaces joined by a veth pair, scripts/mpi-two-hosts.sh): the greedy continuation
    /// of the moe-f32 fixture over Open MPI's TCP transport between them equals the transformers goldens.
    func testTwoHostsGenerate() throws {
        guard geteuid() == 0 else { throw XCTSkip("creating network namespaces needs root (CI runs as root)") }
        let golden = try JSONDecoder().decode(Golden.self, from: Data(contentsOf: moeF32.appendingPathComponent("golden.json")))
        let script = repository.appendingPathComponent("scripts/mpi-two-hosts.sh")
        let r = try runProcess(URL(fileURLWithPath: "/bin/bash"),
                               [script.path, "-n", "2", binary.path, "generate", "--expert-parallel", "--model",
                                moeF32.path, "--token-ids", ids(golden.prompt_ids), "--greedy", "--max-tokens",
                                String(golden.greedy_new_tokens.count)], timeout: 180)
        XCTAssertFalse(r.timedOut, r.err)
        XCTAssertEqual(r.status, 0, "stdout: \(r.out)\nstderr: \(r.err)")
        XCTAssertEqual(tokens(r.out), golden.greedy_new_tokens, r.err)
    }
}
