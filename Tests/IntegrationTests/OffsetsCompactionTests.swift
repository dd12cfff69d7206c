import Foundation
import TernTestSupport
import TernWire
import XCTest

/// The log cleaner compacts the internal `__consumer_offsets` topic like any compacted topic, and
/// a broker restarted on the compacted log rebuilds the same committed offsets.
final class OffsetsCompactionTests: XCTestCase {
    var directory: TemporaryDirectory!

    override func setUp() { directory = TemporaryDirectory("tern-offsets-compaction") }
    override func tearDown() { directory.remove() }

    private let settings = [
        "offsets.topic.num.partitions": "1", "offsets.topic.segment.bytes": "2048", "log.cleaner.backoff.ms": "100",
    ]

    private func offsetsPartition(_ port: Int) throws -> DescribeLogDirsResponse.Partition {
        let (_, response) = try RawConnection(port: port).roundTrip(
            DescribeLogDirsRequest(topics: ["__consumer_offsets"]))
        let partitions = (response?.logDirs ?? []).flatMap { $0.topics }.flatMap { $0.partitions }
        return try XCTUnwrap(partitions.first { $0.partition == 0 })
    }

    private func committed(_ port: Int, group: String) throws -> [Int32: Int64] {
        let (_, response) = try RawConnection(port: port).roundTrip(
            OffsetFetchRequest(groupId: group, memberId: "", memberEpoch: -1, topics: []))
        var out: [Int32: Int64] = [:]
        for topic in response?.topics ?? [] where topic.name == "orders" {
            for p in topic.partitions { out[p.partition] = p.offset }
        }
        return out
    }

    func testCommitsAreCompactedAndSurviveARestart() throws {
        let data = directory.path + "/data"
        var broker = try BrokerProcess(dataDirectory: data, settings: settings)
        let (_, created) = try RawConnection(port: broker.port).roundTrip(
            CreateTopicsRequest(topics: [.init(name: "orders", numPartitions: 2)]))
        XCTAssertEqual(created?.topics.first?.errorCode, ErrorCode.none)

        // 400 commits of two partitions by two groups (offsets outside the log are allowed, as
        // in Kafka): every one a record of __consumer_offsets-0, each key rewritten 200 times.
        let connection = try RawConnection(port: broker.port)
        for round in 1...200 {
            for group in ["billing", "shipping"] {
                let (status, response) = try connection.roundTrip(
                    OffsetCommitRequest(
                        groupId: group, memberId: "", memberEpoch: -1,
                        topics: [
                            .init(
                                name: "orders",
                                partitions: [
                                    .init(partition: 0, offset: Int64(round)),
                                    .init(partition: 1, offset: Int64(round * 2)),
                                ])
                        ]))
                XCTAssertEqual(status.errorCode, .none)
                XCTAssertEqual(response?.errorCode, ErrorCode.none)
            }
        }
        let before = try offsetsPartition(broker.port)
        XCTAssertEqual(before.logEndOffset, 800)

        // The cleaner compacts the rolled segments. It runs while the commits arrive, so its
        // first pass may have seen only some of them: wait (bounded) until it has caught up with
        // the segments rolled since, rather than judging the size after whichever pass came first.
        let bound = Int64(400 * 61 / 2)
        let deadline = Date().addingTimeInterval(30)
        var after = before
        while Date() < deadline {
            after = try offsetsPartition(broker.port)
            if after.lastCleanedMs >= 0 && after.firstDirtyOffset > 0 && after.sizeBytes < bound { break }
            Thread.sleep(forTimeInterval: 0.1)
        }
        XCTAssertGreaterThanOrEqual(after.lastCleanedMs, 0, "__consumer_offsets was never cleaned")
        XCTAssertNil(after.cleanerError)
        // Uncompacted, the 400 commits take at least 400 batch headers (61 bytes each); the cleaner
        // runs while they arrive, so compare with that rather than with an earlier size.
        XCTAssertLessThan(after.sizeBytes, bound, "compaction kept most of the log")

        // A restart replays the compacted log (with its offset gaps) into the same offsets.
        XCTAssertEqual(broker.stop(), 0)
        broker = try BrokerProcess(dataDirectory: data, port: broker.port, settings: settings)
        defer { broker.stop() }
        XCTAssertEqual(try committed(broker.port, group: "billing"), [0: 200, 1: 400])
        XCTAssertEqual(try committed(broker.port, group: "shipping"), [0: 200, 1: 400])
    }
}
