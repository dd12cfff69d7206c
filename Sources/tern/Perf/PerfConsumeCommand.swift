import ArgumentParser
import TernClient

/// `tern perf consume`: N records from the beginning of every partition, by one consumer or by
/// several in a consumer group.
struct PerfConsumeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "consume",
        abstract: "Consume N records from the beginning of every partition.",
        discussion: """
            With --group G the consumers join group G (each with its own connections, as separate \
            processes would) and share the topic's partitions; they start at the group's committed \
            offsets, or at the beginning where it has none, and commit as they go. --consumers C \
            runs C of them in this process; more than one needs --group. The time includes joining \
            the group.
            """)

    @OptionGroup var global: GlobalOptions
    @Option(help: "Topic to consume.") var topic: String
    @Option(help: "Number of records to read (in all).") var records: Int
    @Option(help: "Consumers to run (more than one needs --group).") var consumers = 1
    @Option(help: "Consume as members of this consumer group.") var group: String?
    @Option(help: "Give up after this many milliseconds without a record.") var timeoutMs = 10_000
    @Flag(help: "Print the summary as one JSON object.") var json = false

    func validate() throws {
        guard records > 0 else { throw ValidationError("--records must be positive") }
        guard timeoutMs > 0 else { throw ValidationError("--timeout-ms must be positive") }
        guard consumers >= 1 && consumers <= 256 else { throw ValidationError("--consumers must be 1...256") }
        if let group, group.isEmpty { throw ValidationError("--group must not be empty") }
        if consumers > 1 && group == nil {
            throw ValidationError("--consumers \(consumers) needs --group (consumers without a group would each read everything)")
        }
    }

    func run() async throws {
        let progress = PerfProgress(mode: "consume")
        let (topic, records, timeoutMs, group) = (topic, records, timeoutMs, group)
        var clients: [TernClient] = []
        for _ in 0..<consumers { clients.append(try await global.connect(clientId: "tern-perf")) }
        let start = ContinuousClock.now
        progress.start()
        // Each consumer's time of its last record: closing (which gives up the parked fetch at
        // once but leaves the group) is not part of the measurement.
        let finished = try await withThrowingTaskGroup(of: ContinuousClock.Instant.self) { tasks in
            for client in clients {
                tasks.addTask {
                    let consumer: TernConsumer
                    if let group {
                        consumer = client.consumer(
                            configuration: ConsumerConfiguration(autoOffsetReset: .earliest, groupId: group))
                        try await CLIFailure.wrap { try await consumer.subscribe(topics: [topic]) }
                    } else {
                        // Earliest from the start: with the default (latest) the fetch loop may
                        // fetch at the log end before seekToBeginning lands, a fetch the seek
                        // then has to supersede.
                        consumer = client.consumer(configuration: ConsumerConfiguration(autoOffsetReset: .earliest))
                        try await CLIFailure.wrap {
                            try await consumer.assign(topic: topic)
                            try await consumer.seekToBeginning()
                        }
                    }
                    var lastRecord = ContinuousClock.now
                    while progress.recordCount < records {
                        let batch = try await CLIFailure.wrap { try await consumer.poll(timeout: .milliseconds(200)) }
                        let now = ContinuousClock.now
                        if batch.isEmpty {
                            if now - lastRecord > .milliseconds(timeoutMs) { break }
                            continue
                        }
                        lastRecord = now
                        var batchBytes = 0
                        for record in batch { batchBytes += record.value?.count ?? 0 }
                        progress.add(records: batch.count, bytes: batchBytes)
                    }
                    let done = ContinuousClock.now
                    await consumer.close()
                    return done
                }
            }
            var last = start
            for try await done in tasks { last = max(last, done) }
            return last
        }
        let elapsed = finished - start
        progress.stop()
        for client in clients { await client.close() }
        let count = progress.recordCount
        PerfSummary(
            mode: "consume", records: count, bytes: progress.byteCount, seconds: elapsed.seconds,
            failed: max(0, records - count)
        ).print(json: json)
        if count < records { throw CLIFailure("consumed \(count) of \(records) records before the timeout") }
    }
}
