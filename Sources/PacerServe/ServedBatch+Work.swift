import Foundation
import Logging
import PacerCore
import PacerJSON
import PacerJobs
import PacerOpenAI
import PacerPostgres

/// The batch's work: check its input, run it through the library's file run (the journal
/// `pacer batch` keeps, so a restart goes on where it stopped), and make its output and
/// errors files.
extension ServedBatch {
    typealias BatchFileRun = FileRun<APISender, OneToOneFeed<APIRequest, APIResponse>>

    var inputURL: URL { folder.appendingPathComponent("input.jsonl") }
    var outputURL: URL { folder.appendingPathComponent("output.jsonl") }
    var errorsURL: URL { folder.appendingPathComponent("errors.jsonl") }

    /// The endpoint every line must call (checked when the batch was created).
    var endpoint: APIEndpoint { APIEndpoint(batchURL: record.endpoint) ?? .chatCompletions }

    /// The file run over the batch's input, writing its journal, as `pacer batch` runs a file.
    private func fileRun(_ upstream: Upstream) -> BatchFileRun {
        var settings = BatchFileRun.Settings(input: inputURL.path, run: upstream.run)
        settings.format = .batch
        settings.output = outputURL.path
        settings.errors = errorsURL.path
        var run = FileRun(
            settings: settings,
            operation: upstream.sender,
            parser: .batchAPI(only: endpoint),
            feed: OneToOneFeed { _, result in BatchAPILine(result) }
        )
        run.makeInvalidLine = { BatchAPILine.invalid(id: $0, error: $1) }
        return run
    }

    /// Checks every line before anything is sent: a bad one fails the batch, with its line.
    func validate() async {
        // A cancel while validating ends the batch at once (and removes its input).
        guard record.machine.status == .validating else { return }
        do {
            // As FileRun.checkInput: every line parsed, ids checked unique in bounded memory.
            let total = try await ItemSource(path: inputURL.path, format: .batch, parser: .batchAPI(only: endpoint))
                .count().items
            guard total > 0 else {
                let empty = BatchRecord.LineError(code: "empty_file", message: "The input file holds no requests.")
                handle(.validated(errors: 1)) { $0.errors = [empty] }
                return
            }
            handle(.validated(errors: 0)) { $0.total = total }
        } catch let error as InputError {
            let problem = BatchRecord.LineError(
                code: Self.code(of: error),
                message: error.message,
                line: error.line
            )
            guard record.machine.status == .validating else { return }
            handle(.validated(errors: 1)) { $0.errors = [problem] }
        } catch {
            let problem = BatchRecord.LineError(code: "invalid_file", message: "\(error)")
            guard record.machine.status == .validating else { return }
            handle(.validated(errors: 1)) { $0.errors = [problem] }
        }
    }

