/// A kind of failure the simulator can inject.
public struct Fault: Sendable, Hashable, CustomStringConvertible {
    /// The name used on the command line (`--faults 500,503,429,drop,slow,stall,truncate,malformed`).
    public let name: String
    private init(_ name: String) { self.name = name }

    /// HTTP 500 with OpenAI's `server_error` body.
    ///
    /// On a streamed chat request (`"stream": true`), 500, 503, 429, 429bare, html and drop
    /// strike before the stream starts, as on any other request; the others play out in the
    /// stream (see each one).
    public static let serverError = Fault("500")
    /// HTTP 503 "overloaded".
    public static let unavailable = Fault("503")
    /// HTTP 429 with `retry-after` and `retry-after-ms`.
    public static let rateLimited = Fault("429")
    /// The connection is closed before any response.
    public static let drop = Fault("drop")
    /// The response is sent after ``SimulatorConfiguration/slowDelay``. A stream sends its
    /// headers at once and its first chunk after the delay.
    public static let slow = Fault("slow")
    /// The headers and half the body are sent at once, the rest after
    /// ``SimulatorConfiguration/slowDelay``: a stall mid-body, which a deadline that covers
    /// only the response head would miss. A stream pauses for the delay halfway, then goes on.
    public static let stall = Fault("stall")
    /// The headers promise a body that is cut off halfway and the connection closed. A stream
    /// stops halfway through its tokens and the connection is closed, without `[DONE]`.
    public static let truncate = Fault("truncate")
    /// HTTP 200 with a body that is not valid JSON. A stream sends, halfway, the error event
    /// OpenAI sends mid-stream (`data: {"error":{…"type":"server_error"…}}`) and ends without
    /// `[DONE]`.
    public static let malformed = Fault("malformed")
    /// HTTP 429 with no `retry-after` headers at all.
    public static let rateLimitedBare = Fault("429bare")
    /// HTTP 200 with `Content-Type: text/html` and an HTML page (a proxy's error page).
    public static let wrongType = Fault("html")
    /// The normal answer padded to 3 MB (a valid, very large body). A stream is the normal one.
    public static let huge = Fault("huge")
    /// A chat answer that is a refusal: `content: null` and `refusal` (a complete answer). A
    /// stream sends the refusal in `delta.refusal` pieces and `finish_reason: "stop"`.
    public static let refusal = Fault("refusal")
    /// A chat answer that calls a tool: `content: null`, `tool_calls` and
    /// `finish_reason: "tool_calls"` (a complete answer). A stream sends the call's index, id
    /// and name in its first `delta.tool_calls`, then the arguments in pieces, and
    /// `finish_reason: "tool_calls"`.
    public static let toolCalls = Fault("tool_calls")
    /// HTTP 200 with complete JSON of the wrong shape: a chat answer whose `message` is a string.
    /// A stream is the normal one.
    public static let wrongShape = Fault("wrong_shape")

    /// Every fault, in a stable order.
    public static let all: [Fault] = [
        .serverError, .unavailable, .rateLimited, .rateLimitedBare, .drop, .slow, .stall, .truncate, .malformed,
        .wrongType,
        .huge, .refusal, .toolCalls, .wrongShape,
    ]
    /// The faults injected when none are named: all transient ones that do not stall a client.
    public static let defaults: [Fault] = [.serverError, .unavailable, .rateLimited, .drop, .truncate]

    /// Parses a fault name.
    public init?(name: String) {
        guard let fault = Self.all.first(where: { $0.name == name.lowercased() }) else { return nil }
        self = fault
    }

    /// A one-line description for people.
    public var description: String { name }
}

