import Foundation
import PacerSimulator
import PacerTesting
import Testing

@testable import PacerCLI

/// Providers the way their SDKs reach them: Azure OpenAI, and gateways' headers (issue 10).
@Suite struct ProvidersTests: ScratchFolder {
    let directory: URL

    init() throws { directory = try makeScratchFolder() }

    let key = "azure-secret-key-0123456789"

    @Test func azureDeploymentPathsSendTheKeyAsApiKeyAndTheApiVersion() async throws {
        let input = try write("prompts.txt", "first\nsecond\nthird\n")
        let output = path("out.jsonl")
        // The simulator answers 401 without `api-key: KEY`, and 404 on a deployment path
        // without `api-version`, as Azure does.
        try await withSimulator(SimulatorConfiguration(apiKey: key)) { server in
            let environment = ["AZURE_OPENAI_API_KEY": key, "AZURE_OPENAI_ENDPOINT": server.rootURL]
            let arguments = ["chat", input, "-o", output, "-q", "--azure", "--model", "gpt-4o-mini"]
            #expect(await pacer(arguments + ["--api-version", "2024-10-21"], environment: environment) == 0)
            #expect(server.stats.snapshot().byStatus["200"] == 3)
            // OPENAI_API_VERSION is read as openai-python reads it.
            let moreInput = try write("more.txt", "fourth\n")
            let versioned = environment.merging(["OPENAI_API_VERSION": "2024-10-21"]) { $1 }
            #expect(
                await pacer(["chat", moreInput, "-o", path("more.jsonl"), "-q", "--azure"], environment: versioned) == 0
            )
        }
        let text = try String(contentsOfFile: output, encoding: .utf8)
        #expect(!text.contains(key) && !text.isEmpty)
    }

    @Test func azureV1APIAndTheWrongKeyNeverShowsTheKey() async throws {
        let line =
            #"{"custom_id":"e1","method":"POST","url":"/v1/embeddings","body":{"model":"text-embedding-3-small","input":"hi","dimensions":2}}"#
        let input = try write("in.jsonl", line + "\n")
        let output = path("out.jsonl")
        try await withSimulator(SimulatorConfiguration(apiKey: key)) { server in
            // No version: Azure's /openai/v1 API, with the key in api-key.
            let environment = ["AZURE_OPENAI_API_KEY": key]
            #expect(
                await pacer(
                    ["batch", input, "-o", output, "-q", "--azure", "--base-url", server.rootURL],
                    environment: environment
                )
                    == 0
            )
            // A key the server refuses: the failure is written, the key is not.
            let wrong = "wrong-azure-key-9876543210"
            let failed = path("failed.jsonl")
            #expect(
                await pacer(
                    [
                        "batch", input, "-o", failed, "-q", "--azure", "--base-url", server.rootURL, "--header",
                        "Authorization: Bearer \(wrong)",
                    ],
                    environment: ["AZURE_OPENAI_API_KEY": wrong]
                ) == 1
            )
            let written = try String(contentsOfFile: path("failed.errors.jsonl"), encoding: .utf8)
            #expect(written.contains("401") && !written.contains(wrong), "\(written)")
        }
        #expect(try lines(output).count == 1)
    }

    @Test func aHeaderFlagIsSentWithEveryRequestAndItsTokenIsKeptOutOfOutput() async throws {
        let input = try write("prompts.txt", "one\ntwo\n")
        try await withSimulator(SimulatorConfiguration(apiKey: key)) { server in
            // No OPENAI_API_KEY: the only credential is the gateway-style header.
            let arguments = ["chat", input, "-o", path("out.jsonl"), "-q", "--base-url", server.baseURL]
            #expect(await pacer(arguments + ["--header", "Authorization: Bearer \(key)"]) == 0)
            #expect(await pacer(arguments + ["-o", path("none.jsonl")]) == 1, "without it the server refuses")
            // A wrong token in the header: the server echoes it, Pacer writes it nowhere.
            let wrong = "wrong-gateway-token-42424242"
            let failed = path("failed.jsonl")
            #expect(await pacer(arguments + ["-o", failed, "--header", "Authorization: Bearer \(wrong)"]) == 1)
            let written = try String(contentsOfFile: failed, encoding: .utf8)
            #expect(written.contains("401") && !written.contains(wrong), "\(written)")
        }
    }

    @Test func aHeaderWithABadNameIsRefusedAtStartupForEveryCommand() async {
        for command in ["chat", "batch", "embed", "fetch"] {
            #expect(await pacer([command, "in.txt", "--header", "X Api: k"]) == 2, "\(command)")
        }
    }
}
