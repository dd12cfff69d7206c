import Dispatch
import Logging
import Synchronization
import TernStorage

/// Fetches waiting for data ("purgatory"). A parked fetch completes exactly once: when appends to
/// its partitions have added at least the bytes it still needs, when its wait ends, or at shutdown.
final class FetchPurgatory: Sendable {
    private final class Waiter: Sendable {
        let partitions: [TopicPartition]
        let complete: @Sendable () -> Void
        /// Bytes still needed; nil once completed.
        let needed: Mutex<Int?>

        init(partitions: [TopicPartition], minBytes: Int, complete: @escaping @Sendable () -> Void) {
            self.partitions = partitions
            self.needed = Mutex(minBytes)
            self.complete = complete
        }

        /// Marks the waiter done; true for the one caller that should run `complete`.
        func finish() -> Bool { needed.withLock { n in defer { n = nil }; return n != nil } }

        /// Counts appended bytes; true when the waiter just became satisfied.
        func add(_ bytes: Int) -> Bool {
            needed.withLock { n in
                guard let current = n else { return false }
                let left = current - bytes
                if left > 0 {
                    n = left
                    return false
                }
                n = nil
                return true
            }
        }
    }

    private let waiters: Mutex<[TopicPartition: [ObjectIdentifier: Waiter]]> = Mutex([:])
    private let queue = DispatchQueue(label: "tern.purgatory", target: .global())
    private let logger: Logger

    init(logger: Logger) { self.logger = logger }

    /// Parks a fetch until `minBytes` more bytes arrive on any of `partitions` or `maxWaitMs` passes.
    func park(
        partitions: [TopicPartition], minBytes: Int, maxWaitMs: Int, complete: @escaping @Sendable () -> Void
    ) {
        let waiter = Waiter(partitions: partitions, minBytes: max(minBytes, 1), complete: complete)
        let id = ObjectIdentifier(waiter)
        waiters.withLock { map in
            for tp in partitions { map[tp, default: [:]][id] = waiter }
        }
        queue.asyncAfter(deadline: .now() + .milliseconds(maxWaitMs)) { [self] in
            if waiter.finish() { run(waiter) }
        }
    }

    /// Called after every append: wakes fetches that now have enough bytes.
    func didAppend(to tp: TopicPartition, bytes: Int) {
        let ready: [Waiter] = waiters.withLock { map in
            guard let list = map[tp], !list.isEmpty else { return [] }
            return list.values.filter { $0.add(bytes) }
        }
        for waiter in ready { queue.async { [self] in run(waiter) } }
    }

    /// Completes every parked fetch now (shutdown).
    func completeAll() {
        let all: [Waiter] = waiters.withLock { map in
            var seen: [ObjectIdentifier: Waiter] = [:]
            for list in map.values { for (id, w) in list { seen[id] = w } }
            return Array(seen.values)
        }
        for waiter in all where waiter.finish() { run(waiter) }
    }

    private func run(_ waiter: Waiter) {
        let id = ObjectIdentifier(waiter)
        waiters.withLock { map in
            for tp in waiter.partitions {
                map[tp]?[id] = nil
                if map[tp]?.isEmpty == true { map[tp] = nil }
            }
        }
        waiter.complete()
    }
}
