/// One Server-Sent Event: its `event` type (`nil` for the default, "message"), its data (the
/// `data:` lines of the event joined with line feeds) and its `id`.
public struct ServerSentEvent: Sendable, Hashable {
    /// The `event:` field, if the event had one.
    public var event: String?
    /// The `data:` lines, joined with `\n`.
    public var data: String
    /// The `id:` field, if the event had one.
    public var id: String?

    /// Creates an event.
    public init(event: String? = nil, data: String, id: String? = nil) {
        self.event = event
        self.data = data
        self.id = id
    }
}

/// Parses a `text/event-stream` body as the WHATWG HTML standard says, fed in chunks of any
/// size: lines end with CRLF, LF or CR (a CRLF split across chunks included); a line that
/// starts with `:` is a comment (`: ping`, `: OPENROUTER PROCESSING`); `field: value` with
/// one leading space of the value dropped; several `data:` lines make one event's data,
/// joined with `\n`; an empty line dispatches the event; an event without data is not
/// dispatched; a last event not ended by an empty line is dropped, as a browser drops it.
///
/// A pure value type: bytes in, events out.
public struct ServerSentEventParser: Sendable {
    private var line: [UInt8] = []
    private var afterCR = false
    private var data: [UInt8] = []
    private var hasData = false
    private var event: String?
    private var id: String?
    /// The longest line accepted, in bytes; a longer one is an error (a server that never
    /// sends a line break would otherwise grow the buffer without bound).
    public let maxLineBytes: Int

    /// A line over ``maxLineBytes``.
    public struct LineTooLong: Error, Hashable {
        /// The limit that was passed.
        public var limit: Int
    }

    /// A parser that accepts lines of up to `maxLineBytes` (default 16 MiB).
    public init(maxLineBytes: Int = 16 << 20) {
        self.maxLineBytes = maxLineBytes
    }

    /// Parses the next chunk; returns the events it completed, in order.
    public mutating func feed(_ bytes: some Sequence<UInt8>) throws(LineTooLong) -> [ServerSentEvent] {
        var events: [ServerSentEvent] = []
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "\n"):
                // The LF of a CRLF ends nothing: the CR did.
                if afterCR {
                    afterCR = false
                    continue
                }
                if let event = endLine() { events.append(event) }
            case UInt8(ascii: "\r"):
                afterCR = true
                if let event = endLine() { events.append(event) }
            default:
                afterCR = false
                guard line.count < maxLineBytes else { throw LineTooLong(limit: maxLineBytes) }
                line.append(byte)
            }
        }
        return events
    }

    /// The stream ended: whatever is pending is dropped (an event counts only once an empty
    /// line ends it).
    public mutating func finish() {
        line = []
        data = []
        hasData = false
        event = nil
        afterCR = false
    }

    /// Ends the current line: a field, a comment, or (empty) the end of an event.
    private mutating func endLine() -> ServerSentEvent? {
        defer { line.removeAll(keepingCapacity: true) }
        guard !line.isEmpty else { return dispatch() }
        if line[0] == UInt8(ascii: ":") { return nil }
        let name: ArraySlice<UInt8>
        var value: ArraySlice<UInt8>
        if let colon = line.firstIndex(of: UInt8(ascii: ":")) {
            name = line[..<colon]
            value = line[(colon + 1)...]
            if value.first == UInt8(ascii: " ") { value = value.dropFirst() }
        } else {
            name = line[...]
            value = []
        }
        switch String(decoding: name, as: UTF8.self) {
        case "data":
            if hasData { data.append(UInt8(ascii: "\n")) }
            data.append(contentsOf: value)
            hasData = true
        case "event":
            event = String(decoding: value, as: UTF8.self)
        case "id":
            // An id with a NUL is ignored, as the standard says.
            if !value.contains(0) { id = String(decoding: value, as: UTF8.self) }
        default:
            // `retry:` and unknown fields change nothing here.
            break
        }
        return nil
    }

    private mutating func dispatch() -> ServerSentEvent? {
        defer {
            data.removeAll(keepingCapacity: true)
            hasData = false
            event = nil
        }
        guard hasData else { return nil }
        return ServerSentEvent(event: event, data: String(decoding: data, as: UTF8.self), id: id)
    }
}
