// The communicator under a real MPI launcher: `mpi-selftest` (which checks every collective against closed forms)
// run by mpirun with 1, 2 and 4 ranks on this machine, plus a deliberately wrong contribution that must fail the job.
import Foundation
import PanguTestSupport
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
        guard let mpirun = MPILaunch.launcher else {
            XCTFail("mpirun not found in PATH: install the Debian package openmpi-bin (.ci/run does)")
            throw LauncherMissing()
        }
        return mpirun
    }

    func launcherArguments(ranks: Int) -> [String] { MPILaunch.arguments(ranks: ranks) }

    /// Runs `executable` with a hard timeout (mpirun forwards the kill to its ranks, so none outlives the test).
    func run(_ executable: URL, _ arguments: [String], timeout: TimeInterval = 120) throws -> ProcessOutcome {
        let outcome = try runProcess(executable, arguments, env: MPILaunch.environment, timeout: timeout)
        if outcome.timedOut { XCTFail("\(executable.lastPathComponent) \(arguments) did not finish in \(timeout) s") }
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
