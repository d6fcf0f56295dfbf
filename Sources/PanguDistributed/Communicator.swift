// A small Swift face on Open MPI: one world communicator per process, collectives on Swift arrays and raw buffers,
// every MPI error code turned into a thrown `DistributedError` naming the call. See Docs/ExpertParallel.md.
import CMPI
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Element types the collectives move, each mapped to one fixed-size MPI datatype.
public protocol DistributedScalar: BitwiseCopyable, Sendable {
    /// The matching fixed-size MPI datatype.
    static var distributedKind: DistributedScalarKind { get }
}

/// The fixed-size MPI datatypes the wrapper uses.
public enum DistributedScalarKind: Sendable {
    case float32, float64, int32, int64, uint8

    var datatype: MPI_Datatype? {
        switch self {
        case .float32: return cmpi_float()
        case .float64: return cmpi_double()
        case .int32: return cmpi_int32()
        case .int64: return cmpi_int64()
        case .uint8: return cmpi_uint8()
        }
    }
}

extension Float: DistributedScalar { public static var distributedKind: DistributedScalarKind { .float32 } }
extension Double: DistributedScalar { public static var distributedKind: DistributedScalarKind { .float64 } }
extension Int32: DistributedScalar { public static var distributedKind: DistributedScalarKind { .int32 } }
extension Int64: DistributedScalar { public static var distributedKind: DistributedScalarKind { .int64 } }
extension UInt8: DistributedScalar { public static var distributedKind: DistributedScalarKind { .uint8 } }
#if _pointerBitWidth(_64)
extension Int: DistributedScalar { public static var distributedKind: DistributedScalarKind { .int64 } }
#endif

/// Element-wise reduction of `Communicator.allreduce`.
public enum ReduceOperation: Sendable {
    case sum, max, min

    var op: MPI_Op? {
        switch self {
        case .sum: return cmpi_op_sum()
        case .max: return cmpi_op_max()
        case .min: return cmpi_op_min()
        }
    }
}

/// The MPI world of this process: its rank, the number of ranks and the collectives the expert-parallel model needs.
///
/// MPI is initialised by the first `world()` call and never before, so a process that does not ask for it (a
/// `pangu` run without `--expert-parallel`) never touches MPI. Thread level: the model thread calls MPI between
/// kernels while the thread pool's workers compute but never call MPI themselves, and under the server that model
/// thread need not be the thread that initialised MPI, so the engine asks for `MPI_THREAD_SERIALIZED` (not
/// FUNNELED); every call takes an internal lock, so calls from different threads are serialised as that level
/// requires. All ranks must make the same collective calls in the same order.
///
/// Errors: the world communicator uses `MPI_ERRORS_RETURN`, so a failed call throws `DistributedError.mpi` with the
/// call's name instead of aborting. `MPI_Init_thread` itself still aborts on failure (MPI defines no error handler
/// before initialisation). A rank that fails on its own (a bad file, say) must call `abort(code:)`: the other ranks
/// would otherwise wait forever in their next collective.
public final class Communicator: @unchecked Sendable {
    /// The thread level the engine asks `MPI_Init_thread` for.
    public static let requiredThreadLevel = "MPI_THREAD_SERIALIZED"

    /// This process's rank in the world, 0..<size. Rank 0 tokenises, samples and serves.
    public let rank: Int
    /// Number of ranks in the world.
    public let size: Int
    /// The thread level MPI provided (at least `requiredThreadLevel`).
    public let threadLevel: String

    // `@unchecked Sendable`: the handle is immutable and every use of it is under `callLock`.
    private let comm: MPI_Comm?
    private let callLock = Mutex<Void>(())
    private let finalized = Atomic<Bool>(false)  // set under callLock; read without it only by abort

    private enum Lifecycle { case idle, active(Communicator), finalized }
    private static let lifecycle = Mutex<Lifecycle>(.idle)

    private init(comm: MPI_Comm?, rank: Int, size: Int, threadLevel: String) {
        self.comm = comm
        self.rank = rank
        self.size = size
        self.threadLevel = threadLevel
    }

