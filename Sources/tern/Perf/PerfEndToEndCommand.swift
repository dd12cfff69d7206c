import ArgumentParser
import Synchronization
import TernClient

/// `tern perf e2e`: produce at a fixed rate while consuming; latency from send to receipt.
struct PerfEndToEndCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "e2e",
        abstract: "Produce at a fixed rate while consuming; report send-to-receipt latency per record.")

    @OptionGroup var global: GlobalOptions
    @Option(help: "Topic to use (must exist).") var topic: String
    @Option(help: "Number of records.") var records: Int
    @Option(help: "Records per second to send.") var throughput: Int
    @Option(help: "Bytes of each record's value (at least 8: the send time).") var recordSize: Int = 100
    @Option(help: "0, 1 or all.") var acks = AcksOption(.all)
    @Option(
        help: ArgumentHelp(
            "Send every record to this partition (default: the partitioner spreads them); the consumer still reads every partition.",
            valueName: "partition"))
    var partition: Int32?
    @Flag(help: "Print the summary as one JSON object.") var json = false

    func validate() throws {
        guard records > 0 else { throw ValidationError("--records must be positive") }
        if let partition, partition < 0 { throw ValidationError("--partition must not be negative") }
        guard throughput > 0 else { throw ValidationError("--throughput must be positive") }
        guard recordSize >= 8 && recordSize <= 1 << 20 else { throw ValidationError("--record-size must be 8...1048576") }
    }

    func run() async throws {
        let client = try await global.connect(clientId: "tern-perf-e2e")
        let consumer = client.consumer(configuration: ConsumerConfiguration(fetchMaxWait: .milliseconds(100)))
        try await CLIFailure.wrap {
            try await consumer.assign(topic: topic)
            try await consumer.seekToEnd()
        }
        let producer = client.producer(configuration: ProducerConfiguration(acks: acks.value, linger: .zero))
        let latency = LatencyRecorder()
        let failed = Atomic<Int>(0)
        let total = records
        let progress = PerfProgress(mode: "e2e")
        let recordSize = recordSize
        progress.start()
        defer { progress.stop() }
        let receiver = Task {
            var received = 0
            var idleSince = ContinuousClock.now
            while received < total {
                let batch = try await consumer.poll(timeout: .milliseconds(200))
                if batch.isEmpty {
                    if ContinuousClock.now - idleSince > .seconds(10) { break }
                    continue
                }
                idleSince = ContinuousClock.now
                for record in batch {
                    guard let value = record.value, value.count >= 8 else { continue }
                    var sentAt: UInt64 = 0
                    for byte in value.prefix(8) { sentAt = sentAt << 8 | UInt64(byte) }
                    latency.record(since: sentAt)
                    received += 1
                }
                progress.add(records: batch.count, bytes: batch.count * recordSize)
            }
            return received
        }

        let start = ContinuousClock.now
        let interval = 1.0 / Double(throughput)
        var value = [UInt8](repeating: 0x61, count: recordSize)
        for i in 0..<records {
            let due = start + .nanoseconds(Int64(Double(i) * interval * 1e9))
            let now = ContinuousClock.now
            if due > now { try await Task.sleep(until: due, clock: .continuous) }
            let sentAt = LatencyRecorder.nowNanoseconds()
            for k in 0..<8 { value[k] = UInt8(truncatingIfNeeded: sentAt >> (56 - 8 * UInt64(k))) }
            producer.send(topic: topic, value: value, partition: partition) { result in
                if case .failure = result { failed.add(1, ordering: .relaxed) }
            }
        }
        try await CLIFailure.wrap { try await producer.flush() }
        let received = try await CLIFailure.wrap { try await receiver.value }
        let elapsed = ContinuousClock.now - start
        await producer.close()
        await consumer.close()
        await client.close()
        PerfSummary(
            mode: "e2e", records: received, bytes: received * recordSize, seconds: elapsed.seconds,
            failed: failed.load(ordering: .relaxed) + (records - received), latency: latency.summary
        ).print(json: json)
        if received < records { throw CLIFailure("received \(received) of \(records) records") }
    }
}
