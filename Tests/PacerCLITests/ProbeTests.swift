import Foundation
import PacerCore
import PacerHTTP
import PacerJobs
import PacerOpenAI
import PacerSimulator
import PacerTesting
import Testing

@testable import PacerCLI

#if canImport(FoundationXML)
import FoundationXML
#endif

/// `pacer probe`: the sweep's levels, its recommendation, and its chart read back as XML.
@Suite struct ProbeTests: ScratchFolder {
    let directory: URL

    init() throws { directory = try makeScratchFolder() }

    /// A step with `tokensPerSecond` output tokens a second over one second.
    func step(_ concurrency: Int, _ tokensPerSecond: Int, errors: Int = 0, p50: Double = 100) -> ProbeStep {
        ProbeStep(
            concurrency: concurrency,
            succeeded: 100,
            errors: errors,
            refused: errors,
            outputTokens: tokensPerSecond,
            seconds: 1,
            latency: LatencyStats(p50: p50, p90: p50 * 1.5, p99: p50 * 2, max: p50 * 3),
            timeToFirstToken: nil
        )
    }

    @Test(arguments: [
        (64, 1, [1, 2, 4, 8, 16, 32, 64]), (48, 1, [1, 2, 4, 8, 16, 32, 48]), (10, 3, [3, 6, 10]), (1, 1, [1]),
    ])
    func theSweepDoublesUpToTheMaximum(maximum: Int, minimum: Int, levels: [Int]) {
        #expect(ProbeReport.concurrencies(upTo: maximum, from: minimum) == levels)
    }

    @Test func theRecommendationIsTheSmallestConcurrencyNearTheBestThroughput() {
        // Throughput rises to 8 and then only latency grows; 4 reaches 80% of the best, 8 all of it.
        let plateau = ProbeReport(steps: [
            step(1, 100), step(2, 200), step(4, 400), step(8, 500), step(16, 505, p50: 200), step(32, 498, p50: 400),
        ])
        #expect(plateau.recommended == 8)
        // 16 is 96% of 32's: close enough, and half the requests in flight.
        #expect(ProbeReport(steps: [step(8, 400), step(16, 480), step(32, 500)]).recommended == 16)
    }

    @Test func stepsWithMoreThanTwoPercentErrorsAreNeverRecommended() {
        // 16 is the fastest but refuses 5 of 105 requests; 8 is the best clean step.
        let report = ProbeReport(steps: [step(4, 300), step(8, 400), step(16, 600, errors: 5)])
        #expect(report.recommended == 8)
        #expect(ProbeReport(steps: [step(1, 10, errors: 50)]).recommended == nil)
    }

    @Test func theTableHasARowPerStepAndAlignedColumns() {
        let table = ProbeReport(steps: [step(1, 100), step(2, 190, errors: 3)]).table
        #expect(table.count == 3)
        #expect(table[0].contains("out tok/s") && !table[0].contains("ttft"))
        #expect(table[2].hasSuffix("3 (3 refused)"))
        #expect(Set(table.map(\.count)).count == 1, "columns aligned: \(table)")
    }

    @Test func theChartHasAxesAndOnePointPerStepPerSeries() throws {
        let report = ProbeReport(steps: [
            step(1, 100), step(2, 200, p50: 120), step(4, 380, p50: 150), step(8, 400, p50: 300),
        ])
        let chart = try SVGChart(ProbeChart(report: report, title: "probe <test> & co").svg)
        #expect(chart.classes.isSuperset(of: ["axis x", "axis y-left", "axis y-right", "recommended"]))
        for series in ["throughput", "latency-p50", "latency-p99"] {
            let points = chart.points(series)
            #expect(points.map(\.concurrency) == [1, 2, 4, 8], "\(series)")
            // Left to right by concurrency.
            #expect(points.map(\.x) == points.map(\.x).sorted() && Set(points.map(\.x)).count == 4)
        }
        // Higher throughput is drawn higher (smaller y).
        let throughput = chart.points("throughput")
        #expect(throughput.map(\.y) == throughput.map(\.y).sorted(by: >))
        #expect(throughput.map(\.value) == [100, 200, 380, 400])
    }

