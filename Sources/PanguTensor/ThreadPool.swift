// A persistent pool of worker threads for data-parallel kernels.
//
// Why not `DispatchQueue.concurrentPerform`? For the 0.1–1 ms matvecs of decode it rarely wakes a second
// thread (see Docs/Performance.md). Here workers stay alive, spin briefly between jobs (a decode step issues
// hundreds of kernels back to back) and then sleep on a condition variable so an idle server costs no CPU.
// The caller always takes part; chunks are handed out from an atomic counter (work stealing), so a worker that
// was descheduled by another process just takes fewer chunks.
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Synchronization

/// A fixed set of worker threads that run `parallelFor` jobs together with the calling thread.
public final class ThreadPool: @unchecked Sendable {
    /// The process-wide pool used by the kernels (one pool per process: two spinning pools starve each other).
    /// Its size is ``configureShared(threads:)``'s value if that was called first, else ``defaultThreadCount``.
    public static let shared: ThreadPool = {
        let n = sharedConfiguration.withLock { c in
            c.created = true
            return c.threads
        }
        return ThreadPool(threads: n ?? defaultThreadCount)
    }()

    private static let sharedConfiguration = Mutex<(threads: Int?, created: Bool)>((nil, false))

    /// Sets the size of ``shared`` before its first use (e.g. from a `--threads` option). Returns false, changing
    /// nothing, when `threads` < 1 or the shared pool already exists (its size can no longer change).
    @discardableResult
    public static func configureShared(threads: Int) -> Bool {
        sharedConfiguration.withLock { c in
            guard threads >= 1, !c.created else { return false }
            c.threads = threads
            return true
        }
    }

    /// Threads to use by default: `PANGU_THREADS` if set, else the number of online CPUs.
    public static var defaultThreadCount: Int {
        if let s = getenv("PANGU_THREADS"), let n = Int(String(cString: s)), n > 0 { return n }
        return max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }

    private let core: PoolCore

    /// Number of threads that execute a job, the caller included.
    public var threadCount: Int { core.threadCount }

    /// Creates a pool that runs jobs on `threads` threads (the caller plus `threads - 1` workers).
    public init(threads: Int) { core = PoolCore(threads: threads) }

    /// Runs `body(chunk)` for every chunk in `0..<chunks`, spread over the pool; returns when all are done.
    /// `body` must be safe to call concurrently for different chunks. Jobs from different callers are serialised.
    /// `threads` caps the threads used for this job.
    public func parallelFor(chunks: Int, threads: Int? = nil, _ body: (Int) -> Void) {
        core.parallelFor(chunks: chunks, threads: threads, body)
    }

    deinit { core.shutdown() }
}

/// The shared state of a pool; workers keep it alive until `shutdown`.
final class PoolCore: @unchecked Sendable {
    let threadCount: Int
    private let stopping = Atomic<Bool>(false)

    // Job state. `generation` is odd while a job is open and even when closed.
    private let generation = Atomic<Int>(0)
    private let nextChunk = Atomic<Int>(0)
    private let doneChunks = Atomic<Int>(0)
    private let activeWorkers = Atomic<Int>(0)
    private let sleepers = Atomic<Int>(0)
    private var chunkCount = 0
    private var body: ((Int) -> Void)?
    private var mutex = pthread_mutex_t()
    private var cond = pthread_cond_t()
    private let submitLock = Mutex<Void>(())
    /// Active worker count: a caller may use fewer threads than the pool has for one job.
    private let jobThreads = Atomic<Int>(0)

