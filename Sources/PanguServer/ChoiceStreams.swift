// Runs the n sequences of one request and merges their events into one stream tagged with the choice index.
// Cancelling (client gone, handler done) cancels every sequence: their service streams terminate, which frees
// their slots in the scheduler.
import PanguEngine
import Synchronization

/// The merged event streams of one request's choices.
final class ChoiceStreams: Sendable {
    let events: AsyncThrowingStream<(choice: Int, event: GenerationEvent), Error>
    private let task: Mutex<Task<Void, Never>?>

    /// Submits every request (all or none: a refused submission drops the streams already opened).
    init(_ requests: [GenerationRequest], model: ServerModel, metrics: ServerMetrics) throws {
        var streams: [AsyncThrowingStream<GenerationEvent, Error>] = []
        for r in requests { streams.append(try model.submit(r)) }
        let (events, continuation) = AsyncThrowingStream<(choice: Int, event: GenerationEvent), Error>.makeStream()
        self.events = events
        let opened = streams
        metrics.activeSequences.add(opened.count, ordering: .relaxed)
        let t = Task {
            do {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for (i, s) in opened.enumerated() {
                        group.addTask {
                            defer { metrics.activeSequences.subtract(1, ordering: .relaxed) }
                            for try await e in s {
                                if case let .finished(sum) = e {
                                    metrics.sequence(promptTokens: sum.promptTokens, cachedPromptTokens: sum.cachedPromptTokens,
                                                     completionTokens: sum.completionTokens,
                                                     timeToFirstToken: sum.completionTokens > 0 ? sum.timeToFirstToken : nil)
                                }
                                continuation.yield((i, e))
                            }
                        }
                    }
                    try await group.waitForAll()
                }
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
        }
        task = Mutex(t)
        continuation.onTermination = { _ in t.cancel() }
    }

    /// Stops every sequence still running.
    func cancel() {
        task.withLock { $0?.cancel() }
    }

    deinit { cancel() }
}
