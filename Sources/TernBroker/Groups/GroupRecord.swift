import TernStorage
import TernWire

/// A record of `__consumer_offsets`: the latest record per key is the state, a null value deletes
/// the key (the compaction cleaner keeps only that). Layouts in docs/protocol.md §7.9.
enum GroupRecord: Sendable, Hashable {
    /// A committed offset; nil deletes it.
    case offset(group: String, TopicPartition, Int64?)
    /// A group's members; nil deletes the group.
    case group(String, GroupSnapshot?)

    static let offsetKeyVersion: Int16 = 1
    static let groupKeyVersion: Int16 = 2
    static let valueVersion: Int16 = 1

    /// The group's persistent state.
    struct GroupSnapshot: Sendable, Hashable {
        var groupEpoch: Int32
        var members: [GroupMember]
    }

    var key: [UInt8] {
        var w = ByteWriter(capacity: 64)
        switch self {
        case .offset(let group, let tp, _):
            w.write(Self.offsetKeyVersion)
            w.writeString(group)
            w.writeString(tp.topic)
            w.write(tp.partition)
        case .group(let group, _):
            w.write(Self.groupKeyVersion)
            w.writeString(group)
        }
        return w.take()
    }

    var value: [UInt8]? {
        var w = ByteWriter(capacity: 64)
        switch self {
        case .offset(_, _, let offset):
            guard let offset else { return nil }
            w.write(Self.valueVersion)
            w.write(offset)
            w.write(Broker.wallClockMilliseconds())
        case .group(_, let snapshot):
            guard let snapshot else { return nil }
            w.write(Self.valueVersion)
            w.write(snapshot.groupEpoch)
            w.writeArray(snapshot.members.sorted { $0.memberId < $1.memberId }) { w, m in
                w.writeString(m.memberId)
                w.writeNullableString(m.instanceId)
                w.writeString(m.clientId)
                w.writeString(m.clientHost)
                w.write(m.memberEpoch)
                w.write(m.sessionTimeoutMs)
                w.write(m.rebalanceTimeoutMs)
                w.writeStrings(m.subscribedTopics.sorted())
                w.writeTopicPartitionLists(GroupRecord.lists(m.assigned))
                w.write(m.staticLeft)
            }
        }
        return w.take()
    }

    /// Decodes a stored record; `nowMs` starts restored members' session timers.
    /// - Throws: `WireError` for bytes that are not a record of a known version.
    static func decode(key: [UInt8], value: [UInt8]?, nowMs: Int64) throws -> GroupRecord {
        var k = ByteReader(key)
        let version = try k.readInt16("key version")
        switch version {
        case offsetKeyVersion:
            let group = try k.readString("group")
            let tp = TopicPartition(try k.readString("topic"), try k.readInt32("partition"))
            guard let value else { return .offset(group: group, tp, nil) }
            var v = ByteReader(value)
            guard try v.readInt16("value version") == valueVersion else {
                throw WireError(.unsupportedVersion, "offset record value version")
            }
            return .offset(group: group, tp, try v.readInt64("offset"))
        case groupKeyVersion:
            let group = try k.readString("group")
            guard let value else { return .group(group, nil) }
            var v = ByteReader(value)
            guard try v.readInt16("value version") == valueVersion else {
                throw WireError(.unsupportedVersion, "group record value version")
            }
            let epoch = try v.readInt32("groupEpoch")
            let members = try v.readArray("members", minElementSize: 28) { r in
                let memberId = try r.readString("memberId")
                let instanceId = try r.readNullableString("instanceId")
                let clientId = try r.readString("clientId")
                let clientHost = try r.readString("clientHost")
                let memberEpoch = try r.readInt32("memberEpoch")
                let session = try r.readInt32("sessionTimeoutMs")
                let rebalance = try r.readInt32("rebalanceTimeoutMs")
                let topics = try r.readStrings("subscribedTopics")
                let assigned = Set(
                    try r.readTopicPartitionLists("assignment").flatMap { t in
                        t.partitions.map { TopicPartition(t.name, $0) }
                    })
                let staticLeft = try r.readBool("staticLeft")
                return GroupMember(
                    memberId: memberId, instanceId: instanceId, clientId: clientId, clientHost: clientHost,
                    memberEpoch: memberEpoch, previousEpoch: memberEpoch, sessionTimeoutMs: session,
                    rebalanceTimeoutMs: rebalance, subscribedTopics: Set(topics), assigned: assigned, owned: assigned,
                    staticLeft: staticLeft, lastHeartbeatMs: nowMs, revocationDeadlineMs: nil)
            }
            return .group(group, GroupSnapshot(groupEpoch: epoch, members: members))
        default:
            throw WireError(.unsupportedVersion, "__consumer_offsets key version \(version)")
        }
    }

    /// Partitions grouped by topic, sorted.
    static func lists(_ tps: Set<TopicPartition>) -> [TopicPartitionList] {
        Dictionary(grouping: tps, by: \.topic).sorted { $0.key < $1.key }.map {
            TopicPartitionList(name: $0.key, partitions: $0.value.map(\.partition).sorted())
        }
    }
}