    /// The world communicator, initialising MPI (`MPI_Init_thread`, `MPI_THREAD_SERIALIZED`) on the first call.
    /// Without `mpirun` this gives a world of one rank (MPI's singleton mode).
    public static func world() throws -> Communicator {
        try lifecycle.withLock { state throws -> Communicator in
            switch state {
            case let .active(communicator): return communicator
            case .finalized: throw DistributedError.finalized
            case .idle: break
            }
            var initialized: Int32 = 0
            try check("MPI_Initialized", MPI_Initialized(&initialized))
            var provided: Int32 = 0
            if initialized == 0 {
                // Failure here aborts inside MPI: no error handler exists yet.
                try check("MPI_Init_thread", MPI_Init_thread(nil, nil, Int32(MPI_THREAD_SERIALIZED), &provided))
            } else {
                try check("MPI_Query_thread", MPI_Query_thread(&provided))
            }
            let world = cmpi_comm_world()
            try check("MPI_Comm_set_errhandler", MPI_Comm_set_errhandler(world, cmpi_errors_return()))
            guard provided >= Int32(MPI_THREAD_SERIALIZED) else {
                if initialized == 0 {  // ours to shut down; an MPI someone else started is left alone
                    _ = MPI_Finalize()
                    state = .finalized
                }
                throw DistributedError.threadSupport(provided: threadLevelName(provided),
                                                     required: requiredThreadLevel)
            }
            var rank: Int32 = 0, size: Int32 = 0
            try check("MPI_Comm_rank", MPI_Comm_rank(world, &rank))
            try check("MPI_Comm_size", MPI_Comm_size(world, &size))
            let communicator = Communicator(comm: world, rank: Int(rank), size: Int(size),
                                            threadLevel: threadLevelName(provided))
            state = .active(communicator)
            return communicator
        }
    }

