// mpi-selftest: runs every collective of `Communicator` under mpirun and checks each result against a closed form
// computed from the rank count alone. Rank 0 prints one summary line; any failed check aborts the whole job with a
// non-zero status. Usage: mpirun -np N mpi-selftest [--elements COUNT] [--expect-namespaces K] [--corrupt-rank R]
// (--corrupt-rank makes rank R add a wrong contribution to the sum, to show that a wrong result fails the job.)
import Foundation
import PanguDistributed

struct Options {
    var elements = 1_000_003  // allreduce length: large enough that Open MPI splits it into segments
    var expectNamespaces: Int?
    var corruptRank: Int?
}

func parse(_ args: [String]) -> Options? {
    var o = Options(), i = 0
    while i < args.count {
        guard i + 1 < args.count, let value = Int(args[i + 1]), value >= 0 else { return nil }
        switch args[i] {
        case "--elements": o.elements = value
        case "--expect-namespaces": o.expectNamespaces = value
        case "--corrupt-rank": o.corruptRank = value
        default: return nil
        }
        i += 2
    }
    return o
}

guard let options = parse(Array(CommandLine.arguments.dropFirst())) else {
    let usage = "usage: mpi-selftest [--elements N] [--expect-namespaces K] [--corrupt-rank R]\n"
    FileHandle.standardError.write(Data(usage.utf8))
    exit(2)
}

let comm: Communicator
do {
    comm = try Communicator.world()
} catch {
    FileHandle.standardError.write(Data("mpi-selftest: \(error)\n".utf8))
    exit(1)
}
let rank = comm.rank, size = comm.size

func fail(_ what: String) -> Never {
    FileHandle.standardError.write(Data("mpi-selftest rank \(rank)/\(size): FAILED: \(what)\n".utf8))
    comm.abort(code: 1)
}

func expect(_ ok: Bool, _ what: @autoclosure () -> String) {
    if !ok { fail(what()) }
}

func attempt<T>(_ what: String, _ body: () throws -> T) -> T {
    do { return try body() } catch { fail("\(what) threw \(error)") }
}

/// CPU time used by the whole process so far (all threads, including MPI's own).
func processCPUSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
}

/// The inode of this process's network namespace (distinct per `ip netns` "host").
func networkNamespace() -> Int {
    let link = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/net")) ?? ""
    return Int(link.filter(\.isNumber)) ?? -1  // "net:[4026531840]"
}

// 1. Rank and size agree with the launcher and with each other.
if let launched = Communicator.launcherWorldSize {
    expect(launched == size, "launcher started \(launched) processes, MPI has \(size) ranks")
}
let ranks = attempt("allgather of ranks") { try comm.allgather([rank]) }
expect(ranks == Array(0..<size), "allgather of ranks gave \(ranks)")

// 2. Broadcasts of each element type; receivers start empty and must end with the root's array.
let expectedInts = [size, 42, -7, Int.max, Int.min] + (0..<1000).map { $0 * $0 }
var ints: [Int] = rank == 0 ? expectedInts : []
attempt("broadcast [Int]") { try comm.broadcast(&ints) }
expect(ints == expectedInts, "broadcast [Int] from rank 0 differs")

let last = size - 1
var fromLast: [Int] = rank == last ? (0..<17).map { last * 1000 + $0 } : [1, 2, 3]
attempt("broadcast from the last rank") { try comm.broadcast(&fromLast, root: last) }
expect(fromLast == (0..<17).map { last * 1000 + $0 }, "broadcast from rank \(last) gave \(fromLast.prefix(4))…")

let expectedFloats = (0..<4097).map { Float($0) * 0.5 - 1000 }
var floats: [Float] = rank == 0 ? expectedFloats : [Float](repeating: .nan, count: 3)
attempt("broadcast [Float]") { try comm.broadcast(&floats) }
expect(floats == expectedFloats, "broadcast [Float] from rank 0 differs")

let text = "盘古 Pangu Pro MoE ✓"
var bytes: [UInt8] = rank == 0 ? Array(text.utf8) : []
attempt("broadcast bytes") { try comm.broadcast(&bytes) }
expect(String(decoding: bytes, as: UTF8.self) == text, "broadcast of UTF-8 bytes gave \(bytes)")
var request = rank == 0 ? "{\"prompt\": \"\(text)\"}" : "stale"
attempt("broadcast String") { try comm.broadcast(&request, idleWait: true) }
expect(request == "{\"prompt\": \"\(text)\"}", "broadcast of a String gave \(request)")

var fixed = [Float](repeating: Float(rank), count: 333)
if rank == 0 { for i in fixed.indices { fixed[i] = Float(i) } }
attempt("broadcast into a buffer") { try fixed.withUnsafeMutableBufferPointer { try comm.broadcast($0) } }
expect(fixed == (0..<333).map(Float.init), "fixed-size broadcast differs")

