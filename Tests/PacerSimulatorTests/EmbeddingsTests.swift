import Foundation
import PacerOpenAI
import PacerSimulator
import PacerTesting
import Testing

/// `POST /v1/embeddings` against the real simulator over loopback.
@Suite struct EmbeddingsTests {
    /// The vectors of an answer, in order (`encoding_format: "float"`).
    func vectors(_ answer: APIAnswer) throws -> [[Double]] {
        let data = try #require(answer.body["data"] as? [JSONObject], "\(answer.body)")
        return try data.map { try #require($0["embedding"] as? [Double]) }
    }

    /// A request for `inputs` with the small model and `dimensions`.
    func request(_ inputs: Any, dimensions: Int? = nil, format: String? = nil) -> JSONObject {
        var json: JSONObject = ["model": "text-embedding-3-small", "input": inputs]
        json["dimensions"] = dimensions
        json["encoding_format"] = format
        return json
    }

    @Test func aValidRequestGetsOneUnitVectorPerInputAndTheTextsTokensAsUsage() async throws {
        try await withSimulator { server in
            let inputs = ["hello world", "a second, longer input", "é"]
            let answer = try await API(server).post("embeddings", request(inputs))
            #expect(answer.status == 200)
            #expect(answer.body["object"] as? String == "list")
            #expect(answer.body["model"] as? String == "text-embedding-3-small")
            let data = try #require(answer.body["data"] as? [JSONObject])
            #expect(data.map { $0["object"] as? String } == ["embedding", "embedding", "embedding"])
            #expect(data.map { $0["index"] as? Int } == [0, 1, 2])
            for vector in try vectors(answer) {
                #expect(vector.count == 1536)
                #expect(abs(vector.reduce(0) { $0 + $1 * $1 } - 1) < 1e-4)
            }
            let tokens = inputs.reduce(0) { $0 + TokenEstimate.text($1) }
            #expect(tokens == 3 + 6 + 1)
            let usage = try #require(answer.body["usage"] as? JSONObject)
            #expect(usage["prompt_tokens"] as? Int == tokens)
            #expect(usage["total_tokens"] as? Int == tokens)
        }
    }

    @Test func aStringAndTokenArraysAreInputsTooAndTokenIdsCountOneEach() async throws {
        try await withSimulator { server in
            let api = API(server)
            let single = try await api.post("embeddings", request("just one string", dimensions: 4))
            #expect(try vectors(single).count == 1)
            #expect((single.body["usage"] as? JSONObject)?["prompt_tokens"] as? Int == 4)
            let ids = try await api.post("embeddings", request([1, 2, 3], dimensions: 4))
            #expect(try vectors(ids).count == 1)
            #expect((ids.body["usage"] as? JSONObject)?["prompt_tokens"] as? Int == 3)
            let lists = try await api.post("embeddings", request([[1, 2, 3], [4, 5]], dimensions: 4))
            #expect(try vectors(lists).count == 2)
            #expect((lists.body["usage"] as? JSONObject)?["prompt_tokens"] as? Int == 5)
        }
    }

    @Test func theLargeModelDefaultsTo3072Dimensions() async throws {
        try await withSimulator { server in
            let answer = try await API(server).post(
                "embeddings",
                ["model": "text-embedding-3-large", "input": "hello"]
            )
            #expect(try vectors(answer).first?.count == 3072)
        }
    }

    @Test func theSameInputGetsTheSameVectorInAnyRequestAndAnotherInputAnother() async throws {
        try await withSimulator { server in
            let api = API(server)
            let first = try vectors(try await api.post("embeddings", request(["alpha", "beta"])))
            let second = try vectors(try await api.post("embeddings", request(["gamma", "alpha"])))
            #expect(first[0] == second[1])
            #expect(first[0] != first[1])
            #expect(first[0] != second[0])
        }
    }

    @Test func base64IsTheLittleEndianFloat32BytesOfTheFloatAnswer() async throws {
        try await withSimulator { server in
            let api = API(server)
            let inputs = ["alpha", "beta"]
            let floats = try vectors(try await api.post("embeddings", request(inputs, dimensions: 64)))
            let encoded = try await api.post("embeddings", request(inputs, dimensions: 64, format: "base64"))
            #expect(encoded.status == 200)
            let data = try #require(encoded.body["data"] as? [JSONObject])
            #expect(data.count == 2)
            for (item, expected) in zip(data, floats) {
                let text = try #require(item["embedding"] as? String)
                let bytes = try #require(Data(base64Encoded: text))
                #expect(bytes.count == 64 * 4)
                let decoded = stride(from: 0, to: bytes.count, by: 4).map { offset in
                    let bits = bytes[offset..<offset + 4].enumerated().reduce(UInt32(0)) {
                        $0 | UInt32($1.element) << (8 * $1.offset)
                    }
                    return Float(bitPattern: bits)
                }
                // JSON carries each float32 as its shortest decimal, which reads back as
                // the same float32.
                #expect(decoded == expected.map { Float($0) })
            }
        }
    }

    @Test func dimensionsAreHonouredAndAShortVectorIsUnitLengthToo() async throws {
        try await withSimulator { server in
            let api = API(server)
            for dimensions in [1, 256, 1536] {
                let vector = try #require(
                    try vectors(try await api.post("embeddings", request("x", dimensions: dimensions))).first
                )
                #expect(vector.count == dimensions)
                #expect(abs(vector.reduce(0) { $0 + $1 * $1 } - 1) < 1e-4)
            }
            let tooMany = try await api.post("embeddings", request("x", dimensions: 1537))
            #expect(tooMany.status == 400)
            #expect(try tooMany.error()["param"] as? String == "dimensions")
            let ada = try await api.post(
                "embeddings",
                ["model": "text-embedding-ada-002", "input": "x", "dimensions": 8]
            )
            #expect(ada.status == 400)
            #expect(try ada.error()["param"] as? String == "dimensions")
        }
    }

