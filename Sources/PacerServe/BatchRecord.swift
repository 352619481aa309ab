import Foundation
import PacerJSON

/// What the server keeps of one batch, in `batches/ID/batch.json`: what the client asked for,
/// where its state machine is, and once it is over the counts, files and usage it ended with.
struct BatchRecord: Codable, Sendable {
    /// `batch_…`.
    var id: String
    /// Whose it is.
    var owner: KeyOwner
    /// The endpoint every line calls, as the client named it (`/v1/chat/completions`).
    var endpoint: String
    /// The input file.
    var inputFileID: String
    /// The window as the client gave it (`24h`), and in seconds.
    var completionWindow: String
    var windowSeconds: Int
    /// The client's key–value pairs, returned as they were given.
    var metadata: [String: String]?
    /// When it was created, in seconds since 1970.
    var createdAt: Int
    /// Its place among the server's batches, for lists (several are created in one second).
    var serial: Int
    /// Where it is in its life.
    var machine: ServedBatchStateMachine
    /// The input's requests, once validated.
    var total: Int?
    /// The lines of the output and error files, once written.
    var completed: Int?
    var failed: Int?
    /// The files the batch ended with (assigned before they are put in place, so that a server
    /// killed meanwhile puts them under the same ids).
    var outputFileID: String?
    var errorFileID: String?
    /// Why validation failed, one entry per bad line.
    var errors: [LineError] = []
    /// The tokens its answers used, once it is over.
    var usage: BatchUsage?

    /// When the window ends.
    var expiresAt: Int { createdAt + windowSeconds }

    /// A problem with one input line, as OpenAI's `errors.data` holds it.
    struct LineError: Codable, Sendable, Hashable {
        var code: String
        var message: String
        var param: String?
        var line: Int?
    }
}

/// The tokens a batch's answers used, as OpenAI's batch object reports them: summed over the
/// output file's answers, in each endpoint's own shape.
struct BatchUsage: Codable, Sendable, Hashable {
    var inputTokens = 0
    var cachedTokens = 0
    var outputTokens = 0
    var reasoningTokens = 0
    var totalTokens = 0

    /// Adds one answer's `usage` (`prompt_tokens`/`completion_tokens`, or the Responses API's
    /// `input_tokens`/`output_tokens`, with their details).
    mutating func add(answerBody body: JSONValue) {
        guard case .object? = body["usage"], let usage = body["usage"] else { return }
        let input = Self.count(usage["input_tokens"]) ?? Self.count(usage["prompt_tokens"]) ?? 0
        let output = Self.count(usage["output_tokens"]) ?? Self.count(usage["completion_tokens"]) ?? 0
        inputTokens += input
        outputTokens += output
        totalTokens += Self.count(usage["total_tokens"]) ?? input + output
        let inputDetails = usage["input_tokens_details"] ?? usage["prompt_tokens_details"]
        cachedTokens += Self.count(inputDetails?["cached_tokens"]) ?? 0
        let outputDetails = usage["output_tokens_details"] ?? usage["completion_tokens_details"]
        reasoningTokens += Self.count(outputDetails?["reasoning_tokens"]) ?? 0
    }

    /// A whole number of tokens, or `nil` when `value` is not one.
    private static func count(_ value: JSONValue?) -> Int? {
        guard case .number(let number)? = value else { return nil }
        return number.int
    }
}

/// A batch as OpenAI's API returns it (openai-python's `Batch`): every key present, `null`
/// when unset.
struct BatchObject: Encodable {
    var record: BatchRecord
    /// The request counts now: the final ones once written, else the run's live ones.
    var counts: (total: Int, completed: Int, failed: Int)

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Key.self)
        let machine = record.machine
        func at(_ status: ServedBatchStateMachine.Status) -> Int? { machine.enteredAt[status] }
        try container.encode(record.id, forKey: .id)
        try container.encode("batch", forKey: .object)
        try container.encode(record.endpoint, forKey: .endpoint)
        try container.encode(record.inputFileID, forKey: .inputFileID)
        try container.encode(record.completionWindow, forKey: .completionWindow)
        try container.encode(machine.status.rawValue, forKey: .status)
        try container.encode(record.outputFileID, forKey: .outputFileID)
        try container.encode(record.errorFileID, forKey: .errorFileID)
        try container.encode(record.createdAt, forKey: .createdAt)
        try container.encode(at(.inProgress), forKey: .inProgressAt)
        try container.encode(record.expiresAt, forKey: .expiresAt)
        try container.encode(at(.finalizing), forKey: .finalizingAt)
        try container.encode(at(.completed), forKey: .completedAt)
        try container.encode(at(.failed), forKey: .failedAt)
        try container.encode(at(.expired), forKey: .expiredAt)
        try container.encode(at(.cancelling), forKey: .cancellingAt)
        try container.encode(at(.cancelled), forKey: .cancelledAt)
        try container.encode(
            ["total": counts.total, "completed": counts.completed, "failed": counts.failed],
            forKey: .requestCounts
        )
        try container.encode(record.metadata, forKey: .metadata)
        if record.errors.isEmpty {
            try container.encodeNil(forKey: .errors)
        } else {
            var errors = container.nestedContainer(keyedBy: Key.self, forKey: .errors)
            try errors.encode("list", forKey: .object)
            try errors.encode(record.errors, forKey: .data)
        }
        if let usage = record.usage {
            var nested = container.nestedContainer(keyedBy: Key.self, forKey: .usage)
            try nested.encode(usage.inputTokens, forKey: .inputTokens)
            try nested.encode(["cached_tokens": usage.cachedTokens], forKey: .inputTokensDetails)
            try nested.encode(usage.outputTokens, forKey: .outputTokens)
            try nested.encode(["reasoning_tokens": usage.reasoningTokens], forKey: .outputTokensDetails)
            try nested.encode(usage.totalTokens, forKey: .totalTokens)
        } else {
            try container.encodeNil(forKey: .usage)
        }
    }

    enum Key: String, CodingKey {
        case id, object, endpoint, status, metadata, errors, usage, data
        case inputFileID = "input_file_id"
        case completionWindow = "completion_window"
        case outputFileID = "output_file_id"
        case errorFileID = "error_file_id"
        case createdAt = "created_at"
        case inProgressAt = "in_progress_at"
        case expiresAt = "expires_at"
        case finalizingAt = "finalizing_at"
        case completedAt = "completed_at"
        case failedAt = "failed_at"
        case expiredAt = "expired_at"
        case cancellingAt = "cancelling_at"
        case cancelledAt = "cancelled_at"
        case requestCounts = "request_counts"
        case inputTokens = "input_tokens"
        case inputTokensDetails = "input_tokens_details"
        case outputTokens = "output_tokens"
        case outputTokensDetails = "output_tokens_details"
        case totalTokens = "total_tokens"
    }
}
