import Foundation
import TernStorage
import TernTestSupport
import TernWire
import XCTest

/// Retention of a replicated partition stops at its high watermark (`upTo`): a segment holding
/// a record that is not committed yet is kept, however old or large the log.
final class PartitionLogRetentionBoundTests: XCTestCase {
    func testRetentionDeletesOnlySegmentsEndingAtOrBelowTheBound() throws {
        let fixture = try StorageFixture()
        let log = try fixture.log(LogConfig(segmentBytes: 1200, indexIntervalBytes: 128))
        _ = try appendBatches(log, counts: Array(repeating: 5, count: 40), valueSize: 30)
        let bases = log.segmentBaseOffsets
        XCTAssertGreaterThan(bases.count, 4)
        // The bound falls inside the third segment: the first two end at or below it, the third
        // holds records above it.
        let bound = bases[2] + 1
        let result = try log.applyRetention(
            retentionMs: 1000, retentionBytes: -1, nowMs: defaultTestTimestamp + 10_000_000, upTo: bound)
        XCTAssertEqual(result.deletedSegments, 2)
        XCTAssertEqual(log.logStartOffset, bases[2])
        XCTAssertEqual(Array(log.segmentBaseOffsets.prefix(1)), [bases[2]])

        // With the bound at the log end, everything but the active segment may go.
        let rest = try log.applyRetention(
            retentionMs: 1000, retentionBytes: -1, nowMs: defaultTestTimestamp + 10_000_000, upTo: log.logEndOffset)
        XCTAssertEqual(log.segmentBaseOffsets, [bases.last ?? -1])
        XCTAssertEqual(rest.deletedSegments, bases.count - 3)
    }
}
