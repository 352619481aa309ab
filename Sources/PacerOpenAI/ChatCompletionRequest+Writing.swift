import PacerHTTP
import PacerJSON

extension ChatCompletionRequest {
    /// The request as the JSON body to send, written byte by byte (what `JSONEncoder` would
    /// write, at a fraction of its cost: this runs once per request). Absent options are left
    /// out, as the encoder leaves out `nil`.
    public var jsonBytes: [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(64 + messages.reduce(0) { $0 + $1.content.utf8.count + 32 })
        output.append(contentsOf: #"{"model":"#.utf8)
        JSONValue.writeString(model, to: &output)
        output.append(contentsOf: #","messages":["#.utf8)
        for (index, message) in messages.enumerated() {
            if index > 0 { output.append(UInt8(ascii: ",")) }
            output.append(contentsOf: #"{"role":"#.utf8)
            JSONValue.writeString(message.role, to: &output)
            output.append(contentsOf: #","content":"#.utf8)
            JSONValue.writeString(message.content, to: &output)
            output.append(UInt8(ascii: "}"))
        }
        output.append(UInt8(ascii: "]"))
        if let maxTokens {
            output.append(contentsOf: #","max_tokens":"#.utf8)
            output.append(contentsOf: String(maxTokens).utf8)
        }
        if let temperature {
            output.append(contentsOf: #","temperature":"#.utf8)
            JSONValue.writeNumber(temperature, to: &output)
        }
        if let stream {
            output.append(contentsOf: (stream ? #","stream":true"# : #","stream":false"#).utf8)
        }
        if let streamOptions {
            output.append(
                contentsOf: (streamOptions.includeUsage
                    ? #","stream_options":{"include_usage":true}"# : #","stream_options":{"include_usage":false}"#)
                    .utf8
            )
        }
        output.append(UInt8(ascii: "}"))
        return output
    }
}
