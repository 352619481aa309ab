import Foundation

/// Where a server keeps its batches: `batches/ID/batch.json` is a batch's record (written to a
/// temporary name and renamed, so a kill leaves the old record or the new one), beside its
/// input (`input.jsonl`, a link to the uploaded file, which a client may delete meanwhile) and,
/// while it runs, its output and errors (`output.jsonl`, `errors.jsonl`: the journal
/// `pacer batch` keeps, which a restarted server continues).
struct BatchStore: Sendable {
    /// The folder that holds one folder per batch.
    let folder: URL

    /// Opens the store in `dataFolder`, creating it if needed.
    init(dataFolder: URL) throws {
        folder = dataFolder.appendingPathComponent("batches", isDirectory: true)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    }

    /// A batch's folder.
    func folder(of id: String) -> URL { folder.appendingPathComponent(id, isDirectory: true) }

    /// The records found in the folder (a folder without a readable record, which a kill during
    /// creation leaves, is removed).
    func load() -> [BatchRecord] {
        let manager = FileManager.default
        let decoder = JSONDecoder()
        var records: [BatchRecord] = []
        for name in (try? manager.contentsOfDirectory(atPath: folder.path)) ?? [] where !name.hasPrefix(".") {
            let url = folder(of: name).appendingPathComponent("batch.json")
            guard let data = try? Data(contentsOf: url), let record = try? decoder.decode(BatchRecord.self, from: data)
            else {
                try? manager.removeItem(at: folder(of: name))
                continue
            }
            records.append(record)
        }
        return records
    }

    /// Writes `record`, replacing the one before.
    func save(_ record: BatchRecord) throws {
        let target = folder(of: record.id)
        let temporary = target.appendingPathComponent(".batch-\(UUID().uuidString).json")
        do {
            try JSONEncoder().encode(record).write(to: temporary)
            // rename(2) replaces the old record in one step.
            guard rename(temporary.path, target.appendingPathComponent("batch.json").path) == 0 else {
                throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: target.path])
            }
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw error
        }
    }

    /// A new batch id, as OpenAI's look: `batch_` and 24 letters and digits.
    static func newID() -> String {
        "batch_" + FileStore.randomSuffix()
    }
}
