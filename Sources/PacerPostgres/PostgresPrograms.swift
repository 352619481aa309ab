import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The installed PostgreSQL's programs (`initdb`, `pg_ctl`), and how to run them: as the
/// `postgres` user when this process is root, since PostgreSQL refuses to run as root.
struct PostgresPrograms: Sendable {
    /// The folder holding `initdb` and `pg_ctl`.
    var binDirectory: String
    /// `runuser`, when the programs must run as the `postgres` user.
    var runAs: (runuser: String, user: String)?

    /// Finds PostgreSQL: `PACER_POSTGRES_BIN` if set, else the newest of
    /// `/usr/lib/postgresql/*/bin` (Debian, Ubuntu), else Homebrew's, else `initdb` on `PATH`.
    ///
    /// - Throws: ``ThrowawayPostgresError`` saying how to install it.
    static func find(environment: [String: String] = ProcessInfo.processInfo.environment) throws -> PostgresPrograms {
        let files = FileManager.default
        var candidates: [String] = []
        if let folder = environment["PACER_POSTGRES_BIN"], !folder.isEmpty { candidates.append(folder) }
        let versions = (try? files.contentsOfDirectory(atPath: "/usr/lib/postgresql")) ?? []
        for version in versions.sorted(by: { (Int($0) ?? 0) > (Int($1) ?? 0) }) {
            candidates.append("/usr/lib/postgresql/\(version)/bin")
        }
        candidates += ["/opt/homebrew/bin", "/usr/local/bin"]
        candidates += (environment["PATH"] ?? "").split(separator: ":").map(String.init)
        guard
            let folder = candidates.first(where: {
                files.isExecutableFile(atPath: $0 + "/initdb") && files.isExecutableFile(atPath: $0 + "/pg_ctl")
            })
        else {
            throw ThrowawayPostgresError(
                "PostgreSQL's initdb and pg_ctl were not found (looked in PACER_POSTGRES_BIN, /usr/lib/postgresql/*/bin "
                    + "and PATH); install PostgreSQL (Debian, Ubuntu: apt-get install postgresql) or set PACER_POSTGRES_BIN"
            )
        }
        var programs = PostgresPrograms(binDirectory: folder)
        if geteuid() == 0 {
            guard
                let runuser = ["/usr/sbin/runuser", "/sbin/runuser", "/usr/bin/runuser"].first(
                    where: files.isExecutableFile
                )
            else {
                throw ThrowawayPostgresError(
                    "running as root, and PostgreSQL refuses to: runuser (util-linux) is needed to run it as the postgres user"
                )
            }
            guard getpwnam("postgres") != nil else {
                throw ThrowawayPostgresError(
                    "running as root, and PostgreSQL refuses to: create a postgres user (apt-get install postgresql does)"
                )
            }
            programs.runAs = (runuser, "postgres")
        }
        return programs
    }

    /// Makes `directory` the server user's, when that is not this process's.
    func prepare(directory: String) throws {
        guard let runAs, let account = getpwnam(runAs.user) else { return }
        let (uid, gid) = (account.pointee.pw_uid, account.pointee.pw_gid)
        guard chown(directory, uid, gid) == 0 else {
            throw ThrowawayPostgresError(
                "cannot give \(directory) to the \(runAs.user) user: \(String(cString: strerror(errno)))"
            )
        }
    }

    /// Runs `program` (`initdb`, `pg_ctl`) with `arguments` in `directory`, with its output in
    /// the folder's `commands.log`.
    ///
    /// - Parameter log: A further log to quote when the program fails (the server's).
    /// - Throws: ``ThrowawayPostgresError`` with the end of the output when it fails.
    func run(_ program: String, _ arguments: [String], in directory: String, log: String? = nil) async throws {
        let output = directory + "/commands.log"
        let path = binDirectory + "/" + program
        let command = runAs.map { [$0.runuser, "-u", $0.user, "--", path] } ?? [path]
        let status = try await spawnAndWait(command + arguments, directory: directory, output: output)
        guard status == 0 else {
            let tail = ([output] + (log.map { [$0] } ?? [])).map(Self.tail).joined(separator: "\n")
            throw ThrowawayPostgresError("\(program) \(arguments.last ?? "") failed (status \(status)):\n\(tail)")
        }
    }

