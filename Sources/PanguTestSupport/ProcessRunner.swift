// Running a built executable from a test, directly or under `mpirun`, with a hard timeout.
import Foundation

/// Exit status and output of a finished process.
public struct ProcessOutcome {
    public var status: Int32
    public var out: String
    public var err: String
    /// True when the process was killed at the timeout.
    public var timedOut: Bool
}

/// Runs `executable` with `arguments`, standard input `stdin`, extra environment `env`; kills it (and, for mpirun,
/// its ranks) after `timeout` seconds. Output goes through files, so a chatty process never blocks on a full pipe.
public func runProcess(_ executable: URL, _ arguments: [String], stdin: String? = nil, env: [String: String] = [:],
                       timeout: TimeInterval = 180) throws -> ProcessOutcome {
    let dir = try makeTemporaryDirectory("pangu-process")
    defer { try? FileManager.default.removeItem(at: dir) }
    let outURL = dir.appendingPathComponent("out"), errURL = dir.appendingPathComponent("err")
    let inURL = dir.appendingPathComponent("in")
    _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
    _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
    _ = FileManager.default.createFile(atPath: inURL.path, contents: Data((stdin ?? "").utf8))
    let p = Process()
    p.executableURL = executable
    p.arguments = arguments
    var environment = ProcessInfo.processInfo.environment
    for (k, v) in env { environment[k] = v }
    p.environment = environment
    p.standardOutput = try FileHandle(forWritingTo: outURL)
    p.standardError = try FileHandle(forWritingTo: errURL)
    p.standardInput = try FileHandle(forReadingFrom: inURL)
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
    return ProcessOutcome(status: p.terminationStatus,
                          out: (try? String(contentsOf: outURL, encoding: .utf8)) ?? "",
                          err: (try? String(contentsOf: errURL, encoding: .utf8)) ?? "", timedOut: timedOut)
}

/// Open MPI's launcher with settings that work on one machine in a container.
public enum MPILaunch {
    /// `mpirun` from PATH (Debian openmpi-bin), or nil.
    public static var launcher: URL? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for dir in path.split(separator: ":") {
            let candidate = URL(fileURLWithPath: String(dir)).appendingPathComponent("mpirun")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        return nil
    }

    /// TCP over loopback (no shared-memory or InfiniBand transports), no ssh agent, more ranks than cores
    /// allowed, no pinning of ranks to cores.
    public static func arguments(ranks: Int) -> [String] {
        ["-np", String(ranks), "--oversubscribe", "--bind-to", "none", "--allow-run-as-root",
         "--mca", "pml", "ob1", "--mca", "btl", "self,tcp", "--mca", "btl_tcp_if_include", "lo",
         "--mca", "oob_tcp_if_include", "lo", "--mca", "plm_rsh_agent", "false"]
    }

    /// Environment that lets Open MPI run as root (CI containers).
    public static let environment = ["OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1"]
}
