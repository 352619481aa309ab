import ArgumentParser
import PacerJobs
import PacerPostgres

/// Where the queue is: `--db` (or `PACER_DATABASE_URL`) and `--batch`.
struct DatabaseOptions: ParsableArguments {
    @Option(
        name: .customLong("db"),
        help: ArgumentHelp(
            "PostgreSQL URL, postgres://USER@HOST:5432/DATABASE (default: $PACER_DATABASE_URL). A password is read from PGPASSWORD when the URL has none, and never printed.",
            valueName: "url"
        )
    )
    var url: String?

    @Option(help: ArgumentHelp("The batch's name in the database.", valueName: "name"))
    var batch: String

    func validate() throws {
        guard !batch.isEmpty, batch.count <= 200, !batch.contains(where: \.isNewline) else {
            throw ValidationError("--batch must be a name of 1 to 200 characters on one line")
        }
    }

    /// The database URL from `--db` or `PACER_DATABASE_URL`.
    ///
    /// - Throws: ``InputError`` (exit status 2) when neither is given or the URL is not one.
    func databaseURL(environment: [String: String]) throws -> DatabaseURL {
        let source = url != nil ? "--db" : "PACER_DATABASE_URL"
        guard let text = url ?? environment["PACER_DATABASE_URL"].flatMap({ $0.isEmpty ? nil : $0 }) else {
            throw InputError(
                file: "--db",
                message:
                    "no database given; pass --db postgres://USER@HOST:5432/DATABASE or export PACER_DATABASE_URL"
            )
        }
        do {
            return try DatabaseURL(text, environment: environment)
        } catch {
            throw InputError(file: source, message: "\(error)")
        }
    }
}
