import Foundation
import TernStorage
import TernTestSupport
import TernWire
import XCTest

final class PartitionLogRetentionTests: XCTestCase {
    let config = LogConfig(segmentBytes: 1200, indexIntervalBytes: 128)

    func testTimeRetentionDeletesExpiredSegmentsButNeverTheActiveOne() throws {
        let fixture = try StorageFixture()
        let log = try fixture.log(config)
        // Batch i has timestamps around defaultTestTimestamp + i s; small segments roll often.
        _ = try appendBatches(log, counts: Array(repeating: 5, count: 40), valueSize: 30)
        let segmentsBefore = log.segmentBaseOffsets
        XCTAssertGreaterThan(segmentsBefore.count, 4)

        // Nothing has expired yet.
        let none = try log.applyRetention(retentionMs: 3_600_000, retentionBytes: -1, nowMs: defaultTestTimestamp + 40_000)
        XCTAssertEqual(none.deletedSegments, 0)

        // Everything has expired: all but the active segment go.
        let all = try log.applyRetention(retentionMs: 1000, retentionBytes: -1, nowMs: defaultTestTimestamp + 10_000_000)
        XCTAssertEqual(all.deletedSegments, segmentsBefore.count - 1)
        XCTAssertEqual(log.segmentBaseOffsets, [segmentsBefore.last ?? -1])
        XCTAssertEqual(log.logStartOffset, segmentsBefore.last)
        assertStorageError(.offsetOutOfRange) { try log.read(from: 0, maxBytes: 100, maxOffset: .max) }
        XCTAssertFalse(FileManager.default.fileExists(atPath: fixture.segmentPath(0)))
        var bytes = makeBatch(count: 1)
        XCTAssertEqual(try appendProduced(log, &bytes).baseOffset, 200, "appends continue after retention")
    }

    func testSizeRetentionKeepsTheLogWithinOneSegmentOfTheBound() throws {
        let fixture = try StorageFixture()
        let log = try fixture.log(config)
        _ = try appendBatches(log, counts: Array(repeating: 5, count: 60), valueSize: 30)
        let bound: Int64 = 3000
        let result = try log.applyRetention(retentionMs: -1, retentionBytes: bound, nowMs: 0)
        XCTAssertGreaterThan(result.deletedSegments, 0)
        XCTAssertGreaterThanOrEqual(log.sizeInBytes, bound, "never below the bound")
        XCTAssertLessThan(log.sizeInBytes, bound + Int64(config.segmentBytes), "within one segment of it")
        XCTAssertEqual(log.logStartOffset, log.segmentBaseOffsets.first)
        let records = try recordsOf(log.read(from: log.logStartOffset, maxBytes: 1 << 20, maxOffset: .max))
        XCTAssertEqual(records.first?.offset, log.logStartOffset)
    }
}
