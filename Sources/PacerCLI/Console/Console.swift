import Foundation
import Logging

/// Where the CLI talks to a person: stderr. Results go to stdout or the output file only.
package enum Console {
    /// Writes one line to stderr.
    package static func error(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    /// A logger writing to stderr at the level the flags ask for.
    static func logger(quiet: Bool, verbose: Bool) -> Logger {
        var logger = Logger(label: "pacer") { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = verbose ? .debug : quiet ? .error : .warning
        return logger
    }
}
