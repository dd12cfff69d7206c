import Foundation
import TernStorage
import TernTestSupport
import TernWire
import XCTest

/// A follower whose whole log lies below its leader's log start (retention ran on the leader
/// while it was away) empties its log and starts it at the leader's log start.
final class PartitionLogTruncateFullyTests: XCTestCase {
    let config = LogConfig(segmentBytes: 1200, indexIntervalBytes: 128)

    func testTruncateFullyStartsAnEmptyLogAtTheOffset() throws {
        let fixture = try StorageFixture()
        let log = try fixture.log(config)
        try appendBatches(log, counts: Array(repeating: 2, count: 30), valueSize: 30, leaderEpoch: 3)
        XCTAssertGreaterThan(log.segmentCount, 2)
        XCTAssertFalse(log.leaderEpochs.isEmpty)

        try log.truncateFully(startingAt: 500)
        XCTAssertEqual(log.logStartOffset, 500)
        XCTAssertEqual(log.logEndOffset, 500)
        XCTAssertEqual(log.segmentCount, 1)
        XCTAssertEqual(log.sizeInBytes, 0)
        XCTAssertEqual(log.leaderEpochs, [], "no record is left to carry an epoch")
        XCTAssertEqual(log.recoveryPoint, 500, "the emptied log is durable as it is")
        let files = try FileManager.default.contentsOfDirectory(atPath: fixture.partitionDir)
            .filter { $0.hasSuffix(".log") }
        XCTAssertEqual(files, [DiskSurgery.segmentName(500, ".log")])
        assertStorageError(.offsetOutOfRange) { try log.read(from: 10, maxBytes: 100, maxOffset: .max) }

        // The leader's batches continue it at their own offsets.
        XCTAssertEqual(try log.appendAsFollower(makeBatch(count: 4, baseOffset: 500)).logEndOffset, 504)
        XCTAssertEqual(
            try recordsOf(log.read(from: 500, maxBytes: 1 << 20, maxOffset: .max)).map(\.offset), [500, 501, 502, 503])
    }

    /// After a crash right after it (no clean shutdown, checkpoints from before it), the log
    /// opens as the emptied one: it starts at the offset, not at the checkpointed log start.
    func testTruncateFullySurvivesACrash() throws {
        let fixture = try StorageFixture()
        let log = try fixture.log(config)
        try appendBatches(log, counts: Array(repeating: 2, count: 30), valueSize: 30)
        try fixture.manager.writeCheckpoints()
        try log.truncateFully(startingAt: 500)
        _ = try log.appendAsFollower(makeBatch(count: 2, baseOffset: 500))
        try log.flush()

        let reopened = try XCTUnwrap(try fixture.reopen(config: config).log(for: fixture.topicPartition))
        XCTAssertEqual(reopened.logStartOffset, 500)
        XCTAssertEqual(reopened.logEndOffset, 502)
        XCTAssertEqual(
            try recordsOf(reopened.read(from: 500, maxBytes: 1 << 20, maxOffset: .max)).map(\.offset), [500, 501])
    }
}
