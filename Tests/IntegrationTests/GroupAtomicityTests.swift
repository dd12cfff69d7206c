import Foundation
import TernTestSupport
import TernWire
import XCTest

/// A group change that fails midway leaves the same state in the broker's memory, in its answer
/// and in what a restart replays from `__consumer_offsets` (issue 10, item 9).
final class GroupAtomicityTests: XCTestCase {
    var directory: TemporaryDirectory!

    override func setUp() { directory = TemporaryDirectory("tern-group-atomicity") }
    override func tearDown() { directory.remove() }

    /// Four offsets partitions, and batches capped at 1,500 bytes: a group with 100 committed
    /// offsets can be committed 10 at a time but its deletion (101 tombstones, ~3 KB, one batch)
    /// does not fit, so the append to its partition fails for real, with nothing mocked.
    private let settings = ["offsets.topic.num.partitions": "4", "message.max.bytes": "1500"]

    private func partition(of group: String) -> Int32 {
        (Murmur2.hash(Array(group.utf8)) & 0x7fff_ffff) % 4
    }

    /// What the broker says about the groups: which exist and their committed offsets.
    private func view(_ port: Int, _ groups: [String]) throws -> [String: [Int32: Int64]] {
        let connection = try RawConnection(port: port)
        let (_, listed) = try connection.roundTrip(ListGroupsRequest())
        let existing = Set((listed?.groups ?? []).map(\.groupId))
        var out: [String: [Int32: Int64]] = [:]
        for group in groups where existing.contains(group) {
            let (_, fetched) = try connection.roundTrip(
                OffsetFetchRequest(groupId: group, memberId: "", memberEpoch: -1, topics: []))
            var offsets: [Int32: Int64] = [:]
            for topic in fetched?.topics ?? [] where topic.name == "orders" {
                for p in topic.partitions { offsets[p.partition] = p.offset }
            }
            out[group] = offsets
        }
        return out
    }

    func testDeleteGroupsFailingOnItsSecondPartitionAgreesInMemoryAnswerAndReplay() throws {
        // A small group on a lower offsets partition than a big one: the change appends to the
        // small group's partition first, then fails on the big group's.
        let names = (0..<64).map { "group-\($0)" }
        let small = try XCTUnwrap(names.first { partition(of: $0) < 3 })
        let big = try XCTUnwrap(names.first { partition(of: $0) > partition(of: small) })

        let data = directory.path + "/data"
        var broker = try BrokerProcess(dataDirectory: data, settings: settings)
        defer { broker.stop() }
        let connection = try RawConnection(port: broker.port)
        let (_, created) = try connection.roundTrip(
            CreateTopicsRequest(topics: [.init(name: "orders", numPartitions: 100)]))
        XCTAssertEqual(created?.topics.first?.errorCode, ErrorCode.none)

        func commit(_ group: String, _ partitions: Range<Int32>) throws {
            let (status, response) = try connection.roundTrip(
                OffsetCommitRequest(
                    groupId: group, memberId: "", memberEpoch: -1,
                    topics: [
                        .init(
                            name: "orders",
                            partitions: partitions.map { .init(partition: $0, offset: Int64($0) + 7) })
                    ]))
            XCTAssertEqual(status.errorCode, .none)
            XCTAssertEqual(response?.errorCode, ErrorCode.none)
            XCTAssertEqual(response?.topics.first?.partitions.allSatisfy { $0.errorCode == .none }, true)
        }
        try commit(small, 0..<1)
        for start in stride(from: Int32(0), to: 100, by: 10) { try commit(big, start..<start + 10) }
        let before = try view(broker.port, [small, big])
        XCTAssertEqual(before[small]?.count, 1)
        XCTAssertEqual(before[big]?.count, 100)

        let (status, deleted) = try connection.roundTrip(DeleteGroupsRequest(groupIds: [small, big]))
        XCTAssertEqual(status.errorCode, .none)
        let results = Dictionary((deleted?.results ?? []).map { ($0.groupId, $0.errorCode) }, uniquingKeysWith: { $1 })
        XCTAssertEqual(results[big], ErrorCode.messageTooLarge, "the big group's tombstones cannot fit in one batch")

        // The answer and the memory agree: a group reported deleted is gone, a group reported
        // failed is exactly as it was.
        let memory = try view(broker.port, [small, big])
        for group in [small, big] {
            if results[group] == ErrorCode.none {
                XCTAssertNil(memory[group], "\(group) was reported deleted")
            } else {
                XCTAssertEqual(memory[group], before[group], "\(group) was reported failed")
            }
        }

        // A restart replays the log into the same state.
        XCTAssertEqual(broker.stop(), 0)
        broker = try BrokerProcess(dataDirectory: data, port: broker.port, settings: settings)
        let replayed = try view(broker.port, [small, big])
        for group in [small, big] {
            XCTAssertEqual(
                replayed[group]?.count, memory[group]?.count,
                "\(group): the log replays a different state than the broker served")
            XCTAssertEqual(replayed[group], memory[group], "\(group)")
        }
    }
}
