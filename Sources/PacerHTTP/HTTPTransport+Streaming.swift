import AsyncHTTPClient
import NIOCore
import NIOHTTP1
import PacerCore
import Synchronization

/// Reads a streamed response body as it arrives, one part at a time, on the connection's
/// event loop (so keep ``read(_:)`` short: parse and keep, nothing more).
public protocol StreamingBodyReader: Sendable {
    /// Reads the next part of the body.
    ///
    /// - Returns: How many tokens the part carried: 0 for a keep-alive comment, a role or
    ///   usage chunk; the transport times the first and last tokens from it.
    /// - Throws: To fail the attempt (an `ItemError` is passed on as it is).
    mutating func read(_ part: ByteBuffer) throws -> Int
}

/// How long a streamed answer may keep a person waiting: for its first token, and between
/// any two parts after it. A long answer that keeps coming is never cut off.
public struct StreamTimeouts: Sendable, Hashable {
    /// From sending the request to the first token.
    public var firstToken: Duration
    /// The longest silence after the first token (any bytes count, keep-alive comments too).
    public var idle: Duration

    /// Creates timeouts.
    public init(firstToken: Duration, idle: Duration) {
        self.firstToken = firstToken
        self.idle = idle
    }
}

/// The answer to a streamed request: an event stream read by the reader, or a whole body
/// (an error status, or a server that answered with plain JSON instead of a stream).
public struct StreamedResponse<Reader: StreamingBodyReader>: Sendable {
    /// What came back.
    public enum Body: Sendable {
        /// A `text/event-stream` body, read to its end by the reader.
        case stream(Reader)
        /// Any other body, whole.
        case whole(ByteBuffer)
    }

    /// The HTTP status code.
    public var status: Int
    /// The response headers.
    public var headers: HTTPHeaders
    /// The body.
    public var body: Body
    /// When the tokens came; `nil` for a whole body or a stream without tokens.
    public var timing: StreamTiming?

    /// The response as a whole one, for error handling: a stream's body is empty.
    public var plain: HTTPResponseData {
        if case .whole(let buffer) = body { return HTTPResponseData(status: status, headers: headers, body: buffer) }
        return HTTPResponseData(status: status, headers: headers, body: ByteBuffer())
    }
}

extension HTTPTransport {
    /// Sends a request whose answer streams (`stream: true`), reading the stream with
    /// `reader` as it arrives.
    ///
    /// Instead of one deadline for the whole answer, the first token must come within
    /// `timeouts.firstToken` and no silence after it may last `timeouts.idle`; the
    /// configuration's ``Configuration/requestDeadline`` stays the backstop. A non-2xx answer,
    /// or one that is not `text/event-stream`, is read whole (up to
    /// ``Configuration/maxBodyBytes``).
    ///
    /// - Throws: An `ItemError`: `ItemError/timedOut(after:)` with a message that says
    ///   which wait ran out, or the classified transport failure.
    public func stream<Reader: StreamingBodyReader>(
        _ request: HTTPRequestSpec,
        reader: Reader,
        timeouts: StreamTimeouts
    ) async throws -> StreamedResponse<Reader> {
        let limit = configuration.requestDeadline
        let delegate = StreamingDelegate(reader: reader, timeouts: timeouts, maxBodyBytes: configuration.maxBodyBytes)
        let task: HTTPClient.Task<StreamedResponse<Reader>>
        do {
            let outgoing = try templates.request(for: request)
            task = execute(outgoing, delegate: delegate, deadline: .now() + .nanoseconds(limit.nanoseconds))
        } catch {
            throw HTTPFailure.error(classifying: error, context: failureContext(request, limit: limit))
        }
        delegate.startTimer(for: task)
        do {
            return try await withTaskCancellationHandler {
                try await task.futureResult.get()
            } onCancel: {
                task.cancel()
            }
        } catch let error as ItemError {
            throw error
        } catch {
            throw HTTPFailure.error(classifying: error, context: failureContext(request, limit: limit))
        }
    }
}

/// Feeds a streamed body to its reader on the event loop and watches the two timeouts with
/// one timer at a time (rescheduled only when it fires, never per part).
final class StreamingDelegate<Reader: StreamingBodyReader>: HTTPClientResponseDelegate {
    typealias Response = StreamedResponse<Reader>

    private struct State {
        var reader: Reader
        var head: HTTPResponseHead?
        var streaming = false
        var whole = ByteBuffer()
        var firstToken: NIODeadline?
        var lastToken: NIODeadline?
        var lastPart: NIODeadline
        var tokens = 0
        var timer: Scheduled<Void>?
        var ended = false
    }

    /// What a firing timer decides.
    private enum Verdict {
        case wait(NIODeadline)
        case fail(ItemError)
        case none
    }

    private let state: Mutex<State>
    private let start: NIODeadline
    private let timeouts: StreamTimeouts
    private let maxBodyBytes: Int

