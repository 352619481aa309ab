import Foundation

/// How `pacer serve` listens and where it keeps what it is given.
public struct ServeConfiguration: Sendable {
    /// The address to bind. Default `127.0.0.1`: only this machine's clients.
    public var host: String
    /// The port (0: any free one). Default 8090.
    public var port: Int
    /// The data folder: uploaded files, and batches with their output.
    public var dataFolder: URL
    /// The keys admitted, or `nil` to admit any key (each sees only what it created).
    public var clientKeys: ClientKeys?
    /// The limits on an uploaded file.
    public var fileLimits: FileLimits

    /// Creates a configuration.
    public init(
        host: String = "127.0.0.1",
        port: Int = 8090,
        dataFolder: URL,
        clientKeys: ClientKeys? = nil,
        fileLimits: FileLimits = FileLimits()
    ) {
        self.host = host
        self.port = port
        self.dataFolder = dataFolder
        self.clientKeys = clientKeys
        self.fileLimits = fileLimits
    }

    /// Whether `host` is reachable only from this machine.
    public static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host == "[::1]" || host.hasPrefix("127.")
    }

    /// The default data folder: `$XDG_DATA_HOME/pacer`, else `~/.local/share/pacer`.
    public static var defaultDataFolder: URL {
        if let base = ProcessInfo.processInfo.environment["XDG_DATA_HOME"], !base.isEmpty {
            return URL(fileURLWithPath: base).appendingPathComponent("pacer", isDirectory: true)
        }
        return FileManager.default.homeDirectoryForCurrentUser
            .appendingPathComponent(".local/share/pacer", isDirectory: true)
    }
}
