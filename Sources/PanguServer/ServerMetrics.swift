// Prometheus metrics through swift-metrics: the handlers come from a PrometheusMetricsFactory bound to this
// server's own registry (not the process-wide MetricsSystem), so several servers (tests) never share counters.
import CoreMetrics
import Foundation
import Metrics
import Prometheus
import Synchronization

/// The server's metrics and their Prometheus registry.
final class ServerMetrics: Sendable {
    let registry = PrometheusCollectorRegistry()
    private let factory: PrometheusMetricsFactory
    private let promptTokens: CoreMetrics.Counter
    private let generatedTokens: CoreMetrics.Counter
    private let cachedPromptTokens: CoreMetrics.Counter
    private let timeToFirstToken: CoreMetrics.Timer
    private let running: CoreMetrics.Gauge
    private let waiting: CoreMetrics.Gauge
    private let draftTokens: CoreMetrics.Counter
    private let acceptedDraftTokens: CoreMetrics.Counter
    /// The service's speculative totals already added to the two counters above.
    private let countedDrafts = Mutex<(drafted: Int, accepted: Int)>((0, 0))
    private let requestCounters = Mutex<[String: CoreMetrics.Counter]>([:])
    /// Sequences this server is streaming right now (the running count when the service reports none).
    let activeSequences = Atomic<Int>(0)

    init() {
        var f = PrometheusMetricsFactory(registry: registry)
        // Seconds, from a tiny model's milliseconds to a long prompt's minutes.
        f.durationHistogramBuckets["pangu_time_to_first_token_seconds"] =
            [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60].map { Duration.milliseconds($0 * 1000) }
        factory = f
        promptTokens = CoreMetrics.Counter(label: "pangu_prompt_tokens_total", factory: f)
        cachedPromptTokens = CoreMetrics.Counter(label: "pangu_prompt_tokens_cached_total", factory: f)
        generatedTokens = CoreMetrics.Counter(label: "pangu_generation_tokens_total", factory: f)
        timeToFirstToken = CoreMetrics.Timer(label: "pangu_time_to_first_token_seconds", factory: f)
        running = CoreMetrics.Gauge(label: "pangu_sequences_running", factory: f)
        waiting = CoreMetrics.Gauge(label: "pangu_sequences_waiting", factory: f)
        draftTokens = CoreMetrics.Counter(label: "pangu_speculative_draft_tokens_total", factory: f)
        acceptedDraftTokens = CoreMetrics.Counter(label: "pangu_speculative_accepted_tokens_total", factory: f)
    }

    /// Counts one finished HTTP request.
    func request(route: String, method: String, status: Int) {
        let key = "\(method) \(route) \(status)"
        let counter = requestCounters.withLock { counters in
            if let c = counters[key] { return c }
            let c = CoreMetrics.Counter(label: "pangu_http_requests_total",
                            dimensions: [("route", route), ("method", method), ("status", String(status))], factory: factory)
            counters[key] = c
            return c
        }
        counter.increment()
    }

    /// Records a finished sequence.
    func sequence(promptTokens p: Int, cachedPromptTokens c: Int, completionTokens g: Int, timeToFirstToken ttft: Double?) {
        promptTokens.increment(by: p)
        cachedPromptTokens.increment(by: c)
        generatedTokens.increment(by: g)
        if let ttft, ttft.isFinite, ttft >= 0 { timeToFirstToken.recordNanoseconds(Int64(ttft * 1e9)) }
    }

    /// The text exposition, after refreshing the gauges.
    func exposition(load: ServiceLoad?) -> String {
        running.record(load?.running ?? activeSequences.load(ordering: .relaxed))
        waiting.record(load?.waiting ?? 0)
        if let load {
            let (d, a) = countedDrafts.withLock { seen -> (Int, Int) in
                let delta = (max(0, load.draftedTokens - seen.drafted), max(0, load.acceptedDraftTokens - seen.accepted))
                seen = (max(seen.drafted, load.draftedTokens), max(seen.accepted, load.acceptedDraftTokens))
                return delta
            }
            draftTokens.increment(by: d)
            acceptedDraftTokens.increment(by: a)
        }
        var out: [UInt8] = []
        registry.emit(into: &out)
        return String(decoding: out, as: UTF8.self)
    }
}