// An idle wait sleeps instead of spinning: rank 0 broadcasts after 0.4 s; the others must use far less CPU than
// that meanwhile (Open MPI's blocking wait would spin for all of it).
let idleStart = processCPUSeconds()
if rank == 0 { usleep(400_000) }
var command: [Int] = rank == 0 ? [7, 1, 2] : []
attempt("idle broadcast") { try comm.broadcast(&command, idleWait: true) }
let idleCPU = processCPUSeconds() - idleStart
expect(command == [7, 1, 2], "idle broadcast gave \(command)")
if rank != 0 { expect(idleCPU < 0.06, "waiting 0.4 s for an idle broadcast used \(idleCPU) s of CPU") }

// 3. In-place sum: rank r contributes (r+1)·(i mod 1024); the total is N(N+1)/2·(i mod 1024), exact in float.
let n = options.elements
let buffer = UnsafeMutablePointer<Float>.allocate(capacity: n)
defer { buffer.deallocate() }
for i in 0..<n { buffer[i] = Float((rank + 1) * (i % 1024)) }
if options.corruptRank == rank { buffer[n / 2] += 1 }
attempt("allreduceSum") { try comm.allreduceSum(buffer, count: n) }
let triangle = size * (size + 1) / 2
for i in 0..<n where buffer[i] != Float(triangle * (i % 1024)) {
    fail("allreduceSum element \(i) is \(buffer[i]), expected \(triangle * (i % 1024))")
}

var extremes = [rank, -rank, 7]
attempt("allreduce max") { try comm.allreduce(&extremes, .max) }
expect(extremes == [size - 1, 0, 7], "allreduce max gave \(extremes)")
var minima = [Double(rank) + 0.25]
attempt("allreduce min") { try comm.allreduce(&minima, .min) }
expect(minima == [0.25], "allreduce min gave \(minima)")

// Gather of unequal counts to rank 0: rank r sends r + 1 values r·100 + k.
let gathered = attempt("gather") { try comm.gather((0...rank).map { Float(rank * 100 + $0) }) }
let expectedGather = rank == 0 ? (0..<size).flatMap { r in (0...r).map { Float(r * 100 + $0) } } : []
expect(gathered == expectedGather, "gather gave \(gathered.prefix(8))…")

// 4. MPI_THREAD_SERIALIZED: a collective from a thread that did not initialise MPI, while other threads compute.
let done = DispatchSemaphore(value: 0)
nonisolated(unsafe) var fromThread: [Int32] = [Int32(rank), 1]
nonisolated(unsafe) var threadError: (any Error)?
let worker = Thread {
    do { try comm.allreduce(&fromThread, .sum) } catch { threadError = error }
    done.signal()
}
worker.start()
DispatchQueue.concurrentPerform(iterations: 4) { k in  // busy "thread pool" while the MPI thread works
    var x = Double(k)
    for _ in 0..<200_000 { x = x * 0.999 + 1 }
    if x < 0 { print(x) }
}
done.wait()
expect(threadError == nil, "allreduce on a second thread threw \(threadError.map { "\($0)" } ?? "")")
expect(fromThread == [Int32(size * (size - 1) / 2), Int32(size)], "allreduce on a second thread gave \(fromThread)")

// 5. Errors come back as thrown DistributedError values naming the call, on every rank, without aborting.
var bad: [Int] = [1]
do {
    try comm.broadcast(&bad, root: size)  // no such rank: MPI_ERR_ROOT
    fail("broadcast from rank \(size) did not throw")
} catch let DistributedError.mpi(call, code, message) {
    expect(call == "MPI_Bcast" && code != 0 && !message.isEmpty, "unexpected error \(call) \(code) \(message)")
} catch {
    fail("broadcast from rank \(size) threw \(error)")
}
if size > 1 {
    do {
        _ = try comm.allgather([Float](repeating: 0, count: rank + 1))
        fail("allgather of unequal counts did not throw")
    } catch DistributedError.invalidArgument {
    } catch {
        fail("allgather of unequal counts threw \(error)")
    }
}

// 6. Where the ranks run (the two-host script checks that they span two network namespaces).
let namespaces = attempt("allgather of namespaces") { try comm.allgather([networkNamespace()]) }
let distinct = Set(namespaces).count
if let want = options.expectNamespaces {
    expect(distinct == want, "ranks span \(distinct) network namespaces \(namespaces), expected \(want)")
}

attempt("barrier") { try comm.barrier() }
attempt("finalize") { try comm.finalize() }
do {
    try comm.barrier()
    FileHandle.standardError.write(Data("mpi-selftest rank \(rank): barrier after finalize did not throw\n".utf8))
    exit(1)
} catch DistributedError.finalized {
} catch {
    FileHandle.standardError.write(Data("mpi-selftest rank \(rank): barrier after finalize threw \(error)\n".utf8))
    exit(1)
}
if rank == 0 {
    print("mpi-selftest: \(size) ranks, \(comm.threadLevel), \(distinct) network namespace(s), all checks passed")
}
