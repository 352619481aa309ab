/// Any JSON value, for carrying a response's JSON through to the output unchanged.
public enum JSONValue: Sendable, Hashable, Codable {
    /// `null`
    case null
    /// `true` or `false`
    case bool(Bool)
    /// A number, as its exact text (see ``JSONNumber``).
    case number(JSONNumber)
    /// A string.
    case string(String)
    /// An array.
    case array([JSONValue])
    /// An object; key order is not preserved.
    case object([String: JSONValue])

    /// Decodes any JSON value.
    ///
    /// A `Decoder` gives no number's text: integers that fit 64 bits are kept exactly, other
    /// numbers as the nearest `Double`. ``init(parsing:maxDepth:)`` keeps every number's text.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int64.self) {
            self = .number(JSONNumber(value))
        } else if let value = try? container.decode(UInt64.self) {
            self = .number(JSONNumber(value))
        } else if let value = try? container.decode(Double.self), let number = JSONNumber(value) {
            self = .number(number)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    /// Encodes the value. An `Encoder` takes no number text: an integer that fits 64 bits is
    /// encoded exactly, another number as the nearest `Double` (``write(to:)`` keeps the text).
    ///
    /// - Throws: `EncodingError.invalidValue` for a number beyond `Double`'s range.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .number(let number):
            if let value = number.int {
                try container.encode(value)
            } else if number.isIntegerLiteral, let value = UInt64(number.text) {
                try container.encode(value)
            } else if let value = number.double {
                try container.encode(value)
            } else {
                throw EncodingError.invalidValue(
                    number.text,
                    EncodingError.Context(
                        codingPath: encoder.codingPath,
                        debugDescription: "\(number.text.prefix(40)) is beyond Double's range"
                    )
                )
            }
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }

    /// The value for `key` when this is an object.
    public subscript(key: String) -> JSONValue? {
        if case .object(let object) = self { return object[key] }
        return nil
    }
}

extension JSONValue {
    /// `a string`, `an object`, …: the value's type, for messages.
    package var typeName: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .number: "a number"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }
}
