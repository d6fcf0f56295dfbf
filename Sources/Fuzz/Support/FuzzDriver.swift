// The entry point shared by the fuzz harnesses in Sources/Fuzz. scripts/fuzz.sh compiles them with
// `-sanitize=fuzzer,address -DPANGU_FUZZ`: `runHarness` then hands control to libFuzzer's driver. A plain build
// (swift build / swift test) gives small programs that run each file named on the command line through the same
// code once, which is how a crash input is replayed in a debugger. See Docs/Fuzzing.md.
import Foundation

nonisolated(unsafe) private var harnessBody: (([UInt8]) -> Void)?
nonisolated(unsafe) private var scratchDirectories: [URL] = []

/// Runs `body` on every fuzz input (libFuzzer build) or on the contents of each file argument (plain build).
/// `body` must not throw for bad input: the parsers under test report bad input as thrown errors, which a
/// harness catches; anything else (a trap, a sanitizer report, a hang) is a finding.
public func runHarness(_ body: @escaping ([UInt8]) -> Void) -> Never {
    harnessBody = body
#if PANGU_FUZZ
    var argc = CommandLine.argc
    var argv = CommandLine.unsafeArgv
    exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in
        harnessBody?(size > 0 && data != nil ? Array(UnsafeBufferPointer(start: data, count: size)) : [])
        return 0
    })
#else
    for path in CommandLine.arguments.dropFirst() {
        guard let data = FileManager.default.contents(atPath: path) else {
            FileHandle.standardError.write(Data("cannot read \(path)\n".utf8))
            exit(2)
        }
        body([UInt8](data))
    }
    exit(0)
#endif
}

/// A violated property of the code under test (not a parse error): stops the fuzzer with a message.
public func fuzzCheck(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String) {
    if !condition() {
        FileHandle.standardError.write(Data("fuzz property violated: \(message())\n".utf8))
        abort()
    }
}

/// A scratch file for harnesses whose parser reads from a path: one per process, rewritten per input.
public final class ScratchFile {
    /// Path of the file (inside a private temporary directory).
    public let path: String
    /// The private directory holding it (harnesses may put sibling files there).
    public let directory: URL

    /// Creates a fresh directory under the system temporary directory; `name` is the file's name.
    public init(name: String) {
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("pangu-fuzz-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        try? FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        path = directory.appendingPathComponent(name).path
        scratchDirectories.append(directory)
        if scratchDirectories.count == 1 {
            atexit { for d in scratchDirectories { try? FileManager.default.removeItem(at: d) } }
        }
    }

    /// Replaces the file's contents (plain open/write/close: FileManager's atomic replace costs a rename per input).
    public func write(_ bytes: [UInt8]) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        fuzzCheck(fd >= 0, "cannot open \(path)")
        let written = bytes.withUnsafeBytes { Foundation.write(fd, $0.baseAddress, $0.count) }
        close(fd)
        fuzzCheck(written == bytes.count, "cannot write \(path)")
    }
}

#if PANGU_FUZZ
// libFuzzer's `main` (pulled in by -sanitize=fuzzer) references this symbol; ours is the one that runs.
@_cdecl("LLVMFuzzerTestOneInput")
public func LLVMFuzzerTestOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    harnessBody?(size > 0 && data != nil ? Array(UnsafeBufferPointer(start: data, count: size)) : [])
    return 0
}

@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>,
                         _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt
#endif
