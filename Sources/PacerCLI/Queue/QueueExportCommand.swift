import ArgumentParser
import Foundation
import PacerJobs
import PacerPostgres

/// `pacer queue export`: a batch's results as the output and errors files `pacer batch` writes.
struct QueueExportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a batch's results as pacer batch writes them: answers to --output, failures to --errors.",
        discussion: """
            Lines are OpenAI Batch API output lines, in the order the items were pushed, exactly as \
            pacer batch writes them for a file. The files are replaced whole (written beside and \
            renamed). Exit status: 0 when every item succeeded, 1 when some failed or have no \
            result yet (the export then holds those done so far).
            """
    )

    @OptionGroup var database: DatabaseOptions

    @OptionGroup var wait: DatabaseWaitOption

    @Option(name: .shortAndLong, help: "Write the answers here ('-': stdout).")
    var output: String

    @Option(help: "Write failures here (default: beside --output, as NAME.errors.jsonl; with stdout, to stdout).")
    var errors: String?

    @Flag(name: .shortAndLong, help: "Print nothing on stderr but errors.")
    var quiet = false

    func validate() throws {
        if let errors, errors == output, errors != "-" {
            throw ValidationError("--errors must be another file than --output")
        }
    }

    func run() async throws {
        let url = try database.databaseURL(environment: Environment.current)
        let batch = database.batch
        let outputPath = output == "-" ? nil : output
        let errorsPath = BatchAPICommand.errorsPath(flag: errors, output: output)
        let files = try ReplacedFiles(output: outputPath, errors: errorsPath)
        let counts = try await QueueDatabase.withDatabase(url) { database in
            try await DatabaseErrors.readable(url) {
                let queue = BatchQueue(database: database, batch: batch)
                let outages = RunConsole.outages(quiet: quiet)
                let found = try await wait.reaching(url, onOutage: outages.report) { onOutage in
                    try await database.retrying("find the batch", onOutage: onOutage, queue.info)
                }
                guard let info = found else {
                    throw InputError(
                        file: url.description,
                        message:
                            "no batch '\(batch)' here; push one first: pacer queue push FILE --db URL --batch \(batch)"
                    )
                }
                var (succeeded, failed) = (0, 0)
                try await queue.forEachResult { success, line in
                    try (success ? files.output : files.errors).write(StoredLine(text: line))
                    if success { succeeded += 1 } else { failed += 1 }
                }
                return (items: info.items, succeeded: succeeded, failed: failed)
            }
        }
        try files.commit()
        let missing = counts.items - counts.succeeded - counts.failed
        if !quiet {
            Console.error(
                "exported \(counts.succeeded + counts.failed) of \(counts.items) items: \(counts.succeeded) answers to \(output)"
                    + (counts.failed > 0 ? ", \(counts.failed) failures to \(errorsPath ?? output)" : "")
                    + (missing > 0 ? "; \(missing) have no result yet (run workers, then export again)" : "")
            )
        }
        if missing > 0 || counts.failed > 0 { throw ExitCode(1) }
    }
}

/// The output and errors files of an export: written under temporary names beside them and
/// renamed over them at the end, so that a failed export leaves the old files whole.
struct ReplacedFiles {
    let output: OutputWriter
    let errors: OutputWriter
    private let renames: [(from: String, to: String)]

    /// Opens the temporary files; `nil` paths are stdout. Failures go to the output when
    /// `errors` is `nil`.
    init(output: String?, errors: String?) throws {
        var renames: [(String, String)] = []
        func open(_ path: String?) throws -> OutputWriter {
            guard let path else { return try OutputWriter(path: nil) }
            let temporary = path + ".export-\(ProcessInfo.processInfo.processIdentifier).tmp"
            try? FileManager.default.removeItem(atPath: temporary)
            renames.append((temporary, path))
            return try OutputWriter(path: temporary)
        }
        self.output = try open(output)
        self.errors = errors == nil ? self.output : try open(errors)
        self.renames = renames
    }

    /// Puts the files in place.
    func commit() throws {
        for (from, to) in renames where rename(from, to) != 0 {
            throw InputError(file: to, message: "cannot write: \(String(cString: strerror(errno)))")
        }
    }
}
