import NIOCore
import PacerJSON

// PacerJSON reads bytes and knows nothing of NIO; these read a response body, or any
// `ByteBuffer`, where it lies.

extension JSONValue {
    /// Parses one JSON value from the readable bytes of `buffer` (see
    /// `init(parsing:maxDepth:)`).
    ///
    /// - Throws: `JSONParseError` for anything but one whole JSON value.
    public init(parsing buffer: ByteBuffer) throws(JSONParseError) {
        let result = buffer.withUnsafeReadableBytes { bytes in
            Result { () throws(JSONParseError) in try JSONValue(parsing: bytes) }
        }
        self = try result.get()
    }
}

extension JSONSkim {
    /// Reads a JSON object from the readable bytes of `buffer`, building only the members in
    /// `keeping` and counting the array under `counting` (see
    /// `object(in:keeping:counting:)` for raw bytes).
    ///
    /// - Throws: `JSONParseError` for a body that is not one whole JSON object.
    public static func object(
        in buffer: ByteBuffer,
        keeping: Set<String>,
        counting: String? = nil
    ) throws(JSONParseError) -> JSONSkim {
        let result = buffer.withUnsafeReadableBytes { bytes in
            Result { () throws(JSONParseError) -> JSONSkim in
                try JSONSkim.object(in: bytes, keeping: keeping, counting: counting)
            }
        }
        return try result.get()
    }
}

extension JSONReader {
    /// Reads the readable bytes of `buffer` with `body`, which must consume exactly one
    /// value; anything but whitespace after it is an error.
    package static func read<Result>(
        _ buffer: ByteBuffer,
        maxDepth: Int = 512,
        _ body: (inout JSONReader) throws(JSONParseError) -> Result
    ) throws(JSONParseError) -> Result {
        let outcome = buffer.withUnsafeReadableBytes { bytes in
            Swift.Result { () throws(JSONParseError) -> Result in try JSONReader.read(bytes, maxDepth: maxDepth, body) }
        }
        return try outcome.get()
    }
}
