import Foundation
import PacerCLI
import PacerCore
import PacerJobs

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The `reference-client` section of `pacer bench`: the reference solution's Python client
/// (Exercise 01, openai-python's `AsyncOpenAI` under a semaphore) and `pacer chat`, each as a
/// process of its own against the same simulator process, compared by CPU per request.
extension BenchCommand {
    /// One client's run over the section's prompts.
    struct ReferenceClientResult: Codable {
        /// `reference client (Python)` or `pacer chat`.
        var run: String
        var requests: Int
        var successful: Int
        var wallSeconds: Double
        /// User plus system CPU of the whole process, from `wait4`: start-up included.
        var cpuSeconds: Double
        var cpuMicrosecondsPerRequest: Double
        /// The Python client's own count of its CPU at the end (`getrusage`), start-up included.
        var inScriptCPUSeconds: Double?
        /// The Python client's CPU before its first request: the interpreter and its imports.
        var startupCPUSeconds: Double?
        /// The Python client's first failure, if it had any.
        var firstFailure: String?
    }

    /// The section's size: the same prompts and concurrency for both clients.
    private static let referencePrompts = 5000
    private static let referenceConcurrency = 100

    /// Runs the reference client and `pacer chat` (each `--repeat` times, the median by CPU
    /// per request kept) against one simulator process, and prints the table and the ratio.
    func runReferenceClient() async throws {
        let python = try await referencePython()
        let script = try referenceScript()
        let (reference, pacer) = try await SimulatorProcess.withRunning { simulator in
            let baseURL = simulator.rootURL + "/v1"
            let reference = try await median(by: \.cpuMicrosecondsPerRequest) {
                try await referenceClientRun(python: python, script: script, baseURL: baseURL)
            }
            let pacer = try await median(by: \.cpuMicrosecondsPerRequest) {
                try await pacerChatRun(baseURL: baseURL)
            }
            return (reference, pacer)
        }
        try printResults(
            [reference, pacer],
            title:
                "Reference client: the reference solution's Python client (openai-python, Exercise 01) and pacer chat,\n"
                + "\(Self.referencePrompts) prompts, max_tokens 50, concurrency \(Self.referenceConcurrency), "
                + "each a process of its own against one simulator process;\n"
                + "CPU is the whole process's user + system from wait4, start-up included.",
            header: [
                "run", "requests", "successful", "wall s", "CPU s", "CPU µs/request", "in-script CPU s",
                "start-up CPU s",
            ]
        ) { result in
            [
                result.run, String(result.requests), String(result.successful),
                SummaryText.format(result.wallSeconds, digits: 2), SummaryText.format(result.cpuSeconds, digits: 2),
                SummaryText.format(result.cpuMicrosecondsPerRequest, digits: 0),
                result.inScriptCPUSeconds.map { SummaryText.format($0, digits: 2) } ?? "n/a",
                result.startupCPUSeconds.map { SummaryText.format($0, digits: 2) } ?? "n/a",
            ]
        }
        guard !json else { return }
        let ratio = reference.cpuMicrosecondsPerRequest / pacer.cpuMicrosecondsPerRequest
        var summary =
            "pacer chat spends 1/\(SummaryText.format(ratio, digits: 1)) of the reference client's CPU per request"
        if let startup = reference.startupCPUSeconds {
            let perRequest = (reference.cpuSeconds - startup) / Double(reference.requests) * 1e6
            let withoutStartup = perRequest / pacer.cpuMicrosecondsPerRequest
            summary +=
                " (1/\(SummaryText.format(withoutStartup, digits: 1)) without the interpreter's start-up and imports)"
        }
        print(summary + ".")
        if let failure = reference.firstFailure { print("The reference client's first failure: \(failure)") }
        print("")
    }

    /// The reference client's interpreter: `bin/python` of `$PACER_OPENAI_VENV` (default
    /// `/tmp/pacer-openai-venv`, as in `.ci/openai-shapes.sh`), checked to import openai.
    private func referencePython() async throws -> String {
        let variable = ProcessInfo.processInfo.environment["PACER_OPENAI_VENV"] ?? ""
        let venv = variable.isEmpty ? "/tmp/pacer-openai-venv" : variable
        let python = venv + "/bin/python"
        let howTo =
            "create it with `python3 -m venv \(venv) && \(venv)/bin/pip install openai==3.57.0`, "
            + "or set PACER_OPENAI_VENV to a venv that has openai"
        guard FileManager.default.isExecutableFile(atPath: python) else {
            throw BenchError(
                "the reference-client section needs Python with openai, and \(python) is missing; \(howTo)"
            )
        }
        let check = try ChildProcess.spawn(python, ["-c", "import openai"])
        guard await check.wait().status == 0 else {
            throw BenchError("the reference-client section needs openai, and \(python) cannot import it; \(howTo)")
        }
        return python
    }

    /// `Scripts/reference-client.py` under the current directory (the bench runs from the
    /// repository root).
    private func referenceScript() throws -> String {
        let path = FileManager.default.currentDirectoryPath + "/Scripts/reference-client.py"
        guard FileManager.default.fileExists(atPath: path) else {
            throw BenchError(
                "\(path) is missing; run `pacer bench --sections reference-client` from the repository root"
            )
        }
        return path
    }

