import ArgumentParser

/// `pacer queue`: a batch in PostgreSQL that `pacer worker`s on any number of machines drain.
struct QueueCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "queue",
        abstract: "Load a batch into PostgreSQL for pacer workers, watch it, and export its results.",
        discussion: """
            pacer queue push FILE --db URL --batch NAME checks an OpenAI Batch API file as pacer batch \
            does and loads it; pacer worker --db URL --batch NAME (on any machine, as many as you like) \
            runs it; pacer queue status shows progress and the workers; pacer queue export writes the \
            results as pacer batch writes them; pacer queue drop deletes the batch. See README, "Scale out".
            """,
        subcommands: [QueuePushCommand.self, QueueStatusCommand.self, QueueExportCommand.self, QueueDropCommand.self]
    )
}
