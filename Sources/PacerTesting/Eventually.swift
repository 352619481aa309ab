/// Polls `condition` every `interval` until it holds or `duration` has passed, and says
/// whether it held: for what a real server or another process does over loopback, where
/// there is no clock to advance.
///
/// ```swift
/// #expect(try await eventually(within: .seconds(10)) { other.breakerIsOpen })
/// ```
public func eventually(
    within duration: Duration,
    every interval: Duration = .milliseconds(50),
    _ condition: () async throws -> Bool
) async throws -> Bool {
    let deadline = ContinuousClock.now + duration
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try await Task.sleep(for: interval)
    }
    return try await condition()
}