    /// What the reference client prints last on stdout, after `RESULT ` (in snake case).
    private struct ReferenceClientReport: Decodable {
        var prompts: Int
        var successful: Int
        var cpuSeconds: Double
        var startupCpuSeconds: Double
        var firstFailure: String?
    }

    /// One run of `python Scripts/reference-client.py BASE_URL 5000 100`; CPU from `wait4`,
    /// the counts from the script's `RESULT` line.
    private func referenceClientRun(
        python: String,
        script: String,
        baseURL: String
    ) async throws
        -> ReferenceClientResult
    {
        try await withReferenceFolder("python") { folder in
            let stdout = folder.appendingPathComponent("stdout.txt")
            let stderr = folder.appendingPathComponent("stderr.txt")
            let outDescriptor = try openForWriting(stdout)
            defer { close(outDescriptor) }
            let errDescriptor = try openForWriting(stderr)
            defer { close(errDescriptor) }
            let start = ContinuousClock.now
            let child = try ChildProcess.spawn(
                python,
                [script, baseURL, String(Self.referencePrompts), String(Self.referenceConcurrency)],
                stdout: outDescriptor,
                stderr: errDescriptor
            )
            let ending = await child.wait()
            let wall = start.duration(to: .now).pacerSeconds
            let snakeCase = JSONDecoder()
            snakeCase.keyDecodingStrategy = .convertFromSnakeCase
            let output = (try? String(contentsOf: stdout, encoding: .utf8)) ?? ""
            guard ending.status == 0,
                let line = output.split(separator: "\n").last(where: { $0.hasPrefix("RESULT ") }),
                let report = try? snakeCase.decode(
                    ReferenceClientReport.self,
                    from: Data(line.dropFirst("RESULT ".count).utf8)
                )
            else {
                let errors = (try? String(contentsOf: stderr, encoding: .utf8)) ?? ""
                throw BenchError(
                    "the reference client exited with status \(ending.status) without a RESULT line; its stderr ends:\n"
                        + errors.suffix(2000)
                )
            }
            return ReferenceClientResult(
                run: "reference client (Python)",
                requests: report.prompts,
                successful: report.successful,
                wallSeconds: wall,
                cpuSeconds: ending.cpuSeconds,
                cpuMicrosecondsPerRequest: ending.cpuSeconds / Double(report.prompts) * 1e6,
                inScriptCPUSeconds: report.cpuSeconds,
                startupCPUSeconds: report.startupCpuSeconds,
                firstFailure: report.firstFailure
            )
        }
    }

    /// One run of `pacer chat FILE --max-tokens 50 --concurrency 100 --quiet -o OUT` over the
    /// same prompts and model as the reference client's; CPU from `wait4`.
    private func pacerChatRun(baseURL: String) async throws -> ReferenceClientResult {
        try await withReferenceFolder("pacer") { folder in
            let input = folder.appendingPathComponent("prompts.txt")
            let output = folder.appendingPathComponent("out.jsonl")
            let stderr = folder.appendingPathComponent("stderr.txt")
            let prompts = (0..<Self.referencePrompts).map { "reference prompt \($0)\n" }.joined()
            try Data(prompts.utf8).write(to: input)
            let errDescriptor = try openForWriting(stderr)
            defer { close(errDescriptor) }
            let start = ContinuousClock.now
            let child = try ChildProcess.spawn(
                ChildProcess.pacerExecutable,
                [
                    "chat", input.path, "--base-url", baseURL, "--model", "gpt-3.5-turbo", "--max-tokens", "50",
                    "--concurrency", String(Self.referenceConcurrency), "--quiet", "-o", output.path,
                ],
                stderr: errDescriptor
            )
            let ending = await child.wait()
            let wall = start.duration(to: .now).pacerSeconds
            // 1 is "some items failed": the table's successful column says how many.
            guard ending.status == 0 || ending.status == 1 else {
                let errors = (try? String(contentsOf: stderr, encoding: .utf8)) ?? ""
                throw BenchError(
                    "pacer chat exited with status \(ending.status); its stderr ends:\n" + errors.suffix(2000)
                )
            }
            var lines = 0
            var successful = 0
            try await Journal.scan(path: output.path) { _, line in
                guard case .entry(_, let succeeded) = line else { return }
                lines += 1
                if succeeded { successful += 1 }
            }
            guard lines == Self.referencePrompts else {
                throw BenchError("pacer chat's output holds \(lines) lines for \(Self.referencePrompts) prompts")
            }
            return ReferenceClientResult(
                run: "pacer chat",
                requests: Self.referencePrompts,
                successful: successful,
                wallSeconds: wall,
                cpuSeconds: ending.cpuSeconds,
                cpuMicrosecondsPerRequest: ending.cpuSeconds / Double(Self.referencePrompts) * 1e6
            )
        }
    }

    /// Runs `body` with a fresh temporary folder for one run's files, removed afterwards.
    private func withReferenceFolder<T>(_ name: String, _ body: (URL) async throws -> T) async throws -> T {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
            "pacer-bench-\(getpid())-reference-\(name)"
        )
        try? FileManager.default.removeItem(at: folder)
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        return try await body(folder)
    }

    /// Creates (or empties) `url` for writing and returns its descriptor, for a child's output.
    private func openForWriting(_ url: URL) throws -> Int32 {
        let descriptor = open(url.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw BenchError("could not create \(url.path): \(String(cString: strerror(errno)))")
        }
        return descriptor
    }
}
