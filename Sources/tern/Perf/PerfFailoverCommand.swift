import ArgumentParser
import Foundation
import TernClient

/// `tern perf failover`: a steady stream to one partition for a fixed time, every acknowledgement
/// timed, then the partition read back from the beginning to check that nothing acknowledged was
/// lost, duplicated, moved or reordered. Meant to run while a broker is killed or stopped
/// (scripts/bench-failover.sh): the ack log and the longest gap between acknowledgements show how
/// long the producer waited for the failover.
struct PerfFailoverCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "failover",
        abstract: "Produce at a steady rate for a fixed time, time every ack, then read back and check.",
        discussion: """
            Each record's value starts with its sequence number (8 bytes, big-endian). With \
            --ack-log FILE, one line per acknowledged record: sequence, offset, send time and ack \
            time (CLOCK_MONOTONIC nanoseconds, the clock of Python's time.monotonic_ns()). The \
            summary's longest gap is the longest time between two consecutive acknowledgements. \
            The read-back fails the command if an acknowledged record is missing, appears twice, \
            sits at another offset than its acknowledgement said, or comes out of order.
            """)

    @OptionGroup var global: GlobalOptions
    @Option(help: "Topic to use (must exist).") var topic: String
    @Option(help: "Partition to send to.") var partition: Int32 = 0
    @Option(help: "Records per second to send.") var throughput = 1000
    @Option(help: "Seconds to send for.") var seconds: Double = 20
    @Option(help: "Bytes of each record's value (at least 8: the sequence number).") var recordSize = 100
    @Option(help: "0, 1 or all.") var acks = AcksOption(.all)
    @Option(help: "Write one line per acknowledged record here.") var ackLog: String?
    @Option(help: "Give up the read-back after this many milliseconds without a record.") var timeoutMs = 30_000
    @Flag(help: "Print the summary as one JSON object.") var json = false

    func validate() throws {
        guard partition >= 0 else { throw ValidationError("--partition must not be negative") }
        guard throughput > 0 && throughput <= 1_000_000 else {
            throw ValidationError("--throughput must be 1...1000000")
        }
        guard seconds > 0 && seconds <= 3600 else { throw ValidationError("--seconds must be in (0, 3600]") }
        guard recordSize >= 8 && recordSize <= 1 << 20 else {
            throw ValidationError("--record-size must be 8...1048576")
        }
        guard timeoutMs > 0 else { throw ValidationError("--timeout-ms must be positive") }
    }

    func run() async throws {
        let count = Int((Double(throughput) * seconds).rounded(.up))
        let client = try await global.connect(clientId: "tern-perf-failover")
        // The SDK's defaults (acks=all, idempotence on, unlimited retries within the delivery
        // timeout): what an application gets without tuning. No linger: each record goes out at
        // once, so an ack's time is not inflated by batching.
        let producer = client.producer(configuration: ProducerConfiguration(acks: acks.value, linger: .zero))
        let history = FailoverHistory(count: count)
        let progress = PerfProgress(mode: "failover")
        let (topic, partition, recordSize) = (topic, partition, recordSize)
        progress.start()
        let start = ContinuousClock.now
        let interval = 1.0 / Double(throughput)
        var value = [UInt8](repeating: 0x61, count: recordSize)
        for sequence in 0..<count {
            let due = start + .nanoseconds(Int64(Double(sequence) * interval * 1e9))
            if due > ContinuousClock.now { try await Task.sleep(until: due, clock: .continuous) }
            for k in 0..<8 { value[k] = UInt8(truncatingIfNeeded: UInt64(sequence) >> (56 - 8 * UInt64(k))) }
            history.sent(sequence, at: LatencyRecorder.nowNanoseconds())
            producer.send(topic: topic, value: value, partition: partition) { result in
                switch result {
                case .success(let stored):
                    history.acknowledged(sequence, offset: stored.offset, at: LatencyRecorder.nowNanoseconds())
                    progress.add(records: 1, bytes: recordSize)
                case .failure(let error): history.failed(sequence, error: error)
                }
            }
        }
        // A failed record fails flush too; the history counts it, so keep going to the check.
        _ = try? await producer.flush()
        await producer.close()
        progress.stop()
        let acked = history.acknowledgements()
        if let ackLog { try FailoverHistory.write(acked, to: ackLog) }
        let readBack = try await readBack(client: client, through: acked.map(\.offset).max() ?? -1)
        await client.close()
        let check = FailoverCheck(acknowledged: acked, readBack: readBack)
        check.print(sent: count, failed: history.failedCount, json: json)
        if let firstError = history.firstError { StandardError.writeLine("first failure: \(firstError)") }
        if !check.passed { throw CLIFailure("the read-back does not match the acknowledgements") }
    }

    /// (offset, sequence) of every record of the partition up to `lastOffset`.
    private func readBack(client: TernClient, through lastOffset: Int64) async throws -> [(
        offset: Int64, sequence: Int
    )] {
        var records: [(offset: Int64, sequence: Int)] = []
        guard lastOffset >= 0 else { return records }
        let consumer = client.consumer(configuration: ConsumerConfiguration(autoOffsetReset: .earliest))
        try await CLIFailure.wrap {
            try await consumer.assign([TopicPartition(topic: topic, partition: partition)])
            try await consumer.seekToBeginning()
        }
        var lastRecord = ContinuousClock.now
        var position: Int64 = -1
        while position < lastOffset {
            let batch = try await CLIFailure.wrap { try await consumer.poll(timeout: .milliseconds(200)) }
            if batch.isEmpty {
                if ContinuousClock.now - lastRecord > .milliseconds(timeoutMs) { break }
                continue
            }
            lastRecord = ContinuousClock.now
            for record in batch {
                position = max(position, record.offset)
                guard let value = record.value, value.count >= 8 else { continue }
                var sequence: UInt64 = 0
                for byte in value.prefix(8) { sequence = sequence << 8 | UInt64(byte) }
                records.append((record.offset, Int(truncatingIfNeeded: sequence)))
            }
        }
        await consumer.close()
        return records
    }
}