    init(threads: Int) {
        threadCount = max(1, threads)
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&cond, nil)
        for index in 1..<threadCount {
            let box = Unmanaged.passRetained(WorkerContext(pool: self, index: index))
            var tid = pthread_t()
            pthread_create(&tid, nil, { raw in
                let context = Unmanaged<WorkerContext>.fromOpaque(raw!).takeRetainedValue()
                context.pool.workerLoop(index: context.index)
                return nil
            }, box.toOpaque())
            pthread_detach(tid)
        }
    }

    private final class WorkerContext {
        let pool: PoolCore
        let index: Int
        init(pool: PoolCore, index: Int) { self.pool = pool; self.index = index }
    }

    /// Wakes the workers and lets them exit.
    func shutdown() {
        stopping.store(true, ordering: .sequentiallyConsistent)
        generation.add(2, ordering: .sequentiallyConsistent)
        pthread_mutex_lock(&mutex)
        pthread_cond_broadcast(&cond)
        pthread_mutex_unlock(&mutex)
    }

    func parallelFor(chunks: Int, threads: Int? = nil, _ body: (Int) -> Void) {
        let useThreads = min(threads ?? threadCount, threadCount)
        if chunks <= 0 { return }
        if chunks == 1 || useThreads <= 1 {
            for c in 0..<chunks { body(c) }
            return
        }
        submitLock.withLock { _ in
            withoutActuallyEscaping(body) { escapable in
                self.body = escapable
                self.chunkCount = chunks
                self.jobThreads.store(useThreads, ordering: .sequentiallyConsistent)
                self.nextChunk.store(0, ordering: .sequentiallyConsistent)
                self.doneChunks.store(0, ordering: .sequentiallyConsistent)
                self.generation.add(1, ordering: .sequentiallyConsistent)  // open (odd)
                if self.sleepers.load(ordering: .sequentiallyConsistent) > 0 {
                    pthread_mutex_lock(&self.mutex)
                    pthread_cond_broadcast(&self.cond)
                    pthread_mutex_unlock(&self.mutex)
                }
                self.runChunks()
                var spins = 0
                while self.doneChunks.load(ordering: .sequentiallyConsistent) < chunks {
                    spins += 1
                    if spins > 1_000_000 { sched_yield() }
                }
                self.generation.add(1, ordering: .sequentiallyConsistent)  // close (even)
                while self.activeWorkers.load(ordering: .sequentiallyConsistent) > 0 { sched_yield() }
                self.body = nil
            }
        }
    }

    private func runChunks() {
        let body = self.body!
        let count = chunkCount
        while true {
            let c = nextChunk.add(1, ordering: .sequentiallyConsistent).oldValue
            if c >= count { break }
            body(c)
            doneChunks.add(1, ordering: .sequentiallyConsistent)
        }
    }

    private func workerLoop(index: Int) {
        var seen = 0
        while true {
            // Wait for a new open generation: spin, then yield, then sleep.
            var polls = 0
            var g = generation.load(ordering: .sequentiallyConsistent)
            while g == seen || g & 1 == 0 {
                if stopping.load(ordering: .sequentiallyConsistent) { return }
                polls += 1
                if polls < 20_000 {
                    spinHint()
                } else if polls < 22_000 {
                    sched_yield()
                } else {
                    pthread_mutex_lock(&mutex)
                    sleepers.add(1, ordering: .sequentiallyConsistent)
                    g = generation.load(ordering: .sequentiallyConsistent)
                    if (g == seen || g & 1 == 0) && !stopping.load(ordering: .sequentiallyConsistent) {
                        pthread_cond_wait(&cond, &mutex)
                    }
                    sleepers.subtract(1, ordering: .sequentiallyConsistent)
                    pthread_mutex_unlock(&mutex)
                    polls = 0
                }
                g = generation.load(ordering: .sequentiallyConsistent)
            }
            seen = g
            if index >= jobThreads.load(ordering: .sequentiallyConsistent) { continue }
            // Join, then re-check the job is still open (the caller waits for activeWorkers == 0 after closing).
            activeWorkers.add(1, ordering: .sequentiallyConsistent)
            if generation.load(ordering: .sequentiallyConsistent) == g { runChunks() }
            activeWorkers.subtract(1, ordering: .sequentiallyConsistent)
        }
    }

    @inline(never) private func spinHint() {
        // An opaque call keeps the spin loop from being optimised into a tight load loop; ~ns per poll.
    }
}
