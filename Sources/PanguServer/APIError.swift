// OpenAI-style error responses: every failure the server reports leaves as
// `{"error": {"message", "type", "param", "code"}}` with the matching HTTP status.
import HTTPTypes
import Hummingbird
import PanguChat

/// An error reported to the client in OpenAI's shape. The one error type of this module.
public struct APIError: Error, HTTPResponseError, CustomStringConvertible, Sendable {
    /// HTTP status.
    public var status: HTTPResponse.Status
    /// Human-readable explanation naming the offending field or value.
    public var message: String
    /// OpenAI error type (`invalid_request_error`, `authentication_error`, `not_found_error`, ...).
    public var type: String
    /// The request field at fault, if any (`messages[0].content`, `max_tokens`, ...).
    public var param: String?
    /// Machine-readable code (`context_length_exceeded`, `invalid_api_key`, `model_not_found`, ...).
    public var code: String?
    /// Extra headers (`Retry-After` for 503, `WWW-Authenticate` for 401).
    public var headers: HTTPFields = [:]

    /// Creates an error.
    public init(status: HTTPResponse.Status, message: String, type: String, param: String? = nil,
                code: String? = nil) {
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
    }

    /// 400 with `invalid_request_error`.
    public static func invalid(_ message: String, param: String? = nil, code: String? = nil) -> APIError {
        APIError(status: .badRequest, message: message, type: "invalid_request_error", param: param, code: code)
    }

    /// 404 for an unknown model.
    public static func modelNotFound(_ name: String) -> APIError {
        APIError(status: .notFound, message: "The model '\(name)' does not exist", type: "invalid_request_error",
                 param: "model", code: "model_not_found")
    }

    /// 503 with `Retry-After` (queue full, model still loading).
    public static func unavailable(_ message: String, retryAfterSeconds: Int, code: String? = nil) -> APIError {
        var e = APIError(status: .serviceUnavailable, message: message, type: "unavailable_error", code: code)
        e.headers[.retryAfter] = String(retryAfterSeconds)
        return e
    }

    public var description: String { "\(status.code) \(type): \(message)" }

    /// The JSON body.
    public var body: JinjaValue {
        .dict(OrderedDictionary([("error", .dict(OrderedDictionary([
            ("message", .string(message)), ("type", .string(type)),
            ("param", param.map { .string($0) } ?? .none), ("code", code.map { .string($0) } ?? .none),
        ])))]))
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        response()
    }

    /// The HTTP response carrying this error.
    public func response() -> Response {
        var h = headers
        h[.contentType] = "application/json"
        return Response(status: status, headers: h, body: ResponseBody(byteBuffer: ByteBuffer(string: JSON.encode(body))))
    }

    /// Maps any error escaping a route to an OpenAI-style error (Hummingbird's own `HTTPError`s keep their status).
    static func from(_ error: Error) -> APIError {
        if let e = error as? APIError { return e }
        if let e = error as? HTTPError {
            switch e.status {
            case .notFound:
                return APIError(status: .notFound, message: "Not found", type: "not_found_error", code: "not_found")
            case .contentTooLarge:
                return APIError(status: .contentTooLarge, message: "The request body is too large",
                                type: "invalid_request_error")
            case .methodNotAllowed:
                return APIError(status: .methodNotAllowed, message: "Method not allowed", type: "invalid_request_error")
            default:
                return APIError(status: e.status, message: e.body ?? e.status.reasonPhrase,
                                type: e.status.code < 500 ? "invalid_request_error" : "server_error")
            }
        }
        return APIError(status: .internalServerError, message: "\(error)", type: "server_error")
    }
}

/// Compact JSON output (PanguChat's `json.dumps`-compatible writer, no spaces, UTF-8 kept).
enum JSON {
    static let compact: JSONDumpOptions = {
        var o = JSONDumpOptions()
        o.itemSeparator = ","
        o.keySeparator = ":"
        return o
    }()

    /// Serialises a response value. Our own values are always serialisable (no NaN: logprobs are clamped).
    static func encode(_ value: JinjaValue) -> String {
        (try? JSONCoding.dumps(value, options: compact)) ?? "{}"
    }

    /// An object literal with keys in the given order.
    static func object(_ pairs: [(String, JinjaValue)]) -> JinjaValue { .dict(OrderedDictionary(pairs)) }
}
