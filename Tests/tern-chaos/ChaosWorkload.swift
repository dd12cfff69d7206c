import Foundation
import Synchronization
import TernClient
import TernTestSupport

/// The workload of one chaos run: an idempotent `acks=all` producer sending sequenced records
/// round-robin to every partition at a steady rate, recording each acknowledgement (offset) and
/// each failure, and a consumer reading every partition from the start, recording what it saw.
/// Everything lands in one ``ChaosHistory`` behind a mutex.
final class ChaosWorkload: Sendable {
    let topic: String
    let tag: String
    let partitions: Int32
    let recordsPerSecond: Int
    private let bootstrap: [String]
    private let history = Mutex(ChaosHistory())
    private let outstanding = Atomic<Int>(0)
    private let stopped = Atomic<Bool>(false)

    init(topic: String, tag: String, partitions: Int32, recordsPerSecond: Int, bootstrap: [String]) {
        self.topic = topic
        self.tag = tag
        self.partitions = partitions
        self.recordsPerSecond = recordsPerSecond
        self.bootstrap = bootstrap
    }

    static func client(_ bootstrap: [String]) async throws -> TernClient {
        try await TernClient(
            configuration: ClientConfiguration(
                bootstrap: bootstrap, clientId: "tern-chaos", requestTimeout: .seconds(5), connectTimeout: .seconds(1),
                metadataMaxAge: .seconds(2)))
    }

    /// Produces until ``stop()``, then waits (bounded by the delivery timeout) for every send to end.
    func produce() async throws {
        let client = try await Self.client(bootstrap)
        let producer = client.producer(
            configuration: ProducerConfiguration(
                acks: .all, linger: .milliseconds(2), retryBackoff: .milliseconds(100), deliveryTimeout: .seconds(15),
                requestTimeout: .seconds(5), enableIdempotence: true))
        let interval = Duration.seconds(1) / recordsPerSecond
        var next = ContinuousClock.now
        var sequence: Int64 = 0
        while !stopped.load(ordering: .acquiring) {
            for partition in 0..<partitions {
                let id = ChaosRecordId(partition: partition, sequence: sequence)
                history.withLock { $0.attempted[partition] = sequence + 1 }
                outstanding.add(1, ordering: .relaxed)
                producer.send(
                    topic: topic, key: Array("k\(partition)".utf8), value: id.value(tag: tag), partition: partition
                ) { [self] result in record(id, result) }
            }
            sequence += 1
            next += interval * Int(partitions)
            // Sends are never dropped for pacing; a backlog (the leader is down) just waits.
            while outstanding.load(ordering: .relaxed) > recordsPerSecond * 20, !stopped.load(ordering: .acquiring) {
                try await Task.sleep(for: .milliseconds(50))
            }
            if next > .now { try await Task.sleep(until: next) } else { next = .now }
        }
        let deadline = ContinuousClock.now + .seconds(30)
        while outstanding.load(ordering: .relaxed) > 0, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        await producer.close()
        await client.close()
    }

    private func record(_ id: ChaosRecordId, _ result: Result<RecordMetadata, TernError>) {
        history.withLock { history in
            switch result {
            case .success(let metadata): history.acknowledged[id] = metadata.offset
            case .failure: history.failed.insert(id)
            }
        }
        outstanding.subtract(1, ordering: .relaxed)
    }

    /// Reads every partition from offset 0 until ``stop()``, recording each record seen; errors
    /// (a dead leader, a shorter log after a failover) are retried with a fresh client.
    func consume() async {
        while !stopped.load(ordering: .acquiring) {
            guard let client = try? await Self.client(bootstrap) else {
                try? await Task.sleep(for: .milliseconds(300))
                continue
            }
            let consumer = client.consumer(configuration: ConsumerConfiguration(autoOffsetReset: .earliest))
            do {
                try await consumer.assign((0..<partitions).map { TopicPartition(topic: topic, partition: $0) })
                // Resume where the last consumer was, so a reset shows as a re-read, not a gap.
                let positions = history.withLock { history in
                    history.observed.reduce(into: [Int32: Int64]()) {
                        $0[$1.partition] = max($0[$1.partition] ?? 0, $1.offset + 1)
                    }
                }
                for (partition, offset) in positions.sorted(by: { $0.key < $1.key }) {
                    try await consumer.seek(TopicPartition(topic: topic, partition: partition), to: .offset(offset))
                }
                while !stopped.load(ordering: .acquiring) {
                    let seen = try await consumer.poll(timeout: .milliseconds(500)).map {
                        ChaosObservation(
                            partition: $0.partition, offset: $0.offset,
                            id: $0.value.flatMap { ChaosRecordId(value: $0, tag: tag) })
                    }
                    if !seen.isEmpty { history.withLock { $0.observed += seen } }
                }
            } catch {
                try? await Task.sleep(for: .milliseconds(300))
            }
            await consumer.close()
            await client.close()
        }
    }

    func stop() { stopped.store(true, ordering: .releasing) }

    /// Reads each partition's whole log (offset 0 to its end, from its current leader) into the
    /// history; retries until `deadline`. False when some partition could not be read by then.
    func readFinal(until deadline: ContinuousClock.Instant) async -> Bool {
        var final: [Int32: [ChaosObservation]] = [:]
        for partition in 0..<partitions {
            while final[partition] == nil, ContinuousClock.now < deadline {
                final[partition] = try? await readPartition(partition, deadline: deadline)
                if final[partition] == nil { try? await Task.sleep(for: .milliseconds(500)) }
            }
        }
        history.withLock { $0.final = final }
        return final.count == Int(partitions)
    }

    private func readPartition(_ partition: Int32, deadline: ContinuousClock.Instant) async throws -> [ChaosObservation]
    {
        let client = try await Self.client(bootstrap)
        let consumer = client.consumer(configuration: ConsumerConfiguration(autoOffsetReset: .none))
        do {
            let tp = TopicPartition(topic: topic, partition: partition)
            try await consumer.assign([tp])
            try await consumer.seek(tp, to: .latest)
            let end = try await consumer.position(tp)
            try await consumer.seek(tp, to: .offset(0))
            var records: [ChaosObservation] = []
            var position: Int64 = 0
            while position < end {
                guard ContinuousClock.now < deadline else { throw TernError(.timedOut, "final read of \(tp)") }
                for record in try await consumer.poll(timeout: .seconds(1)) where record.partition == partition {
                    records.append(
                        ChaosObservation(
                            partition: partition, offset: record.offset,
                            id: record.value.flatMap { ChaosRecordId(value: $0, tag: tag) }))
                    position = record.offset + 1
                }
            }
            await consumer.close()
            await client.close()
            return records
        } catch {
            await consumer.close()
            await client.close()
            throw error
        }
    }

    var snapshot: ChaosHistory { history.withLock { $0 } }
}