    /// The number of processes the launcher started when this process runs under `mpirun`/`srun`
    /// (`OMPI_COMM_WORLD_SIZE`, `PMI_SIZE`), read from the environment without initialising MPI; nil otherwise.
    /// Lets a program refuse to run N copies of the whole model when `--expert-parallel` was forgotten.
    public static var launcherWorldSize: Int? {
        for key in ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE"] {
            if let raw = getenv(key), let n = Int(String(cString: raw)) { return n }
        }
        return nil
    }

    /// Blocks until every rank has called `barrier()`.
    public func barrier() throws {
        try locked { try check("MPI_Barrier", MPI_Barrier(comm)) }
    }

    /// Replaces `values` on every rank by rank `root`'s array (any length: the length is sent first).
    /// - Parameter idleWait: wait for the root by polling with short sleeps instead of MPI's busy spin. For ranks
    ///   that wait an unbounded time for the next command (between server requests); it adds up to about a
    ///   millisecond of latency, so not for per-token traffic. All ranks of one call must pass the same value (MPI
    ///   never matches a blocking broadcast with a non-blocking one).
    public func broadcast<T: DistributedScalar>(_ values: inout [T], root: Int = 0, idleWait: Bool = false) throws {
        try locked {
            var count = Int64(values.count)
            if idleWait {
                try idleBroadcast(&count, root: root)
            } else {
                try check("MPI_Bcast", MPI_Bcast(&count, 1, cmpi_int64(), Int32(clamping: root), comm))
            }
            guard count >= 0, count <= Int64(Int32.max) else {
                throw DistributedError.countTooLarge(call: "MPI_Bcast", count: Int(count))
            }
            if rank != root {
                values = [T](unsafeUninitializedCapacity: Int(count)) { buffer, initialized in
                    // Zero first so the array never holds uninitialised values if MPI fails below.
                    _ = UnsafeMutableRawBufferPointer(buffer).initializeMemory(as: UInt8.self, repeating: 0)
                    initialized = Int(count)
                }
            }
            try values.withUnsafeMutableBytes { raw in
                try check("MPI_Bcast", MPI_Bcast(raw.baseAddress, Int32(count), T.distributedKind.datatype,
                                                 Int32(clamping: root), comm))
            }
        }
    }

    /// Replaces `text` on every rank by rank `root`'s string (sent as UTF-8), e.g. a request rank 0 received.
    public func broadcast(_ text: inout String, root: Int = 0, idleWait: Bool = false) throws {
        var bytes = rank == root ? Array(text.utf8) : []
        try broadcast(&bytes, root: root, idleWait: idleWait)
        text = String(decoding: bytes, as: UTF8.self)
    }

    /// Overwrites `buffer` on every rank with rank `root`'s contents. Every rank passes a buffer of the same count
    /// (nothing is resized: the hot-path form for activations whose size all ranks already know).
    public func broadcast<T: DistributedScalar>(_ buffer: UnsafeMutableBufferPointer<T>, root: Int = 0) throws {
        let count = try mpiCount(buffer.count, call: "MPI_Bcast")
        try locked {
            try check("MPI_Bcast", MPI_Bcast(buffer.baseAddress, count, T.distributedKind.datatype,
                                             Int32(clamping: root), comm))
        }
    }

    /// Sums `count` floats element-wise over all ranks, in place: afterwards every rank holds the same total.
    /// This is the per-layer reduction of the partial attention and MoE outputs.
    public func allreduceSum(_ buffer: UnsafeMutablePointer<Float>, count: Int) throws {
        try allreduce(UnsafeMutableBufferPointer(start: buffer, count: count), .sum)
    }

    /// Reduces `buffer` element-wise over all ranks with `operation`, in place.
    public func allreduce<T: DistributedScalar>(_ buffer: UnsafeMutableBufferPointer<T>,
                                                _ operation: ReduceOperation) throws {
        let count = try mpiCount(buffer.count, call: "MPI_Allreduce")
        try locked {
            try check("MPI_Allreduce", MPI_Allreduce(cmpi_in_place(), buffer.baseAddress, count,
                                                     T.distributedKind.datatype, operation.op, comm))
        }
    }

    /// Reduces `values` element-wise over all ranks with `operation`; every rank passes the same count.
    public func allreduce<T: DistributedScalar>(_ values: inout [T], _ operation: ReduceOperation) throws {
        try values.withUnsafeMutableBufferPointer { try allreduce($0, operation) }
    }

    /// Concatenates every rank's `values` in rank order, on every rank. All ranks must pass the same count (checked:
    /// a mismatch throws on every rank instead of corrupting memory).
    public func allgather<T: DistributedScalar>(_ values: [T]) throws -> [T] {
        let count = try mpiCount(values.count, call: "MPI_Allgather")
        var counts = [Int64](repeating: 0, count: size)
        var mine = Int64(count)
        return try locked {
            try check("MPI_Allgather", MPI_Allgather(&mine, 1, cmpi_int64(), &counts, 1, cmpi_int64(), comm))
            guard counts.allSatisfy({ $0 == mine }) else {
                throw DistributedError.invalidArgument("allgather needs the same count on every rank, got \(counts)")
            }
            let total = try mpiCount(Int(count) * size, call: "MPI_Allgather")
            return try [T](unsafeUninitializedCapacity: Int(total)) { out, initialized in
                _ = UnsafeMutableRawBufferPointer(out).initializeMemory(as: UInt8.self, repeating: 0)
                initialized = Int(total)
                try values.withUnsafeBufferPointer { send in
                    try check("MPI_Allgather", MPI_Allgather(send.baseAddress, count, T.distributedKind.datatype,
                                                             out.baseAddress, count, T.distributedKind.datatype,
                                                             comm))
                }
            }
        }
    }

    /// Concatenates every rank's `values` in rank order on rank `root` (counts may differ between ranks, e.g. the
    /// logits of each rank's vocabulary rows); the other ranks get an empty array. The total must fit a 32-bit
    /// count (checked on every rank, so all ranks throw together rather than leave the root waiting).
    public func gather<T: DistributedScalar>(_ values: [T], root: Int = 0) throws -> [T] {
        let count = try mpiCount(values.count, call: "MPI_Gatherv")
        return try locked {
            var counts = [Int32](repeating: 0, count: size)
            var mine = count
            try check("MPI_Allgather", MPI_Allgather(&mine, 1, cmpi_int32(), &counts, 1, cmpi_int32(), comm))
            var displacements = [Int32](repeating: 0, count: size)
            var total = 0
            for r in 0..<size {
                displacements[r] = Int32(clamping: total)
                total += Int(counts[r])
            }
            guard total <= Int(Int32.max) else { throw DistributedError.countTooLarge(call: "MPI_Gatherv", count: total) }
            let isRoot = rank == root
            var out = [T](unsafeUninitializedCapacity: isRoot ? total : 0) { buffer, initialized in
                _ = UnsafeMutableRawBufferPointer(buffer).initializeMemory(as: UInt8.self, repeating: 0)
                initialized = buffer.count
            }
            try values.withUnsafeBufferPointer { send in
                try out.withUnsafeMutableBufferPointer { receive in
                    try check("MPI_Gatherv", MPI_Gatherv(send.baseAddress, count, T.distributedKind.datatype,
                                                         receive.baseAddress, counts, displacements,
                                                         T.distributedKind.datatype, Int32(clamping: root), comm))
                }
            }
            return out
        }
    }

    /// Ends the whole job (every rank) with `code`. For a rank that failed alone: the others are blocked in a
    /// collective and would never return.
    public func abort(code: Int32) -> Never {
        // Deliberately without the call lock: another thread of this rank may be blocked in a collective that will
        // never complete, and MPI_Abort is the way out. After MPI_Finalize no MPI call is allowed at all.
        if !finalized.load(ordering: .acquiring) { _ = MPI_Abort(comm, code) }
        exit(code)  // MPI_Abort does not return
    }

    /// Shuts MPI down (collective: every rank calls it). Later calls on this communicator throw `.finalized`.
    public func finalize() throws {
        try Communicator.lifecycle.withLock { state in
            try callLock.withLock { _ in
                guard !finalized.load(ordering: .acquiring) else { return }
                finalized.store(true, ordering: .releasing)
                try check("MPI_Finalize", MPI_Finalize())
            }
            state = .finalized
        }
    }

    /// A one-value broadcast that sleeps while it waits: MPI_Ibcast, then MPI_Test with sleeps growing from 20 µs
    /// to 1 ms (Open MPI's blocking calls spin a core at 100% for as long as they wait).
    private func idleBroadcast(_ value: inout Int64, root: Int) throws {
        // MPI writes the value after MPI_Ibcast returns, so it needs an address that outlives the call.
        let slot = UnsafeMutablePointer<Int64>.allocate(capacity: 1)
        slot.initialize(to: value)
        var request = cmpi_request_null()
        try check("MPI_Ibcast", MPI_Ibcast(slot, 1, cmpi_int64(), Int32(clamping: root), comm, &request))
        // An error below leaves the request pending, so the slot is never freed then (8 bytes, on a failed job).
        var done: Int32 = 0, pause = 20_000  // ns
        while true {
            try check("MPI_Test", MPI_Test(&request, &done, cmpi_status_ignore()))
            if done != 0 {
                value = slot.pointee
                slot.deallocate()
                return
            }
            var ts = timespec(tv_sec: 0, tv_nsec: pause)
            nanosleep(&ts, nil)
            pause = min(pause * 2, 1_000_000)
        }
    }

    /// Runs `body` holding the call lock (MPI_THREAD_SERIALIZED: one MPI call at a time in this process).
    private func locked<R>(_ body: () throws -> R) throws -> R {
        try callLock.withLock { _ throws -> R in
            if finalized.load(ordering: .acquiring) { throw DistributedError.finalized }
            return try body()
        }
    }

    private func mpiCount(_ count: Int, call: String) throws -> Int32 {
        guard count >= 0 else { throw DistributedError.invalidArgument("\(call): negative count \(count)") }
        guard count <= Int(Int32.max) else { throw DistributedError.countTooLarge(call: call, count: count) }
        return Int32(count)
    }
}

/// Throws `DistributedError.mpi` for an MPI return code other than `MPI_SUCCESS`.
private func check(_ call: String, _ code: Int32) throws {
    guard code != Int32(MPI_SUCCESS) else { return }
    var text = [CChar](repeating: 0, count: 1024)  // MPI_MAX_ERROR_STRING is 256 in Open MPI
    var length: Int32 = 0
    let message = MPI_Error_string(code, &text, &length) == Int32(MPI_SUCCESS)
        ? String(decoding: text.prefix(Int(length)).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        : "unknown error"
    throw DistributedError.mpi(call: call, code: code, message: message)
}

private func threadLevelName(_ level: Int32) -> String {
    switch level {
    case Int32(MPI_THREAD_SINGLE): return "MPI_THREAD_SINGLE"
    case Int32(MPI_THREAD_FUNNELED): return "MPI_THREAD_FUNNELED"
    case Int32(MPI_THREAD_SERIALIZED): return "MPI_THREAD_SERIALIZED"
    case Int32(MPI_THREAD_MULTIPLE): return "MPI_THREAD_MULTIPLE"
    default: return "level \(level)"
    }
}