    /// Starts `command` in `directory` with stdin from /dev/null, stdout and stderr appended to
    /// `output` and no other descriptor of this process, and returns its exit status.
    ///
    /// Not Foundation's `Process`: on Linux it learns that a child ended from a descriptor the
    /// child inherits, and `pg_ctl start` leaves the server holding it, so it never returns.
    private func spawnAndWait(_ command: [String], directory: String, output: String) async throws -> Int32 {
        #if os(Linux)
        var actions = posix_spawn_file_actions_t()
        #else
        var actions: posix_spawn_file_actions_t?
        #endif
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        #if os(Linux)
        // Not the server's to keep: this process's sockets and files (glibc 2.34+, found at run time).
        if let closeFrom = SpawnExtensions.closeFrom { _ = closeFrom(&actions, 3) }
        // In a folder the postgres user can enter (it may not enter ours).
        if let changeDirectory = SpawnExtensions.changeDirectory { _ = changeDirectory(&actions, directory) }
        #else
        posix_spawn_file_actions_addchdir_np(&actions, directory)
        #endif
        let argv = command.map { strdup($0) } + [nil]
        defer { for argument in argv { free(argument) } }
        var child: pid_t = 0
        let spawned = posix_spawn(&child, command[0], &actions, nil, argv, environ)
        guard spawned == 0 else {
            throw ThrowawayPostgresError("cannot start \(command[0]): \(String(cString: strerror(spawned)))")
        }
        let pid = child
        return await withCheckedContinuation { continuation in
            // waitpid blocks: on a thread of its own, not one of Swift's cooperative ones.
            Thread.detachNewThread {
                var status: Int32 = 0
                while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
                let signal = status & 0x7f
                continuation.resume(returning: signal == 0 ? (status >> 8) & 0xff : 128 + signal)
            }
        }
    }

    /// The last lines of a file, to quote in an error.
    private static func tail(_ path: String) -> String {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return "" }
        return text.split(separator: "\n").suffix(15).joined(separator: "\n")
    }
}

#if os(Linux)
/// glibc's `posix_spawn_file_actions_addclosefrom_np` and `…_addchdir_np`, which Swift's Glibc
/// module does not declare (they need `_GNU_SOURCE`): looked up at run time, `nil` where absent.
private enum SpawnExtensions {
    typealias CloseFrom = @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, Int32) -> Int32
    typealias ChangeDirectory =
        @convention(c) (UnsafeMutablePointer<posix_spawn_file_actions_t>, UnsafePointer<CChar>) -> Int32

    static let closeFrom: CloseFrom? = symbol("posix_spawn_file_actions_addclosefrom_np")
    static let changeDirectory: ChangeDirectory? = symbol("posix_spawn_file_actions_addchdir_np")

    private static func symbol<T>(_ name: String) -> T? {
        guard let address = dlsym(UnsafeMutableRawPointer(bitPattern: 0), name) else { return nil }
        return unsafeBitCast(address, to: T.self)
    }
}
#endif

/// A TCP port on 127.0.0.1 that nothing listens on now (the kernel's choice for port 0).
func freeLoopbackPort() throws -> Int {
    #if canImport(Darwin)
    let descriptor = socket(AF_INET, SOCK_STREAM, 0)
    #else
    let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    #endif
    guard descriptor >= 0 else { throw ThrowawayPostgresError("cannot open a socket to find a free port") }
    defer { close(descriptor) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = 0
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { address in
            bind(descriptor, address, length) == 0 && getsockname(descriptor, address, &length) == 0
        }
    }
    guard bound else {
        throw ThrowawayPostgresError("cannot find a free loopback port: \(String(cString: strerror(errno)))")
    }
    return Int(UInt16(bigEndian: address.sin_port))
}
