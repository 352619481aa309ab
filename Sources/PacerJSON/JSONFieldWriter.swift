/// Writes a JSON object field by field, for types that know their fields: the caller gives
/// the keys in the order they should appear (sorted, for stable output).
public struct JSONFieldWriter: Sendable {
    private var output: [UInt8]
    private var empty = true

    /// Starts an object.
    ///
    /// - Parameter capacity: The bytes to make room for at once (default 256); an object
    ///   that holds a whole answer should ask for the answer's size and some.
    public init(capacity: Int = 256) {
        output = [UInt8(ascii: "{")]
        output.reserveCapacity(capacity)
    }

    private mutating func key(_ name: String) {
        if !empty { output.append(UInt8(ascii: ",")) }
        empty = false
        JSONValue.writeString(name, to: &output)
        output.append(UInt8(ascii: ":"))
    }

    /// Adds a string field.
    public mutating func string(_ name: String, _ value: String) {
        key(name)
        JSONValue.writeString(value, to: &output)
    }

    /// Adds a number field.
    public mutating func number(_ name: String, _ value: Double) {
        key(name)
        JSONValue.writeNumber(value, to: &output)
    }

    /// Adds an integer field.
    public mutating func number(_ name: String, _ value: Int) {
        key(name)
        output.append(contentsOf: String(value).utf8)
    }

    /// Adds a field holding any JSON value.
    public mutating func value(_ name: String, _ value: JSONValue) {
        key(name)
        value.write(to: &output)
    }

    /// Adds a field whose value is already JSON text (an object from another writer).
    public mutating func raw(_ name: String, _ json: [UInt8]) {
        key(name)
        output.append(contentsOf: json)
    }

    /// Adds a field whose value is already JSON text (a server's body, kept as it came).
    public mutating func raw(_ name: String, _ json: String) {
        key(name)
        output.append(contentsOf: json.utf8)
    }

    /// Closes the object and returns its JSON text.
    public mutating func finish() -> [UInt8] {
        output.append(UInt8(ascii: "}"))
        return output
    }
}
