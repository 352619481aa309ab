import PacerCore
import PacerOpenAI

/// Runs the steps of a probe: each keeps `concurrency` requests in flight for a while.
package struct ProbeSweep: Sendable {
    var client: ChatClient
    var stepDuration: Duration
    var timeout: Duration
    var prompt: String
    /// The pause after a failed request, so that a server refusing at once is not hammered.
    var pauseAfterError: Duration = .milliseconds(200)

    /// A sweep with `client`, each step lasting `stepDuration`.
    package init(client: ChatClient, stepDuration: Duration, timeout: Duration, prompt: String) {
        self.client = client
        self.stepDuration = stepDuration
        self.timeout = timeout
        self.prompt = prompt
    }

    /// A step whose error share passes this ends the sweep: the server is past what it takes.
    package static let overwhelmed = 0.5

    /// Runs every level (stopping early when a step is overwhelmed) and reports each step.
    package func run(levels: [Int], onStep: (ProbeStep, Int) -> Void) async -> ProbeReport {
        var steps: [ProbeStep] = []
        for (index, level) in levels.enumerated() {
            if Task.isCancelled { break }
            let step = await self.step(concurrency: level, number: index)
            steps.append(step)
            onStep(step, index)
            if step.errorRate > Self.overwhelmed { break }
        }
        return ProbeReport(steps: steps)
    }

    /// One step: `concurrency` workers each send a request after the other until the time is up
    /// (each at least one).
    package func step(concurrency: Int, number: Int) async -> ProbeStep {
        let clock = ContinuousClock()
        let start = clock.now
        let deadline = start + stepDuration
        let (samples, end) = await withTaskGroup(of: (ProbeSamples, ContinuousClock.Instant).self) { group in
            for worker in 0..<concurrency {
                group.addTask {
                    var samples = ProbeSamples()
                    var last = start
                    var sent = 0
                    // At least one request each, even when the worker starts after the deadline
                    // (a starved machine, a step shorter than one answer): a step without an
                    // answer measures nothing.
                    repeat {
                        let item = BatchItem(
                            index: sent,
                            id: "probe-\(number)-\(worker)-\(sent)",
                            input: ChatPrompt("Probe \(number).\(worker).\(sent): \(prompt)")
                        )
                        sent += 1
                        let began = clock.now
                        do {
                            let result = try await client.attempt(item, attempt: 1, timeout: timeout)
                            last = clock.now
                            samples.succeeded(
                                latency: began.duration(to: last),
                                timeToFirstToken: result.streamTiming?.timeToFirstToken,
                                outputTokens: result.usage.completion
                            )
                        } catch {
                            last = clock.now
                            samples.failed(ItemError(classifying: error))
                            try? await Task.sleep(for: pauseAfterError)
                        }
                    } while clock.now < deadline && !Task.isCancelled
                    return (samples, last)
                }
            }
            var all = ProbeSamples()
            var end = start
            for await (samples, last) in group {
                all.merge(samples)
                end = max(end, last)
            }
            return (all, end)
        }
        return samples.step(concurrency: concurrency, seconds: start.duration(to: end).pacerSeconds)
    }
}
