// A scripted GenerationService for the server's route tests: each request gets the events a script returns,
// optionally with a pause between them, and the fake records what it was asked and which streams the client
// dropped.
import Foundation
import PanguEngine
import Synchronization

/// Plays scripted events for every submitted request.
public final class FakeGenerationService: GenerationService, Sendable {
    /// What a request produces: deltas in order, then the finish reason. nil from the script = refuse with `error`.
    public struct Script: Sendable {
        public var deltas: [GenerationDelta]
        public var finish: GenerationFinish
        /// Pause before each delta (to test disconnects mid-stream).
        public var pause: Duration = .zero
        /// When set, the stream ends with this error after the deltas instead of a summary.
        public var failure: (any Error & Sendable)?
        /// Creates a script.
        public init(deltas: [GenerationDelta], finish: GenerationFinish, pause: Duration = .zero,
                    failure: (any Error & Sendable)? = nil) {
            self.deltas = deltas
            self.finish = finish
            self.pause = pause
            self.failure = failure
        }
    }

    private let script: @Sendable (GenerationRequest) throws -> Script
    private let state = Mutex<(requests: [GenerationRequest], cancelled: Int, finished: Int)>(([], 0, 0))

    /// Creates a fake; `script` may throw to refuse a submission (queue full...).
    public init(script: @escaping @Sendable (GenerationRequest) throws -> Script) {
        self.script = script
    }

    /// Requests submitted so far.
    public var requests: [GenerationRequest] { state.withLock { $0.requests } }
    /// Streams the consumer dropped before the end.
    public var cancelledCount: Int { state.withLock { $0.cancelled } }
    /// Streams played to the end.
    public var finishedCount: Int { state.withLock { $0.finished } }

    public func submit(_ request: GenerationRequest) throws -> AsyncThrowingStream<GenerationEvent, Error> {
        let s = try script(request)
        state.withLock { $0.requests.append(request) }
        let (stream, continuation) = AsyncThrowingStream<GenerationEvent, Error>.makeStream()
        let task = Task { [self] in
            var completion = 0
            for d in s.deltas {
                if s.pause > .zero { try? await Task.sleep(for: s.pause) }
                if Task.isCancelled { return }
                completion += max(1, d.logprobs.count)
                continuation.yield(.delta(d))
            }
            if let failure = s.failure {
                continuation.finish(throwing: failure)
                return
            }
            continuation.yield(.finished(GenerationSummary(
                finish: s.finish, promptTokens: request.prompt.count, cachedPromptTokens: 0,
                completionTokens: min(completion, request.maxTokens), timeToFirstToken: 0.01)))
            state.withLock { $0.finished += 1 }
            continuation.finish()
        }
        continuation.onTermination = { [self] reason in
            if case .cancelled = reason {
                task.cancel()
                state.withLock { $0.cancelled += 1 }
            }
        }
        return stream
    }

    /// A delta with answer text.
    public static func content(_ text: String) -> GenerationDelta {
        var d = GenerationDelta()
        d.content = text
        return d
    }

    /// A delta with reasoning text.
    public static func reasoning(_ text: String) -> GenerationDelta {
        var d = GenerationDelta()
        d.reasoning = text
        return d
    }
}
