import Dispatch
import Synchronization
import TernClient

#if canImport(Glibc)
import Glibc
#endif

extension ConsumeCommand {
    /// The consumer settings of `--group` mode: `--from-beginning` means auto.offset.reset=earliest,
    /// then `--property` entries apply.
    func groupConfiguration(_ group: String) throws -> ConsumerConfiguration {
        var configuration = ConsumerConfiguration(
            autoOffsetReset: fromBeginning ? .earliest : .latest, groupId: group, enableAutoCommit: true)
        try ConsumerProperties.apply(properties, to: &configuration)
        configuration.onLogTruncation = Self.reportTruncation
        return configuration
    }

    /// `--group`: joins the group, prints the records of the partitions it is given, and commits
    /// what it printed (after writing it to stdout) every auto.commit.interval.ms, before partitions
    /// are released, and on exit (SIGINT/SIGTERM included), then leaves the group.
    func runGroup(_ group: String) async throws {
        var configuration = try groupConfiguration(group)
        // The SDK's auto-commit would commit records handed out but not yet written; the command
        // commits what it has flushed instead.
        let commits = configuration.enableAutoCommit
        let interval = configuration.autoCommitInterval
        configuration.enableAutoCommit = false
        let client = try await global.connect(clientId: "tern-consume")
        let consumer = client.consumer(configuration: configuration)
        let output = OutputBuffer()
        let progress = GroupConsumeProgress()

        @Sendable func commitPrinted(_ only: Set<TopicPartition>? = nil) async {
            guard commits else { return }
            let offsets = progress.uncommitted(only)
            output.flush()
            guard !offsets.isEmpty else { return }
            do {
                try await consumer.commitSync(offsets)
                progress.committed(offsets)
            } catch {
                StandardError.writeLine("tern: warning: commit failed: \(error)")
            }
        }

        let stopping = Atomic<Bool>(false)
        let interrupts = InterruptHandler {
            guard !stopping.exchange(true, ordering: .relaxed) else { return }
            Task {
                await commitPrinted()
                await consumer.close()
                output.flush()
                Glibc.exit(0)
            }
            DispatchQueue.global().asyncAfter(deadline: .now() + .seconds(10)) {
                output.flush()
                Glibc.exit(0)
            }
        }
        defer { withExtendedLifetime(interrupts) {} }

        try await CLIFailure.wrap {
            try await consumer.subscribe(topics: [topic]) { event in
                switch event {
                case .assigned(let tps):
                    StandardError.writeLine(
                        "tern: group \(group): assigned \(tps.map(\.description).joined(separator: ","))")
                case .revoked(let tps):
                    StandardError.writeLine(
                        "tern: group \(group): revoked \(tps.map(\.description).joined(separator: ","))")
                    await commitPrinted(Set(tps))
                    progress.forget(tps)
                case .lost(let tps):
                    StandardError.writeLine(
                        "tern: group \(group): lost \(tps.map(\.description).joined(separator: ","))")
                    output.flush()
                    progress.forget(tps)
                }
            }
        }

        let format = self.format
        let pollTimeout: Duration = timeoutMs.map { .milliseconds($0) } ?? .seconds(1)
        var count = 0
        var lastCommit = ContinuousClock.now
        reading: while !stopping.load(ordering: .relaxed) {
            let records: [ConsumerRecord]
            do {
                records = try await consumer.poll(timeout: pollTimeout)
            } catch  where stopping.load(ordering: .relaxed) {
                break reading  // closed by the signal handler, which exits
            } catch {
                throw try await CLIFailure.wrap { throw error }
            }
            if records.isEmpty {
                output.flush()
                if timeoutMs != nil { break reading }
            }
            var open = true
            var printed: [TopicPartition: Int64] = [:]
            for record in records {
                open = output.append { format.append(record, to: &$0) }
                printed[TopicPartition(topic: record.topic, partition: record.partition)] = record.offset + 1
                count += 1
                if let maxMessages, count >= maxMessages { break }
                if !open { break }
            }
            progress.printed(printed)
            if let maxMessages, count >= maxMessages { break reading }
            if !open { break reading }
            if ContinuousClock.now - lastCommit >= interval {
                lastCommit = .now
                await commitPrinted()
            } else if !records.isEmpty {
                output.flush()
            }
        }
        guard !stopping.exchange(true, ordering: .relaxed) else {
            // A signal is already committing and leaving; it exits the process.
            while true { try? await Task.sleep(for: .seconds(1)) }
        }
        await commitPrinted()
        await consumer.close()
        output.flush()
        await client.close()
    }
}

/// What `tern consume --group` has printed and committed, per partition.
final class GroupConsumeProgress: Sendable {
    private let state = Mutex((printed: [TopicPartition: Int64](), committed: [TopicPartition: Int64]()))

    func printed(_ offsets: [TopicPartition: Int64]) {
        guard !offsets.isEmpty else { return }
        state.withLock { $0.printed.merge(offsets) { max($0, $1) } }
    }

    /// Printed offsets not committed yet (of `only`, when given).
    func uncommitted(_ only: Set<TopicPartition>?) -> [TopicPartition: Int64] {
        state.withLock { s in
            s.printed.filter { (only?.contains($0.key) ?? true) && s.committed[$0.key] != $0.value }
        }
    }

    func committed(_ offsets: [TopicPartition: Int64]) {
        state.withLock { $0.committed.merge(offsets) { $1 } }
    }

    /// Drops partitions this consumer no longer reads.
    func forget(_ tps: [TopicPartition]) {
        state.withLock { s in
            for tp in tps {
                s.printed[tp] = nil
                s.committed[tp] = nil
            }
        }
    }
}
