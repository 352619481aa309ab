import Foundation
import HTTPTypes
import MultipartKit
import NIOCore
import PacerJSON

/// OpenAI's limits on a Batch API input file, checked as an upload streams in.
public struct FileLimits: Sendable, Hashable {
    /// The most bytes a file may hold. Default 200 MB, as OpenAI's Batch API allows.
    public var maxBytes: Int
    /// The most requests (lines) a file may hold. Default 50,000.
    public var maxLines: Int
    /// The longest line. Default 16 MiB: a line is checked whole, so it is held whole.
    public var maxLineBytes: Int

    /// Creates limits.
    public init(maxBytes: Int = 200 * 1024 * 1024, maxLines: Int = 50_000, maxLineBytes: Int = 16 * 1024 * 1024) {
        self.maxBytes = maxBytes
        self.maxLines = maxLines
        self.maxLineBytes = maxLineBytes
    }
}

/// One `multipart/form-data` upload (`POST /v1/files`) streamed to a temporary file: the
/// `file` part's bytes are written as they arrive, counted against ``FileLimits`` and split
/// into lines, each of which must be a JSON object; the `purpose` field is kept. Nothing but
/// the line being read is held in memory. Used by one request's task only.
final class FileUpload {
    private let limits: FileLimits
    private let handle: FileHandle
    private var part: Part?
    private var partHeaders: [(String, String)] = []
    private var pending = ByteBuffer()
    private var line: [UInt8] = []
    /// What the upload found wrong, if anything; the first error ends it.
    private(set) var failure: APIError?
    private(set) var purpose: String?
    private(set) var filename: String?
    private(set) var fileComplete = false
    private(set) var bytes = 0
    private(set) var lines = 0
    private var lineNumber = 0
    private var field = ByteBuffer()

    private enum Part {
        case file
        case purpose
        case other
    }

    init(writingTo url: URL, limits: FileLimits) throws {
        guard FileManager.default.createFile(atPath: url.path, contents: nil) else {
            throw APIError.serverFailure("cannot create a file in the data folder")
        }
        handle = try FileHandle(forWritingTo: url)
        self.limits = limits
    }

    deinit { try? handle.close() }

    /// Feeds the parser's callbacks into this upload.
    func attach(to parser: MultipartParser) {
        parser.onHeader = { [unowned self] name, value in partHeaders.append((name, value)) }
        parser.onBody = { [unowned self] buffer in body(&buffer) }
        parser.onPartComplete = { [unowned self] in partComplete() }
    }

    /// Writes what the last chunk brought of the file; sets ``failure`` on a limit or a bad line.
    func flush() throws {
        guard pending.readableBytes > 0 else { return }
        defer { pending.clear() }
        do {
            try handle.write(contentsOf: pending.readableBytesView)
        } catch {
            throw APIError.serverFailure("could not store the upload: \(error.localizedDescription)")
        }
    }

    private func body(_ buffer: inout ByteBuffer) {
        if part == nil { startPart() }
        switch part {
        case .file:
            guard failure == nil else { return }
            bytes += buffer.readableBytes
            if bytes > limits.maxBytes {
                failure = APIError(
                    status: .contentTooLarge,
                    message: "The file is larger than the limit of \(limits.maxBytes) bytes.",
                    param: "file",
                    code: "file_too_large"
                )
                return
            }
            for byte in buffer.readableBytesView { take(byte) }
            pending.writeBuffer(&buffer)
        case .purpose:
            if field.readableBytes + buffer.readableBytes <= 1024 { field.writeBuffer(&buffer) }
        case .other, .none:
            break
        }
    }

    private func startPart() {
        let disposition = partHeaders.first { $0.0.lowercased() == "content-disposition" }?.1 ?? ""
        let parameters = Self.parameters(disposition)
        switch parameters["name"] {
        case "file":
            part = .file
            filename = parameters["filename"] ?? "upload.jsonl"
        case "purpose": part = .purpose
        default: part = .other
        }
    }

    private func partComplete() {
        if part == nil { startPart() }
        switch part {
        case .file:
            if failure == nil, !line.isEmpty { endLine() }
            fileComplete = true
        case .purpose:
            purpose = field.readString(length: field.readableBytes)
        case .other, .none:
            break
        }
        part = nil
        partHeaders = []
        field.clear()
    }

    private func take(_ byte: UInt8) {
        guard failure == nil else { return }
        if byte == UInt8(ascii: "\n") {
            endLine()
            return
        }
        line.append(byte)
        if line.count > limits.maxLineBytes {
            failure = .badParameter(
                "Line \(lineNumber + 1) of the file is longer than \(limits.maxLineBytes) bytes.",
                param: "file",
                code: "line_too_long"
            )
        }
    }

    private func endLine() {
        lineNumber += 1
        defer { line.removeAll(keepingCapacity: true) }
        if line.last == UInt8(ascii: "\r") { line.removeLast() }
        if line.allSatisfy({ $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }) { return }
        lines += 1
        if lines > limits.maxLines {
            failure = .badParameter(
                "The file holds more than \(limits.maxLines) requests, the most one batch may have.",
                param: "file",
                code: "too_many_lines"
            )
            return
        }
        let isObject = line.withUnsafeBytes { bytes -> Bool in
            guard let value = try? JSONValue(parsing: bytes), case .object = value else { return false }
            return true
        }
        if !isObject {
            failure = .badParameter(
                "Line \(lineNumber) of the file is not a JSON object: a batch input file is JSONL, one request per line.",
                param: "file",
                code: "invalid_jsonl"
            )
        }
    }

    /// `name` and `filename` from a `Content-Disposition: form-data; name="…"; filename="…"`.
    static func parameters(_ disposition: String) -> [String: String] {
        var parameters: [String: String] = [:]
        for piece in disposition.split(separator: ";").dropFirst() {
            let pair = piece.split(separator: "=", maxSplits: 1)
            guard pair.count == 2 else { continue }
            var value = pair[1].trimmingCharacters(in: .whitespaces)
            if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 {
                value = String(value.dropFirst().dropLast())
            }
            parameters[pair[0].trimmingCharacters(in: .whitespaces).lowercased()] = value
        }
        return parameters
    }

    /// The boundary of a `multipart/form-data` content type, if it is one.
    static func boundary(_ contentType: String) -> String? {
        let pieces = contentType.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
        guard pieces.first?.lowercased() == "multipart/form-data" else { return nil }
        for piece in pieces.dropFirst() {
            let pair = piece.split(separator: "=", maxSplits: 1)
            guard pair.count == 2, pair[0].lowercased() == "boundary" else { continue }
            var value = String(pair[1])
            if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 {
                value = String(value.dropFirst().dropLast())
            }
            return value.isEmpty ? nil : value
        }
        return nil
    }
}
