import TernWire

/// Chooses a partition for each record, as Kafka's default partitioner does.
///
/// - An explicit partition wins (the producer checks it).
/// - A keyed record goes to `(murmur2(key) & 0x7fffffff) % partitionCount`, so a key always
///   lands on the same partition number, in Tern and in Kafka.
/// - Records without a key stick to one partition per topic until the batch they fill is closed
///   (full, or sent when linger expires); then the topic moves to the next partition. Batches stay
///   large and null-keyed records still spread over every partition. The first partition is
///   random, so that many producers do not all start on partition 0.
struct StickyPartitioner: Sendable {
    private var sticky: [String: Int32] = [:]
    /// The last topic asked about and its sticky partition, so a run of records to one topic
    /// hashes its name once.
    private var recent: (topic: String, partition: Int32)?
    private let firstPartition: @Sendable (Int32) -> Int32

    /// - Parameter firstPartition: picks the first sticky partition of a topic among `0..<count`.
    init(firstPartition: @escaping @Sendable (Int32) -> Int32 = { Int32.random(in: 0..<$0) }) {
        self.firstPartition = firstPartition
    }

    /// The partition for a record with `key` among `partitionCount`.
    mutating func partition(topic: String, key: [UInt8]?, partitionCount: Int32) -> Int32 {
        if let key { return Murmur2.partition(forKey: key, partitionCount: partitionCount) }
        return stickyPartition(topic: topic, partitionCount: partitionCount)
    }

    /// The current sticky partition of `topic`.
    mutating func stickyPartition(topic: String, partitionCount: Int32) -> Int32 {
        if let recent, recent.topic == topic, recent.partition < partitionCount { return recent.partition }
        let chosen: Int32
        if let current = sticky[topic], current < partitionCount {
            chosen = current
        } else {
            chosen = max(0, min(firstPartition(partitionCount), partitionCount - 1))
            sticky[topic] = chosen
        }
        recent = (topic, chosen)
        return chosen
    }

    /// Tells the partitioner that the open batch of `partition` was closed; if it was the sticky
    /// one, null-keyed records move on to the next partition.
    mutating func batchClosed(topic: String, partition: Int32, partitionCount: Int32) {
        guard let current = sticky[topic], current == partition, partitionCount > 0 else { return }
        sticky[topic] = (partition + 1) % partitionCount
        if recent?.topic == topic { recent = nil }
    }
}
