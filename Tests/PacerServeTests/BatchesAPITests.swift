import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import PacerCore
import PacerHTTP
import PacerJobs
import PacerOpenAI
import PacerServe
import PacerSimulator
import PacerTesting
import Testing

/// `pacer serve`'s Batches API over real HTTP, running batches against the real simulator on
/// loopback: what openai-python's `client.batches` sends, the statuses it polls through, and
/// the output and error files it downloads.
@Suite(.timeLimit(.minutes(3))) struct BatchesAPITests: ServeTesting {
    /// `count` chat lines `r0`, `r1`…; those in `rejected` ask the simulator for a 400.
    static func chatLines(_ count: Int, rejected: Set<Int> = [], endpoint: String = "/v1/chat/completions") -> String {
        (0..<count).map { index in
            let text = rejected.contains(index) ? "REJECT me" : "hello \(index)"
            return
                #"{"custom_id": "r\#(index)", "method": "POST", "url": "\#(endpoint)", "body": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "\#(text)"}]}}"#
        }.joined(separator: "\n") + "\n"
    }

    /// A server whose batches run against a simulator, on a scratch data folder (or `folder`).
    func withBatchServer<T: Sendable>(
        _ simulator: SimulatorConfiguration = SimulatorConfiguration(latency: .milliseconds(5)),
        concurrency: Int = 4,
        folder: URL? = nil,
        _ body: (BatchServer.Running, Simulator.Running, URL) async throws -> T
    ) async throws -> T {
        let folder = folder ?? FileManager.default.temporaryDirectory.appendingPathComponent("serve-\(UUID())")
        defer { if folder.lastPathComponent.hasPrefix("serve-") { try? FileManager.default.removeItem(at: folder) } }
        return try await withSimulator(simulator) { simulator in
            try await Self.withServer(on: simulator, concurrency: concurrency, folder: folder) { server in
                try await body(server, simulator, folder)
            }
        }
    }

    /// A server on `folder` whose batches run against `simulator` (with `upstreamKey`).
    static func withServer<T: Sendable>(
        on simulator: Simulator.Running,
        concurrency: Int = 4,
        folder: URL,
        upstreamKey: String? = nil,
        _ body: (BatchServer.Running) async throws -> T
    ) async throws -> T {
        let transport = HTTPTransport(client: .shared)
        let client = APIClient(
            configuration: .init(baseURL: simulator.baseURL, apiKey: upstreamKey),
            transport: transport
        )
        var settings = RunSettings(
            engine: BatchConfiguration(
                maxConcurrent: concurrency,
                attemptTimeout: .seconds(10),
                retry: RetryPolicy(maxRetries: 8, backoff: Backoff(base: .milliseconds(5), cap: .milliseconds(50))),
                // As pacer serve: learn the limits from one request before sending a wave.
                pacing: RateLimits(probeFirst: true)
            )
        )
        settings.grace = .seconds(5)
        return try await BatchServer.withRunning(
            ServeConfiguration(port: 0, dataFolder: folder),
            backend: .upstream(Upstream(client: client, run: settings)),
            body
        )
    }

    /// Creates a batch over `content`; returns its id.
    func createBatch(
        _ server: BatchServer.Running,
        _ content: String,
        endpoint: String = "/v1/chat/completions",
        window: String = "24h",
        key: String = "sk-one"
    ) async throws -> String {
        let file = try await upload(server, content, key: key)
        let fileID = try #require(file.json["id"] as? String, "\(file.body)")
        let created = try await sendJSON(
            .POST,
            server.baseURL + "/batches",
            key: key,
            ["input_file_id": fileID, "endpoint": endpoint, "completion_window": window, "metadata": ["job": "test"]]
        )
        #expect(created.status == .ok, "\(created.body)")
        #expect(created.json["status"] as? String == "validating")
        return try #require(created.json["id"] as? String)
    }

    /// Polls the batch until its status is one of `statuses`; returns it.
    func waitFor(
        _ statuses: Set<String>,
        _ server: BatchServer.Running,
        _ id: String,
        within: Duration = .seconds(60)
    ) async throws -> [String: Any] {
        var last: [String: Any] = [:]
        let reached = try await eventually(within: within) {
            last = try await send(.GET, server.baseURL + "/batches/\(id)").json
            return statuses.contains(last["status"] as? String ?? "")
        }
        #expect(reached, "the batch stayed \(last["status"] ?? "unknown")")
        return last
    }

    /// A file's lines as JSON objects.
    func lines(_ server: BatchServer.Running, file id: String?) async throws -> [[String: Any]] {
        guard let id else { return [] }
        let content = try await send(.GET, server.baseURL + "/files/\(id)/content")
        return content.body.split(separator: "\n").map {
            (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any] ?? [:]
        }
    }

    @Test func aChatBatchRunsThroughFaultsToCompletedFilesAndCounts() async throws {
        let simulator = SimulatorConfiguration(
            latency: .milliseconds(5),
            faultRate: 0.2,
            seed: 11,
            rejectInputContaining: "REJECT"
        )
        try await withBatchServer(simulator) { server, _, _ in
            let id = try await createBatch(server, Self.chatLines(40, rejected: [3, 17]))
            let batch = try await waitFor(["completed"], server, id)
            let counts = try #require(batch["request_counts"] as? [String: Int])
            #expect(counts == ["total": 40, "completed": 38, "failed": 2])
            for key in ["in_progress_at", "finalizing_at", "completed_at", "expires_at", "created_at"] {
                #expect(batch[key] is Int, "\(key)")
            }
            #expect(batch["metadata"] as? [String: String] == ["job": "test"])
            let usage = try #require(batch["usage"] as? [String: Any])
            #expect((usage["input_tokens"] as? Int ?? 0) > 0)
            #expect((usage["total_tokens"] as? Int ?? 0) > (usage["input_tokens"] as? Int ?? 0))

            let output = try await lines(server, file: batch["output_file_id"] as? String)
            let errors = try await lines(server, file: batch["error_file_id"] as? String)
            #expect(output.count == 38)
            #expect(errors.count == 2)
            let ids = (output + errors).compactMap { $0["custom_id"] as? String }
            #expect(Set(ids) == Set((0..<40).map { "r\($0)" }))
            #expect(ids.count == 40)
            #expect(Set(errors.compactMap { $0["custom_id"] as? String }) == ["r3", "r17"])
            for line in output {
                let response = try #require(line["response"] as? [String: Any])
                #expect(response["status_code"] as? Int == 200)
            }
            // The output files are files of the key that created the batch, and of no other.
            let files = try await send(.GET, server.baseURL + "/files?purpose=batch_output").json
            #expect((files["data"] as? [Any])?.count == 2)
            let other = try await send(.GET, server.baseURL + "/files/\(batch["output_file_id"] ?? "")", key: "sk-two")
            #expect(other.status == .notFound)
        }
    }

    @Test func aFileWithABrokenLine2FailsWithItsLineAndSendsNothing() async throws {
        try await withBatchServer { server, simulator, _ in
            var content = Self.chatLines(3)
            var lines = content.split(separator: "\n").map(String.init)
            lines[1] = #"{"custom_id": "r1", "method": "POST", "url": "/v1/chat/completions", "body": "not an object"}"#
            content = lines.joined(separator: "\n") + "\n"
            let id = try await createBatch(server, content)
            let batch = try await waitFor(["failed"], server, id)
            let errors = try #require((batch["errors"] as? [String: Any])?["data"] as? [[String: Any]])
            #expect(errors.count == 1)
            #expect(errors.first?["line"] as? Int == 2)
            #expect((errors.first?["message"] as? String)?.contains("body") == true)
            #expect(batch["failed_at"] is Int)
            #expect(simulator.stats.snapshot().requests == 0)
        }
    }

    @Test func linesForAnotherEndpointAndDuplicateIDsFailValidation() async throws {
        try await withBatchServer { server, simulator, _ in
            let mixed =
                Self.chatLines(2)
                + Self.chatLines(1, endpoint: "/v1/completions")
                .replacingOccurrences(of: "r0", with: "other")
            let mixedID = try await createBatch(server, mixed)
            let duplicateID = try await createBatch(server, Self.chatLines(2) + Self.chatLines(1))
            let mismatched = try await waitFor(["failed"], server, mixedID)
            let duplicated = try await waitFor(["failed"], server, duplicateID)
            let mismatch = try #require(((mismatched["errors"] as? [String: Any])?["data"] as? [[String: Any]])?.first)
            #expect(mismatch["line"] as? Int == 3)
            #expect(mismatch["code"] as? String == "mismatched_endpoint")
            let duplicate = try #require(((duplicated["errors"] as? [String: Any])?["data"] as? [[String: Any]])?.first)
            #expect(duplicate["code"] as? String == "duplicate_custom_id")
            #expect(duplicate["line"] as? Int == 3)
            #expect(simulator.stats.snapshot().requests == 0)
        }
    }

    @Test func badParametersGetOpenAIsErrorsNamingTheParameter() async throws {
        try await withBatchServer { server, _, _ in
            let file = try #require(try await upload(server, Self.chatLines(1)).json["id"] as? String)
            let url = server.baseURL + "/batches"
            let good: [String: Any] = [
                "input_file_id": file, "endpoint": "/v1/chat/completions", "completion_window": "24h",
            ]
            for (change, param) in [
                (["completion_window": "soon"], "completion_window"),
                (["completion_window": "99999999999999h"], "completion_window"),
                (["endpoint": "/v1/images/generations"], "endpoint"),
                (["input_file_id": "file-nope"], "input_file_id"),
                (["metadata": "not an object"], "metadata"),
            ] as [([String: Any], String)] {
                let answer = try await sendJSON(.POST, url, good.merging(change) { $1 })
                #expect(answer.status == .badRequest, "\(change): \(answer.body)")
                #expect(answer.error["param"] as? String == param, "\(change): \(answer.body)")
                #expect(answer.error["type"] as? String == "invalid_request_error")
            }
            var missing = good
            missing["endpoint"] = nil
            let answer = try await sendJSON(.POST, url, missing)
            #expect(answer.status == .badRequest)
            #expect(answer.error["param"] as? String == "endpoint")
            // Another key's file cannot be run.
            let stolen = try await sendJSON(.POST, url, key: "sk-two", good)
            #expect(stolen.status == .badRequest)
            #expect(stolen.error["param"] as? String == "input_file_id")
            let notJSON = try await send(
                .POST,
                url,
                contentType: "application/json",
                body: .bytes(ByteBuffer(string: "{"))
            )
            #expect(notJSON.status == .badRequest)
        }
    }

    @Test func eachKeySeesOnlyItsOwnBatchesAndListsPageWithAfter() async throws {
        try await withBatchServer { server, _, _ in
            var ids: [String] = []
            for _ in 0..<3 { ids.append(try await createBatch(server, Self.chatLines(2))) }
            let theirs = try await createBatch(server, Self.chatLines(2), key: "sk-two")
            #expect(try await send(.GET, server.baseURL + "/batches/\(theirs)").status == .notFound)
            #expect(try await send(.POST, server.baseURL + "/batches/\(theirs)/cancel").status == .notFound)
            #expect(try await send(.GET, server.baseURL + "/batches/\(ids[0])", key: nil).status == .unauthorized)
            #expect(try await send(.GET, server.baseURL + "/batches", key: nil).status == .unauthorized)

            let first = try await send(.GET, server.baseURL + "/batches?limit=2").json
            let firstPage = (first["data"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
            #expect(firstPage == [ids[2], ids[1]])
            #expect(first["has_more"] as? Bool == true)
            let after = try #require(first["last_id"] as? String)
            let second = try await send(.GET, server.baseURL + "/batches?limit=2&after=\(after)").json
            let secondPage = (second["data"] as? [[String: Any]] ?? []).compactMap { $0["id"] as? String }
            #expect(secondPage == [ids[0]])
            #expect(second["has_more"] as? Bool == false)
            for id in ids { _ = try await waitFor(["completed"], server, id) }
        }
    }

    @Test func aCancelledBatchKeepsItsFinishedLinesAndMarksTheRest() async throws {
        // Slow answers, two at a time: the cancel comes while most lines are still to do.
        try await withBatchServer(SimulatorConfiguration(latency: .milliseconds(100)), concurrency: 2) {
            server,
            _,
            _ in
            let id = try await createBatch(server, Self.chatLines(60))
            #expect(
                try await eventually(within: .seconds(30)) {
                    let batch = try await send(.GET, server.baseURL + "/batches/\(id)").json
                    return ((batch["request_counts"] as? [String: Int])?["completed"] ?? 0) >= 4
                }
            )
            let cancelling = try await send(.POST, server.baseURL + "/batches/\(id)/cancel")
            #expect(cancelling.status == .ok, "\(cancelling.body)")
            #expect(["cancelling", "cancelled"].contains(cancelling.json["status"] as? String ?? ""))
            let batch = try await waitFor(["cancelled"], server, id)
            #expect(batch["cancelling_at"] is Int)
            #expect(batch["cancelled_at"] is Int)
            let counts = try #require(batch["request_counts"] as? [String: Int])
            let output = try await lines(server, file: batch["output_file_id"] as? String)
            let errors = try await lines(server, file: batch["error_file_id"] as? String)
            #expect(counts["completed"] == output.count)
            #expect(counts["failed"] == errors.count)
            #expect(counts["total"] == 60)
            #expect(output.count >= 4 && output.count < 60)
            #expect(output.count + errors.count == 60)
            #expect(
                errors.allSatisfy { ($0["error"] as? [String: Any])?["code"] as? String == "batch_cancelled" }
            )
            // A batch that is over cannot be cancelled.
            let again = try await send(.POST, server.baseURL + "/batches/\(id)/cancel")
            #expect(again.status == .conflict)
            #expect(again.error["message"] as? String != nil)
        }
    }

    @Test func aBatchWhoseWindowPassesEndsExpiredKeepingWhatFinished() async throws {
        // 30 lines one at a time at 300 ms need 9 s: a 6 s window passes while they run, with
        // room for the first answers even on a machine busy with the other tests.
        try await withBatchServer(SimulatorConfiguration(latency: .milliseconds(300)), concurrency: 1) {
            server,
            _,
            _ in
            let id = try await createBatch(server, Self.chatLines(30), window: "6s")
            let batch = try await waitFor(["expired"], server, id, within: .seconds(30))
            #expect(batch["expired_at"] is Int)
            let output = try await lines(server, file: batch["output_file_id"] as? String)
            let errors = try await lines(server, file: batch["error_file_id"] as? String)
            #expect(!output.isEmpty && output.count < 30)
            #expect(output.count + errors.count == 30)
            #expect(errors.allSatisfy { ($0["error"] as? [String: Any])?["code"] as? String == "batch_expired" })
        }
    }

    @Test func aServerStartedAgainOnTheSameFolderFinishesTheBatchEachIDOnce() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("serve-\(UUID())")
        defer { try? FileManager.default.removeItem(at: folder) }
        try await withSimulator(SimulatorConfiguration(latency: .milliseconds(50))) { simulator in
            let id = try await Self.withServer(on: simulator, concurrency: 2, folder: folder) { server in
                let id = try await createBatch(server, Self.chatLines(80))
                #expect(
                    try await eventually(within: .seconds(30)) {
                        let batch = try await send(.GET, server.baseURL + "/batches/\(id)").json
                        return ((batch["request_counts"] as? [String: Int])?["completed"] ?? 0) >= 10
                    }
                )
                return id
            }
            let sentBefore = simulator.stats.snapshot().requests
            #expect(sentBefore < 80)
            try await Self.withServer(on: simulator, concurrency: 4, folder: folder) { server in
                let batch = try await waitFor(["completed"], server, id)
                let output = try await lines(server, file: batch["output_file_id"] as? String)
                let ids = output.compactMap { $0["custom_id"] as? String }
                #expect(ids.count == 80)
                #expect(Set(ids).count == 80)
                // The first server's finished lines were not sent again.
                #expect(simulator.stats.snapshot().requests == 80)
            }
        }
    }

    @Test func theStatusPageHoldsNoDataAndItsFeedShowsEachKeyItsOwnBatches() async throws {
        try await withBatchServer { server, _, _ in
            let mine = try await createBatch(server, Self.chatLines(5))
            let theirs = try await createBatch(server, Self.chatLines(5), key: "sk-two")
            _ = try await waitFor(["completed"], server, mine)
            let root = server.baseURL.replacingOccurrences(of: "/v1", with: "")
            let page = try await send(.GET, root + "/", key: nil)
            #expect(page.status == .ok)
            #expect(page.body.contains("<table id=\"batches\""))
            #expect(!page.body.contains(mine))
            #expect(try await send(.GET, root + "/status", key: nil).status == .unauthorized)
            let status = try await send(.GET, root + "/status")
            let batches = try #require(status.json["batches"] as? [[String: Any]])
            #expect(batches.compactMap { $0["id"] as? String } == [mine])
            let line = try #require(batches.first)
            #expect(line["status"] as? String == "completed")
            #expect(line["completed"] as? Int == 5)
            #expect(line["total"] as? Int == 5)
            #expect((line["tokens"] as? Int ?? 0) > 0)
            #expect(line["output_file_id"] is String)
            #expect(!status.body.contains(theirs))
        }
    }

    /// Two batches at once against a server that allows 600 requests a minute: they pace
    /// against one quota, so together they stay under the limit (each pacing alone at 98%
    /// of it would send twice as much, and be answered 429).
    @Test func batchesRunningAtOnceShareTheUpstreamsQuota() async throws {
        let simulator = SimulatorConfiguration(
            latency: .milliseconds(5),
            requestsPerMinute: 600,
            limitWindow: .quantized
        )
        try await withBatchServer(simulator, concurrency: 8) { server, simulator, _ in
            let first = try await createBatch(server, Self.chatLines(25))
            let second = try await createBatch(server, Self.chatLines(25))
            for id in [first, second] {
                let batch = try await waitFor(["completed"], server, id)
                #expect((batch["request_counts"] as? [String: Int])?["completed"] == 25)
            }
            let stats = simulator.stats.snapshot()
            #expect(stats.byStatus["429", default: 0] == 0, "\(stats.byStatus)")
            #expect(stats.requests == 50)
        }
    }

    /// The upstream's key is never stored or returned: the simulator refuses it with a 401
    /// whose message repeats it whole (as a careless server might), and neither the batch's
    /// files, nor its object, nor anything in the data folder holds it.
    @Test func theUpstreamKeyIsNeverStoredOrReturned() async throws {
        let secret = "sk-upstream-SECRET-0123456789"
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("serve-\(UUID())")
        defer { try? FileManager.default.removeItem(at: folder) }
        try await withSimulator(SimulatorConfiguration(apiKey: "sk-the-right-one")) { simulator in
            try await Self.withServer(on: simulator, folder: folder, upstreamKey: secret) { server in
                let id = try await createBatch(server, Self.chatLines(3))
                let batch = try await waitFor(["completed"], server, id)
                let errors = try await send(.GET, server.baseURL + "/files/\(batch["error_file_id"] ?? "")/content")
                #expect(errors.body.split(separator: "\n").count == 3)
                // The server's 401 is kept, with the key taken out of its message.
                #expect(errors.body.contains("401"))
                #expect(errors.body.contains("Incorrect API key provided: [REDACTED]"), "\(errors.body)")
                #expect(!errors.body.contains(secret))
                let object = try await send(.GET, server.baseURL + "/batches/\(id)")
                #expect(!object.body.contains(secret))
                let status = try await send(.GET, server.baseURL.replacingOccurrences(of: "/v1", with: "") + "/status")
                #expect(!status.body.contains(secret))
            }
        }
        let everything = FileManager.default.enumerator(at: folder, includingPropertiesForKeys: nil)
        var searched = 0
        while let url = everything?.nextObject() as? URL {
            guard let data = try? Data(contentsOf: url) else { continue }
            searched += 1
            #expect(!String(decoding: data, as: UTF8.self).contains(secret), "\(url.path)")
        }
        #expect(searched >= 4)
    }
}
