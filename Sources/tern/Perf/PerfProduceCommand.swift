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
    @Option(help: "Concurrent producers (each with its own connection), sharing --records.") var producers = 1
    @Option(help: "Records per second to send in total; 0 means as fast as possible.") var throughput = 0
    @Option(help: "Give record i the key 'key-<i mod N>' (N distinct keys, as a compacted topic needs); 0: no keys.")
    var keyCount = 0
    @Option(
        help: ArgumentHelp(
            "none (pipelined sends), awaited (each send awaited, one at a time per producer), end-offset "
                + "(each producer appends to partition <index mod partitions> on the end offset it saw) or key "
                + "(each producer appends to its own key on the key's last offset; needs key.index.enable=true).",
            valueName: "mode"))
    var condition = PerfAppendMode.none
    @Flag(
        inversion: .prefixedEnableDisable,
        help: "The idempotent producer (producer id and sequence numbers; the SDK's default).")
    var idempotence = true
    @Flag(help: "Print the summary as one JSON object.") var json = false

    func validate() throws {
        guard records > 0 else { throw ValidationError("--records must be positive") }
        guard recordSize >= 0 && recordSize <= 1 << 20 else { throw ValidationError("--record-size must be 0...1048576") }
        guard batchSize >= 128 else { throw ValidationError("--batch-size must be at least 128") }
        guard lingerMs >= 0 else { throw ValidationError("--linger-ms must not be negative") }
        guard producers >= 1 && producers <= 64 else { throw ValidationError("--producers must be 1...64") }
        guard producers <= records else { throw ValidationError("--producers cannot exceed --records") }
        guard throughput >= 0 else { throw ValidationError("--throughput must not be negative") }
        guard keyCount >= 0 && keyCount <= 100_000_000 else { throw ValidationError("--key-count must be 0...100000000") }
    }

    func run() async throws {
        let configuration = ProducerConfiguration(
            acks: acks.value, batchSize: batchSize, linger: .milliseconds(lingerMs),
            maxRequestSize: max(1 << 20, batchSize * 4), bufferMemory: 64 << 20, compression: compression.value,
            enableIdempotence: idempotence)
        let failed = FailureCounter()
        let latency = LatencyRecorder()
        let progress = PerfProgress(mode: "produce")
        let (topic, records, producers, recordSize, throughput) = (topic, records, producers, recordSize, throughput)
        let keyCount = keyCount
        var clients: [TernClient] = []
        for _ in 0..<producers { clients.append(try await global.connect(clientId: "tern-perf")) }
        if condition != .none {
            return try await runOneAtATime(clients, configuration: configuration)
        }
        let start = ContinuousClock.now
        progress.start()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, client) in clients.enumerated() {
                // Producer i sends records i, i+P, i+2P, ...: shares of --records and of --throughput.
                let share = records / producers + (index < records % producers ? 1 : 0)
                let rate = throughput > 0 ? Double(throughput) / Double(producers) : 0
                group.addTask {
                    let producer = client.producer(configuration: configuration)
                    let value = [UInt8](repeating: 0x61, count: recordSize)
                    for i in 0..<share {
                        // The record's number across all producers picks its key.
                        let key = keyCount > 0 ? Array("key-\((i * producers + index) % keyCount)".utf8) : nil
                        if rate > 0 {
                            let due = start + .nanoseconds(Int64(Double(i) / rate * 1e9))
                            if due > ContinuousClock.now { try await Task.sleep(until: due, clock: .continuous) }
                        } else if i & 1023 == 0 {
                            await producer.waitForCapacity()
                        }
                        let sentAt = LatencyRecorder.nowNanoseconds()
                        producer.send(topic: topic, key: key, value: value) { result in
                            if case .failure = result {
                                failed.increment()
                            } else {
                                latency.record(since: sentAt)
                                progress.add(records: 1, bytes: recordSize)
                            }
                        }
                    }
                    try await CLIFailure.wrap { try await producer.flush() }
                    await producer.close()
                }
            }
            try await group.waitForAll()
        }
        let elapsed = ContinuousClock.now - start
        progress.stop()
        for client in clients { await client.close() }
        PerfSummary(
            mode: "produce", records: records, bytes: records * recordSize, seconds: elapsed.seconds,
            failed: failed.value, latency: latency.summary
        ).print(json: json)
    }
}

/// Counts failed sends from completion callbacks on any thread.
final class FailureCounter: Sendable {
    private let count = Atomic<Int>(0)
    func increment() { count.add(1, ordering: .relaxed) }
    var value: Int { count.load(ordering: .relaxed) }
}
