import TernStorage
import TernWire

extension Broker {
    /// Descriptors left free beyond what a new topic's logs hold: connections, the topic
    /// metadata file, directory fsyncs and segments rolled meanwhile.
    static let descriptorHeadroom = 64

    /// `max.partitions`: the most partitions, all topics together (internal ones included).
    var maxPartitions: Int { Int(config["max.partitions"] ?? "") ?? 100_000 }

    /// Refuses up front a topic of `partitions` partitions that the broker cannot hold: one
    /// that would take the broker past `max.partitions`, or whose logs need more descriptors
    /// (``LogManager/descriptorsPerIdleLog`` each, plus ``descriptorHeadroom``) than the process
    /// has left under `RLIMIT_NOFILE` (counting the open ones in `/proc/self/fd`). Returns why,
    /// or nil. Call it under `adminLock`, so that no other creation changes the count meanwhile.
    func checkPartitionBudget(name: String, partitions: Int32) -> TopicAdminError? {
        let existing = topics.all.reduce(0) { $0 + Int($1.partitionCount) }
        let limit = maxPartitions
        if existing + Int(partitions) > limit {
            return TopicAdminError(
                .invalidPartitions,
                "creating '\(name)' with \(partitions) partitions would take this broker to "
                    + "\(existing + Int(partitions)) partitions, over max.partitions=\(limit) "
                    + "(\(existing) exist)")
        }
        let perLog = LogManager.descriptorsPerIdleLog
        let process = ProcessStatistics.read()
        let needed = Int64(partitions) * Int64(perLog) + Int64(Self.descriptorHeadroom)
        let free = process.maxFileDescriptors - process.openFileDescriptors
        guard process.maxFileDescriptors > 0, needed > free else { return nil }
        return TopicAdminError(
            .invalidPartitions,
            "creating '\(name)' with \(partitions) partitions needs about \(needed) more file descriptors "
                + "(\(perLog) per partition and \(Self.descriptorHeadroom) spare), but only \(max(free, 0)) of the "
                + "process's limit of \(process.maxFileDescriptors) (RLIMIT_NOFILE) are free; raise the limit "
                + "(ulimit -n, LimitNOFILE=) or create fewer partitions")
    }
}
