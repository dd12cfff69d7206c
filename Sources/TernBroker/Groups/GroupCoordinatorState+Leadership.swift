extension GroupCoordinatorState {
    /// Follows the `__consumer_offsets` partitions this broker leads (from the metadata image):
    /// `led` are served once loaded, `loading` answer COORDINATOR_LOAD_IN_PROGRESS meanwhile,
    /// and the groups of every partition no longer led are dropped (the new leader rebuilds them
    /// from its log). `partitionCount` is the topic's, which decides each group's partition.
    mutating func follow(partitionCount: Int32, led: Set<Int32>, loading: Set<Int32>) {
        settings.offsetsPartitions = max(partitionCount, 1)
        let lost = (settings.ledPartitions ?? Set(0..<settings.offsetsPartitions)).subtracting(led)
        settings.ledPartitions = led
        loadingPartitions = loading
        unload(lost.union(loading))
    }

    /// Drops the groups held in `partitions` (their state lives on in the log).
    mutating func unload(_ partitions: Set<Int32>) {
        guard !partitions.isEmpty else { return }
        groups = groups.filter { !partitions.contains(partition(of: $0.key)) }
    }

    /// Installs the groups read back from the log of `partition`, and serves it.
    mutating func install(_ loaded: [String: ConsumerGroup], partition: Int32) {
        for (id, group) in loaded where self.partition(of: id) == partition { groups[id] = group }
        loadingPartitions.remove(partition)
    }

    /// What a broker answers while `__consumer_offsets` does not exist anywhere: no group has
    /// state, so any broker can say so (OffsetFetch: nothing committed; DescribeGroups: no such
    /// group; ListGroups: none).
    func withoutOffsetsTopic() -> GroupCoordinatorState {
        var empty = GroupCoordinatorState(settings: settings, newMemberId: newMemberId)
        empty.settings.ledPartitions = nil
        return empty
    }
}