    init(reader: Reader, timeouts: StreamTimeouts, maxBodyBytes: Int) {
        let now = NIODeadline.now()
        self.start = now
        self.timeouts = timeouts
        self.maxBodyBytes = maxBodyBytes
        self.state = Mutex(State(reader: reader, lastPart: now))
    }

    /// Starts the first-token timer, unless the first token came already (on loopback the
    /// answer can be quicker than the caller): then the idle timer runs instead.
    func startTimer(for task: HTTPClient.Task<Response>) {
        schedule(task, at: start + .nanoseconds(timeouts.firstToken.nanoseconds), beforeFirstToken: true)
    }

    private func schedule(_ task: HTTPClient.Task<Response>, at deadline: NIODeadline, beforeFirstToken: Bool = false) {
        let scheduled = task.eventLoop.scheduleTask(deadline: deadline) { [self] in check(task) }
        state.withLock { state in
            if state.ended || (beforeFirstToken && state.firstToken != nil) {
                scheduled.cancel()
            } else {
                state.timer = scheduled
            }
        }
    }

    /// Runs when the timer fires: fails the task if its wait ran out, else looks again later.
    private func check(_ task: HTTPClient.Task<Response>) {
        let now = NIODeadline.now()
        let verdict = state.withLock { state -> Verdict in
            if state.ended { return .none }
            guard state.firstToken != nil else {
                var error = ItemError.timedOut(after: timeouts.firstToken)
                error.message = "no first token within \(Self.seconds(timeouts.firstToken))"
                return .fail(error)
            }
            let due = state.lastPart + .nanoseconds(timeouts.idle.nanoseconds)
            if due > now { return .wait(due) }
            var error = ItemError.timedOut(after: timeouts.idle)
            error.message =
                "the stream went silent for \(Self.seconds(timeouts.idle)) after \(state.tokens) tokens"
            return .fail(error)
        }
        switch verdict {
        case .wait(let due): schedule(task, at: due)
        case .fail(let error): task.fail(reason: error)
        case .none: break
        }
    }

    private static func seconds(_ duration: Duration) -> String {
        "\((duration.pacerSeconds * 1000).rounded() / 1000)s"
    }

    func didReceiveHead(task: HTTPClient.Task<Response>, _ head: HTTPResponseHead) -> EventLoopFuture<Void> {
        let type = head.headers.first(name: "content-type")?.lowercased() ?? ""
        state.withLock { state in
            state.head = head
            state.streaming = (200...299).contains(head.status.code) && type.hasPrefix("text/event-stream")
        }
        return task.eventLoop.makeSucceededVoidFuture()
    }

    func didReceiveBodyPart(task: HTTPClient.Task<Response>, _ buffer: ByteBuffer) -> EventLoopFuture<Void> {
        let now = NIODeadline.now()
        var firstTimer: Scheduled<Void>?
        var firstTokenNow = false
        let outcome = state.withLock { state -> (any Error)? in
            state.lastPart = now
            guard state.streaming else {
                guard state.whole.readableBytes + buffer.readableBytes <= maxBodyBytes else {
                    return ResponseAccumulator.ResponseTooBigError(maxBodySize: maxBodyBytes)
                }
                var buffer = buffer
                state.whole.writeBuffer(&buffer)
                return nil
            }
            do {
                let tokens = try state.reader.read(buffer)
                if tokens > 0 {
                    if state.firstToken == nil {
                        state.firstToken = now
                        // From now on the idle timeout applies: swap the first-token timer
                        // (if it is running yet) for the idle one.
                        firstTimer = state.timer
                        state.timer = nil
                        firstTokenNow = true
                    }
                    state.lastToken = now
                    state.tokens += tokens
                }
                return nil
            } catch {
                return error
            }
        }
        if firstTokenNow {
            firstTimer?.cancel()
            schedule(task, at: now + .nanoseconds(timeouts.idle.nanoseconds))
        }
        if let outcome {
            task.fail(reason: outcome)
            return task.eventLoop.makeFailedFuture(outcome)
        }
        return task.eventLoop.makeSucceededVoidFuture()
    }

    func didReceiveError(task: HTTPClient.Task<Response>, _ error: any Error) {
        end()
    }

    func didFinishRequest(task: HTTPClient.Task<Response>) throws -> Response {
        end()
        return state.withLock { state in
            let head = state.head ?? HTTPResponseHead(version: .http1_1, status: .ok)
            var timing: StreamTiming?
            if let first = state.firstToken, let last = state.lastToken {
                timing = StreamTiming(
                    timeToFirstToken: .nanoseconds((first - start).nanoseconds),
                    timeToLastToken: .nanoseconds((last - start).nanoseconds),
                    tokenChunks: state.tokens
                )
            }
            return StreamedResponse(
                status: Int(head.status.code),
                headers: head.headers,
                body: state.streaming ? .stream(state.reader) : .whole(state.whole),
                timing: timing
            )
        }
    }

    private func end() {
        let timer = state.withLock { state -> Scheduled<Void>? in
            state.ended = true
            defer { state.timer = nil }
            return state.timer
        }
        timer?.cancel()
    }
}
