import Foundation
import PacerSimulator
import PacerTesting
import Testing

/// `rejectInputContaining` (`pacer simulate --reject-input-containing`): a request with a bad
/// input is answered 400, naming the first bad input, every time.
@Suite struct RejectInputTests {
    let configuration = SimulatorConfiguration(rejectInputContaining: "POISON")

    @Test func aPackedEmbeddingsRequestNamesItsFirstBadInput() async throws {
        try await withSimulator(configuration) { server in
            let api = API(server)
            var inputs = (0..<10).map { "input number \($0)" }
            inputs[3] = "this one has POISON in it"
            inputs[7] = "POISON again"
            let request: JSONObject = ["model": "text-embedding-3-small", "input": inputs, "dimensions": 2]
            for _ in 0..<2 {
                let answer = try await api.post("embeddings", request)
                #expect(answer.status == 400)
                let error = try answer.error()
                #expect(error["type"] as? String == "invalid_request_error")
                #expect(error["param"] as? String == "input[3]")
                #expect((error["message"] as? String)?.contains("input[3]") == true)
            }
            // Split as a client would: the half without it passes, the other still fails.
            let clean = try await api.post(
                "embeddings",
                ["model": "text-embedding-3-small", "input": Array(inputs[0..<3])]
            )
            #expect(clean.status == 200)
            let rest = try await api.post(
                "embeddings",
                ["model": "text-embedding-3-small", "input": Array(inputs[4...])]
            )
            #expect(try rest.error()["param"] as? String == "input[3]")
            let stats = try #require(server.stats.snapshot().byEndpoint["embeddings"])
            #expect(stats.byStatus == ["400": 3, "200": 1])
        }
    }

    @Test func aChatRequestNamesItsBadMessage() async throws {
        try await withSimulator(configuration) { server in
            let answer = try await API(server).post(
                "chat/completions",
                [
                    "model": "gpt-4o-mini",
                    "messages": [
                        ["role": "system", "content": "Be brief."], ["role": "user", "content": "fine"],
                        ["role": "assistant", "content": "ok"], ["role": "user", "content": "now POISON"],
                    ],
                ]
            )
            #expect(answer.status == 400)
            let error = try answer.error()
            #expect(error["type"] as? String == "invalid_request_error")
            #expect(error["param"] as? String == "messages[3].content")
            let good = try await API(server).post("chat/completions", validRequest("chat/completions", "fine"))
            #expect(good.status == 200)
        }
    }

    @Test(arguments: [
        ("completions", #"{"model": "gpt-3.5-turbo-instruct", "prompt": ["a", "b", "POISON"]}"#, "prompt[2]"),
        ("moderations", #"{"input": ["a", "POISON b"]}"#, "input[1]"),
        ("responses", #"{"model": "gpt-4o-mini", "input": "POISON"}"#, "input[0]"),
        (
            "responses",
            #"{"model": "gpt-4o-mini", "input": [{"role": "user", "content": "a"}, "#
                + #"{"role": "user", "content": [{"type": "input_text", "text": "b POISON"}]}]}"#,
            "input[1]"
        ),
    ])
    func theOtherEndpointsNameTheirBadInput(_ path: String, _ json: String, _ param: String) async throws {
        let request = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? JSONObject)
        try await withSimulator(configuration) { server in
            let answer = try await API(server).post(path, request)
            #expect(answer.status == 400)
            #expect(try answer.error()["param"] as? String == param)
        }
    }

    @Test func withoutTheSettingTheWordIsAnInputLikeAnother() async throws {
        try await withSimulator { server in
            for path in endpointPaths {
                let answer = try await API(server).post(path, validRequest(path, "POISON"))
                #expect(answer.status == 200, "\(path)")
            }
        }
    }
}
