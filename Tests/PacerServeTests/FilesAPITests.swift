import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import PacerServe
import Testing

/// `pacer serve`'s Files API over real HTTP on loopback: what openai-python's `client.files`
/// sends, and the answers and errors it expects.
@Suite(.timeLimit(.minutes(2))) struct FilesAPITests: ServeTesting {
    static let chatLines = """
        {"custom_id": "a", "method": "POST", "url": "/v1/chat/completions", "body": {"model": "m", "messages": []}}
        {"custom_id": "b", "method": "POST", "url": "/v1/chat/completions", "body": {"model": "m", "messages": []}}

        """

    /// A scratch data folder, removed afterwards.
    func withServer<T: Sendable>(
        limits: FileLimits = FileLimits(),
        keys: ClientKeys? = nil,
        folder: URL? = nil,
        _ body: (BatchServer.Running, URL) async throws -> T
    ) async throws -> T {
        let folder = folder ?? FileManager.default.temporaryDirectory.appendingPathComponent("serve-\(UUID())")
        defer { if folder.lastPathComponent.hasPrefix("serve-") { try? FileManager.default.removeItem(at: folder) } }
        let configuration = ServeConfiguration(port: 0, dataFolder: folder, clientKeys: keys, fileLimits: limits)
        return try await BatchServer.withRunning(configuration) { try await body($0, folder) }
    }

    @Test func anUploadedFileIsListedReadAndDeleted() async throws {
        try await withServer { server, _ in
            let uploaded = try await upload(server, Self.chatLines)
            #expect(uploaded.status == .ok, "\(uploaded.body)")
            let id = try #require(uploaded.json["id"] as? String)
            #expect(id.hasPrefix("file-"))
            #expect(uploaded.json["object"] as? String == "file")
            #expect(uploaded.json["bytes"] as? Int == Self.chatLines.utf8.count)
            #expect(uploaded.json["purpose"] as? String == "batch")
            #expect(uploaded.json["filename"] as? String == "in.jsonl")
            #expect(uploaded.json["status"] as? String == "processed")

            let fetched = try await send(.GET, server.baseURL + "/files/\(id)")
            #expect(fetched.json["id"] as? String == id)
            let content = try await send(.GET, server.baseURL + "/files/\(id)/content")
            #expect(content.body == Self.chatLines, "the content is the bytes uploaded")

            let listed = try await send(.GET, server.baseURL + "/files?purpose=batch")
            #expect((listed.json["data"] as? [[String: Any]])?.compactMap { $0["id"] as? String } == [id])
            #expect(listed.json["has_more"] as? Bool == false)

            let deleted = try await send(.DELETE, server.baseURL + "/files/\(id)")
            #expect(deleted.json["deleted"] as? Bool == true)
            #expect(try await send(.GET, server.baseURL + "/files/\(id)").status == .notFound)
        }
    }

    @Test func eachKeySeesOnlyItsOwnFilesAndNoKeyIsRefused() async throws {
        try await withServer { server, _ in
            let id = try #require(try await upload(server, Self.chatLines).json["id"] as? String)
            for path in ["/files/\(id)", "/files/\(id)/content"] {
                let other = try await send(.GET, server.baseURL + path, key: "sk-two")
                #expect(other.status == .notFound)
                #expect(other.error["message"] as? String == "No such File: \(id)")
            }
            #expect(try await send(.DELETE, server.baseURL + "/files/\(id)", key: "sk-two").status == .notFound)
            let othersList = try await send(.GET, server.baseURL + "/files", key: "sk-two")
            #expect((othersList.json["data"] as? [Any])?.isEmpty == true)
            let none = try await send(.GET, server.baseURL + "/files/\(id)", key: nil)
            #expect(none.status == .unauthorized)
            #expect(none.error["type"] as? String == "invalid_request_error")
            #expect(try await upload(server, Self.chatLines, key: nil).status == .unauthorized)
            // The owner still has it.
            #expect(try await send(.GET, server.baseURL + "/files/\(id)").status == .ok)
        }
    }

    @Test func clientKeysAdmitOnlyTheirKeysAndNoKeyIsKept() async throws {
        let keys = ClientKeys([(key: "sk-admitted", name: "team a")])
        try await withServer(keys: keys) { server, folder in
            let refused = try await upload(server, Self.chatLines, key: "sk-other")
            #expect(refused.status == .unauthorized)
            #expect(refused.error["code"] as? String == "invalid_api_key")
            #expect(!refused.body.contains("sk-other"), "the key is not repeated")
            let admitted = try await upload(server, Self.chatLines, key: "sk-admitted")
            #expect(admitted.status == .ok)
            // What the data folder keeps never holds the key.
            for name in try FileManager.default.contentsOfDirectory(atPath: folder.appendingPathComponent("files").path)
            {
                let text = try String(contentsOf: folder.appendingPathComponent("files/\(name)"), encoding: .utf8)
                #expect(!text.contains("sk-admitted"), "\(name) holds the key")
            }
        }
    }

    @Test func aFileThatIsNotJSONLIsRefusedNamingItsLineAndLeavesNothing() async throws {
        try await withServer { server, folder in
            let answer = try await upload(server, "{\"custom_id\": \"a\"}\nnot json\n{\"custom_id\": \"c\"}\n")
            #expect(answer.status == .badRequest)
            #expect(answer.error["param"] as? String == "file")
            #expect((answer.error["message"] as? String)?.contains("Line 2") == true, "\(answer.body)")
            let listed = try await send(.GET, server.baseURL + "/files")
            #expect((listed.json["data"] as? [Any])?.isEmpty == true)
            #expect(
                try FileManager.default.contentsOfDirectory(atPath: folder.appendingPathComponent("files").path).isEmpty
            )
        }
    }

    @Test func badUploadsGetOpenAIsErrors() async throws {
        try await withServer(limits: FileLimits(maxBytes: 300, maxLines: 3)) { server, _ in
            let purpose = try await upload(server, Self.chatLines, purpose: "fine-tune")
            #expect(purpose.status == .badRequest)
            #expect(purpose.error["param"] as? String == "purpose")
            #expect(try await upload(server, Self.chatLines, purpose: nil).error["param"] as? String == "purpose")

            let big = try await upload(server, String(repeating: "{\"custom_id\": \"x\"}\n", count: 20))
            #expect(big.status == .payloadTooLarge)
            #expect(big.error["code"] as? String == "file_too_large")
            let many = try await upload(server, String(repeating: "{}\n", count: 4))
            #expect(many.status == .badRequest)
            #expect(many.error["code"] as? String == "too_many_lines")

            let notMultipart = try await send(
                .POST,
                server.baseURL + "/files",
                contentType: "application/json",
                body: .bytes(ByteBuffer(string: "{}"))
            )
            #expect(notMultipart.status == .badRequest)
            let broken = try await send(
                .POST,
                server.baseURL + "/files",
                contentType: "multipart/form-data; boundary=xyz",
                body: .bytes(
                    ByteBuffer(string: "--xyz\r\nContent-Disposition: form-data; name=\"purpose\"\r\n\r\nbatch")
                )
            )
            #expect(broken.status == .badRequest, "a body that ends inside a part has no file")
            #expect(try await send(.GET, server.baseURL + "/files?limit=0").error["param"] as? String == "limit")
        }
    }

    @Test func anUploadCutOffMidwayLeavesNoFile() async throws {
        try await withServer { server, folder in
            let (type, body) = Self.multipart(String(repeating: "{\"custom_id\": \"x\"}\n", count: 2_000))
            let bytes = Array(body.utf8)
            var request = HTTPClientRequest(url: server.baseURL + "/files")
            request.method = .POST
            request.headers.add(name: "Authorization", value: "Bearer sk-one")
            request.headers.add(name: "Content-Type", value: type)
            struct Cut: Error {}
            // Half the body; then, once the server is seen writing it, the client gives up and
            // the connection closes mid-upload.
            let (stream, continuation) = AsyncThrowingStream<ByteBuffer, any Error>.makeStream()
            continuation.yield(ByteBuffer(bytes: bytes.prefix(bytes.count / 2)))
            request.body = .stream(stream, length: .known(Int64(bytes.count)))
            let files = folder.appendingPathComponent("files")
            async let sent = try? HTTPClient.shared.execute(request, timeout: .seconds(10))
            var writing = false
            for _ in 0..<200 where !writing {
                writing = try FileManager.default.contentsOfDirectory(atPath: files.path).contains {
                    $0.hasPrefix(".upload-")
                }
                if !writing { try await Task.sleep(for: .milliseconds(10)) }
            }
            #expect(writing, "the server stores an upload as it arrives")
            continuation.finish(throwing: Cut())
            _ = await sent
            // The server sees the connection close a moment later.
            for _ in 0..<100 where !(try FileManager.default.contentsOfDirectory(atPath: files.path).isEmpty) {
                try await Task.sleep(for: .milliseconds(20))
            }
            #expect(try FileManager.default.contentsOfDirectory(atPath: files.path).isEmpty)
            let listed = try await send(.GET, server.baseURL + "/files")
            #expect((listed.json["data"] as? [Any])?.isEmpty == true)
        }
    }

    @Test func aServerStartedAgainOnTheSameFolderHasTheFiles() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("kept-\(UUID())")
        defer { try? FileManager.default.removeItem(at: folder) }
        let id = try await withServer(folder: folder) { server, _ in
            try #require(try await upload(server, Self.chatLines).json["id"] as? String)
        }
        // An upload a kill interrupted leaves a temporary, which the next start removes.
        #expect(
            FileManager.default.createFile(
                atPath: folder.appendingPathComponent("files/.upload-left").path,
                contents: Data("{".utf8)
            )
        )
        try await withServer(folder: folder) { server, _ in
            let content = try await send(.GET, server.baseURL + "/files/\(id)/content")
            #expect(content.body == Self.chatLines)
            #expect(!FileManager.default.fileExists(atPath: folder.appendingPathComponent("files/.upload-left").path))
        }
    }
}
