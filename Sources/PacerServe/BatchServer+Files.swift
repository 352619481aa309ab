import Foundation
import HTTPTypes
import Hummingbird
import MultipartKit
import NIOCore

/// The Files API: what openai-python's `client.files` calls.
extension BatchServer {
    /// A file as OpenAI's API returns it.
    struct FileObject: Encodable {
        var id: String
        var object = "file"
        var bytes: Int
        var createdAt: Int
        var filename: String
        var purpose: String
        var status = "processed"
        var expiresAt: Int?
        var statusDetails: String?

        init(_ record: FileStore.Record) {
            id = record.id
            bytes = record.bytes
            createdAt = record.createdAt
            filename = record.filename
            purpose = record.purpose
        }

        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(id, forKey: .id)
            try container.encode(object, forKey: .object)
            try container.encode(bytes, forKey: .bytes)
            try container.encode(createdAt, forKey: .createdAt)
            try container.encode(filename, forKey: .filename)
            try container.encode(purpose, forKey: .purpose)
            try container.encode(status, forKey: .status)
            // OpenAI sends both, null when unset.
            try container.encode(expiresAt, forKey: .expiresAt)
            try container.encode(statusDetails, forKey: .statusDetails)
        }

        enum CodingKeys: String, CodingKey {
            case id, object, bytes, filename, purpose, status
            case createdAt = "created_at"
            case expiresAt = "expires_at"
            case statusDetails = "status_details"
        }
    }

    /// A page of a list, as OpenAI's API returns it.
    struct Page<Element: Encodable>: Encodable {
        var object = "list"
        var data: [Element]
        var firstID: String?
        var lastID: String?
        var hasMore: Bool

        enum CodingKeys: String, CodingKey {
            case object, data
            case firstID = "first_id"
            case lastID = "last_id"
            case hasMore = "has_more"
        }
    }

    struct Deleted: Encodable {
        var id: String
        var object = "file"
        var deleted = true
    }

    func addFileRoutes(to router: Router<BasicRequestContext>) {
        router.post("v1/files") { request, _ in try await self.upload(request) }
        router.get("v1/files") { request, _ in try self.listFiles(request) }
        router.get("v1/files/:id") { request, context in
            let id = try context.parameters.require("id")
            return JSONResponse.make(FileObject(try self.file(id, of: request)))
        }
        router.get("v1/files/:id/content") { request, context in
            let record = try self.file(try context.parameters.require("id"), of: request)
            let body = try await FileIO().loadFile(path: self.files.contentURL(record.id).path, context: context)
            return Response(status: .ok, headers: [.contentType: "application/octet-stream"], body: body)
        }
        router.delete("v1/files/:id") { request, context in
            let id = try context.parameters.require("id")
            let owner = try self.owner(of: request)
            guard try self.files.delete(id, owner: owner) else { throw APIError.notFound("File", id: id) }
            return JSONResponse.make(Deleted(id: id))
        }
    }

    private func file(_ id: String, of request: Request) throws -> FileStore.Record {
        let owner = try owner(of: request)
        guard let record = files.record(id, owner: owner) else { throw APIError.notFound("File", id: id) }
        return record
    }

    /// `GET /v1/files`: `purpose`, `limit` (1–10,000, default 10,000), `order` (`desc`, the
    /// default, or `asc`) and `after`, as OpenAI takes them.
    private func listFiles(_ request: Request) throws -> Response {
        let owner = try owner(of: request)
        let query = request.uri.queryParameters
        let limit = try Self.limit(query["limit"].map(String.init), default: 10_000, most: 10_000)
        let order = query["order"].map(String.init) ?? "desc"
        guard order == "desc" || order == "asc" else {
            throw APIError.badParameter("Invalid 'order': expected 'asc' or 'desc'.", param: "order")
        }
        let (records, hasMore) = files.list(
            owner: owner,
            purpose: query["purpose"].map(String.init),
            after: query["after"].map(String.init),
            limit: limit,
            newestFirst: order == "desc"
        )
        return JSONResponse.make(
            Page(
                data: records.map(FileObject.init),
                firstID: records.first?.id,
                lastID: records.last?.id,
                hasMore: hasMore
            )
        )
    }

    /// A `limit` query parameter: a whole number from 1 to `most`.
    static func limit(_ text: String?, default value: Int, most: Int) throws -> Int {
        guard let text else { return value }
        guard let limit = Int(text), (1...most).contains(limit) else {
            throw APIError.badParameter("Invalid 'limit': expected a whole number from 1 to \(most).", param: "limit")
        }
        return limit
    }

    /// `POST /v1/files`: a `multipart/form-data` body with `purpose` (`batch`) and `file`,
    /// streamed to the data folder and checked as it arrives. An upload that fails or is cut
    /// off leaves nothing behind.
    private func upload(_ request: Request) async throws -> Response {
        let owner = try owner(of: request)
        guard let contentType = request.headers[.contentType], let boundary = FileUpload.boundary(contentType) else {
            throw APIError.badParameter(
                "A file is uploaded as multipart/form-data with the fields 'purpose' and 'file'.",
                param: nil
            )
        }
        let temporary = files.temporaryURL()
        var committed = false
        defer { if !committed { files.discard(temporary) } }
        let upload = try FileUpload(writingTo: temporary, limits: configuration.fileLimits)
        let parser = MultipartParser(boundary: boundary)
        upload.attach(to: parser)
        for try await chunk in request.body {
            do {
                try parser.execute(chunk)
            } catch {
                throw APIError.badParameter("The multipart body is malformed: \(error).", param: nil)
            }
            if let failure = upload.failure { throw failure }
            try upload.flush()
        }
        guard upload.fileComplete else {
            throw APIError.badParameter("The upload has no complete 'file' part.", param: "file")
        }
        guard let purpose = upload.purpose else {
            throw APIError.badParameter("Missing required parameter: 'purpose'.", param: "purpose")
        }
        guard purpose == "batch" else {
            throw APIError.badParameter(
                "Invalid 'purpose': this server keeps files for the Batch API only ('batch'), not '\(purpose)'.",
                param: "purpose"
            )
        }
        guard upload.lines > 0 else {
            throw APIError.badParameter("The file holds no requests.", param: "file", code: "empty_file")
        }
        let record = FileStore.Record(
            id: FileStore.newID(),
            bytes: upload.bytes,
            createdAt: Int(Date().timeIntervalSince1970),
            filename: upload.filename ?? "upload.jsonl",
            purpose: purpose,
            lines: upload.lines,
            owner: owner
        )
        do {
            try files.commit(temporary, record: record)
        } catch {
            throw APIError.serverFailure("could not store the file: \(error.localizedDescription)")
        }
        committed = true
        return JSONResponse.make(FileObject(record))
    }
}