    @Test func aStepThatEndsBeforeItsFirstAnswerStillMeasuresOneAnswerPerWorker() async throws {
        // A step over before its workers start (a starved machine, or a step shorter than one
        // answer) once measured nothing: 0 requests/s, a level never recommended.
        let configuration = SimulatorConfiguration(slots: SimulatorSlots(count: 4, tokenLatency: .milliseconds(5)))
        let step = try await withSimulator(configuration) { server in
            try await HTTPTransport.withTransport { transport in
                let sweep = ProbeSweep(
                    client: ChatClient(
                        configuration: .init(baseURL: server.baseURL, maxTokens: 4),
                        transport: transport
                    ),
                    stepDuration: .zero,
                    timeout: .seconds(10),
                    prompt: "probe"
                )
                return await sweep.step(concurrency: 3, number: 0)
            }
        }
        #expect(step.succeeded == 3 && step.errors == 0)
        #expect(step.outputTokens == 12 && step.seconds > 0)
    }

    @Test func probingTheSimulatorFindsItsSlotsAndDrawsTheSweep() async throws {
        // Two slots at 25 ms a token, answers of 8 tokens: 200 ms each, nearly all of it the
        // server's time rather than CPU, so that a loaded machine changes the ratio little. Two
        // in flight double one's throughput; eight only queue.
        let configuration = SimulatorConfiguration(slots: SimulatorSlots(count: 2, tokenLatency: .milliseconds(25)))
        let status = try await withSimulator(configuration) { server in
            await pacer([
                "probe", "--base-url", server.baseURL, "--max-concurrency", "8", "--step-seconds", "1",
                "--max-tokens", "8",
                "--plot", path("probe.svg"), "--json", path("probe.json"),
            ])
        }
        #expect(status == 0)
        let chart = try SVGChart(String(contentsOfFile: path("probe.svg"), encoding: .utf8))
        #expect(chart.points("throughput").map(\.concurrency) == [1, 2, 4, 8])
        let document = try JSONSerialization.jsonObject(
            with: Data(contentsOf: URL(fileURLWithPath: path("probe.json")))
        )
        let json = try #require(document as? [String: Any])
        let steps = try #require(json["steps"] as? [[String: Any]])
        #expect(steps.count == 4 && steps.allSatisfy { ($0["errors"] as? Int) == 0 })
        // Two in flight use both slots: faster than one (twice, on a quiet machine; a loaded
        // one stretches a step's answers, so the bound is lower). Past two, noise decides which
        // step is within 5% of the best, so only "not 1" is asserted.
        let rates = steps.compactMap { $0["outputTokens"] as? Int }
        #expect(rates.count == 4 && Double(rates[1]) > 1.2 * Double(rates[0]), "tokens per step: \(rates)")
        let recommended = try #require(json["recommended"] as? Int)
        #expect(recommended >= 2, "recommended \(recommended)")
    }
}

/// An SVG document read back: the classes of its groups and the points of its series.
struct SVGChart {
    struct Point {
        var concurrency: Int
        var x: Double
        var y: Double
        var value: Double
    }

    var classes: Set<String> = []
    var circles: [(series: String, point: Point)] = []

    init(_ text: String) throws {
        let parser = XMLParser(data: Data(text.utf8))
        let reader = Reader()
        parser.delegate = reader
        guard parser.parse(), reader.root == "svg" else {
            throw SVGError(
                message: "not an SVG document: \(parser.parserError.map { "\($0)" } ?? reader.root ?? "empty")"
            )
        }
        classes = reader.classes
        circles = reader.circles
    }

    func points(_ series: String) -> [Point] {
        circles.filter { $0.series == series }.map(\.point)
    }

    struct SVGError: Error { var message: String }

    private final class Reader: NSObject, XMLParserDelegate {
        var root: String?
        var classes: Set<String> = []
        var circles: [(series: String, point: Point)] = []

        func parser(
            _ parser: XMLParser,
            didStartElement name: String,
            namespaceURI: String?,
            qualifiedName: String?,
            attributes: [String: String] = [:]
        ) {
            if root == nil { root = name }
            if let kind = attributes["class"] { classes.insert(kind) }
            if name == "circle", let series = attributes["class"],
                let concurrency = attributes["data-concurrency"].flatMap(Int.init),
                let x = attributes["cx"].flatMap(Double.init), let y = attributes["cy"].flatMap(Double.init),
                let value = attributes["data-value"].flatMap(Double.init)
            {
                circles.append((series, Point(concurrency: concurrency, x: x, y: y, value: value)))
            }
        }
    }
}
