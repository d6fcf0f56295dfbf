// `pangu serve`: an OpenAI-compatible HTTP server on Hummingbird 2. It listens before the model is loaded
// (/health answers 503 until then), authenticates with an optional API key, logs every request with swift-log,
// counts it in Prometheus metrics, and shuts down gracefully on SIGINT/SIGTERM through swift-service-lifecycle.
import Foundation
import Hummingbird
import Logging
import NIOCore
import PanguChat
import PanguEngine
import ServiceLifecycle
import Synchronization

/// Listening address and policies of the server.
public struct ServerConfiguration: Sendable {
    /// Address to bind (`127.0.0.1` by default: reachable from this machine only).
    public var host = "127.0.0.1"
    /// TCP port; 0 picks a free one (see ``PanguServer/run(configuration:onListening:load:)``).
    public var port = 8080
    /// When set, every route but `/health` requires `Authorization: Bearer <apiKey>`.
    public var apiKey: String?
    /// Largest accepted request body.
    public var maxBodyBytes = 32 << 20
    /// How long in-flight streams may run after SIGINT/SIGTERM before they are cancelled.
    public var shutdownGracePeriod: Duration = .seconds(30)

    /// Creates a configuration.
    public init(host: String = "127.0.0.1", port: Int = 8080, apiKey: String? = nil) {
        self.host = host
        self.port = port
        self.apiKey = apiKey
    }
}

/// The OpenAI-compatible server: routes, middleware and the loaded model.
public final class PanguServer: Sendable {
    let configuration: ServerConfiguration
    let logger: Logger
    let metrics = ServerMetrics()
    private let model = Mutex<ServerModel?>(nil)

    /// Creates a server with no model yet (every model route answers 503 until ``setModel(_:)``).
    public init(configuration: ServerConfiguration, logger: Logger = Logger(label: "pangu.server")) {
        self.configuration = configuration
        self.logger = logger
    }

    /// Makes `model` the served model; `/health` answers 200 from now on.
    public func setModel(_ model: ServerModel) {
        self.model.withLock { $0 = model }
    }

    /// The loaded model, or 503 while loading.
    func loaded() throws -> ServerModel {
        guard let m = model.withLock({ $0 }) else {
            throw APIError.unavailable("The model is still loading", retryAfterSeconds: 5, code: "model_loading")
        }
        return m
    }

    /// The router with every route and middleware.
    public func makeRouter() -> Router<BasicRequestContext> {
        let router = Router()
        router.add(middleware: RequestMiddleware(server: self))
        router.get("/health") { _, _ in
            _ = try self.loaded()
            return self.jsonResponse(JSON.object([("status", "ok")]))
        }
        router.get("/metrics") { _, _ in
            let load = self.model.withLock { $0?.load?() }
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                            body: ResponseBody(byteBuffer: ByteBuffer(string: self.metrics.exposition(load: load))))
        }
        router.get("/v1/models") { _, _ in
            let m = try self.loaded()
            return self.jsonResponse(JSON.object([("object", "list"), ("data", .array([self.modelObject(m)]))]))
        }
        router.get("/v1/models/{id}") { _, context in
            let m = try self.loaded()
            let id = context.parameters.get("id") ?? ""
            try m.check(model: id)
            return self.jsonResponse(self.modelObject(m))
        }
        router.post("/v1/chat/completions") { request, context in
            let (f, m) = try await self.body(request, context)
            return try await self.chatCompletions(f, model: m)
        }
        router.post("/v1/completions") { request, context in
            let (f, m) = try await self.body(request, context)
            return try await self.completions(f, model: m)
        }
        router.post("/tokenize") { request, context in
            let (f, m) = try await self.body(request, context)
            return self.jsonResponse(try Self.tokenize(f, model: m))
        }
        router.post("/detokenize") { request, context in
            let (f, m) = try await self.body(request, context)
            return self.jsonResponse(try Self.detokenize(f, model: m))
        }
        return router
    }

    func modelObject(_ m: ServerModel) -> JinjaValue {
        JSON.object([("id", .string(m.id)), ("object", "model"), ("created", .int(m.created)), ("owned_by", "pangu"),
                     ("max_model_len", .int(m.contextLength))])
    }

    /// Reads and parses a JSON body (after checking the model is loaded).
    func body(_ request: Request, _ context: BasicRequestContext) async throws -> (RequestFields, ServerModel) {
        let m = try loaded()
        let buffer = try await request.body.collect(upTo: configuration.maxBodyBytes)
        return (try RequestFields.parse(body: String(buffer: buffer)), m)
    }

    /// llama-server's `/tokenize`: `{"content", "add_special"?, "with_pieces"?}` → `{"tokens": [...]}`
    /// (with pieces: `[{"id", "piece"}]`, the piece as a string, or as its bytes when not valid UTF-8 alone).
    static func tokenize(_ f: RequestFields, model m: ServerModel) throws -> JinjaValue {
        guard let content = try f.string("content") else {
            throw APIError.invalid("Missing required parameter: 'content'", param: "content", code: "missing_required_parameter")
        }
        let ids = m.tokenizer.encode(content, addSpecialTokens: try f.bool("add_special") ?? false)
        guard try f.bool("with_pieces") ?? false else {
            return JSON.object([("tokens", .array(ids.map { .int($0) }))])
        }
        let tokens: [JinjaValue] = ids.map { id in
            let bytes = Array(m.tokenizer.decode([id]).utf8)
            let piece: JinjaValue = String(validating: bytes, as: UTF8.self).map { .string($0) } ?? .array(bytes.map { .int(Int($0)) })
            return JSON.object([("id", .int(id)), ("piece", piece)])
        }
        return JSON.object([("tokens", .array(tokens))])
    }

    /// llama-server's `/detokenize`: `{"tokens": [ids]}` → `{"content": text}`.
    static func detokenize(_ f: RequestFields, model m: ServerModel) throws -> JinjaValue {
        guard let raw = try f.array("tokens") else {
            throw APIError.invalid("Missing required parameter: 'tokens'", param: "tokens", code: "missing_required_parameter")
        }
        let ids = try raw.enumerated().map { i, v -> Int in
            guard case let .int(id) = v, id >= 0, id < m.tokenizer.vocabularySize else {
                throw APIError.invalid("'tokens[\(i)]' must be a token id between 0 and \(m.tokenizer.vocabularySize - 1)",
                                       param: "tokens", code: "invalid_value")
            }
            return id
        }
        return JSON.object([("content", .string(m.tokenizer.decode(ids)))])
    }

    /// Binds, reports the bound port through `onListening`, loads the model with `load` (on its own thread, while
    /// already answering /health with 503), and serves until SIGINT/SIGTERM. Returns after a graceful shutdown;
    /// throws when binding or loading fails.
    /// `onShutdown` runs after the HTTP server has stopped (stop the generation service there).
    public func run(onListening: @escaping @Sendable (Int) async -> Void = { _ in },
                    load: @escaping @Sendable () throws -> ServerModel,
                    onShutdown: @escaping @Sendable () async -> Void = {}) async throws {
        let app = Application(
            router: makeRouter(),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port),
                                 serverName: "pangu"),
            onServerRunning: { channel in await onListening(channel.localAddress?.port ?? 0) },
            logger: logger)
        let loader = ModelLoader(server: self, load: load)
        var config = ServiceGroupConfiguration(services: [.init(service: app), .init(service: loader,
                                                                                   successTerminationBehavior: .ignore)],
                                               gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        config.maximumGracefulShutdownDuration = configuration.shutdownGracePeriod
        do { try await ServiceGroup(configuration: config).run() } catch {
            await onShutdown()
            throw error
        }
        await onShutdown()
    }

    /// swift-log level names (`trace` … `critical`).
    public static let logLevels = Logger.Level.allCases.map(\.rawValue)

    /// Sends swift-log output to standard error at `level` (one of ``logLevels``; call once, before creating
    /// servers).
    public static func bootstrapLogging(level name: String) {
        let level = Logger.Level(rawValue: name) ?? .info
        LoggingSystem.bootstrap { label in
            var h = StreamLogHandler.standardError(label: label)
            h.logLevel = level
            return h
        }
    }
}