/// How the simulator behaves: where it listens, how slow it is and how often it fails.
public struct SimulatorConfiguration: Sendable, Hashable {
    /// The address to bind. Default `127.0.0.1`.
    public var host: String
    /// The port; 0 picks any free port (reported when the server is ready). Default 0.
    public var port: Int
    /// Added before every answer of the API endpoints. Default none.
    public var latency: Duration
    /// The share of API requests that get a fault, `0...1`. Default 0.
    public var faultRate: Double
    /// The faults to choose from, uniformly. Default ``Fault/defaults``.
    public var faults: [Fault]
    /// Seeds fault selection; `nil` draws from the system generator. Default `nil`.
    public var seed: UInt64?
    /// When set, API (`POST /v1/…`) and model requests need `Authorization: Bearer <key>`.
    /// Default `nil`.
    public var apiKey: String?
    /// The wait a 429 fault asks for. Default 1 s.
    public var retryAfter: Duration
    /// How long a slow response takes (on top of ``latency``). Default 30 s.
    public var slowDelay: Duration
    /// The ids served by `/posts/{id}` are `1...postCount`. Default 1000.
    public var postCount: Int
    /// Requests per minute allowed (every `POST /v1/…` endpoint and posts, together); `nil`
    /// for no limit. Default `nil`.
    public var requestsPerMinute: Int?
    /// Tokens per minute allowed (every `POST /v1/…` endpoint, together); `nil` for no limit.
    /// Default `nil`.
    public var tokensPerMinute: Int?
    /// How the limits are enforced. Default ``LimitWindow/quantized``.
    public var limitWindow: LimitWindow
    /// Answer every API (`POST /v1/…`) request with 429 `insufficient_quota`. Default `false`.
    public var quotaExhausted: Bool
    /// Serve HTTPS with this certificate instead of plain HTTP. Default `nil` (HTTP).
    public var tls: SimulatorTLS?
    /// When set, an API request any of whose inputs contains this text is answered 400
    /// `invalid_request_error`, its `param` naming the first such input (`input[3]`,
    /// `prompt[0]`, `messages[1].content`): a bad input in a packed request, always rejected
    /// (not drawn like the faults), so that a client can find it by splitting. Inputs are a
    /// chat request's message contents, the `input` strings of embeddings, moderations and
    /// responses, and the `prompt` strings of completions. Default `nil`.
    public var rejectInputContaining: String?
    /// A self-hosted server's slots: parallel decoding at a time per output token, a queue,
    /// 503 past it (see ``SimulatorSlots``); `nil` answers every request at once. Default `nil`.
    public var slots: SimulatorSlots?
    /// Without ``slots``: the time between the tokens of a streamed chat answer (each token
    /// chunk waits this long); `nil` sends a stream's chunks at once, after ``latency``. With
    /// ``slots``, their ``SimulatorSlots/stepTime(busy:)`` paces streams instead. Default `nil`.
    public var streamTokenLatency: Duration?
    /// Stream as llama.cpp's server does: `: ping` comment lines (before the first chunk and
    /// between chunks), lines ended with CRLF, no usage chunk even when
    /// `stream_options.include_usage` asks for one, and a running stream cut short when
    /// another chat request arrives (see ``cutRate``). Default `false`.
    public var llamaQuirks: Bool
    /// With ``llamaQuirks``: the chance, `0...1`, that a chat request arriving while streams
    /// run cuts the oldest of them: it ends at once with `data: [DONE]` and no
    /// `finish_reason`. Drawn from the same seeded source as the faults, so ``seed`` repeats a
    /// run. Below 1, every arrival may leave the streams alone, so a client that re-sends cut
    /// streams always finishes eventually; at 1, every arrival cuts one, and a client that
    /// keeps several streams running (its re-sends arriving while the others run) may never
    /// finish: use 1 only in tests. Default 0.1.
    public var cutRate: Double

    /// Creates a configuration; see each property for its default.
    public init(
        host: String = "127.0.0.1",
        port: Int = 0,
        latency: Duration = .zero,
        faultRate: Double = 0,
        faults: [Fault] = Fault.defaults,
        seed: UInt64? = nil,
        apiKey: String? = nil,
        retryAfter: Duration = .seconds(1),
        slowDelay: Duration = .seconds(30),
        postCount: Int = 1000,
        requestsPerMinute: Int? = nil,
        tokensPerMinute: Int? = nil,
        limitWindow: LimitWindow = .quantized,
        quotaExhausted: Bool = false,
        tls: SimulatorTLS? = nil,
        rejectInputContaining: String? = nil,
        slots: SimulatorSlots? = nil,
        streamTokenLatency: Duration? = nil,
        llamaQuirks: Bool = false,
        cutRate: Double = 0.1
    ) {
        precondition((0...1).contains(faultRate), "faultRate must be within 0...1")
        precondition(faultRate == 0 || !faults.isEmpty, "a fault rate needs at least one fault")
        precondition(requestsPerMinute.map { $0 > 0 } ?? true, "requestsPerMinute must be positive")
        precondition(tokensPerMinute.map { $0 > 0 } ?? true, "tokensPerMinute must be positive")
        precondition(rejectInputContaining.map { !$0.isEmpty } ?? true, "rejectInputContaining must not be empty")
        precondition((0...1).contains(cutRate), "cutRate must be within 0...1")
        self.host = host
        self.port = port
        self.slots = slots
        self.latency = latency
        self.faultRate = faultRate
        self.faults = faults
        self.seed = seed
        self.apiKey = apiKey
        self.retryAfter = retryAfter
        self.slowDelay = slowDelay
        self.postCount = postCount
        self.requestsPerMinute = requestsPerMinute
        self.tokensPerMinute = tokensPerMinute
        self.limitWindow = limitWindow
        self.quotaExhausted = quotaExhausted
        self.tls = tls
        self.rejectInputContaining = rejectInputContaining
        self.streamTokenLatency = streamTokenLatency
        self.llamaQuirks = llamaQuirks
        self.cutRate = cutRate
    }
}