    /// OpenAI's code for a line that cannot be run.
    static func code(of error: InputError) -> String {
        let message = error.message
        if message.hasPrefix("duplicate id") { return "duplicate_custom_id" }
        if message.contains("the batch's endpoint") { return "mismatched_endpoint" }
        if message == "invalid JSON" || message.hasPrefix("expected a JSON object") { return "invalid_json_line" }
        if message.contains(#""url""#) { return "invalid_url" }
        if message.contains(#""method""#) { return "invalid_method" }
        return "invalid_request"
    }

    /// Runs the batch until every line has its answer or the machine says stop. A run the
    /// upstream stopped (a wait longer than `--max-wait`) or that could not write goes again
    /// after a pause; a server that stops leaves the batch in progress, for the next start.
    func run(_ context: BatchContext) async {
        switch context.backend {
        case .upstream(let upstream): await run(context, upstream)
        case .queue(let database): await runInQueue(context, database)
        }
    }

    private func run(_ context: BatchContext, _ upstream: Upstream) async {
        while !isShuttingDown {
            let runHandle = RunHandle()
            let progress = BatchProgress()
            var again = context.retryAfter
            do {
                let prepared = try await fileRun(upstream).prepare(knownItems: record.total)
                startRun(runHandle, progress: progress, journal: prepared.journal)
                let report = try await prepared.run(
                    quota: upstream.quota,
                    progress: progress,
                    handle: runHandle
                ) { [logger] note in logger.info("\(note)") }
                if isShuttingDown { return }
                let finished =
                    report.stop == nil && report.summary.resumeAfterSeconds == nil && !report.summary.inputFailed
                if finished || stopRequested {
                    handle(.runEnded)
                    return
                }
                if let seconds = report.summary.resumeAfterSeconds { again = .seconds(max(1, seconds)) }
                logger.warning(
                    "the run stopped before its end (\(report.stop.map { "\($0)" } ?? "the upstream paused it")); running again in \(again)"
                )
            } catch {
                if isShuttingDown { return }
                logger.error("the run failed (\(error)); running again in \(again)")
            }
            guard await pause(again) else { return }
            if stopRequested {
                handle(.runEnded)
                return
            }
        }
    }

    /// Ends the batch's files: each line the run did not do gets an error line (`batch_cancelled`,
    /// `batch_expired`), the output and errors are counted and their usage summed, and both
    /// become files. Done again after a kill, it finishes what is missing.
    func writeFiles(_ context: BatchContext) async {
        while !isShuttingDown {
            do {
                try await finishFiles(context)
                return
            } catch {
                logger.error("could not write the batch's files (\(error)); trying again in \(context.retryAfter)")
            }
            guard await pause(context.retryAfter) else { return }
        }
    }

    private func finishFiles(_ context: BatchContext) async throws {
        if case .queue(let database) = context.backend, record.outputFileID == nil, record.errorFileID == nil {
            try await exportFromQueue(database)
        }
        let machine = record.machine
        let (code, message) =
            machine.status == .cancelling
            ? ("batch_cancelled", "This request was not run: the batch was cancelled.")
            : machine.windowPassed
                ? ("batch_expired", "This request could not be executed before the completion window expired.")
                : ("batch_failed", "This request was not run.")
        do {
            // Held while the lines are added (no other run of this batch may write meanwhile).
            let lock = try OutputLock(paths: [outputURL.path, errorsURL.path])
            let journal = try await Journal.open(paths: [outputURL.path, errorsURL.path], resume: true)
            let writer = try OutputWriter(path: errorsURL.path)
            let source = try ItemSource(
                path: inputURL.path,
                format: .batch,
                parser: .batchAPI(only: endpoint),
                skip: { journal.isDone($0) }
            )
            for try await item in source {
                try writer.write(BatchAPILine.notRun(id: item.id, code: code, message: message), flush: false)
            }
            try writer.flush()
            withExtendedLifetime(lock) {}
        }
        var completed = 0
        var usage = BatchUsage()
        try await Self.forEachLine(of: outputURL) { line in
            completed += 1
            if let value = try? JSONValue(parsing: line), let body = value["response"]?["body"] {
                usage.add(answerBody: body)
            }
        }
        var failed = 0
        try await Self.forEachLine(of: errorsURL) { _ in failed += 1 }
        // The ids are saved before the files are put in place: a kill meanwhile puts them under
        // the same ids next time.
        update { record in
            record.completed = completed
            record.failed = failed
            record.usage = usage
            if record.outputFileID == nil, completed > 0 { record.outputFileID = FileStore.newID() }
            if record.errorFileID == nil, failed > 0 { record.errorFileID = FileStore.newID() }
        }
        let record = self.record
        let now = Int(Date().timeIntervalSince1970)
        for (fileID, url, kind, lines) in [
            (record.outputFileID, outputURL, "output", completed), (record.errorFileID, errorsURL, "error", failed),
        ] {
            guard let fileID else { continue }
            let size = (try FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int) ?? 0
            try context.files.adopt(
                url,
                record: FileStore.Record(
                    id: fileID,
                    bytes: size,
                    createdAt: now,
                    filename: "\(id)_\(kind).jsonl",
                    purpose: "batch_output",
                    lines: lines,
                    owner: record.owner
                )
            )
        }
        handle(.filesWritten)
        removeWorkFiles()
        if case .queue(let database) = context.backend { await dropFromQueue(database) }
    }

    /// Removes what only the run needed (the files are the store's now).
    func removeWorkFiles() {
        for url in [inputURL, outputURL, errorsURL] { try? FileManager.default.removeItem(at: url) }
    }

    /// Calls `body` with each non-blank line of the file at `url` (none when it is missing),
    /// reading it in chunks.
    static func forEachLine(of url: URL, _ body: (String) throws -> Void) async throws {
        guard FileManager.default.fileExists(atPath: url.path) else { return }
        let reader = try FileReader(path: url.path)
        var pending: [UInt8] = []
        func emit(_ bytes: ArraySlice<UInt8>) throws {
            let line = String(decoding: bytes, as: UTF8.self)
            if !line.allSatisfy(\.isWhitespace) { try body(line) }
        }
        while true {
            let chunk = try await reader.read(upTo: 256 * 1024)
            if chunk.isEmpty { break }
            pending.append(contentsOf: chunk)
            var start = pending.startIndex
            while let newline = pending[start...].firstIndex(of: UInt8(ascii: "\n")) {
                try emit(pending[start..<newline])
                start = newline + 1
            }
            pending.removeSubrange(..<start)
        }
        if !pending.isEmpty { try emit(pending[...]) }
    }
}
