import ArgumentParser
import Synchronization
import TernClient

/// `tern perf produce`: N records of B bytes as fast as the SDK allows; throughput and
/// send-to-acknowledgement latency.
struct PerfProduceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "produce", abstract: "Produce N records of B bytes as fast as the SDK allows.")

    @OptionGroup var global: GlobalOptions
    @Option(help: "Topic to produce to (must exist).") var topic: String
    @Option(help: "Number of records.") var records: Int
    @Option(help: "Bytes of each record's value.") var recordSize: Int = 100
    @Option(help: "0, 1 or all.") var acks = AcksOption(.leader)
    @Option(help: "Most bytes per record batch.") var batchSize = 256 * 1024
    @Option(help: "Milliseconds a batch waits for more records.") var lingerMs = 5
    @Option(help: "Record batch compression: none or gzip.") var compression = CompressionOption(.none)
    @Flag(help: "Print the summary as one JSON object.") var json = false

    func validate() throws {
        guard records > 0 else { throw ValidationError("--records must be positive") }
        guard recordSize >= 0 && recordSize <= 1 << 20 else { throw ValidationError("--record-size must be 0...1048576") }
        guard batchSize >= 128 else { throw ValidationError("--batch-size must be at least 128") }
        guard lingerMs >= 0 else { throw ValidationError("--linger-ms must not be negative") }
    }

    func run() async throws {
        let client = try await global.connect(clientId: "tern-perf")
        let producer = client.producer(
            configuration: ProducerConfiguration(
                acks: acks.value, batchSize: batchSize, linger: .milliseconds(lingerMs),
                maxRequestSize: max(1 << 20, batchSize * 4), bufferMemory: 64 << 20, compression: compression.value))
        let value = [UInt8](repeating: 0x61, count: recordSize)
        let failed = Atomic<Int>(0)
        let latency = LatencyRecorder()
        let start = ContinuousClock.now
        let topic = self.topic
        for i in 0..<records {
            if i & 1023 == 0 { await producer.waitForCapacity() }
            let sentAt = LatencyRecorder.nowNanoseconds()
            producer.send(topic: topic, value: value) { result in
                if case .failure = result { failed.add(1, ordering: .relaxed) } else { latency.record(since: sentAt) }
            }
        }
        try await CLIFailure.wrap { try await producer.flush() }
        let elapsed = ContinuousClock.now - start
        await producer.close()
        await client.close()
        PerfSummary(
            mode: "produce", records: records, bytes: records * recordSize, seconds: elapsed.seconds,
            failed: failed.load(ordering: .relaxed), latency: latency.summary
        ).print(json: json)
    }
}
