import ArgumentParser
import PacerCore
import PacerOpenAI

/// `--stream` and its waits, for commands that send chat completions.
struct StreamOptions: ParsableArguments {
    @Flag(
        help:
            "Stream answers (stream: true): the output is the same assembled message, plus ttft_ms; the summary adds time to first token and tokens/s."
    )
    var stream = false

    @Option(help: "With --stream: seconds to wait for the first token (default: --timeout).")
    var firstTokenTimeout: Double?

    @Option(help: "With --stream: the longest silence in seconds between chunks after the first token.")
    var idleTimeout: Double = 30

    func validate() throws {
        try NumberCheck.seconds(firstTokenTimeout, "--first-token-timeout")
        try NumberCheck.seconds(idleTimeout, "--idle-timeout")
    }

    /// The client's streaming settings, or `nil` without `--stream`.
    var streaming: ChatStreaming? {
        guard stream else { return nil }
        return ChatStreaming(
            firstTokenTimeout: firstTokenTimeout.map { .pacerSeconds($0) },
            idleTimeout: .pacerSeconds(idleTimeout)
        )
    }
}
