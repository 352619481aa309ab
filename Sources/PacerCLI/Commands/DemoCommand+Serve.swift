import Foundation
import PacerCore
import PacerHTTP
import PacerJobs
import PacerOpenAI
import PacerServe
import PacerSimulator

extension DemoCommand {
    /// openai-python's Batch API code, unchanged, against `pacer serve` in front of the
    /// simulator (with faults): upload, create, poll, download. Skipped, saying how to install
    /// it, where openai-python is not installed.
    func serveRun() async throws -> Bool {
        print("\nYour Batch API code against any server: openai-python's client.files and client.batches")
        print("  against pacer serve, in front of a server that fails 10% of requests")
        guard let python = Self.pythonWithOpenAI() else {
            print("  skipped: openai-python is not installed. Install it with: python3 -m pip install openai")
            print(
                "  (or in a venv: python3 -m venv /tmp/pacer-openai-venv && /tmp/pacer-openai-venv/bin/pip install openai)"
            )
            return true
        }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent(
            "pacer-demo-serve-\(UUID().uuidString)"
        )
        defer { try? FileManager.default.removeItem(at: folder) }
        let simulator = SimulatorConfiguration(latency: .milliseconds(50), faultRate: 0.1, seed: 21)
        return try await Simulator.withRunning(simulator) { upstream in
            try await HTTPTransport.withTransport(configuration: .init(maxConnectionsPerHost: 8)) { transport in
                let client = APIClient(configuration: .init(baseURL: upstream.baseURL), transport: transport)
                let settings = RunSettings(
                    engine: BatchConfiguration(
                        maxConcurrent: 8,
                        attemptTimeout: .seconds(10),
                        retry: RetryPolicy(maxRetries: 10, backoff: Backoff(base: .milliseconds(20), cap: .seconds(1)))
                    )
                )
                return try await BatchServer.withRunning(
                    ServeConfiguration(port: 0, dataFolder: folder.appendingPathComponent("data")),
                    backend: .upstream(Upstream(client: client, run: settings))
                ) { server in
                    try await Self.runPython(
                        python,
                        script: Self.serveScript,
                        arguments: [server.baseURL, folder.path]
                    )
                }
            }
        }
    }

    /// A Python 3 that can import openai: `$PACER_OPENAI_VENV`'s, the venv CI makes, or
    /// `python3` on the PATH.
    static func pythonWithOpenAI() -> String? {
        var candidates: [String] = []
        if let venv = ProcessInfo.processInfo.environment["PACER_OPENAI_VENV"], !venv.isEmpty {
            candidates.append(venv + "/bin/python")
        }
        candidates.append("/tmp/pacer-openai-venv/bin/python")
        for folder in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
            candidates.append(folder + "/python3")
        }
        for candidate in candidates where FileManager.default.isExecutableFile(atPath: candidate) {
            let probe = Process()
            probe.executableURL = URL(fileURLWithPath: candidate)
            probe.arguments = ["-c", "import openai"]
            probe.standardOutput = FileHandle.nullDevice
            probe.standardError = FileHandle.nullDevice
            guard (try? probe.run()) != nil else { continue }
            probe.waitUntilExit()
            if probe.terminationStatus == 0 { return candidate }
        }
        return nil
    }

    /// Runs `python -c script arguments…` and prints its output (a few lines, read once it
    /// ends, so that they come in order with this process's own); whether it exited 0.
    private static func runPython(_ python: String, script: String, arguments: [String]) async throws -> Bool {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: python)
        process.arguments = ["-c", script] + arguments
        let output = Pipe()
        process.standardOutput = output
        defer {
            let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            if !text.isEmpty { print(text, terminator: "") }
        }
        let status: Int32 = try await withCheckedThrowingContinuation { continuation in
            process.terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
            do {
                try process.run()
            } catch {
                continuation.resume(throwing: error)
            }
        }
        return status == 0
    }

    /// The client side: what a user of OpenAI's Batch API already has, pointed at pacer serve.
    static let serveScript = #"""
        import json, sys, time
        from openai import OpenAI

        base_url, folder = sys.argv[1], sys.argv[2]
        client = OpenAI(base_url=base_url, api_key="demo-key")
        path = folder + "/requests.jsonl"
        with open(path, "w") as file:
            for index in range(100):
                file.write(json.dumps({"custom_id": f"demo-{index}", "method": "POST", "url": "/v1/chat/completions",
                    "body": {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": f"demo prompt {index}"}]}}) + "\n")
        started = time.time()
        batch_input = client.files.create(file=open(path, "rb"), purpose="batch")
        batch = client.batches.create(input_file_id=batch_input.id, endpoint="/v1/chat/completions",
                                      completion_window="24h")
        print(f"  client.batches.create: {batch.id} {batch.status}")
        seen = None
        while batch.status not in ("completed", "failed", "expired", "cancelled"):
            time.sleep(0.25)
            batch = client.batches.retrieve(batch.id)
            if batch.status != seen:
                seen = batch.status
                print(f"  client.batches.retrieve: {batch.status}, {batch.request_counts.completed} of {batch.request_counts.total} done")
        lines = client.files.content(batch.output_file_id).text.splitlines()
        first = json.loads(lines[0])
        answer = first["response"]["body"]["choices"][0]["message"]["content"]
        print(f"  {batch.status} in {time.time() - started:.1f} s: {batch.request_counts.completed} answers, "
              f"{batch.request_counts.failed} failures, {batch.usage.total_tokens} tokens")
        print(f"  client.files.content: {len(lines)} lines; {first['custom_id']}: {answer[:60]!r}")
        print("  (pacer serve --base-url URL: see README, \"Use your Batch API code against any server\")")
        sys.exit(0 if batch.status == "completed" and batch.request_counts.completed == 100 else 1)
        """#
}
