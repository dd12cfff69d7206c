import ArgumentParser
import TernClient

/// How `tern perf produce` sends: pipelined, or one awaited send at a time per producer (plain
/// or conditional), which is how an event-sourced writer appends.
enum PerfAppendMode: String, ExpressibleByArgument, CaseIterable {
    case none
    case awaited
    case endOffset = "end-offset"
    case key
}

extension PerfProduceCommand {
    /// Each producer sends its share one record at a time, awaiting each answer: plainly
    /// (`awaited`), or only if its partition's end offset (`end-offset`) or its key's last offset
    /// (`key`) is the one it last saw. Conflicts (another producer on the same partition) are
    /// counted as failures and the producer goes on from the actual offset.
    func runOneAtATime(_ clients: [TernClient], configuration: ProducerConfiguration) async throws {
        guard let first = clients.first else { return }
        let name = self.topic
        let description = try await CLIFailure.wrap { try await first.admin.describeTopic(name: name) }
        let ends = Dictionary(uniqueKeysWithValues: description.partitions.map { ($0.partition, $0.logEndOffset) })
        let partitionCount = Int32(description.partitions.count)
        let failed = FailureCounter()
        let latency = LatencyRecorder()
        let progress = PerfProgress(mode: "produce")
        let (topic, records, producers, recordSize, mode) = (topic, records, producers, recordSize, condition)
        // A key no earlier run used, so that `key` mode starts from "key absent".
        let run = UInt64.random(in: 0...UInt64.max)
        let start = ContinuousClock.now
        progress.start()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, client) in clients.enumerated() {
                let share = records / producers + (index < records % producers ? 1 : 0)
                let partition = Int32(index) % partitionCount
                group.addTask {
                    let producer = client.producer(configuration: configuration)
                    let value = [UInt8](repeating: 0x61, count: recordSize)
                    let key = Array("perf-\(run)-\(index)".utf8)
                    var seen: Int64 = mode == .key ? -1 : ends[partition] ?? 0
                    for _ in 0..<share {
                        let sentAt = LatencyRecorder.nowNanoseconds()
                        do {
                            let stored: RecordMetadata
                            switch mode {
                            case .none, .awaited:
                                stored = try await producer.send(
                                    topic: topic, key: key, value: value, partition: partition)
                            case .endOffset:
                                stored = try await producer.send(
                                    topic: topic, key: key, value: value, partition: partition,
                                    condition: .endOffset(seen))
                                seen = stored.offset + 1
                            case .key:
                                stored = try await producer.send(
                                    topic: topic, key: key, value: value,
                                    condition: seen < 0 ? .keyAbsent : .keyLastOffset(seen))
                                seen = stored.offset
                            }
                            latency.record(since: sentAt)
                            progress.add(records: 1, bytes: recordSize)
                        } catch let error as TernError where error.code == .conditionFailed {
                            failed.increment()
                            if let actual = error.actualOffset { seen = actual }
                        } catch let error as TernError {
                            throw CLIFailure(error.message)
                        }
                    }
                    await producer.close()
                }
            }
            try await group.waitForAll()
        }
        let elapsed = ContinuousClock.now - start
        progress.stop()
        for client in clients { await client.close() }
        PerfSummary(
            mode: "produce (\(mode.rawValue))", records: records, bytes: records * recordSize, seconds: elapsed.seconds,
            failed: failed.value, latency: latency.summary
        ).print(json: json)
    }
}
