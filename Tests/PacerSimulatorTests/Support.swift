import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import PacerHTTP
import PacerSimulator
import PacerTesting
import Testing

/// A JSON object as the tests read it.
typealias JSONObject = [String: Any]

/// One answer of the simulator: its status, headers and JSON body.
struct APIAnswer {
    var status: Int
    var headers: HTTPHeaders
    var body: JSONObject

    /// `error` of an error body, checked to have OpenAI's shape (a message and a type).
    func error() throws -> JSONObject {
        let error = try #require(body["error"] as? JSONObject, "not an error body: \(body)")
        #expect(error["message"] is String)
        #expect(error["type"] is String)
        return error
    }
}

/// Talks to a running simulator over loopback, as a client would.
struct API {
    let server: Simulator.Running
    private let transport = HTTPTransport(client: .shared, configuration: .init(maxBodyBytes: 64 << 20))

    init(_ server: Simulator.Running) { self.server = server }

    /// `POST /v1/<path>` with `json` as the body.
    func post(_ path: String, _ json: JSONObject, key: String? = nil) async throws -> APIAnswer {
        var headers: HTTPHeaders = ["content-type": "application/json"]
        if let key { headers.add(name: "authorization", value: "Bearer \(key)") }
        let data = try JSONSerialization.data(withJSONObject: json)
        let response = try await transport.send(
            HTTPRequestSpec(
                method: .POST,
                url: server.baseURL + "/" + path,
                headers: headers,
                body: ByteBuffer(bytes: data)
            )
        )
        let body = try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? JSONObject
        return APIAnswer(status: response.status, headers: response.headers, body: try #require(body))
    }

    /// `GET /stats` as JSON.
    func stats() async throws -> JSONObject {
        let response = try await transport.send(HTTPRequestSpec(url: server.rootURL + "/stats"))
        let body = try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? JSONObject
        return try #require(body)
    }
}

/// The usage a client adds up from a body: `(prompt, completion, total)`, from chat's,
/// completions' and embeddings' `prompt_tokens`/`completion_tokens`/`total_tokens` or the
/// Responses API's `input_tokens`/`output_tokens`/`total_tokens`; `nil` when it has none.
func usage(of body: JSONObject) -> (prompt: Int, completion: Int, total: Int)? {
    guard let usage = body["usage"] as? JSONObject, let total = usage["total_tokens"] as? Int else { return nil }
    let prompt = (usage["prompt_tokens"] ?? usage["input_tokens"]) as? Int ?? 0
    let completion = (usage["completion_tokens"] ?? usage["output_tokens"]) as? Int ?? 0
    return (prompt, completion, total)
}

/// A valid request for each API endpoint, about `text`.
func validRequest(_ path: String, _ text: String) -> JSONObject {
    switch path {
    case "chat/completions": ["model": "gpt-4o-mini", "messages": [["role": "user", "content": text]]]
    case "embeddings": ["model": "text-embedding-3-small", "input": [text, text + " again"], "dimensions": 8]
    case "completions": ["model": "gpt-3.5-turbo-instruct", "prompt": [text, text + " again"], "max_tokens": 30]
    case "responses": ["model": "gpt-4o-mini", "input": text, "instructions": "Be brief."]
    default: ["input": [text, text + " again"]]
    }
}

/// The API endpoints, by path after `/v1/`.
let endpointPaths = ["chat/completions", "embeddings", "completions", "responses", "moderations"]
