import Synchronization
import TernStorage
import TernWire

#if canImport(Glibc)
import Glibc
#endif

/// The group coordinator on a cluster (DESIGN.md section 7): a group's coordinator is the leader
/// of partition `murmur2(group) % partitions` of `__consumer_offsets` in the metadata image. Each
/// broker serves the groups of the partitions it leads, loading them from its own log when it
/// comes to lead one and dropping them when it stops.
extension Broker {
    /// After each reconcile pass (the local logs match `image`): hands the coordinator the
    /// `__consumer_offsets` partitions this broker leads now.
    func followOffsetsLeadership(_ image: MetadataImage) {
        let name = GroupCoordinator.topicName
        guard let topic = image.topic(named: name) else {
            let configured = Int32(config["offsets.topic.num.partitions"] ?? "") ?? 50
            return groupCoordinator.follow(partitionCount: configured, led: [:], logs: { _ in nil })
        }
        var led: [Int32: Int32] = [:]
        for partition in topic.partitions.values where partition.leader == config.nodeId {
            led[partition.partition] = partition.leaderEpoch
        }
        groupCoordinator.follow(partitionCount: Self.partitionCount(topic), led: led) { [weak self] in
            self?.offsetsLogState($0) ?? .missing
        }
    }

    /// A topic's partition count: one past its highest partition index.
    static func partitionCount(_ topic: MetadataImage.Topic) -> Int32 {
        (topic.partitions.keys.max() ?? -1) + 1
    }

    /// True once the image holds this process's registration and the logs matched it once:
    /// before that, the image may be a half-replayed old one, and whether `__consumer_offsets`
    /// exists or who leads it cannot be told from it.
    var imageIsCurrent: Bool {
        reconcileState.withLock { $0.reconciledThrough >= 0 }
    }

    /// Waits (bounded) until the logs match the image as it is now and the `__consumer_offsets`
    /// partitions that image makes this broker lead are loaded: a single node, once unfenced
    /// (its restart's registration took its leaderships away; the unfencing gave them back),
    /// serves its groups from its first request on.
    func waitUntilGroupsLoaded(timeout: Duration) -> Bool {
        let target = cluster.publisher.current.nextOffset
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if reconcileState.withLock({ $0.reconciledThrough >= target }),
                groupCoordinator.read({ $0.loadingPartitions.isEmpty })
            {
                return true
            }
            usleep(2000)
        }
        return false
    }

    /// FindCoordinator's answer from `image`: the leader of the group's `__consumer_offsets`
    /// partition at its address for the listener `listener` (index in `listeners`);
    /// COORDINATOR_NOT_AVAILABLE while the partition has no live leader.
    func coordinatorAnswer(_ groupId: String, image: MetadataImage, listener: Int) -> FindCoordinatorResponse {
        func unavailable(_ message: String) -> FindCoordinatorResponse {
            FindCoordinatorResponse(
                errorCode: .coordinatorNotAvailable, errorMessage: message, nodeId: -1, host: "", port: -1)
        }
        guard let topic = image.topic(named: GroupCoordinator.topicName) else {
            return unavailable("\(GroupCoordinator.topicName) does not exist yet")
        }
        let index = GroupCoordinatorState.coordinatorPartition(groupId, partitions: Self.partitionCount(topic))
        let what = "\(GroupCoordinator.topicName)-\(index), which holds group '\(groupId)'"
        guard let partition = topic.partitions[index], partition.leader >= 0 else {
            return unavailable("\(what), has no leader")
        }
        guard let broker = image.broker(partition.leader), !broker.fenced else {
            return unavailable("\(what), is led by broker \(partition.leader), which is fenced")
        }
        let listenerName = config.listeners.indices.contains(listener) ? config.listeners[listener].name : nil
        // Only the same listener: a client of an SSL listener is never sent to a plaintext one.
        guard let address = broker.listeners.first(where: { $0.name == listenerName }) else {
            return unavailable(
                "\(what), is led by broker \(partition.leader), which has no listener \(listenerName ?? "?")")
        }
        return FindCoordinatorResponse(nodeId: broker.nodeId, host: address.host, port: Int32(address.port))
    }
}
