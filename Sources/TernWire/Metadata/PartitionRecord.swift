/// A partition was created with its replica assignment and first leader.
public struct PartitionRecord: Hashable, Sendable {
    public var topicId: MetadataUUID
    public var partition: Int32
    /// The assigned replicas in preference order; the first is the preferred leader.
    public var replicas: [Int32]
    /// The in-sync replicas, a non-empty subset of `replicas`.
    public var isr: [Int32]
    /// The leader's node id, or -1 when no replica may lead.
    public var leader: Int32
    /// Bumped whenever the leader changes; followers and clients fence stale leaders with it.
    public var leaderEpoch: Int32
    /// Bumped on every change to the partition; changes must name the epoch they follow.
    public var partitionEpoch: Int32

    public init(
        topicId: MetadataUUID, partition: Int32, replicas: [Int32], isr: [Int32], leader: Int32,
        leaderEpoch: Int32 = 0, partitionEpoch: Int32 = 0
    ) {
        self.topicId = topicId
        self.partition = partition
        self.replicas = replicas
        self.isr = isr
        self.leader = leader
        self.leaderEpoch = leaderEpoch
        self.partitionEpoch = partitionEpoch
    }

    func encode(into writer: inout ByteWriter) {
        writer.write(topicId)
        writer.write(partition)
        writer.writeInt32Array(replicas)
        writer.writeInt32Array(isr)
        writer.write(leader)
        writer.write(leaderEpoch)
        writer.write(partitionEpoch)
    }

    static func decode(from reader: inout ByteReader) throws -> PartitionRecord {
        PartitionRecord(
            topicId: try reader.readUUID("partition topic id"), partition: try reader.readInt32("partition index"),
            replicas: try reader.readInt32Array("partition replicas"), isr: try reader.readInt32Array("partition isr"),
            leader: try reader.readInt32("partition leader"), leaderEpoch: try reader.readInt32("leader epoch"),
            partitionEpoch: try reader.readInt32("partition epoch"))
    }
}

/// A partition's leader and/or in-sync set changed. Carries the full new state and the epochs it
/// results in, so applying it checks it follows exactly the partition epoch before it.
public struct PartitionChangeRecord: Hashable, Sendable {
    public var topicId: MetadataUUID
    public var partition: Int32
    public var leader: Int32
    public var isr: [Int32]
    public var leaderEpoch: Int32
    public var partitionEpoch: Int32

    public init(
        topicId: MetadataUUID, partition: Int32, leader: Int32, isr: [Int32], leaderEpoch: Int32,
        partitionEpoch: Int32
    ) {
        self.topicId = topicId
        self.partition = partition
        self.leader = leader
        self.isr = isr
        self.leaderEpoch = leaderEpoch
        self.partitionEpoch = partitionEpoch
    }

    func encode(into writer: inout ByteWriter) {
        writer.write(topicId)
        writer.write(partition)
        writer.write(leader)
        writer.writeInt32Array(isr)
        writer.write(leaderEpoch)
        writer.write(partitionEpoch)
    }

    static func decode(from reader: inout ByteReader) throws -> PartitionChangeRecord {
        PartitionChangeRecord(
            topicId: try reader.readUUID("partition change topic id"),
            partition: try reader.readInt32("partition change index"),
            leader: try reader.readInt32("partition change leader"),
            isr: try reader.readInt32Array("partition change isr"),
            leaderEpoch: try reader.readInt32("partition change leader epoch"),
            partitionEpoch: try reader.readInt32("partition change partition epoch"))
    }
}
