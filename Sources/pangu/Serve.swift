// `pangu serve`: loads the model into the continuous-batching Scheduler and serves it over the OpenAI-compatible
// HTTP API of PanguServer (Docs/Server.md).
import ArgumentParser
import Foundation
import PanguEngine
import PanguModels
import PanguTensor
import PanguServer
import Synchronization

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "OpenAI-compatible HTTP server (chat and text completions, streaming, tools, JSON output).",
        discussion: "See Docs/Server.md for the routes, request fields and metrics.")

    @OptionGroup var options: ModelOptions
    @Option(help: "Address to listen on.") var host = "127.0.0.1"
    @Option(help: "TCP port (0 picks a free one; the bound port is logged).") var port = 8080
    @Option(help: "Sequences decoded together.") var parallel = 4
    @Option(help: "Most tokens (prompt + output) per request. Default: the model's context length.") var context: Int?
    @Option(help: "Most requests waiting for a slot; more get 503 with Retry-After.") var maxWaiting = 64
    @Option(help: "KV cache budget in token positions, all sequences together. Default: parallel × context.")
    var kvPositions: Int?
    @Option(help: "Require 'Authorization: Bearer KEY' on every route but /health (default: $PANGU_API_KEY).")
    var apiKey: String?
    @Option(help: "Model id reported by /v1/models. Default: the file or directory name.") var modelName: String?
    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.") var logLevel = "info"
    @OptionGroup(title: "Speculative decoding (every request)") var speculative: SpeculativeOptions

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be between 0 and 65535, got \(port)") }
        guard parallel >= 1 else { throw ValidationError("--parallel must be at least 1, got \(parallel)") }
        if let context, context < 2 { throw ValidationError("--context must be at least 2, got \(context)") }
        if let kvPositions, kvPositions < 2 { throw ValidationError("--kv-positions must be at least 2, got \(kvPositions)") }
        guard KVElementType(rawValue: options.cacheType) != nil else {
            throw ValidationError("--cache-type must be one of f32, f16, q8_0 (got '\(options.cacheType)')")
        }
        guard maxWaiting >= 0 else { throw ValidationError("--max-waiting must be at least 0, got \(maxWaiting)") }
        guard PanguServer.logLevels.contains(logLevel) else { throw ValidationError("unknown --log-level '\(logLevel)'") }
        try speculative.validate()
    }

    func run() async throws {
        // Expert parallelism: every rank loads its slice before any listening; ranks other than 0 never return from
        // load() (they follow rank 0's steps), so only rank 0 serves HTTP. Docs/ExpertParallel.md.
        let split: LoadedModel? = options.expertParallel ? try options.load() : nil
        defer { if let split { options.finish(split) } }
        if split == nil { try ExpertParallelLaunch.refuseLauncherWithoutFlag() }
        PanguServer.bootstrapLogging(level: logLevel)
        let key = apiKey ?? ProcessInfo.processInfo.environment["PANGU_API_KEY"].flatMap { $0.isEmpty ? nil : $0 }
        let server = PanguServer(configuration: ServerConfiguration(host: host, port: port, apiKey: key))
        let id = modelName ?? options.model.map { URL(fileURLWithPath: $0).deletingPathExtension().lastPathComponent } ?? "pangu-tiny"
        let scheduler = Mutex<Scheduler?>(nil)
        let (path, parallel, context, maxWaiting) = (options.model, self.parallel, self.context, self.maxWaiting)
        let (cacheType, kvPositions) = (options.cacheType, self.kvPositions)
        let host = self.host
        let (draftModel, lookupNgram, draftMax) = (speculative.draftModel, speculative.lookupNgram, speculative.draftMax)
        let costAware = speculative.costAware
        try await server.run(onListening: { port in
            FileHandle.standardError.write(Data("pangu serve: listening on http://\(host):\(port) (loading \(id))\n".utf8))
        }, load: {
            let engine = try Engine(loaded: split ?? ModelOptions.load(path: path, quiet: true, cacheType: cacheType))
            let s = try Scheduler(engine: engine, configuration: Scheduler.Configuration(
                parallel: parallel, maxWaiting: maxWaiting, contextLimit: context, kvPositions: kvPositions,
                speculation: SpeculativeOptions.schedulerSpeculation(for: engine, draftModel: draftModel,
                                                                     lookupNgram: lookupNgram, draftMax: draftMax,
                                                                     costAware: costAware)))
            scheduler.withLock { $0 = s }
            var m = ServerModel(id: id, tokenizer: engine.tokenizer, templates: engine.templates,
                                contextLength: s.configuration.contextLimit ?? engine.model.info.contextLength,
                                defaultSampling: engine.loaded.generationConfig.sampling, service: s,
                                constraints: ServerModel.grammarConstraints(engine: engine),
                                created: Int(Date().timeIntervalSince1970))
            m.load = {
                let c = s.metrics
                return ServiceLoad(running: c.running, waiting: c.waiting, draftedTokens: c.draftedTokens,
                                   acceptedDraftTokens: c.acceptedDraftTokens)
            }
            return m
        }, onShutdown: {
            if let s = scheduler.withLock({ $0 }) { await s.shutdown(cancelInFlight: true) }
        })
    }
}
