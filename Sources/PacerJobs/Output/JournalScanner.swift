/// Reads the lines of an output file byte by byte, keeping only what the journal needs: the
/// item's id and whether it succeeded.
///
/// A line of Pacer's output can be as long as the largest body Pacer accepts (16 MiB, more
/// once escaped), so the journal does not hold lines: this scanner checks each line's JSON
/// syntax as the bytes go by and keeps the top-level `id` / `custom_id`, `success` and
/// `error`, `response.status_code` (OpenAI's Batch API output format) and `result.type`
/// (Anthropic's Message Batch results, where `succeeded` is a success). Its memory is the
/// id and the nesting depth, whatever the line's length; chunk boundaries may fall anywhere.
package struct JournalScanner {
    /// What one line said.
    package enum Line: Equatable {
        /// Only whitespace.
        case blank
        /// A JSON object with an id: the item, and whether its line is a success.
        case entry(id: String, succeeded: Bool)
        /// Not a JSON object, or one without a string `id` / `custom_id`.
        case invalid
    }

    /// The fields of a line the journal reads.
    private enum Field {
        case id, customID, success, error, response, statusCode, body, bodyError, result, resultType, other
    }

    /// What the next significant byte may be.
    private enum Expect { case start, value, keyOrEnd, key, colon, commaOrEnd, end }

    private var expect = Expect.start
    /// `{` or `[` for each open container.
    private var stack: [UInt8] = []
    private var invalid = false
    // String state.
    private var inString = false
    private var stringIsKey = false
    private var escaped = false
    private var hexDigitsLeft = 0
    private var stringHasEscape = false
    // A number or a literal being read.
    private var inScalar = false
    private var scalar: [UInt8] = []
    // The key of the value about to be read, and what is captured.
    private var key: [UInt8] = []
    private var field = Field.other
    private var capturing = false
    private var captured: [UInt8] = []
    private var responseIsObject = false
    /// Inside a top-level `result` object (an Anthropic Message Batch result).
    private var resultIsObject = false
    private var bodyIsObject = false
    /// `response.body.error` is set: Pacer 777de37 and earlier wrote a 200 whose body did not
    /// decode as `status_code: 200` with the error in the body and a null top-level `error`.
    private var bodyHasError = false
    private var id: [UInt8]?
    private var idHasEscape = false
    private var customID: [UInt8]?
    private var customIDHasEscape = false
    private var success: Bool?
    private var hasError = false
    private var statusCode: Int?

    /// Feeds `bytes`; calls `onLine` with each line they end (at `\n`).
    /// A scanner at the start of a file.
    package init() {}

    package mutating func scan(_ bytes: UnsafeRawBufferPointer, onLine: (Line) throws -> Void) rethrows {
        for byte in bytes {
            if byte == UInt8(ascii: "\n") {
                try onLine(finishLine())
            } else if !invalid {
                consume(byte)
            }
        }
    }

    /// Ends a last line that has no newline (only in a file that was not repaired).
    package mutating func finish(onLine: (Line) throws -> Void) rethrows {
        if expect != .start || invalid { try onLine(finishLine()) }
    }

    private mutating func finishLine() -> Line {
        defer { self = JournalScanner() }
        if inScalar { endScalar() }
        if invalid || inString { return .invalid }
        if expect == .start { return .blank }
        guard expect == .end, stack.isEmpty else { return .invalid }
        guard let raw = customID ?? id,
            let text = Self.decode(raw, escaped: customID != nil ? customIDHasEscape : idHasEscape)
        else {
            return .invalid
        }
        let succeeded = success ?? (!hasError && !bodyHasError && statusCode.map { (200...299).contains($0) } == true)
        return .entry(id: text, succeeded: succeeded)
    }

    private mutating func consume(_ byte: UInt8) {
        if inString {
            consumeInString(byte)
            return
        }
        if inScalar {
            if Self.isScalarByte(byte) {
                // A number or literal longer than 64 bytes is kept (and checked) by its start.
                if scalar.count < 64 { scalar.append(byte) }
                return
            }
            endScalar()
            if invalid { return }
        }
        switch byte {
        case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\r"):
            return
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            guard expect == .value || (expect == .start && byte == UInt8(ascii: "{")) else { return fail() }
            if stack.count == 1 { hasError = hasError || field == .error }
            if stack.count == 1, field == .response, byte == UInt8(ascii: "{") { responseIsObject = true }
            if stack.count == 1, field == .result, byte == UInt8(ascii: "{") { resultIsObject = true }
            if stack.count == 2, field == .body, byte == UInt8(ascii: "{") { bodyIsObject = true }
            if stack.count == 3, field == .bodyError { bodyHasError = true }
            if stack.count == 1, field == .id || field == .customID || field == .success { return fail() }
            stack.append(byte)
            arrayJustOpened = byte == UInt8(ascii: "[")
            expect = arrayJustOpened ? .value : .keyOrEnd
        case UInt8(ascii: "}"), UInt8(ascii: "]"):
            let closesArray = byte == UInt8(ascii: "]")
            guard let open = stack.last, open == (closesArray ? UInt8(ascii: "[") : UInt8(ascii: "{")) else {
                return fail()
            }
            guard
                expect == .commaOrEnd || (!closesArray && expect == .keyOrEnd)
                    || (closesArray && arrayJustOpened && expect == .value)
            else {
                return fail()
            }
            if stack.count == 2, open == UInt8(ascii: "{") {
                responseIsObject = false
                resultIsObject = false
            }
            if stack.count == 3, open == UInt8(ascii: "{") { bodyIsObject = false }
            stack.removeLast()
            arrayJustOpened = false
            expect = stack.isEmpty ? .end : .commaOrEnd
        case UInt8(ascii: ","):
            guard expect == .commaOrEnd, let open = stack.last else { return fail() }
            expect = open == UInt8(ascii: "{") ? .key : .value
        case UInt8(ascii: ":"):
            guard expect == .colon else { return fail() }
            expect = .value
        case UInt8(ascii: "\""):
            if expect == .keyOrEnd || expect == .key {
                stringIsKey = true
                key.removeAll(keepingCapacity: true)
            } else if expect == .value {
                stringIsKey = false
                if stack.count == 1, field == .error { hasError = true }
                if stack.count == 3, field == .bodyError { bodyHasError = true }
                if stack.count == 1, field == .success { return fail() }
                capturing =
                    (stack.count == 1 && (field == .id || field == .customID))
                    || (stack.count == 2 && field == .resultType)
                captured.removeAll(keepingCapacity: true)
            } else {
                return fail()
            }
            arrayJustOpened = false
            inString = true
            stringHasEscape = false
        default:
            guard expect == .value, Self.isScalarByte(byte) else { return fail() }
            arrayJustOpened = false
            inScalar = true
            scalar = [byte]
        }
    }

    /// Whether the last container opened is an empty array so far (`[]` is valid).
    private var arrayJustOpened = false

    private mutating func consumeInString(_ byte: UInt8) {
        if byte < 0x20 { return fail() }
        if hexDigitsLeft > 0 {
            guard Self.isHexDigit(byte) else { return fail() }
            hexDigitsLeft -= 1
        } else if escaped {
            escaped = false
            switch byte {
            case UInt8(ascii: "u"): hexDigitsLeft = 4
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                UInt8(ascii: "n"),
                UInt8(ascii: "r"), UInt8(ascii: "t"):
                break
            default: return fail()
            }
        } else if byte == UInt8(ascii: "\\") {
            escaped = true
            stringHasEscape = true
        } else if byte == UInt8(ascii: "\"") {
            inString = false
            endString()
            return
        }
        if stringIsKey {
            if key.count <= 16 { key.append(byte) }
        } else if capturing {
            captured.append(byte)
        }
    }

    private mutating func endString() {
        if stringIsKey {
            expect = .colon
            field = Self.field(
                key,
                depth: stack.count,
                inResponse: responseIsObject,
                inBody: bodyIsObject,
                inResult: resultIsObject
            )
            return
        }
        if capturing {
            if field == .resultType {
                success = captured == Array("succeeded".utf8)
            } else if field == .id {
                id = captured
                idHasEscape = stringHasEscape
            } else {
                customID = captured
                customIDHasEscape = stringHasEscape
            }
            capturing = false
        }
        expect = .commaOrEnd
    }

    private mutating func endScalar() {
        inScalar = false
        let isLiteral = scalar.first.map { $0 >= UInt8(ascii: "a") && $0 <= UInt8(ascii: "z") } ?? false
        if isLiteral {
            guard scalar == Array("true".utf8) || scalar == Array("false".utf8) || scalar == Array("null".utf8) else {
                return fail()
            }
        } else if !Self.isNumber(scalar) {
            return fail()
        }
        if stack.count == 1 {
            switch field {
            case .success:
                guard isLiteral, scalar != Array("null".utf8) else { return fail() }
                success = scalar == Array("true".utf8)
            case .error:
                hasError = scalar != Array("null".utf8)
            case .id, .customID:
                return fail()
            default:
                break
            }
        } else if stack.count == 2, field == .statusCode, !isLiteral {
            statusCode = Int(String(decoding: scalar, as: UTF8.self))
        } else if stack.count == 3, field == .bodyError, scalar != Array("null".utf8) {
            bodyHasError = true
        }
        expect = .commaOrEnd
    }

    private mutating func fail() { invalid = true }

    private static func field(_ key: [UInt8], depth: Int, inResponse: Bool, inBody: Bool, inResult: Bool) -> Field {
        if depth == 2, inResponse, key == Array("status_code".utf8) { return .statusCode }
        if depth == 2, inResult, key == Array("type".utf8) { return .resultType }
        if depth == 2, inResponse, key == Array("body".utf8) { return .body }
        if depth == 3, inBody, key == Array("error".utf8) { return .bodyError }
        guard depth == 1 else { return .other }
        switch key {
        case Array("id".utf8): return .id
        case Array("custom_id".utf8): return .customID
        case Array("success".utf8): return .success
        case Array("error".utf8): return .error
        case Array("response".utf8): return .response
        case Array("result".utf8): return .result
        default: return .other
        }
    }

    private static func isScalarByte(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "z"))
            || (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
            || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "+") || byte == UInt8(ascii: ".")
            || byte == UInt8(ascii: "E")
    }

    private static func isHexDigit(_ byte: UInt8) -> Bool {
        (byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9"))
            || (byte >= UInt8(ascii: "a") && byte <= UInt8(ascii: "f"))
            || (byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "F"))
    }

    /// JSON's number grammar: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
    private static func isNumber(_ bytes: [UInt8]) -> Bool {
        var index = 0
        func digits() -> Int {
            let start = index
            while index < bytes.count, bytes[index] >= UInt8(ascii: "0"), bytes[index] <= UInt8(ascii: "9") {
                index += 1
            }
            return index - start
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "-") { index += 1 }
        let leadingZero = index < bytes.count && bytes[index] == UInt8(ascii: "0")
        let integer = digits()
        guard integer > 0, !(leadingZero && integer > 1) else { return false }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            guard digits() > 0 else { return false }
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: "e") || bytes[index] == UInt8(ascii: "E") {
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
                index += 1
            }
            guard digits() > 0 else { return false }
        }
        return index == bytes.count
    }

    /// The text of a captured JSON string (its bytes between the quotes, checked by the scan).
    private static func decode(_ raw: [UInt8], escaped: Bool) -> String? {
        guard escaped else { return String(validating: raw, as: UTF8.self) }
        var bytes: [UInt8] = []
        var scalars = String.UnicodeScalarView()
        var index = 0
        func hex(at start: Int) -> UInt32 {
            raw[start..<start + 4].reduce(0) { value, byte in
                let digit =
                    byte <= UInt8(ascii: "9") ? byte - UInt8(ascii: "0") : (byte | 0x20) - UInt8(ascii: "a") + 10
                return value << 4 | UInt32(digit)
            }
        }
        func flush() -> Bool {
            guard let text = String(validating: bytes, as: UTF8.self) else { return false }
            scalars.append(contentsOf: text.unicodeScalars)
            bytes.removeAll()
            return true
        }
        while index < raw.count {
            guard raw[index] == UInt8(ascii: "\\") else {
                bytes.append(raw[index])
                index += 1
                continue
            }
            guard flush() else { return nil }
            let kind = raw[index + 1]
            index += 2
            switch kind {
            case UInt8(ascii: "b"): scalars.append("\u{08}")
            case UInt8(ascii: "f"): scalars.append("\u{0C}")
            case UInt8(ascii: "n"): scalars.append("\n")
            case UInt8(ascii: "r"): scalars.append("\r")
            case UInt8(ascii: "t"): scalars.append("\t")
            case UInt8(ascii: "u"):
                var value = hex(at: index)
                index += 4
                // A surrogate pair is two escapes; a lone surrogate is not text.
                if (0xD800..<0xDC00).contains(value), index + 6 <= raw.count, raw[index] == UInt8(ascii: "\\"),
                    raw[index + 1] == UInt8(ascii: "u")
                {
                    let low = hex(at: index + 2)
                    guard (0xDC00..<0xE000).contains(low) else { return nil }
                    value = 0x10000 + (value - 0xD800) << 10 + (low - 0xDC00)
                    index += 6
                }
                guard let scalar = Unicode.Scalar(value) else { return nil }
                scalars.append(scalar)
            default: scalars.append(Unicode.Scalar(kind))  // " \\ /
            }
        }
        guard flush() else { return nil }
        return String(scalars)
    }
}
