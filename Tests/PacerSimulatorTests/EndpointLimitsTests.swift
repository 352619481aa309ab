import Foundation
import NIOHTTP1
import PacerSimulator
import PacerTesting
import Testing

/// The new endpoints share chat's path: rate limits, faults, the key and the quota.
@Suite struct EndpointLimitsTests {
    @Test(arguments: endpointPaths)
    func aBurstOverTheRequestLimitGets429s(_ path: String) async throws {
        // 6 RPM, quantized: a bucket of 0.1 request, so after the first request the next is
        // 10 s away, whatever the machine's speed.
        try await withSimulator(SimulatorConfiguration(requestsPerMinute: 6)) { server in
            var statuses: [Int] = []
            for index in 0..<5 {
                let answer = try await API(server).post(path, validRequest(path, "burst \(index)"))
                statuses.append(answer.status)
                #expect(answer.headers.first(name: "x-ratelimit-limit-requests") == "6")
                if answer.status == 429 {
                    #expect(try answer.error()["code"] as? String == "rate_limit_exceeded")
                    #expect(answer.headers.first(name: "retry-after") != nil)
                }
            }
            #expect(statuses == [200, 429, 429, 429, 429])
            #expect(server.stats.snapshot().byEndpoint[path]?.byStatus == ["200": 1, "429": 4])
        }
    }

    @Test(arguments: endpointPaths)
    func aRequestOverTheTokenLimitGetsA429(_ path: String) async throws {
        try await withSimulator(SimulatorConfiguration(tokensPerMinute: 50)) { server in
            let long = String(repeating: "word ", count: 100)
            let answer = try await API(server).post(path, validRequest(path, long))
            #expect(answer.status == 429)
            #expect((try answer.error()["message"] as? String)?.contains("tokens per min (TPM)") == true)
        }
    }

    @Test(arguments: endpointPaths)
    func faultsApply(_ path: String) async throws {
        try await withSimulator(SimulatorConfiguration(faultRate: 1, faults: [.unavailable])) { server in
            let answer = try await API(server).post(path, validRequest(path, "x"))
            #expect(answer.status == 503)
            #expect(try answer.error()["type"] as? String == "server_error")
        }
    }

    @Test(arguments: endpointPaths)
    func theKeyIsChecked(_ path: String) async throws {
        try await withSimulator(SimulatorConfiguration(apiKey: "sk-sim")) { server in
            let api = API(server)
            let without = try await api.post(path, validRequest(path, "x"))
            #expect(without.status == 401)
            let with = try await api.post(path, validRequest(path, "x"), key: "sk-sim")
            #expect(with.status == 200)
            #expect(server.stats.snapshot().byEndpoint[path]?.byStatus == ["401": 1, "200": 1])
        }
    }

    @Test(arguments: endpointPaths)
    func anExhaustedQuotaAnswers429InsufficientQuota(_ path: String) async throws {
        try await withSimulator(SimulatorConfiguration(quotaExhausted: true)) { server in
            let answer = try await API(server).post(path, validRequest(path, "x"))
            #expect(answer.status == 429)
            #expect(try answer.error()["code"] as? String == "insufficient_quota")
        }
    }

    @Test(arguments: ["completions", "responses", "embeddings", "moderations"])
    func chatOnlyFaultsLeaveOtherBodiesWhole(_ path: String) async throws {
        try await withSimulator(SimulatorConfiguration(faultRate: 1, faults: [.refusal])) { server in
            let answer = try await API(server).post(path, validRequest(path, "x"))
            #expect(answer.status == 200)
            let choices = answer.body["choices"] as? [JSONObject]
            #expect(choices?.allSatisfy { $0["message"] == nil && $0["text"] is String } ?? true)
            #expect(usage(of: answer.body) != nil || path == "moderations")
        }
    }
}
