// The communicator under a real MPI launcher: `mpi-selftest` (which checks every collective against closed forms)
// run by mpirun with 1, 2 and 4 ranks on this machine, plus a deliberately wrong contribution that must fail the job.
import Foundation
import XCTest

final class MPIRunTests: XCTestCase {
    /// The built `mpi-selftest` executable (next to the test bundle).
    var selftest: URL {
        var dir = Bundle(for: MPIRunTests.self).bundleURL
        while !FileManager.default.fileExists(atPath: dir.appendingPathComponent("mpi-selftest").path),
              dir.path != "/"
        {
            dir.deleteLastPathComponent()
        }
        return dir.appendingPathComponent("mpi-selftest")
    }

    struct LauncherMissing: Error {}

    /// `mpirun` from PATH (Debian package openmpi-bin, which .ci/run installs). Missing is a failure, not a skip.
    func launcher() throws -> URL {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for dir in path.split(separator: ":") {
            let candidate = URL(fileURLWithPath: String(dir)).appendingPathComponent("mpirun")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        XCTFail("mpirun not found in PATH: install the Debian package openmpi-bin (.ci/run does)")
        throw LauncherMissing()
    }

    /// Single-host settings that work in containers: TCP over loopback (no shared-memory or InfiniBand
    /// transports), no ssh agent, root allowed, more ranks than cores allowed, no pinning of ranks to cores.
    func launcherArguments(ranks: Int) -> [String] {
        ["-np", String(ranks), "--oversubscribe", "--bind-to", "none", "--allow-run-as-root",
         "--mca", "pml", "ob1", "--mca", "btl", "self,tcp", "--mca", "btl_tcp_if_include", "lo", "--mca", "oob_tcp_if_include", "lo",
         "--mca", "plm_rsh_agent", "false"]
    }

    struct Outcome {
        var status: Int32
        var out: String
        var err: String
    }

    /// Runs `executable` with a hard timeout (the process group is killed, so no rank outlives the test).
    func run(_ executable: URL, _ arguments: [String], timeout: TimeInterval = 120) throws -> Outcome {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("mpi-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let outURL = dir.appendingPathComponent("out"), errURL = dir.appendingPathComponent("err")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let p = Process()
        p.executableURL = executable
        p.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env["OMPI_ALLOW_RUN_AS_ROOT"] = "1"
        env["OMPI_ALLOW_RUN_AS_ROOT_CONFIRM"] = "1"
        p.environment = env
        p.standardOutput = try FileHandle(forWritingTo: outURL)
        p.standardError = try FileHandle(forWritingTo: errURL)
        p.standardInput = FileHandle.nullDevice
        try p.run()
        let deadline = Date().addingTimeInterval(timeout)
        while p.isRunning, Date() < deadline { usleep(20_000) }
        let timedOut = p.isRunning
        if timedOut {
            p.terminate()  // mpirun forwards SIGTERM to its ranks
            usleep(2_000_000)
            if p.isRunning { kill(p.processIdentifier, SIGKILL) }
        }
        p.waitUntilExit()
        let outcome = Outcome(status: p.terminationStatus,
                              out: (try? String(contentsOf: outURL, encoding: .utf8)) ?? "",
                              err: (try? String(contentsOf: errURL, encoding: .utf8)) ?? "")
        if timedOut { XCTFail("\(executable.lastPathComponent) \(arguments) did not finish in \(timeout) s") }
        return outcome
    }

    func checkSelftest(ranks: Int) throws {
        let result = try run(try launcher(), launcherArguments(ranks: ranks) + [selftest.path])
        XCTAssertEqual(result.status, 0, "stdout: \(result.out)\nstderr: \(result.err)")
        XCTAssertTrue(result.out.contains("mpi-selftest: \(ranks) ranks, MPI_THREAD_"), result.out)
        XCTAssertTrue(result.out.contains("all checks passed"), result.out)
    }

    func testOneRank() throws { try checkSelftest(ranks: 1) }
    func testTwoRanks() throws { try checkSelftest(ranks: 2) }
    func testFourRanks() throws { try checkSelftest(ranks: 4) }

    /// Without mpirun, MPI starts as a world of one (what `pangu --expert-parallel` does outside mpirun).
    func testSingletonWithoutLauncher() throws {
        let result = try run(selftest, ["--elements", "4099"])
        XCTAssertEqual(result.status, 0, "stdout: \(result.out)\nstderr: \(result.err)")
        XCTAssertTrue(result.out.contains("mpi-selftest: 1 ranks"), result.out)
    }

    /// Two "hosts" (network namespaces joined by a veth pair): mpirun reads a hostfile, starts the second host's
    /// daemon through an `ip netns exec` agent in place of ssh, and the ranks talk over TCP on the veth link only.
    /// The selftest checks that its ranks really sit in two namespaces.
    func testTwoHostsOverNetworkNamespaces() throws {
        guard geteuid() == 0 else { throw XCTSkip("creating network namespaces needs root (CI runs as root)") }
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("scripts/mpi-two-hosts.sh")
        let result = try run(URL(fileURLWithPath: "/bin/bash"),
                             [script.path, "-n", "2", selftest.path, "--expect-namespaces", "2",
                              "--elements", "65537"])
        XCTAssertEqual(result.status, 0, "stdout: \(result.out)\nstderr: \(result.err)")
        XCTAssertTrue(result.out.contains("mpi-selftest: 2 ranks, MPI_THREAD_SERIALIZED, 2 network namespace(s), "
            + "all checks passed"), result.out)
    }

    /// A rank whose contribution to the sum is wrong must make the closed-form check fail and end every rank with
    /// a non-zero status (MPI_Abort), rather than pass or hang.
    func testWrongContributionFailsTheJob() throws {
        let result = try run(try launcher(), launcherArguments(ranks: 2) + [selftest.path, "--corrupt-rank", "1"])
        XCTAssertNotEqual(result.status, 0, "stdout: \(result.out)")
        XCTAssertTrue(result.err.contains("FAILED: allreduceSum element 500001"), result.err)
        XCTAssertFalse(result.out.contains("all checks passed"), result.out)
    }
}
