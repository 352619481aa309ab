import PacerPostgres

/// Runs `body` against a throwaway PostgreSQL server of its own (a new cluster on a free
/// loopback port), then stops the server and removes its folder.
///
/// Servers start one at a time (`PostgresStartGate`): `initdb` and a first `pg_ctl start`
/// take a burst of CPU, and the suites that need a server all begin together. Only the start
/// waits its turn; `body` runs beside the other tests' bodies as before.
///
/// ```swift
/// try await withPostgres { database in
///     // pass database.url to `pacer queue push --db`; database.stop() and start() restart it
/// }
/// ```
public func withPostgres<T: Sendable>(_ body: (ThrowawayPostgres) async throws -> T) async throws -> T {
    try await PostgresStartGate.shared.oneAtATime { try await ThrowawayPostgres.start() }.removed(after: body)
}

/// Lets one throwaway PostgreSQL start at a time in this process: the others wait, first come
/// first served.
actor PostgresStartGate {
    /// The gate every ``withPostgres(_:)`` goes through.
    static let shared = PostgresStartGate()

    private var busy = false
    private var waiting: [CheckedContinuation<Void, Never>] = []

    /// Runs `start` once no other start runs, and returns what it returns.
    nonisolated func oneAtATime<T: Sendable>(_ start: () async throws -> T) async throws -> T {
        await enter()
        do {
            let value = try await start()
            await leave()
            return value
        } catch {
            await leave()
            throw error
        }
    }

    private func enter() async {
        guard busy else {
            busy = true
            return
        }
        await withCheckedContinuation { waiting.append($0) }
    }

    /// Hands the turn to the first waiting start, if any (`busy` stays set for it).
    private func leave() {
        if waiting.isEmpty {
            busy = false
        } else {
            waiting.removeFirst().resume()
        }
    }
}
