import PacerCore

/// A ``FileRun`` whose output is locked, journal read and writers open: ready to run.
package struct PreparedFileRun<Operation: BatchOperation, Feed: JobFeed>: Sendable
where Feed.Unit == Operation.Input, Feed.Output == Operation.Output {
    let run: FileRun<Operation, Feed>
    /// The output file (`nil`: stdout) and the errors file, if any.
    package let output: String?
    package let errors: String?
    let lock: OutputLock?
    /// What the output held before this run.
    package let journal: Journal
    let writer: OutputWriter
    let failureWriter: OutputWriter
    /// The items left to do, when known.
    package let total: Int?

    /// Runs the batch against `quota` (`nil`: a quota of its own), updating `counters`,
    /// stopping as `handle` is told; says what happens along the way to `notes`.
    ///
    /// - Returns: The report; a stop (a signal, a cancel, the cost cap, unreadable input) is
    ///   in it, not thrown.
    /// - Throws: An output that cannot be written (the items that finished before are kept).
    package func run(
        quota: (any QuotaProtocol<ContinuousClock>)?,
        progress counters: BatchProgress,
        handle: RunHandle,
        notes: @escaping @Sendable (RunNote) -> Void
    ) async throws -> FileRunReport {
        let invalid = Tally()
        let source = try makeSource(invalid: invalid)
        let costGuard = CostGuard(cap: run.costCap?.usd ?? .infinity)
        let window = run.settings.orderedWindow.map { ReorderWindow(size: $0) }
        let control = BatchControl()
        let grace = run.settings.run.grace
        var summary = try await underStop(handle, grace: grace) { actions in
            if actions.contains(.stopAdmitting) {
                control.stopAdmitting()
                // Admission may be waiting for the next line of stdin: end the input here.
                source.stopReading()
            }
            if actions.contains(.startGrace) { notes(.stopping(grace: grace)) }
            if actions.contains(.cancelInFlight), handle.state.cause == .interrupted { notes(.cancelling) }
        } _: { latches in
            try await cancelling(when: latches.cancelInFlight) {
                try await engine(
                    source,
                    costGuard: costGuard,
                    window: window,
                    control: control,
                    counters: counters,
                    quota: quota
                )
            }
        }
        for (line, success) in window?.drain() ?? [] {
            try (success ? writer : failureWriter).write(line, flush: false)
        }
        try writer.flush()
        try failureWriter.flush()
        await compact(notes: notes)
        run.feed.adjust(&summary)
        summary.skipped = source.skipped.count
        summary.failed += invalid.count
        summary.total += invalid.count
        if invalid.count > 0 {
            summary.failureReasons.append(
                FailureReason(kind: "invalid_input", message: "input lines that cannot be read", count: invalid.count)
            )
            summary.failureReasons.sort { $0.count > $1.count }
        }
        let stop = handle.state
        return FileRunReport(
            summary: summary,
            stop: stop.cause,
            // Items never sent are not cancelled ones: with a known total, say how many there are.
            notStarted: stop.stoppedEarly
                ? total.map { max(0, $0 - summary.succeeded - summary.failed + invalid.count - summary.cancelled) } ?? 0
                : 0,
            costCap: costGuard.stoppedAdmission ? (cap: costGuard.cap, spent: costGuard.spent) : nil
        )
    }

    /// The input, skipping the ids the journal has done, with lines that cannot be read
    /// written as failures (counted in `invalid`) when the run skips them.
    private func makeSource(invalid: Tally) throws -> ItemSource<Feed.Input> {
        var onInvalid: (@Sendable (String, InputError) -> Void)?
        if run.settings.skipInvalid {
            onInvalid = {
                [makeInvalidLine = run.makeInvalidLine, observeInvalid = run.observeInvalid, failureWriter] id, error in
                invalid.add()
                observeInvalid?()
                // Written as this item's failure; a write error surfaces with the next line.
                try? failureWriter.write(makeInvalidLine(id, error))
            }
        }
        let done = journal
        return try ItemSource(
            path: run.settings.input,
            format: run.settings.format,
            parser: run.parser,
            skip: { id in done.isDone(id) },
            onInvalid: onInvalid
        )
    }

    /// The engine over the input's units: each result settles the cost guard, is observed and
    /// written (through the window, in order, when there is one). Unreadable input ends it
    /// with what finished (`BatchSummary.inputFailed`).
    private func engine(
        _ source: ItemSource<Feed.Input>,
        costGuard: CostGuard,
        window: ReorderWindow?,
        control: BatchControl,
        counters: BatchProgress,
        quota: (any QuotaProtocol<ContinuousClock>)?
    ) async throws -> BatchSummary {
        let (feed, writer, failureWriter) = (run.feed, writer, failureWriter)
        let (maxCost, observe) = (run.costCap?.maxCost, run.observe)
        let runner = run.settings.run.runner(quota: quota)
        // The cap decides first: every unit the window numbers is sent.
        let units = OrderedUnits(
            base: CappedUnits(base: feed.units(from: source), costGuard: costGuard) { maxCost?($0) ?? 0 },
            window: window
        )
        let caughtUp: @Sendable () throws -> Void = {
            try writer.flush()
            try failureWriter.flush()
        }
        do {
            return try await runner.run(
                units,
                operation: run.operation,
                control: control,
                progress: counters,
                caughtUp: caughtUp
            ) { unit, result in
                if let maxCost {
                    costGuard.settle(
                        reserved: maxCost(unit.input),
                        // A cached answer spent nothing.
                        cost: result.output.flatMap { $0.isCached ? 0 : $0.costUSD },
                        billedFailures: result.attemptErrors.count(where: \.mayHaveBeenBilled)
                    )
                }
                let lines = feed.lines(for: unit, result: result)
                // The items the unit ends: its lines, or all it carries when it was not done
                // (none when it is sent again in parts).
                let notDone = lines.isEmpty && result.error?.kind == .cancelled
                observe?(result, notDone ? feed.itemCount(of: unit) : lines.count)
                for (line, success) in window?.finished(index: unit.index, lines: lines) ?? lines {
                    try (success ? writer : failureWriter).write(line, flush: false)
                }
            }
        } catch let stopped as BatchStopped {
            var summary = stopped.summary
            summary.inputFailed = true
            summary.inputError = "\(stopped.cause)"
            return summary
        }
    }

    /// After a `--retry-failed` run that redid failures, or any run that found lines such a
    /// run left uncompacted (it was killed first), rewrites the output with one line per id
    /// (see ``JournalCompaction``); with an errors file, rewrites that one instead, without
    /// the ids that now succeeded in the output, so that each id is in exactly one of the two.
    /// A failure here loses nothing: the files stay a valid journal, whose readers take the
    /// same line for each id.
    private func compact(notes: @Sendable (RunNote) -> Void) async {
        guard let output else { return }
        let written = writer.linesWritten + (failureWriter === writer ? 0 : failureWriter.linesWritten)
        let redone = run.settings.retryFailed && journal.failures > 0 && written > 0
        guard redone || journal.superseded > 0 else { return }
        do {
            var dropped = 0
            if let errors {
                var succeeded = IDFingerprints()
                try await Journal.scan(path: output) { _, line in
                    if case .entry(let id, true) = line { succeeded.insert(id) }
                }
                dropped = try await JournalCompaction.compact(
                    path: errors,
                    lines: journal.failures + written,
                    supersededBy: succeeded
                )
            } else {
                dropped = try await JournalCompaction.compact(path: output, lines: journal.entries + written)
            }
            if dropped > 0 { notes(.compacted(file: errors ?? output, droppedLines: dropped)) }
        } catch {
            notes(.compactionFailed("\(error)"))
        }
    }
}

/// How a file run ended.
package struct FileRunReport: Sendable {
    /// The summary, with the feed's own counts and the unreadable lines skipped.
    package var summary: BatchSummary
    /// Why the run stopped before its input was done (a signal, a cancel, a write error).
    package var stop: RunStopStateMachine.Cause?
    /// With a stop and a known total: items never started.
    package var notStarted: Int
    /// When the cost cap stopped admission: the cap and what was spent.
    package var costCap: (cap: Double, spent: Double)?
}
