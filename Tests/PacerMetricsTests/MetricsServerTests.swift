import NIOCore
import NIOPosix
import PacerMetrics
import PacerTesting
import Synchronization
import Testing

/// ``MetricsServer`` on a real socket: it serves while the work runs, every scrape renders
/// anew, it stops with the work, and a port in use fails before the work with what to do.
@Suite(.timeLimit(.minutes(1))) struct MetricsServerTests {
    @Test func servesAFreshRenderingAtEachScrapeWhileTheWorkRuns() async throws {
        let scrapes = Mutex(0)
        let server = MetricsServer(configuration: .init(port: 0)) {
            let count = scrapes.withLock { count in
                count += 1
                return count
            }
            return Array("pacer_scrapes_total \(count)\n".utf8)
        }
        let url = try await server.withRunning { running in
            #expect(running.port > 0)
            #expect(running.url == "http://127.0.0.1:\(running.port)/metrics")
            let first = try await MetricsScrape.get(running.url)
            let second = try await MetricsScrape.get(running.url)
            #expect(first.value("pacer_scrapes_total") == 1)
            #expect(second.value("pacer_scrapes_total") == 2)
            let notFound = await #expect(throws: MetricsScrape.Failure.self) {
                try await MetricsScrape.get("http://127.0.0.1:\(running.port)/")
            }
            #expect(notFound?.status == 404)
            return running.url
        }
        // Stopped with the work: nothing listens there any more.
        await #expect(throws: (any Error).self) { try await connect(to: url) }
    }

    @Test func aPortInUseFailsBeforeTheWorkAndSaysWhatToDo() async throws {
        let holder = MetricsServer(configuration: .init(port: 0)) { [] }
        try await holder.withRunning { running in
            let ran = Mutex(false)
            let error = await #expect(throws: MetricsServerError.self) {
                try await MetricsServer(configuration: .init(port: running.port)) { [] }.withRunning { _ in
                    ran.withLock { $0 = true }
                }
            }
            #expect(error?.isPortInUse == true)
            #expect(error?.concernsHost == false)
            #expect(
                error?.description
                    == "cannot listen on 127.0.0.1:\(running.port): the port is in use (another pacer, or another exporter); choose another port"
            )
            #expect(ran.withLock { $0 } == false)
        }
    }

    @Test func anUnknownHostBlamesTheHost() async throws {
        let error = await #expect(throws: MetricsServerError.self) {
            try await MetricsServer(configuration: .init(host: "no-such-host.invalid", port: 0)) { [] }.withRunning {
                _ in
            }
        }
        #expect(error?.concernsHost == true, "\(String(describing: error))")
        #expect(
            error?.description.hasPrefix(
                "cannot listen on no-such-host.invalid:0: no-such-host.invalid is not a known host"
            ) == true
        )
    }

    @Test func aFailingBodyStopsTheServerAndItsErrorPassesThrough() async throws {
        struct Boom: Error {}
        let server = MetricsServer(configuration: .init(port: 0)) { Array("pacer_up 1\n".utf8) }
        let url = Mutex("")
        await #expect(throws: Boom.self) {
            try await server.withRunning { running in
                url.withLock { $0 = running.url }
                _ = try await MetricsScrape.get(running.url)
                throw Boom()
            }
        }
        await #expect(throws: (any Error).self) { try await connect(to: url.withLock { $0 }) }
    }
}

/// Opens a TCP connection to the port of `url` and closes it; throws when nothing listens.
func connect(to url: String) async throws {
    let port = Int(url.split(separator: ":").last?.split(separator: "/").first ?? "") ?? 0
    let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .connect(host: "127.0.0.1", port: port).get()
    try await channel.close()
}
