import ArgumentParser
import Foundation
import Hummingbird
import PacerServe

/// `pacer serve`: OpenAI's Files API (the Batches API is next) in front of any
/// OpenAI-compatible server, until Ctrl-C.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve OpenAI's Files API for Batch API input files, until Ctrl-C.",
        discussion: """
            Serves, under /v1, what openai-python's client.files calls: POST /v1/files \
            (multipart, purpose=batch; at most 200 MB and 50,000 lines, checked as the upload \
            streams: each line must be a JSON object), GET /v1/files, GET /v1/files/{id}, \
            GET /v1/files/{id}/content and DELETE /v1/files/{id}. Files are kept in --data, so a \
            server started again on the same folder has them. Clients send \
            'Authorization: Bearer KEY'; each key sees only the files it uploaded (another \
            key's are 404, no key is 401). The Batches API (POST /v1/batches…) is not served yet.
            """
    )

    @Option(help: "Address to bind. Any address other than loopback needs --client-keys.")
    var host: String = "127.0.0.1"

    @Option(help: "Port to listen on; 0 picks a free one.")
    var port: Int = 8090

    @Option(help: "The data folder (default: $XDG_DATA_HOME/pacer, else ~/.local/share/pacer).")
    var data: String?

    @Option(
        help: ArgumentHelp(
            "Admit only these keys: a file with one key per line, optionally followed by a name.",
            valueName: "file"
        )
    )
    var clientKeys: String?

    func validate() throws {
        guard (0...65_535).contains(port) else { throw ValidationError("--port must be from 0 to 65535.") }
        if clientKeys == nil, !ServeConfiguration.isLoopback(host) {
            throw ValidationError(
                "--host \(host) lets other machines in: give --client-keys FILE to say which keys they may use."
            )
        }
    }

    func run() async throws {
        let keys: ClientKeys?
        do {
            keys = try clientKeys.map(ClientKeys.load(path:))
        } catch let error as ClientKeysError {
            throw ValidationError(error.message)
        }
        let folder = data.map { URL(fileURLWithPath: $0, isDirectory: true) } ?? ServeConfiguration.defaultDataFolder
        let configuration = ServeConfiguration(host: host, port: port, dataFolder: folder, clientKeys: keys)
        let server: BatchServer
        do {
            server = try BatchServer(configuration: configuration)
        } catch {
            throw ValidationError("\(folder.path): cannot use it as the data folder (\(error.localizedDescription)).")
        }
        let host = self.host
        try await server.makeApplication { port in
            let address = host.contains(":") ? "[\(host)]" : host
            Console.error(
                "pacer serve listening on http://\(address):\(port)/v1 (data in \(folder.path)); "
                    + (keys.map { "admitting \($0.names.count) client keys" } ?? "any key, each seeing its own files")
            )
        }
        .runService()
    }
}
