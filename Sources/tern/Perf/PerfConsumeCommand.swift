import ArgumentParser
import TernClient

/// `tern perf consume`: N records from the beginning of every partition.
struct PerfConsumeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "consume", abstract: "Consume N records from the beginning of every partition.")

    @OptionGroup var global: GlobalOptions
    @Option(help: "Topic to consume.") var topic: String
    @Option(help: "Number of records to read.") var records: Int
    @Option(help: "Give up after this many milliseconds without a record.") var timeoutMs = 10_000
    @Flag(help: "Print the summary as one JSON object.") var json = false

    func validate() throws {
        guard records > 0 else { throw ValidationError("--records must be positive") }
        guard timeoutMs > 0 else { throw ValidationError("--timeout-ms must be positive") }
    }

    func run() async throws {
        let client = try await global.connect(clientId: "tern-perf")
        let consumer = client.consumer()
        try await CLIFailure.wrap {
            try await consumer.assign(topic: topic)
            try await consumer.seekToBeginning()
        }
        var count = 0
        var bytes = 0
        let start = ContinuousClock.now
        var lastRecord = start
        while count < records {
            let batch = try await CLIFailure.wrap { try await consumer.poll(timeout: .milliseconds(500)) }
            let now = ContinuousClock.now
            if batch.isEmpty {
                if now - lastRecord > .milliseconds(timeoutMs) { break }
                continue
            }
            lastRecord = now
            count += batch.count
            for record in batch { bytes += record.value?.count ?? 0 }
        }
        let elapsed = ContinuousClock.now - start
        await consumer.close()
        await client.close()
        PerfSummary(mode: "consume", records: count, bytes: bytes, seconds: elapsed.seconds, failed: max(0, records - count))
            .print(json: json)
        if count < records { throw CLIFailure("consumed \(count) of \(records) records before the timeout") }
    }
}