/// Loads the model on a dedicated thread (loading is long, blocking CPU work) once the service group runs.
struct ModelLoader: Service {
    let server: PanguServer
    let load: @Sendable () throws -> ServerModel

    func run() async throws {
        let load = self.load
        let model: ServerModel = try await withCheckedThrowingContinuation { cont in
            let thread = Thread { cont.resume(with: Result { try load() }) }
            thread.stackSize = 16 << 20
            thread.start()
        }
        server.setModel(model)
        server.logger.info("model loaded", metadata: ["model": "\(model.id)", "context": "\(model.contextLength)"])
    }
}

/// Every request: API key check, OpenAI-style error bodies for anything thrown, the request log line and the
/// request counter.
struct RequestMiddleware: RouterMiddleware {
    typealias Context = BasicRequestContext
    let server: PanguServer

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        var response: Response
        do {
            try authenticate(request)
            response = try await next(request, context)
        } catch {
            let e = APIError.from(error)
            response = e.response()
            if e.status.code >= 500 && e.status != .serviceUnavailable {
                context.logger.error("request failed", metadata: ["error": "\(e.message)"])
            }
        }
        let route = context.endpointPath ?? "unmatched"
        server.metrics.request(route: route, method: request.method.rawValue, status: response.status.code)
        let elapsed = ContinuousClock.now - start
        context.logger.info("request", metadata: [
            "method": "\(request.method.rawValue)", "path": "\(request.uri.path)", "status": "\(response.status.code)",
            "ms": "\(Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1000)",
            "streaming": "\(response.headers[.contentType] == "text/event-stream")",
        ])
        return response
    }

    func authenticate(_ request: Request) throws {
        guard let key = server.configuration.apiKey, request.uri.path != "/health" else { return }
        guard let header = request.headers[.authorization] else {
            throw authError("You didn't provide an API key. Provide it in the Authorization header as 'Bearer YOUR_KEY'.")
        }
        let prefix = "Bearer "
        guard header.hasPrefix(prefix), constantTimeEqual(Array(header.utf8.dropFirst(prefix.utf8.count)), Array(key.utf8)) else {
            throw authError("Incorrect API key provided.")
        }
    }

    func authError(_ message: String) -> APIError {
        var e = APIError(status: .unauthorized, message: message, type: "invalid_request_error", code: "invalid_api_key")
        e.headers[.wwwAuthenticate] = "Bearer"
        return e
    }

    /// Compares without an early exit, so response time does not reveal how much of the key matched.
    func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        var diff = UInt8(a.count == b.count ? 0 : 1)
        for i in 0..<max(a.count, b.count) { diff |= (i < a.count ? a[i] : 0) ^ (i < b.count ? b[i] : 0) }
        return diff == 0
    }
}