    @Test func atMost2048InputsInARequest() async throws {
        try await withSimulator { server in
            let api = API(server)
            let most = try await api.post("embeddings", request((0..<2048).map { "input \($0)" }, dimensions: 1))
            #expect(most.status == 200)
            #expect(try vectors(most).count == 2048)
            let over = try await api.post("embeddings", request((0..<2049).map { "input \($0)" }, dimensions: 1))
            #expect(over.status == 400)
            let error = try over.error()
            #expect(error["type"] as? String == "invalid_request_error")
            #expect(error["param"] as? String == "input")
            #expect((error["message"] as? String)?.contains("2048") == true)
        }
    }

    @Test func atMost8192TokensAnInput() async throws {
        try await withSimulator { server in
            let api = API(server)
            let longest = String(repeating: "abcd", count: 8192)
            #expect(TokenEstimate.text(longest) == 8192)
            let fits = try await api.post("embeddings", request(["short", longest], dimensions: 1))
            #expect(fits.status == 200)
            #expect((fits.body["usage"] as? JSONObject)?["prompt_tokens"] as? Int == 2 + 8192)
            let over = try await api.post("embeddings", request(["short", longest + "e"], dimensions: 1))
            #expect(over.status == 400)
            let error = try over.error()
            #expect(error["type"] as? String == "invalid_request_error")
            let message = try #require(error["message"] as? String)
            #expect(message.contains("maximum context length is 8192 tokens, however you requested 8193 tokens"))
            #expect(message.contains("Please reduce your prompt"))
        }
    }

    @Test func atMost300000TokensInARequest() async throws {
        try await withSimulator { server in
            let api = API(server)
            let input = String(repeating: "abcd", count: 8192)
            let fits = try await api.post("embeddings", request(Array(repeating: input, count: 36), dimensions: 1))
            #expect(fits.status == 200)
            #expect((fits.body["usage"] as? JSONObject)?["prompt_tokens"] as? Int == 36 * 8192)
            let over = try await api.post("embeddings", request(Array(repeating: input, count: 37), dimensions: 1))
            #expect(over.status == 400)
            let error = try over.error()
            #expect(error["type"] as? String == "invalid_request_error")
            #expect(error["message"] as? String == "Requested \(37 * 8192) tokens, max 300000 tokens per request")
        }
    }

    @Test(arguments: [[""], ["fine", ""], [] as [String]])
    func anEmptyInputOrNoneIsInvalid(_ inputs: [String]) async throws {
        try await withSimulator { server in
            let answer = try await API(server).post("embeddings", request(inputs))
            #expect(answer.status == 400)
            let error = try answer.error()
            #expect(error["type"] as? String == "invalid_request_error")
            #expect(error["param"] as? String == "input")
        }
    }

    @Test func aRequestWithoutAModelOrOfTheWrongShapeIsInvalid() async throws {
        try await withSimulator { server in
            let api = API(server)
            let noModel = try await api.post("embeddings", ["input": "x"])
            #expect(noModel.status == 400)
            #expect(try noModel.error()["param"] as? String == "model")
            let wrong = try await api.post("embeddings", ["model": "text-embedding-3-small", "input": [["a": 1]]])
            #expect(wrong.status == 400)
            #expect(try wrong.error()["type"] as? String == "invalid_request_error")
        }
    }
}
