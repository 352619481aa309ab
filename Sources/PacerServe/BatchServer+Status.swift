import HTTPTypes
import Hummingbird
import NIOCore

/// The status page: `GET /` (the page, which holds no data) and `GET /status` (the caller's
/// batches as the page draws them, for the same keys as the API).
extension BatchServer {
    /// One batch as the status page draws it.
    struct StatusLine: Encodable {
        var id: String
        var status: String
        var endpoint: String
        var createdAt: Int
        var total: Int
        var completed: Int
        var failed: Int
        /// Tokens used so far (a run's live count; once over, the answers' usage).
        var tokens: Int?
        /// Estimated cost so far in USD, when the model's price is known.
        var costUSD: Double?
        var errors: [BatchRecord.LineError]
        var outputFileID: String?
        var errorFileID: String?

        enum CodingKeys: String, CodingKey {
            case id, status, endpoint, total, completed, failed, tokens, errors
            case createdAt = "created_at"
            case costUSD = "cost_usd"
            case outputFileID = "output_file_id"
            case errorFileID = "error_file_id"
        }
    }

    struct Status: Encodable {
        var batches: [StatusLine]
    }

    func addStatusRoutes(to router: Router<BasicRequestContext>) {
        router.get("/") { _, _ in
            Response(
                status: .ok,
                headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
                body: .init(byteBuffer: ByteBuffer(string: StatusPage.html))
            )
        }
        router.get("status") { request, _ in
            let owner = try self.owner(of: request)
            let mine = self.batches.list(owner: owner, after: nil, limit: Int.max).batches
            return JSONResponse.make(Status(batches: mine.map(\.statusLine)))
        }
    }
}

extension ServedBatch {
    /// The batch as the status page draws it.
    var statusLine: BatchServer.StatusLine {
        let object = self.object
        let record = object.record
        let live = liveUsage
        return BatchServer.StatusLine(
            id: record.id,
            status: record.machine.status.rawValue,
            endpoint: record.endpoint,
            createdAt: record.createdAt,
            total: object.counts.total,
            completed: object.counts.completed,
            failed: object.counts.failed,
            tokens: record.usage?.totalTokens ?? live.tokens,
            costUSD: live.costUSD,
            errors: record.errors,
            outputFileID: record.outputFileID,
            errorFileID: record.errorFileID
        )
    }
}
