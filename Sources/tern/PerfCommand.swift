import ArgumentParser
import Synchronization
import TernClient

#if canImport(Glibc)
import Glibc
#endif

/// `tern perf`: throughput benchmarks through the SDK, like kafka-producer-perf-test and
/// kafka-consumer-perf-test.
struct PerfCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "perf",
        abstract: "Measure produce and consume throughput through the SDK.",
        subcommands: [PerfProduceCommand.self, PerfConsumeCommand.self])
}

/// Final figures of a perf run.
struct PerfSummary {
    var records: Int
    var bytes: Int
    var seconds: Double
    var failed: Int

    func print(json: Bool, label: String) {
        let recordsPerSecond = Double(records) / max(seconds, 1e-9)
        let megabytesPerSecond = Double(bytes) / max(seconds, 1e-9) / 1_000_000
        if json {
            Swift.print(
                #"{"mode":"\#(label)","records":\#(records),"failed":\#(failed),"seconds":\#(rounded(seconds, 3)),"#
                    + #""records_per_second":\#(Int(recordsPerSecond)),"mb_per_second":\#(rounded(megabytesPerSecond, 2))}"#)
        } else {
            Swift.print(
                "\(label): \(records) records in \(rounded(seconds, 3)) s: \(Int(recordsPerSecond)) records/s, "
                    + "\(rounded(megabytesPerSecond, 2)) MB/s, \(failed) failed")
        }
    }

    private func rounded(_ value: Double, _ places: Int) -> String {
        var factor = 1.0
        for _ in 0..<places { factor *= 10 }
        let scaled = (value * factor).rounded() / factor
        return "\(scaled)"
    }
}

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
        let start = ContinuousClock.now
        let topic = self.topic
        for i in 0..<records {
            if i & 1023 == 0 { await producer.waitForCapacity() }
            producer.send(topic: topic, value: value) { result in
                if case .failure = result { failed.add(1, ordering: .relaxed) }
            }
        }
        try await CLIFailure.wrap { try await producer.flush() }
        let elapsed = ContinuousClock.now - start
        await producer.close()
        await client.close()
        PerfSummary(
            records: records, bytes: records * recordSize, seconds: elapsed.seconds,
            failed: failed.load(ordering: .relaxed)
        ).print(json: json, label: "produce")
    }
}

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
        PerfSummary(records: count, bytes: bytes, seconds: elapsed.seconds, failed: max(0, records - count))
            .print(json: json, label: "consume")
        if count < records { throw CLIFailure("consumed \(count) of \(records) records before the timeout") }
    }
}

extension Duration {
    var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}
