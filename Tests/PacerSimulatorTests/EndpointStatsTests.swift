import Foundation
import PacerCore
import PacerOpenAI
import PacerSimulator
import PacerTesting
import Testing

/// `/stats`' `by_endpoint`: what a client adds up from the bodies it received.
@Suite struct EndpointStatsTests {
    /// Sends `count` requests to each endpoint (some invalid), and checks that each endpoint's
    /// counts and tokens are those of the answers received.
    func check(_ configuration: SimulatorConfiguration, count: Int) async throws {
        try await withSimulator(configuration) { server in
            let api = API(server)
            var received: [String: (requests: Int, statuses: [String: Int], tokens: TokenUsage)] = [:]
            for path in endpointPaths {
                var tally = (requests: 0, statuses: [String: Int](), tokens: TokenUsage())
                for index in 0..<count {
                    // Every fifth request is invalid (unknown model), answered 404.
                    var request = validRequest(path, "prompt \(index) for \(path)")
                    if index % 5 == 4 { request["model"] = "unknown-model" }
                    tally.requests += 1
                    let answer: APIAnswer
                    do {
                        answer = try await api.post(path, request)
                    } catch {
                        continue  // dropped or truncated: nothing received
                    }
                    tally.statuses[String(answer.status), default: 0] += 1
                    guard answer.status == 200 else { continue }
                    if let (prompt, completion, total) = usage(of: answer.body) {
                        tally.tokens = tally.tokens + TokenUsage(prompt: prompt, completion: completion, total: total)
                    } else {
                        // Moderations report no usage: the simulator counts the inputs' tokens.
                        #expect(path == "moderations")
                        let inputs = try #require(request["input"] as? [String])
                        let tokens = inputs.reduce(0) { $0 + TokenEstimate.text($1) }
                        tally.tokens = tally.tokens + TokenUsage(prompt: tokens, completion: 0, total: tokens)
                    }
                }
                received[path] = tally
            }
            let snapshot = server.stats.snapshot()
            #expect(Set(snapshot.byEndpoint.keys) == Set(endpointPaths))
            var allTokens = TokenUsage()
            for path in endpointPaths {
                let stats = try #require(snapshot.byEndpoint[path])
                let tally = try #require(received[path])
                #expect(stats.requests == tally.requests, "\(path)")
                #expect(stats.tokens == tally.tokens, "\(path)")
                #expect(stats.tokens.total > 0, "\(path)")
                // Statuses the client saw; the simulator also names outcomes that have none.
                for (status, count) in tally.statuses {
                    #expect(stats.byStatus[status] == count, "\(path) \(status)")
                }
                #expect(stats.byStatus.values.reduce(0, +) == tally.requests, "\(path)")
                allTokens = allTokens + stats.tokens
            }
            #expect(snapshot.tokens == allTokens)
            // The JSON says the same.
            let json = try await api.stats()
            let byEndpoint = try #require(json["by_endpoint"] as? JSONObject)
            for path in endpointPaths {
                let endpoint = try #require(byEndpoint[path] as? JSONObject)
                let stats = try #require(snapshot.byEndpoint[path])
                #expect(endpoint["requests"] as? Int == stats.requests)
                #expect(endpoint["by_status"] as? [String: Int] == stats.byStatus)
                let tokens = try #require(endpoint["tokens"] as? [String: Int])
                #expect(
                    tokens == [
                        "prompt": stats.tokens.prompt, "completion": stats.tokens.completion,
                        "total": stats.tokens.total,
                    ]
                )
            }
            #expect(json["requests"] as? Int == snapshot.requests)
            #expect(json["by_item"] is JSONObject)
        }
    }

    @Test func tokensPerEndpointAreTheUsageOfTheBodiesReceived() async throws {
        try await check(SimulatorConfiguration(), count: 10)
    }

    @Test func answersLostToFaultsCountNoTokens() async throws {
        try await check(
            SimulatorConfiguration(faultRate: 0.5, faults: [.serverError, .truncate, .drop], seed: 11),
            count: 20
        )
    }

    @Test func itemsAreKeyedByEndpointAndFirstInput() async throws {
        try await withSimulator { server in
            let api = API(server)
            for path in endpointPaths {
                _ = try await api.post(path, validRequest(path, "key text"))
            }
            let items = server.stats.snapshot().byItem
            #expect(items["chat:key text"] == 1)
            #expect(items["embeddings:key text"] == 1)
            #expect(items["completions:key text"] == 1)
            #expect(items["responses:key text"] == 1)
            #expect(items["moderations:key text"] == 1)
        }
    }
}
