import TernStorage
import TernWire

extension Broker {
    /// Descriptors left free beyond what a new topic's logs hold: connections, the topic
    /// metadata file, directory fsyncs and segments rolled meanwhile.
    static let descriptorHeadroom = 64

    /// `max.partitions`: the most partitions, all topics together (internal ones included);
    /// enforced by the active controller over the whole cluster's metadata.
    var maxPartitions: Int { Int(config["max.partitions"] ?? "") ?? 100_000 }

    /// Refuses up front a topic of `partitions` partitions whose logs need more descriptors
    /// (``LogManager/descriptorsPerIdleLog`` each, plus ``descriptorHeadroom``) than this process
    /// has left under `RLIMIT_NOFILE` (counting the open ones in `/proc/self/fd`): what only the
    /// broker receiving the request can know, checked before it is forwarded to the controller.
    /// Returns why, or nil.
    func checkDescriptorBudget(name: String, partitions: Int32) -> TopicAdminError? {
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
