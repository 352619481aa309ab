import PacerSimulator

/// Runs `body` against a simulator listening on a free loopback port, then stops it.
///
/// ```swift
/// try await withSimulator(SimulatorConfiguration(faultRate: 0.3, seed: 7)) { server in
///     // point a ChatClient at server.baseURL
/// }
/// ```
public func withSimulator<T: Sendable>(
    _ configuration: SimulatorConfiguration = SimulatorConfiguration(),
    _ body: (Simulator.Running) async throws -> T
) async throws -> T {
    try await Simulator.withRunning(configuration, body)
}
