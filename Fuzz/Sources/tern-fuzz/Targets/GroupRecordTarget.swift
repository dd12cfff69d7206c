import TernStorage
import TernWire

@testable import TernBroker

/// A `__consumer_offsets` record as the group coordinator reads it back from the log on disk
/// (`GroupRecord.decode`). Input: a flags byte (bit 0: null value, a tombstone), a u16 key length,
/// the key, then the value.
enum GroupRecordTarget {
    static let target = FuzzTarget(
        name: "group-record", maxLength: 2048, summary: "GroupRecord.decode (__consumer_offsets records on disk)",
        run: run, seeds: seeds)

    static func run(_ input: UnsafeRawBufferPointer) {
        guard input.count >= 3 else { return }
        let keyLength = Int(input[1]) << 8 | Int(input[2])
        guard keyLength <= input.count - 3 else { return }
        let key = [UInt8](input[3..<(3 + keyLength)])
        let value: [UInt8]? = input[0] & 1 != 0 ? nil : [UInt8](input[(3 + keyLength)...])
        guard let record = try? GroupRecord.decode(key: key, value: value, nowMs: 1000) else { return }
        // Written back (as the coordinator writes it) and read again, it settles on one record.
        let once = rewritten(record)
        fuzzCheck(rewritten(once) == once, "group record does not settle after a rewrite")
        fuzzCheck(once.key == record.key, "group record key changes when rewritten")
    }

    private static func rewritten(_ record: GroupRecord) -> GroupRecord {
        do {
            return try GroupRecord.decode(key: record.key, value: record.value, nowMs: 1000)
        } catch {
            fuzzFail("a group record's own encoding does not decode: \(error)")
        }
    }

    static func seeds() -> [(name: String, bytes: [UInt8])] {
        func seed(_ record: GroupRecord) -> [UInt8] {
            let key = record.key
            return [record.value == nil ? 1 : 0, UInt8(key.count >> 8), UInt8(key.count & 0xFF)] + key
                + (record.value ?? [])
        }
        let member = GroupMember(
            memberId: "m-1", instanceId: "i-1", clientId: "c", clientHost: "/127.0.0.1", memberEpoch: 3,
            previousEpoch: 3, sessionTimeoutMs: 45_000, rebalanceTimeoutMs: 60_000, subscribedTopics: ["orders"],
            assigned: [TopicPartition("orders", 0), TopicPartition("orders", 1)],
            owned: [TopicPartition("orders", 0), TopicPartition("orders", 1)], staticLeft: false,
            lastHeartbeatMs: 1000, revocationDeadlineMs: nil)
        return [
            ("offset", seed(.offset(group: "g", TopicPartition("orders", 0), 42))),
            ("offset-tombstone", seed(.offset(group: "g", TopicPartition("orders", 0), nil))),
            ("group", seed(.group("g", GroupRecord.GroupSnapshot(groupEpoch: 5, members: [member])))),
            ("group-tombstone", seed(.group("g", nil))),
        ]
    }
}
