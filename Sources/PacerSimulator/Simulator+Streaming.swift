import HTTPTypes
import Hummingbird
import NIOCore
import PacerCore
import PacerOpenAI
import ServiceLifecycle

extension Simulator {
    /// Answers a streamed chat request (`"stream": true`) that passed the limits and the
    /// faults that strike before a stream starts: takes a slot (503 when the queue is full),
    /// then streams the same answer a plain request gets (see ``ChatStreamScript``), one chunk
    /// per token.
    ///
    /// Pacing: with slots, the stream holds its slot to the end and each token waits one
    /// ``SimulatorSlots/stepTime(busy:)`` (so the first token comes one token time after the
    /// slot); without, each waits ``SimulatorConfiguration/streamTokenLatency``, or none when
    /// that is `nil`. Faults that play out in the stream: `slow` (the first chunk after
    /// ``SimulatorConfiguration/slowDelay``), `stall` (a pause of that delay halfway),
    /// `truncate` (the connection closed halfway, ``truncateLinger`` after the last bytes,
    /// without `[DONE]`), `malformed` (an error
    /// event halfway, then the end, without `[DONE]`), `refusal` and `tool_calls` (their
    /// deltas instead of the text); `huge` and `wrong_shape` stream the normal answer.
    ///
    /// Outcomes in `/stats`: `"200"` with the tokens for a stream delivered whole; `"slow"` and
    /// `"stall"` without tokens, as their plain answers; `"truncate"`, `"stream-error"`, `"cut"`
    /// (llama.cpp's quirk) and `"client-closed"` without tokens.
    func streamed(
        _ completion: ChatCompletionResponse,
        tokens: TokenUsage?,
        request: ChatStreamRequest,
        fault: Fault?
    ) async throws -> Response {
        var lease: SlotLease?
        if let slots {
            guard await slots.acquire() else {
                return failure(
                    .serviceUnavailable,
                    message: "server busy, please try again. maximum pending requests exceeded",
                    type: "server_error"
                )
            }
            lease = SlotLease(slots)
        }
        let replacement = fault == .refusal || fault == .toolCalls ? fault.flatMap(Self.message(for:)) : nil
        let script = ChatStreamScript(
            completion: completion,
            includeUsage: request.includeUsage,
            replacement: replacement,
            llamaQuirks: configuration.llamaQuirks
        )
        stats.recordStream()
        let endpoint = SimulatorStats.endpoint
        let client = SimulatorStats.client
        return Response(
            status: .ok,
            headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"],
            body: ResponseBody { [lease] writer in
                defer { lease?.release() }
                try await play(script, to: &writer, tokens: tokens, fault: fault, endpoint: endpoint, client: client)
            }
        )
    }

    /// How a played stream ended.
    private enum StreamEnd {
        /// Every frame went out.
        case whole
        /// Cut by another request's arrival.
        case cut
        /// An error event went out.
        case errorEvent
    }

    /// Writes a stream's frames, paced, with its fault; records its outcome just before its
    /// last bytes go out (so that a client that has read the whole stream finds it in
    /// `/stats`).
    private func play(
        _ script: ChatStreamScript,
        to writer: inout any ResponseBodyWriter,
        tokens: TokenUsage?,
        fault: Fault?,
        endpoint: String?,
        client: String?
    ) async throws {
        let stream = streams.start()
        defer { streams.end(stream) }
        var recorded = false
        func record(_ outcome: String, tokens: TokenUsage? = nil) {
            recorded = true
            stats.recordOutcome(outcome, tokens: tokens, endpoint: endpoint, client: client)
        }
        do {
            switch try await emit(script, to: &writer, stream: stream, fault: fault, record: { record($0) }) {
            case .whole:
                switch fault {
                case .slow?: record("slow")
                case .stall?: record("stall")
                default: record("200", tokens: tokens)
                }
                try await writer.write(ByteBuffer(string: script.done))
            case .cut:
                record("cut")
                try await writer.write(ByteBuffer(string: script.done))
            case .errorEvent:
                break
            }
            try await writer.finish(nil)
        } catch {
            if !recorded { record("client-closed") }
            throw error
        }
    }

    /// Writes the frames and applies the fault; records the outcome of a stream that does
    /// not end whole before its last bytes.
    private func emit(
        _ script: ChatStreamScript,
        to writer: inout any ResponseBodyWriter,
        stream: RunningStream,
        fault: Fault?,
        record: (String) -> Void
    ) async throws -> StreamEnd {
        let clock = ContinuousClock()
        let delay = configuration.slowDelay
        if fault == .slow, try await pause(stream, until: clock.now + delay) { return .cut }
        var deadline = clock.now
        for (index, frame) in script.frames.enumerated() {
            let cuttable = index <= script.finishIndex
            if index == script.midpoint {
                switch fault {
                case .truncate?:
                    record("truncate")
                    // A moment for what was sent to reach the client before the close (a close
                    // that overtakes it can lose it, and the stream would not stop halfway).
                    _ = try await pause(stream, until: clock.now + Self.truncateLinger)
                    throw SimulatorError(message: "stream truncated (simulated)")
                case .malformed?:
                    record("stream-error")
                    try await writer.write(ByteBuffer(string: script.errorEvent))
                    return .errorEvent
                case .stall?:
                    if try await pause(stream, until: clock.now + delay) { return .cut }
                    deadline = clock.now
                default:
                    break
                }
            }
            if case .token = frame, let step = tokenStep(), step > .zero {
                deadline += step
                if try await pause(stream, until: deadline) { return .cut }
            }
            if cuttable, stream.isCut { return .cut }
            try await writer.write(ByteBuffer(string: script.text(of: frame)))
        }
        return .whole
    }

    /// How long a truncated stream waits after its last bytes before the connection closes.
    static let truncateLinger = Duration.milliseconds(50)

    /// Waits until `deadline`, or until the stream is cut (`true`) or the server shuts down.
    private func pause(_ stream: RunningStream, until deadline: ContinuousClock.Instant) async throws -> Bool {
        try await cancelWhenGracefulShutdown { try await stream.pause(until: deadline) }
    }

    /// The time of the next token of a stream: the slots' step time now, or the configured
    /// stream pacing, or `nil` for none.
    private func tokenStep() -> Duration? {
        if let slots { return slots.stepTime() }
        return configuration.streamTokenLatency
    }

    /// With llama.cpp's quirks, a chat request's arrival may cut the oldest running stream
    /// (with ``SimulatorConfiguration/cutRate``, drawn from the faults' random source only
    /// while streams run).
    func cutStreamOnArrival() {
        guard configuration.llamaQuirks, configuration.cutRate > 0, !streams.isEmpty else { return }
        if random.nextUnit() < configuration.cutRate {
            streams.cutOldest()
        }
    }
}
