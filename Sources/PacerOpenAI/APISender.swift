import PacerCore

/// Who sends a run's `APIRequest`s: one server's ``APIClient``, or the deployments of a
/// routes file (``RoutedClient``). One concrete operation for the runs that take either
/// (`pacer worker`, `pacer serve`), so that they stay generic over neither.
public enum APISender: BatchOperation {
    /// Every request to one server.
    case direct(APIClient)
    /// Each request to a deployment of its model.
    case routed(RoutedClient)

    /// Sends one request.
    public func attempt(_ item: BatchItem<APIRequest>, attempt: Int) async throws -> APIResponse {
        switch self {
        case .direct(let client): try await client.attempt(item, attempt: attempt)
        case .routed(let client): try await client.attempt(item, attempt: attempt)
        }
    }

    /// Sends one request within `timeout`.
    public func attempt(_ item: BatchItem<APIRequest>, attempt: Int, timeout: Duration) async throws -> APIResponse {
        switch self {
        case .direct(let client): try await client.attempt(item, attempt: attempt, timeout: timeout)
        case .routed(let client): try await client.attempt(item, attempt: attempt, timeout: timeout)
        }
    }

    /// `true`: both bound their own requests.
    public var enforcesTimeout: Bool { true }

    /// The answer kept for this request, if any.
    public func storedOutput(for request: APIRequest) async -> APIResponse? {
        switch self {
        case .direct(let client): await client.storedOutput(for: request)
        case .routed(let client): await client.storedOutput(for: request)
        }
    }

    /// The client of the first (or only) server: for cost estimates, which depend on the
    /// request's model only.
    public var primary: APIClient? {
        switch self {
        case .direct(let client): client
        case .routed(let client): client.deployments.first?.client
        }
    }
}
