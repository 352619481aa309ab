import PacerHTTP
import PacerJSON
import PacerOpenAI

extension ItemParser where Input == APIRequest {
    /// OpenAI Batch API input lines, for any endpoint: `{"custom_id", "method": "POST", "url",
    /// "body"}`, where `url` is one of `APIEndpoint`'s (`/v1/chat/completions`,
    /// `/v1/embeddings`, `/v1/completions`, `/v1/responses`, `/v1/moderations`; with or
    /// without `/v1`) and `body` an object, sent as it is.
    package static let batchAPI = ItemParser(
        parseText: { _ throws in
            throw LineProblem(message: #"expected an OpenAI Batch API line: {"custom_id", "method", "url", "body"}"#)
        },
        parseJSON: { line throws in
            guard line["custom_id"] != nil else {
                throw LineProblem(
                    message: #"expected an OpenAI Batch API line with "custom_id", "method", "url" and "body""#
                )
            }
            // Problems below are reported under the line's own id.
            let id = try itemID(["custom_id": line["custom_id"] ?? .null])
            func problem(_ message: String) -> LineProblem { LineProblem(message: message, itemID: id) }
            if line["params"] != nil, line["url"] == nil {
                throw problem(
                    "this is an Anthropic Message Batch line, in a file whose first line is an OpenAI Batch API line; a file holds one kind"
                )
            }
            guard case .string(let method)? = line["method"], method.uppercased() == "POST" else {
                throw problem(
                    #"Batch API "method" must be "POST", not \#(line["method"]?.excerpt ?? "missing")"#
                )
            }
            guard case .string(let url)? = line["url"], let endpoint = APIEndpoint(batchURL: url) else {
                let supported = APIEndpoint.openAICases.map(\.batchURL).joined(separator: ", ")
                throw problem(
                    #"unsupported Batch API "url" \#(line["url"]?.excerpt ?? "(missing)"); Pacer runs \#(supported)"#
                )
            }
            guard case .object? = line["body"], let body = line["body"] else {
                throw problem(#"Batch API "body" must be a JSON object, not \#(line["body"]?.excerpt ?? "missing")"#)
            }
            // The Batch API answers whole, and its output line holds the whole answer: a
            // streamed one would never read as an answer, and every retry would be paid for.
            if body["stream"] == .bool(true) {
                throw problem(
                    #""stream": true is not supported in a Batch API line (answers are kept whole); remove it"#
                )
            }
            return (id, APIRequest(endpoint: endpoint, body: body))
        }
    )

    /// OpenAI Batch API input lines that all call `endpoint`, as a batch created for one
    /// endpoint (`POST /v1/batches` with `"endpoint"`) requires: a line for another is a
    /// problem on its line.
    package static func batchAPI(only endpoint: APIEndpoint) -> ItemParser {
        let any = batchAPI
        return ItemParser(
            parseText: any.parseText,
            parseJSON: { line throws in
                let (id, request) = try any.parseJSON(line)
                guard request.endpoint == endpoint else {
                    throw LineProblem(
                        message:
                            #"this line's "url" is \#(request.endpoint.batchURL), but the batch's endpoint is \#(endpoint.batchURL)"#,
                        itemID: id
                    )
                }
                return (id, request)
            }
        )
    }
}
