import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import PacerJSON
import PacerOpenAI

/// The Batches API: what openai-python's `client.batches` calls.
extension BatchServer {
    func addBatchRoutes(to router: Router<BasicRequestContext>) {
        router.post("v1/batches") { request, _ in try await self.createBatch(request) }
        router.get("v1/batches") { request, _ in try self.listBatches(request) }
        router.get("v1/batches/:id") { request, context in
            JSONResponse.make(try self.batch(try context.parameters.require("id"), of: request).object)
        }
        router.post("v1/batches/:id/cancel") { request, context in
            let batch = try self.batch(try context.parameters.require("id"), of: request)
            if case .refuse(let message) = batch.handle(.cancelRequested) {
                throw APIError(status: .conflict, message: message, code: "batch_not_cancellable")
            }
            return JSONResponse.make(batch.object)
        }
    }

    private func batch(_ id: String, of request: Request) throws -> ServedBatch {
        let owner = try owner(of: request)
        guard let batch = batches.batch(id, owner: owner) else { throw APIError.notFound("Batch", id: id) }
        return batch
    }

    /// `GET /v1/batches`: newest first, `limit` (1–100, default 20) and `after`, as OpenAI pages them.
    private func listBatches(_ request: Request) throws -> Response {
        let owner = try owner(of: request)
        let query = request.uri.queryParameters
        let limit = try Self.limit(query["limit"].map(String.init), default: 20, most: 100)
        let (page, hasMore) = batches.list(owner: owner, after: query["after"].map(String.init), limit: limit)
        return JSONResponse.make(
            Page(data: page.map(\.object), firstID: page.first?.id, lastID: page.last?.id, hasMore: hasMore)
        )
    }

    /// `POST /v1/batches`: `input_file_id`, `endpoint`, `completion_window` and `metadata`.
    /// The batch is answered `validating`; its lines are checked next, before anything is sent.
    private func createBatch(_ request: Request) async throws -> Response {
        let owner = try owner(of: request)
        guard batches.runsBatches else {
            throw APIError.badParameter(
                "This server keeps files only: it was started with nothing to run batches.",
                param: nil
            )
        }
        let body = try await request.body.collect(upTo: 1 << 20)
        guard case .object(let fields)? = try? JSONValue(parsing: String(buffer: body)) else {
            throw APIError.badParameter("The request body must be a JSON object.", param: nil)
        }
        func string(_ name: String) throws -> String {
            guard case .string(let value)? = fields[name] else {
                throw APIError.badParameter(
                    fields[name] == nil
                        ? "Missing required parameter: '\(name)'." : "Invalid type for '\(name)': expected a string.",
                    param: name
                )
            }
            return value
        }
        let inputFileID = try string("input_file_id")
        guard let input = files.record(inputFileID, owner: owner), input.purpose == "batch" else {
            throw APIError.badParameter(
                "No such File object with purpose 'batch': \(inputFileID)",
                param: "input_file_id"
            )
        }
        let endpoint = try string("endpoint")
        guard endpoint.hasPrefix("/v1/"), APIEndpoint(batchURL: endpoint) != nil else {
            let supported = APIEndpoint.openAICases.map(\.batchURL).joined(separator: ", ")
            throw APIError.badParameter(
                "Invalid 'endpoint': '\(endpoint)'. This server runs \(supported).",
                param: "endpoint"
            )
        }
        let window = try string("completion_window")
        guard let windowSeconds = Self.windowSeconds(window) else {
            throw APIError.badParameter(
                "Invalid 'completion_window': '\(window)'. Give a duration such as '24h' (also 's', 'm' and 'd'; at most 30 days).",
                param: "completion_window"
            )
        }
        let metadata = try Self.metadata(fields["metadata"])
        let now = Int(Date().timeIntervalSince1970)
        let record = BatchRecord(
            id: BatchStore.newID(),
            owner: owner,
            endpoint: endpoint,
            inputFileID: inputFileID,
            completionWindow: window,
            windowSeconds: windowSeconds,
            metadata: metadata,
            createdAt: now,
            serial: batches.nextSerial(),
            machine: ServedBatchStateMachine(createdAt: now)
        )
        let folder = batches.store.folder(of: record.id)
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            try files.link(inputFileID, to: folder.appendingPathComponent("input.jsonl"))
            try batches.store.save(record)
        } catch {
            try? FileManager.default.removeItem(at: folder)
            throw APIError.serverFailure("could not store the batch: \(error.localizedDescription)")
        }
        batches.add(record)
        return JSONResponse.make(BatchObject(record: record, counts: (0, 0, 0)))
    }

    /// A completion window in seconds: a whole number and a unit (`s`, `m`, `h` or `d`), up to
    /// 30 days; OpenAI takes only `24h`.
    static func windowSeconds(_ text: String) -> Int? {
        // The count is bounded before it is multiplied: an absurd one is refused, not an overflow.
        guard let unit = text.last, let count = Int(text.dropLast()), (1...30 * 86_400).contains(count) else {
            return nil
        }
        let seconds: Int
        switch unit {
        case "s": seconds = count
        case "m": seconds = count * 60
        case "h": seconds = count * 3_600
        case "d": seconds = count * 86_400
        default: return nil
        }
        return seconds <= 30 * 86_400 ? seconds : nil
    }

    /// `metadata`: at most 16 pairs, keys of at most 64 characters and string values of at most
    /// 512, as OpenAI takes them; `null` or absent is none.
    static func metadata(_ value: JSONValue?) throws -> [String: String]? {
        guard let value, value != .null else { return nil }
        guard case .object(let object) = value else {
            throw APIError.badParameter("Invalid type for 'metadata': expected an object.", param: "metadata")
        }
        guard object.count <= 16 else {
            throw APIError.badParameter("Invalid 'metadata': at most 16 pairs.", param: "metadata")
        }
        var pairs: [String: String] = [:]
        for (key, value) in object {
            guard case .string(let text) = value, key.count <= 64, text.count <= 512 else {
                throw APIError.badParameter(
                    "Invalid 'metadata.\(key)': keys are at most 64 characters, values strings of at most 512.",
                    param: "metadata"
                )
            }
            pairs[key] = text
        }
        return pairs
    }
}
