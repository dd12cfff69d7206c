import TernWire

/// The upgrade from a single-node data directory: the topics of `__tern_topics.json`
/// (``TopicStore``) as the metadata records that recreate them in a ``MetadataImage``.
///
/// Each topic becomes a ``TopicRecord`` (its id, name and config overrides, as
/// ``ControllerDecisions/createTopic(_:name:partitions:replicationFactor:configs:internalTopic:using:)``
/// writes them) followed by one ``PartitionRecord`` per partition with this node as the only
/// replica, in-sync replica and leader, at leader and partition epoch 0. Topics come sorted by
/// name and partitions by index, so the same store always imports to the same bytes.
///
/// The image refuses a partition whose replica is not a registered broker, so the batch is
/// applied after this node's registration (and the cluster id): the first controller of an
/// upgraded node writes cluster id, registration, then this batch, before it serves.
public enum TopicStoreImport {
    /// The records that recreate `topics` with `nodeId` as the only replica of every partition.
    /// - Throws: ``TopicStoreImportError`` naming the topic when the store holds something the
    ///   metadata log cannot: an id that is not 1–32 hex digits (or is zero), two topics with one
    ///   id, a partition count outside 1…100000, a negative node id.
    public static func records(topics: [TopicInfo], nodeId: Int32) throws(TopicStoreImportError) -> [MetadataRecord] {
        guard nodeId >= 0 else { throw TopicStoreImportError("node id \(nodeId) is negative") }
        var records: [MetadataRecord] = []
        var owners: [MetadataUUID: String] = [:]
        for topic in topics.sorted(by: { $0.name < $1.name }) {
            guard let id = topicId(topic.id) else {
                throw TopicStoreImportError(
                    "topic \(topic.name): id '\(topic.id)' is not 1 to 32 hex digits with a non-zero value")
            }
            if let other = owners.updateValue(topic.name, forKey: id) {
                throw TopicStoreImportError("topics \(other) and \(topic.name) have the same id \(id)")
            }
            guard topic.partitionCount >= 1 && topic.partitionCount <= TopicInfo.maxPartitionsPerTopic else {
                throw TopicStoreImportError(
                    "topic \(topic.name): \(topic.partitionCount) partitions, outside 1...\(TopicInfo.maxPartitionsPerTopic)"
                )
            }
            records.append(.topic(TopicRecord(topicId: id, name: topic.name, configs: topic.configs)))
            for partition in 0..<topic.partitionCount {
                records.append(
                    .partition(
                        PartitionRecord(
                            topicId: id, partition: partition, replicas: [nodeId], isr: [nodeId], leader: nodeId,
                            leaderEpoch: 0, partitionEpoch: 0)))
            }
        }
        return records
    }

    /// The 128-bit id a stored topic id stands for.
    ///
    /// The single-node broker wrote ids as its two 64-bit halves in hex without leading zeros
    /// (`String(high, radix: 16) + String(low, radix: 16)`), so most are 32 digits and read back
    /// exactly; a shorter one (a half with leading zero digits) cannot be split unambiguously
    /// and is read as one number, which keeps it unique among the others (the 32-digit ones read
    /// as themselves; a clash is refused by ``records(topics:nodeId:)``). Nil for anything else.
    public static func topicId(_ text: String) -> MetadataUUID? {
        let digits = Array(text.utf8)
        guard !digits.isEmpty, digits.count <= 32 else { return nil }
        var high: UInt64 = 0
        var low: UInt64 = 0
        for digit in digits {
            let value: UInt64
            switch digit {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): value = UInt64(digit - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): value = UInt64(digit - UInt8(ascii: "a") + 10)
            case UInt8(ascii: "A")...UInt8(ascii: "F"): value = UInt64(digit - UInt8(ascii: "A") + 10)
            default: return nil
            }
            high = high << 4 | low >> 60
            low = low << 4 | value
        }
        let id = MetadataUUID(high: high, low: low)
        return id == .zero ? nil : id
    }
}

/// A topic of `__tern_topics.json` that cannot be carried into the metadata log.
public struct TopicStoreImportError: Error, Hashable, CustomStringConvertible, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { "cannot import __tern_topics.json: \(message)" }
}
