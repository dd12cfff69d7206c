import Dispatch
import Logging
import Synchronization
import TernStorage
import TernWire

#if canImport(Glibc)
import Glibc
#endif

extension GroupCoordinator {
    /// Which `__consumer_offsets` partitions this coordinator leads, and a term per partition
    /// that changes at each gain or loss of its leadership. A change decided in one term is
    /// neither appended nor applied in another: the partition's groups were dropped meanwhile,
    /// or rebuilt from the log by the new term's load.
    struct Leadership: Sendable {
        /// Led partitions, with the leader epoch the image gave each when it was (re)loaded: a
        /// new epoch with this broker still leading means it lost and regained the partition in
        /// between (another leader may have written), so it loads again.
        var led: [Int32: Int32] = [:]
        var terms: [Int32: UInt64] = [:]

        func term(of partition: Int32) -> UInt64 { terms[partition] ?? 0 }
    }

    /// A led `__consumer_offsets` partition's local log as a load may read it.
    enum OffsetsLogState: Sendable {
        /// The log, to be read up to `end` (exclusive): everything below is committed.
        case ready(PartitionLog, end: Int64)
        /// No local log yet (retried every second).
        case missing
        /// A replicated partition whose high watermark has not reached its log end in this
        /// leader's epoch yet, or whose replica does not lead yet (retried shortly).
        case uncommitted
    }

    /// What a load asks about a partition: ``OffsetsLogState``.
    typealias LoadSource = @Sendable (Int32) -> OffsetsLogState

    /// Follows the metadata image: `led` are the `__consumer_offsets` partitions this broker
    /// leads, by leader epoch, of a topic of `partitionCount` partitions. Partitions no longer
    /// led are unloaded at once (their groups answer NOT_COORDINATOR, requests queued for them
    /// too, and a change being persisted is answered NOT_COORDINATOR); newly led ones answer
    /// COORDINATOR_LOAD_IN_PROGRESS until their groups are read back from the local log, on the
    /// I/O queue (after every append queued before: the load sees them), as far as `source`
    /// says it is committed (``OffsetsLogState``). Any thread; does not block.
    func follow(partitionCount: Int32, led: [Int32: Int32], source: @escaping LoadSource) {
        let (gained, lost) = shared.withLock { shared -> ([(Int32, UInt64)], [Int32]) in
            shared.source = source
            var leadership = shared.leadership
            var gained: [(Int32, UInt64)] = []
            var lost: [Int32] = []
            for (partition, epoch) in led.sorted(by: { $0.key < $1.key }) where leadership.led[partition] != epoch {
                leadership.terms[partition] = leadership.term(of: partition) &+ 1
                gained.append((partition, leadership.term(of: partition)))
            }
            for partition in leadership.led.keys.sorted() where led[partition] == nil {
                leadership.terms[partition] = leadership.term(of: partition) &+ 1
                lost.append(partition)
            }
            leadership.led = led
            shared.leadership = leadership
            let stillLoading = shared.machine.loadingPartitions.intersection(led.keys)
            shared.machine.follow(
                partitionCount: partitionCount, led: Set(led.keys),
                loading: stillLoading.union(gained.map(\.0)))
            return (gained, lost)
        }
        if !lost.isEmpty {
            logger.info(
                "no longer coordinating the groups of these __consumer_offsets partitions",
                metadata: ["tern_partitions": "\(lost)"])
        }
        for (partition, term) in gained {
            io.async { self.load(partition, term: term, source: source, attempt: 1) }
        }
    }

    /// ``follow(partitionCount:led:source:)`` over logs that are whole truth to their end
    /// (single-replica partitions; tests): nil while a partition's log does not exist yet.
    func follow(partitionCount: Int32, led: [Int32: Int32], logs: @escaping @Sendable (Int32) -> PartitionLog?) {
        follow(partitionCount: partitionCount, led: led) { partition in
            logs(partition).map { .ready($0, end: $0.logEndOffset) } ?? .missing
        }
    }

    /// Under the lock: a led partition whose change may have been written but was not seen
    /// committed goes back to loading, in a new term (changes decided before are neither
    /// appended nor applied), its groups dropped until the load rebuilds them from the log.
    static func beginReload(_ partition: Int32, _ shared: inout Shared) -> (UInt64, LoadSource)? {
        guard let source = shared.source, shared.leadership.led[partition] != nil else { return nil }
        shared.leadership.terms[partition] = shared.leadership.term(of: partition) &+ 1
        shared.machine.loadingPartitions.insert(partition)
        shared.machine.unload([partition])
        return (shared.leadership.term(of: partition), source)
    }

    /// On the I/O queue: reads the groups of a newly led partition and serves them, unless its
    /// term ended meanwhile. A replicated partition is read only once its high watermark
    /// reached its log end (what it held when this broker came to lead it: nothing is appended
    /// while it loads), so nothing that a failover can still truncate gets into memory.
    func load(_ partition: Int32, term: UInt64, source: @escaping LoadSource, attempt: Int) {
        guard isCurrent(partition, term) else { return }
        let log: PartitionLog
        let end: Int64
        switch source(partition) {
        case .ready(let ready, let readyEnd):
            log = ready
            end = readyEnd
        case .missing:
            if attempt == 1 {
                logger.warning(
                    "cannot load the groups of a __consumer_offsets partition this broker leads: no local log yet; retrying every second",
                    metadata: ["tern_partition": "\(partition)"])
            }
            io.asyncAfter(deadline: .now() + .seconds(1)) {
                self.load(partition, term: term, source: source, attempt: attempt + 1)
            }
            return
        case .uncommitted:
            if attempt == 400 {
                logger.warning(
                    "the groups of a __consumer_offsets partition this broker leads wait for its high watermark to reach its log end",
                    metadata: ["tern_partition": "\(partition)"])
            }
            io.asyncAfter(deadline: .now() + .milliseconds(25)) {
                self.load(partition, term: term, source: source, attempt: attempt + 1)
            }
            return
        }
        let settings = read { $0.settings }
        let loaded = Self.readGroups(from: log, upTo: end, settings: settings, logger: logger)
        let installed = shared.withLock { shared -> Bool in
            guard shared.leadership.term(of: partition) == term else { return false }
            shared.machine.install(loaded.groups, partition: partition)
            return true
        }
        if installed && loaded.records > 0 {
            logger.info(
                "consumer groups loaded",
                metadata: [
                    "tern_partition": "\(partition)", "groups": "\(loaded.groups.count)",
                    "records": "\(loaded.records)", "tern_end_offset": "\(end)",
                ])
        }
    }

    private func isCurrent(_ partition: Int32, _ term: UInt64) -> Bool {
        shared.withLock { $0.leadership.term(of: partition) == term }
    }

    /// NOT_COORDINATOR when the partition of a change being persisted changed term since the
    /// change was decided; nil while it is the same.
    func movedFailure(_ work: Persisting) -> GroupStorageFailure? {
        guard !isCurrent(work.change.partition, work.term) else { return nil }
        return GroupStorageFailure(
            .notCoordinator,
            "the leadership of \(Self.topicName)-\(work.change.partition) moved before the change was written")
    }

    /// Waits (bounded) until no led partition is loading: what a single-node broker does before
    /// it reports ready, so its groups are served from the first request on.
    func waitUntilLoaded(timeout: Duration) -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if read({ $0.loadingPartitions.isEmpty }) { return true }
            usleep(2000)
        }
        return false
    }
}
