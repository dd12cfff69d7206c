import Dispatch
import Logging
import Synchronization
import TernStorage
import TernWire

#if canImport(Glibc)
import Glibc
#endif

/// The broker's consumer-group coordinator: the ``GroupCoordinatorState`` machine behind a lock,
/// its records appended to `__consumer_offsets` (created on first use), rebuilt from that topic at
/// start-up, and a timer that fences members whose session expired.
final class GroupCoordinator: Sendable {
    static let topicName = "__consumer_offsets"

    let state: Mutex<GroupCoordinatorState>
    private let queue = DispatchQueue(label: "tern.groups", target: .global())
    private let stopped = Atomic<Bool>(false)
    let logger: Logger
    /// How often session timeouts are checked.
    let tickInterval: DispatchTimeInterval = .milliseconds(100)

    init(settings: GroupCoordinatorState.Settings, logger: Logger) {
        state = Mutex(
            GroupCoordinatorState(
                settings: settings,
                newMemberId: {
                    var generator = SystemRandomNumberGenerator()
                    return "member-" + String(generator.next() as UInt64, radix: 16)
                        + String(generator.next() as UInt64, radix: 16)
                }))
        self.logger = logger
    }

    /// Monotonic milliseconds: session timers must not jump with the wall clock.
    static func monotonicMs() -> Int64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return Int64(spec.tv_sec) * 1000 + Int64(spec.tv_nsec) / 1_000_000
    }

    // MARK: Loading

    /// Rebuilds every group from the `__consumer_offsets` partitions in `logs`.
    func load(from logs: [PartitionLog]) {
        let now = Self.monotonicMs()
        var applied = 0
        for log in logs {
            var offset = log.logStartOffset
            let end = log.logEndOffset
            while offset < end {
                let bytes: [UInt8]
                do {
                    bytes = try log.read(from: offset, maxBytes: 1 << 20, maxOffset: end).readBytes()
                } catch {
                    logger.error(
                        "cannot read __consumer_offsets",
                        metadata: ["tern_partition": "\(log.topicPartition.partition)", "error": "\(error)"])
                    break
                }
                var records: [Record] = []
                var next = offset
                do {
                    try RecordBatchDecoder.decode(bytes, minOffset: offset, into: &records)
                    var position = 0
                    while let header = RecordBatchHeader(bytes, at: position),
                        position + header.totalSize <= bytes.count
                    {
                        next = max(next, header.lastOffset + 1)
                        position += header.totalSize
                    }
                } catch {
                    logger.error(
                        "corrupt batch in __consumer_offsets",
                        metadata: ["tern_partition": "\(log.topicPartition.partition)", "error": "\(error)"])
                    break
                }
                guard next > offset else { break }
                state.withLock { state in
                    for record in records {
                        guard let key = record.key else { continue }
                        do {
                            state.apply(try GroupRecord.decode(key: key, value: record.value, nowMs: now))
                            applied += 1
                        } catch {
                            logger.warning(
                                "skipping an unreadable __consumer_offsets record",
                                metadata: ["offset": "\(record.offset)", "error": "\(error)"])
                        }
                    }
                }
                offset = next
            }
        }
        let groups = state.withLock { $0.groups.count }
        if applied > 0 {
            logger.info("consumer groups loaded", metadata: ["groups": "\(groups)", "records": "\(applied)"])
        }
    }

    // MARK: Timer

    func start(_ broker: Broker) {
        schedule(broker)
    }

    func stop() {
        stopped.store(true, ordering: .relaxed)
        queue.sync {}
    }

    private func schedule(_ broker: Broker) {
        queue.asyncAfter(deadline: .now() + tickInterval) { [weak broker, self] in
            guard let broker, !stopped.load(ordering: .relaxed) else { return }
            let counts = broker.partitionCounts
            let now = Self.monotonicMs()
            state.withLock { state in
                let records = state.tick(nowMs: now, counts: counts)
                guard !records.isEmpty else { return }
                logger.info("fenced consumer group members whose session expired")
                do {
                    _ = try broker.appendGroupRecords(records)
                } catch {
                    logger.error("cannot persist group changes", metadata: ["error": "\(error)"])
                }
            }
            schedule(broker)
        }
    }

    // MARK: Metrics

    /// Every committed offset, for the lag gauges set at scrape time.
    func committedOffsets() -> [(group: String, tp: TopicPartition, offset: Int64)] {
        state.withLock { state in
            state.groups.values.flatMap { group in group.offsets.map { (group.groupId, $0.key, $0.value) } }
        }
    }
}
