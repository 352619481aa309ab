/// The pure core of the ``RateLimiter``: who may send when, from the configured limits and
/// what the server has said. Times are seconds from the limiter's origin.
package struct QuotaStateMachine: Sendable {
    /// What a caller asking to send should do.
    public enum Decision: Sendable, Hashable {
        /// Send at this time; the reservation has been booked. `probe`: this request carries
        /// the probe (the circuit breaker's half-open probe, or the first request sent alone
        /// while the limits are learned), which must be given back if it is not sent.
        case admit(at: Double, probe: Bool)
        /// Ask again at this time, or (when `nil`) a little later.
        case wait(until: Double?)
        /// Never send: the request can never fit (the message says why).
        case reject(String)
        /// The batch must stop: the server will not have capacity before `until`.
        case stop(until: Double)
    }

    /// The configured limits.
    public let limits: RateLimits
    /// The request bucket, once a request limit is known.
    public private(set) var requests: TokenBucket?
    /// The token bucket, once a token limit is known.
    public private(set) var tokens: TokenBucket?
    /// The token limit per minute in force (configured or learned).
    public private(set) var tokenLimit: Double?
    /// No admission before this time (a server-requested pause).
    public private(set) var pausedUntil: Double = 0
    /// Seconds spent paused at the server's request (overlapping pauses counted once).
    public private(set) var pausedSeconds: Double = 0
    /// Set once a server wait longer than ``RateLimits/maxWait`` stopped the batch.
    public private(set) var stoppedUntil: Double?
    /// The connection circuit breaker.
    public private(set) var breaker: CircuitBreaker
    /// When learning from the server: whether its first answer (with or without limits) has arrived.
    public private(set) var heardFromServer: Bool
    private var probeOut = false

    /// Creates the state at time `now`.
    public init(limits: RateLimits, breaker: CircuitBreaker = CircuitBreaker(), now: Double = 0) {
        self.limits = limits
        self.breaker = breaker
        self.requests = limits.requestsPerMinute.map {
            limits.bucket(perMinute: $0, reserve: limits.burstReserve, now: now)
        }
        self.tokens = limits.tokensPerMinute.map { limits.bucket(perMinute: $0, now: now) }
        self.tokenLimit = limits.tokensPerMinute
        // With every limit configured there is nothing to learn before the first request.
        let learns =
            limits.learnFromServer && limits.probeFirst
            && (limits.requestsPerMinute == nil || limits.tokensPerMinute == nil)
        self.heardFromServer = !learns
    }

    /// Asks to send one request that may use `tokens` tokens.
    ///
    /// Nothing is spent unless the answer is ``Decision/admit(at:probe:)``: a caller told to
    /// wait holds no probe and no booking. An admitted caller must end its booking with
    /// ``release(tokens:probe:outcome:now:)``, sent or not.
    public mutating func admit(tokens cost: Int, now: Double) -> Decision {
        if let stoppedUntil { return .stop(until: stoppedUntil) }
        if now < pausedUntil { return .wait(until: pausedUntil) }
        if let tokenLimit, Double(cost) > tokenLimit {
            return .reject(
                "the request needs about \(cost) tokens, more than the whole limit of \(Int(tokenLimit)) tokens per minute"
            )
        }
        // Until the server has told us its limits, one request goes alone.
        if !heardFromServer, probeOut { return .wait(until: nil) }
        // Only look at the breaker here: its probe is spent below, once the request will go.
        if case .wait(let until) = breaker.peek(now: now) { return .wait(until: until) }
        // Book at most a burst's time ahead. A booking made long before its slot holds its
        // whole token estimate while refunds from requests that used less arrive; asking
        // again closer to the slot lets those refunds count.
        let requestTime = requests?.admissionTime(1, now: now) ?? now
        let tokenTime = cost > 0 ? (tokens?.admissionTime(Double(cost), now: now) ?? now) : now
        let horizon = limits.burst.pacerSeconds
        if max(requestTime, tokenTime) > now + horizon {
            return .wait(until: max(requestTime, tokenTime) - horizon)
        }
        var probe = breaker.permission(now: now) == .probe
        if !heardFromServer {
            probeOut = true
            probe = true
        }
        let bookedRequest = requests?.reserve(1, now: now) ?? now
        let bookedTokens = cost > 0 ? (tokens?.reserve(Double(cost), now: now) ?? now) : now
        return .admit(at: max(bookedRequest, bookedTokens), probe: probe)
    }

    /// Ends a booking made by ``admit(tokens:now:)``: settles its tokens, learns from the
    /// answer, and gives back the probe it may carry. Every admitted request ends here once.
    ///
    /// - Parameters:
    ///   - tokens: The tokens booked.
    ///   - probe: Whether the booking carried the probe (``Decision/admit(at:probe:)``).
    ///   - outcome: How the request ended.
    ///   - now: The current time.
    public mutating func release(tokens: Int, probe: Bool, outcome: QuotaOutcome, now: Double) {
        switch outcome.kind {
        case .answered(let used, let snapshot):
            settle(reserved: tokens, used: used)
            observe(snapshot ?? RateLimitSnapshot(), connectionFailed: false, probe: probe, now: now)
        case .connectionFailed:
            settle(reserved: tokens, used: nil)
            observe(RateLimitSnapshot(), connectionFailed: true, probe: probe, now: now)
        case .noAnswer:
            // Sent, and no word back (a timeout): the server may be up but slow. For the
            // breaker, a probe without an answer is a failed probe; other requests change nothing.
            settle(reserved: tokens, used: nil)
            if probe {
                breaker.record(connectionFailed: true, probe: true, now: now)
                probeOut = false
            }
        case .notSent:
            abandon(tokens: tokens, probe: probe, now: now)
        }
    }

    /// Opens the circuit breaker until `until` (see ``CircuitBreaker/trip(until:)``).
    public mutating func tripBreaker(until: Double) {
        breaker.trip(until: until)
    }

    /// Settles a reservation of `reserved` tokens: `used` is what the server counted, or `nil`
    /// when the request was not counted (it failed), which refunds it all.
    public mutating func settle(reserved: Int, used: Int?) {
        tokens?.refund(Double(reserved - (used ?? 0)))
    }

    /// Takes in what a response said: its rate-limit headers, and whether the connection failed.
    ///
    /// - Parameters:
    ///   - snapshot: The response's rate-limit headers.
    ///   - connectionFailed: Whether the connection could not be made or broke.
    ///   - probe: Whether the request carried the probe (see ``CircuitBreaker``).
    ///   - now: The current time.
    public mutating func observe(
        _ snapshot: RateLimitSnapshot,
        connectionFailed: Bool,
        probe: Bool = false,
        now: Double
    ) {
        breaker.record(connectionFailed: connectionFailed, probe: probe, now: now)
        // Whatever the answer, the request sent alone to learn the limits is back.
        if probe { probeOut = false }
        if connectionFailed { return }
        if limits.learnFromServer {
            if limits.requestsPerMinute == nil, let limit = snapshot.requestLimit, limit > 0 {
                requests = learned(requests, perMinute: Double(limit), reserve: limits.burstReserve, now: now)
            }
            if limits.tokensPerMinute == nil, let limit = snapshot.tokenLimit, limit > 0 {
                tokens = learned(tokens, perMinute: Double(limit), reserve: 0, now: now)
                tokenLimit = Double(limit)
            }
        }
        heardFromServer = true
        // Less left than the bucket thinks: use no more than that. With a bucket this also
        // covers "none left" (the next request waits one emission interval); the reset time
        // is when the server's bucket is *full* again, far too long a pause for the next one.
        // Without a bucket (no known limit), none left means wait for the reset.
        if let remaining = snapshot.remainingRequests {
            if requests != nil {
                requests?.limitAvailable(to: Double(remaining), now: now)
            } else if remaining == 0, let reset = snapshot.resetRequests {
                pause(until: now + reset.pacerSeconds, now: now)
            }
        }
        if let remaining = snapshot.remainingTokens {
            if tokens != nil {
                tokens?.limitAvailable(to: Double(remaining), now: now)
            } else if remaining == 0, let reset = snapshot.resetTokens {
                pause(until: now + reset.pacerSeconds, now: now)
            }
        }
    }

    /// Holds all admission until `until` (a 429 or `Retry-After`).
    ///
    /// - Returns: `false` when the wait exceeds ``RateLimits/maxWait``: the state then stops
    ///   admitting for good, and ``admit(tokens:now:)`` answers ``Decision/stop(until:)``.
    @discardableResult
    public mutating func pause(until: Double, now: Double) -> Bool {
        if until - now > limits.maxWait.pacerSeconds {
            stoppedUntil = max(stoppedUntil ?? 0, until)
            return false
        }
        if until > pausedUntil {
            pausedSeconds += until - max(pausedUntil, now)
            pausedUntil = until
        }
        return true
    }

    /// A request admitted by ``admit(tokens:now:)`` will not be sent after all (its caller was
    /// stopped or cancelled): give back its tokens, and if it was the probe, let the next
    /// request probe at once.
    public mutating func abandon(tokens: Int, probe: Bool, now: Double) {
        if tokens > 0 { self.tokens?.refund(Double(tokens)) }
        guard probe else { return }
        probeOut = false
        breaker.abandonProbe(now: now)
    }

    private func learned(_ bucket: TokenBucket?, perMinute: Double, reserve: Double, now: Double) -> TokenBucket {
        let fresh = limits.bucket(perMinute: perMinute, reserve: reserve, now: now)
        guard var bucket else { return fresh }
        if bucket.capacity != fresh.capacity || bucket.rate != fresh.rate {
            bucket.reconfigure(rate: fresh.rate, capacity: fresh.capacity, now: now)
        }
        return bucket
    }
}
