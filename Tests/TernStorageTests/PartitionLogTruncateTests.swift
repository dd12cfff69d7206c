import Foundation
import TernStorage
import TernTestSupport
import TernWire
import XCTest

final class PartitionLogTruncateTests: XCTestCase {
    let config = LogConfig(segmentBytes: 1200, indexIntervalBytes: 128)

    func testTruncateWithinActiveSegment() throws {
        let fixture = try StorageFixture()
        let log = try fixture.log()
        let appended = try appendBatches(log, counts: [3, 3, 3, 3])
        try log.truncate(to: appended[2].baseOffset)
        XCTAssertEqual(log.logEndOffset, appended[2].baseOffset)
        XCTAssertEqual(log.sizeInBytes, Int64(appended[0].size + appended[1].size))
        XCTAssertEqual(try DiskSurgery.size(fixture.segmentPath(0)), appended[0].size + appended[1].size)
        let records = try recordsOf(log.read(from: 0, maxBytes: 1 << 20, maxOffset: .max))
        XCTAssertEqual(records.map(\.offset), Array(0..<6))
        assertStorageError(.offsetOutOfRange) { try log.read(from: 7, maxBytes: 100, maxOffset: .max) }

        var bytes = makeBatch(count: 2)
        XCTAssertEqual(try appendProduced(log, &bytes).baseOffset, 6)
        XCTAssertEqual(try recordsOf(log.read(from: 6, maxBytes: 1 << 20, maxOffset: .max)).map(\.offset), [6, 7])
    }

    func testTruncateInsideABatchDropsTheWholeBatch() throws {
        let fixture = try StorageFixture()
        let log = try fixture.log()
        let appended = try appendBatches(log, counts: [3, 3, 3])
        try log.truncate(to: appended[1].baseOffset + 1)
        XCTAssertEqual(log.logEndOffset, appended[1].baseOffset, "a batch is kept whole or not at all")
    }

    func testTruncateAcrossSegmentsDeletesLaterSegments() throws {
        let fixture = try StorageFixture()
        let log = try fixture.log(config)
        let appended = try appendBatches(log, counts: Array(repeating: 2, count: 60), valueSize: 30)
        let segmentsBefore = log.segmentCount
        XCTAssertGreaterThan(segmentsBefore, 4)
        let cut = appended[20].baseOffset
        try log.truncate(to: cut)
        XCTAssertEqual(log.logEndOffset, cut)
        XCTAssertLessThan(log.segmentCount, segmentsBefore)
        let logFiles = try FileManager.default.contentsOfDirectory(atPath: fixture.partitionDir)
            .filter { $0.hasSuffix(".log") }
        XCTAssertEqual(logFiles.count, log.segmentCount)
        for name in logFiles {
            XCTAssertLessThanOrEqual(Int64(name.dropLast(4)) ?? .max, cut, "no segment starts past the cut: \(name)")
        }
        // Every remaining offset still reads; appends continue at the cut.
        for batch in appended[..<20] {
            let headers = try batchHeaders(log.read(from: batch.lastOffset, maxBytes: 1, maxOffset: .max))
            XCTAssertEqual(headers.first?.baseOffset, batch.baseOffset)
        }
        let more = try appendBatches(log, counts: Array(repeating: 2, count: 30), valueSize: 30)
        XCTAssertEqual(more.first?.baseOffset, cut)
        XCTAssertEqual(log.logEndOffset, cut + 60)
        let reread = try recordsOf(log.read(from: cut, maxBytes: 1 << 20, maxOffset: .max))
        XCTAssertEqual(reread.first?.offset, cut)
    }

    func testTruncateToZeroEmptiesTheLog() throws {
        let fixture = try StorageFixture()
        let log = try fixture.log(config)
        try appendBatches(log, counts: Array(repeating: 2, count: 30), valueSize: 30)
        try log.truncate(to: 0)
        XCTAssertEqual(log.logEndOffset, 0)
        XCTAssertEqual(log.sizeInBytes, 0)
        XCTAssertEqual(log.segmentCount, 1)
        XCTAssertTrue(try log.read(from: 0, maxBytes: 100, maxOffset: .max).slices.isEmpty)
        var bytes = makeBatch(count: 1)
        XCTAssertEqual(try appendProduced(log, &bytes).baseOffset, 0)
    }

    func testTruncateAtOrPastTheEndDoesNothing() throws {
        let fixture = try StorageFixture()
        let log = try fixture.log()
        try appendBatches(log, counts: [2, 2])
        try log.truncate(to: 4)
        try log.truncate(to: 100)
        XCTAssertEqual(log.logEndOffset, 4)
        XCTAssertEqual(try recordsOf(log.read(from: 0, maxBytes: 1 << 20, maxOffset: .max)).count, 4)
    }

    func testTruncateLowersTheRecoveryPointAndSurvivesReopen() throws {
        let fixture = try StorageFixture()
        let log = try fixture.log(config)
        let appended = try appendBatches(log, counts: Array(repeating: 2, count: 40), valueSize: 30)
        try log.flush()
        XCTAssertEqual(log.recoveryPoint, 80)
        try log.truncate(to: appended[25].baseOffset)
        XCTAssertLessThanOrEqual(log.recoveryPoint, appended[25].baseOffset)
        try fixture.manager.shutdown()
        let reopened = try XCTUnwrap(fixture.reopen(config: config).log(for: fixture.topicPartition))
        XCTAssertEqual(reopened.logEndOffset, appended[25].baseOffset)
        try fixture.manager.shutdown()
    }
}
