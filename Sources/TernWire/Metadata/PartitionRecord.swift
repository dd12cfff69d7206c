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
    /// Replicas a reassignment in progress adds (a subset of `replicas`); empty otherwise.
    public var addingReplicas: [Int32]
    /// Replicas a reassignment in progress will drop (a subset of `replicas`); empty otherwise.
    public var removingReplicas: [Int32]

    public init(
        topicId: MetadataUUID, partition: Int32, replicas: [Int32], isr: [Int32], leader: Int32,
        leaderEpoch: Int32 = 0, partitionEpoch: Int32 = 0, addingReplicas: [Int32] = [],
        removingReplicas: [Int32] = []
    ) {
        self.topicId = topicId
        self.partition = partition
        self.replicas = replicas
        self.isr = isr
        self.leader = leader
        self.leaderEpoch = leaderEpoch
        self.partitionEpoch = partitionEpoch
        self.addingReplicas = addingReplicas
        self.removingReplicas = removingReplicas
    }

    /// Version 0 unless a reassignment is in progress: a log without reassignments keeps the
    /// bytes older builds read.
    var version: UInt16 { addingReplicas.isEmpty && removingReplicas.isEmpty ? 0 : 1 }

    func encode(into writer: inout ByteWriter) {
        writer.write(topicId)
        writer.write(partition)
        writer.writeInt32Array(replicas)
        writer.writeInt32Array(isr)
        writer.write(leader)
        writer.write(leaderEpoch)
        writer.write(partitionEpoch)
        if version >= 1 {
            writer.writeInt32Array(addingReplicas)
            writer.writeInt32Array(removingReplicas)
        }
    }

    static func decode(from reader: inout ByteReader, version: UInt16) throws -> PartitionRecord {
        var record = PartitionRecord(
            topicId: try reader.readUUID("partition topic id"), partition: try reader.readInt32("partition index"),
            replicas: try reader.readInt32Array("partition replicas"), isr: try reader.readInt32Array("partition isr"),
            leader: try reader.readInt32("partition leader"), leaderEpoch: try reader.readInt32("leader epoch"),
            partitionEpoch: try reader.readInt32("partition epoch"))
        if version >= 1 {
            record.addingReplicas = try reader.readInt32Array("partition adding replicas")
            record.removingReplicas = try reader.readInt32Array("partition removing replicas")
        }
        return record
    }
}

/// A partition's leader, in-sync set and/or replica set changed. Carries the full new leader,
/// ISR and the epochs it results in, so applying it checks it follows exactly the partition epoch
/// before it.
///
/// The replica set (Kafka's `replicas`, `addingReplicas`, `removingReplicas`) changes only during
/// a reassignment: nil fields leave the partition's current value (every version-0 record), so an
/// ISR change in the middle of a reassignment keeps it in progress. A record with any of them set
/// is written as version 1: after the version-0 fields, for each of the three in that order, a u8
/// presence flag (0 or 1) followed, when 1, by the u32-counted i32 array.
public struct PartitionChangeRecord: Hashable, Sendable {
    public var topicId: MetadataUUID
    public var partition: Int32
    public var leader: Int32
    public var isr: [Int32]
    public var leaderEpoch: Int32
    public var partitionEpoch: Int32
    /// The new replica set, or nil for unchanged.
    public var replicas: [Int32]?
    /// The replicas a reassignment in progress adds (empty: none), or nil for unchanged.
    public var addingReplicas: [Int32]?
    /// The replicas a reassignment in progress will drop (empty: none), or nil for unchanged.
    public var removingReplicas: [Int32]?

    public init(
        topicId: MetadataUUID, partition: Int32, leader: Int32, isr: [Int32], leaderEpoch: Int32,
        partitionEpoch: Int32, replicas: [Int32]? = nil, addingReplicas: [Int32]? = nil,
        removingReplicas: [Int32]? = nil
    ) {
        self.topicId = topicId
        self.partition = partition
        self.leader = leader
        self.isr = isr
        self.leaderEpoch = leaderEpoch
        self.partitionEpoch = partitionEpoch
        self.replicas = replicas
        self.addingReplicas = addingReplicas
        self.removingReplicas = removingReplicas
    }

    /// Version 0 when the replica set is untouched: the bytes older builds read.
    var version: UInt16 { replicas == nil && addingReplicas == nil && removingReplicas == nil ? 0 : 1 }

    func encode(into writer: inout ByteWriter) {
        writer.write(topicId)
        writer.write(partition)
        writer.write(leader)
        writer.writeInt32Array(isr)
        writer.write(leaderEpoch)
        writer.write(partitionEpoch)
        guard version >= 1 else { return }
        for field in [replicas, addingReplicas, removingReplicas] {
            if let field {
                writer.write(UInt8(1))
                writer.writeInt32Array(field)
            } else {
                writer.write(UInt8(0))
            }
        }
    }

    static func decode(from reader: inout ByteReader, version: UInt16) throws -> PartitionChangeRecord {
        var record = PartitionChangeRecord(
            topicId: try reader.readUUID("partition change topic id"),
            partition: try reader.readInt32("partition change index"),
            leader: try reader.readInt32("partition change leader"),
            isr: try reader.readInt32Array("partition change isr"),
            leaderEpoch: try reader.readInt32("partition change leader epoch"),
            partitionEpoch: try reader.readInt32("partition change partition epoch"))
        guard version >= 1 else { return record }
        func optional(_ what: String) throws -> [Int32]? {
            switch try reader.readUInt8("partition change \(what) presence") {
            case 0: return nil
            case 1: return try reader.readInt32Array("partition change \(what)")
            case let flag: throw WireError(.malformed, "partition change \(what): presence flag \(flag) is not 0 or 1")
            }
        }
        record.replicas = try optional("replicas")
        record.addingReplicas = try optional("adding replicas")
        record.removingReplicas = try optional("removing replicas")
        return record
    }
}
