import Foundation
import TernStorage
import TernTestSupport
import TernWire
import XCTest

/// A read planned before a truncation never yields bytes of the batches appended after it at the
/// same file positions: its slices stop being current, reading them fails with `logTruncated`,
/// and a new read sees the new batches.
final class TruncationFenceTests: XCTestCase {
    func testSlicesPlannedBeforeATruncationFailInsteadOfReturningNewBatches() throws {
        let fixture = try StorageFixture()
        let log = try fixture.log()
        let old = try appendBatches(log, counts: [3, 3, 3], valueSize: 40)
        let planned = try log.read(from: old[1].baseOffset, maxBytes: 1 << 20, maxOffset: .max)
        XCTAssertTrue(planned.slices.allSatisfy(\.isCurrent))
        let oldBytes = try planned.readBytes()

        // The follower truncates and appends other batches of the same sizes at the same positions.
        try log.truncate(to: old[1].baseOffset)
        let new = try appendBatches(log, counts: [3, 3], valueSize: 40, baseTimestamp: 42, leaderEpoch: 1)
        XCTAssertEqual(new[0].baseOffset, old[1].baseOffset)
        XCTAssertEqual(new[0].size, old[1].size, "same sizes: the old positions now hold new batches")

        XCTAssertFalse(planned.slices.contains(where: \.isCurrent))
        assertStorageError(.logTruncated) { try planned.readBytes() }
        // A read planned now returns the new batches.
        let fresh = try log.read(from: old[1].baseOffset, maxBytes: 1 << 20, maxOffset: .max)
        let freshBytes = try fresh.readBytes()
        XCTAssertNotEqual(freshBytes, oldBytes)
        XCTAssertEqual(try batchHeaders(fresh).map(\.partitionLeaderEpoch), [1, 1])
    }

    func testSlicesOfSegmentsATruncationDoesNotTouchStayCurrent() throws {
        let fixture = try StorageFixture()
        let log = try fixture.log(LogConfig(segmentBytes: 1200, indexIntervalBytes: 128))
        let appended = try appendBatches(log, counts: Array(repeating: 2, count: 20), valueSize: 60)
        XCTAssertGreaterThan(log.segmentCount, 2)
        let planned = try log.read(from: 0, maxBytes: 100, maxOffset: .max)
        let expected = try planned.readBytes()
        let secondBase = log.segmentBaseOffsets[1]
        try log.truncate(to: secondBase + 2)
        try appendBatches(log, counts: [2, 2], valueSize: 60, leaderEpoch: 3)
        XCTAssertTrue(planned.slices.allSatisfy(\.isCurrent), "the first segment was not cut")
        XCTAssertEqual(try planned.readBytes(), expected)
        XCTAssertEqual(appended[0].baseOffset, 0)
    }

    func testDeletedSegmentsFenceTheirSlicesToo() throws {
        let fixture = try StorageFixture()
        let log = try fixture.log(LogConfig(segmentBytes: 1200, indexIntervalBytes: 128))
        try appendBatches(log, counts: Array(repeating: 2, count: 20), valueSize: 60)
        let last = try XCTUnwrap(log.segmentBaseOffsets.last)
        let planned = try log.read(from: last, maxBytes: 1 << 20, maxOffset: .max)
        XCTAssertFalse(planned.slices.isEmpty)
        try log.truncate(to: last - 1)
        XCTAssertFalse(planned.slices.contains(where: \.isCurrent), "truncated-away batches are not served")
        assertStorageError(.logTruncated) { try planned.readBytes() }
    }

    /// Reads racing truncations and appends on another thread: every read either returns whole
    /// valid batches whose offsets are the ones asked for, or fails with `logTruncated`.
    func testConcurrentReadsNeverSeeAMixOfOldAndNewBatches() throws {
        let fixture = try StorageFixture()
        let log = try fixture.log()
        try appendBatches(log, counts: Array(repeating: 2, count: 40), valueSize: 30)
        let done = ManagedAtomicFlag()
        let finished = DispatchSemaphore(value: 0)
        let writer = Thread {
            defer { finished.signal() }
            var epoch: Int32 = 1
            while !done.isSet {
                try? log.truncate(to: 20)
                _ = try? appendBatches(log, counts: Array(repeating: 2, count: 30), valueSize: 30, leaderEpoch: epoch)
                epoch += 1
            }
        }
        writer.start()
        defer {
            done.set()
            finished.wait()
        }
        var truncatedReads = 0
        var goodReads = 0
        let deadline = ContinuousClock.now + .seconds(3)
        while ContinuousClock.now < deadline && goodReads + truncatedReads < 3000 {
            do {
                // From below the cut, across it: the batches past 20 come and go.
                let result = try log.read(from: 10, maxBytes: 4096, maxOffset: .max)
                let bytes = try result.readBytes()
                try bytes.withUnsafeBytes { raw in
                    var position = 0
                    var expected: Int64?
                    while position < raw.count {
                        let header = try RecordBatchValidator.validateStored(raw, at: position)
                        if let expected { XCTAssertEqual(header.baseOffset, expected, "consecutive batches") }
                        expected = header.lastOffset + 1
                        position += header.totalSize
                    }
                }
                goodReads += 1
            } catch let error as StorageError where error.code == .logTruncated {
                truncatedReads += 1
            }
        }
        XCTAssertGreaterThan(goodReads, 0)
    }
}

/// The key index's reads are fenced the same way.
final class KeyReadTruncationFenceTests: XCTestCase {
    func testKeySlicesPlannedBeforeATruncationFail() throws {
        let fixture = try StorageFixture()
        var config = LogConfig()
        config.keyIndexEnabled = true
        let log = try fixture.log(config)
        let appended = try appendBatches(log, counts: [3, 3, 3], valueSize: 40)
        let key = try XCTUnwrap(appended[1].records[0].key)
        let planned = try log.readKey(key, from: 0, maxOffset: .max, maxBytes: 1 << 20)
        XCTAssertFalse(planned.slices.isEmpty)
        XCTAssertTrue(planned.slices.allSatisfy(\.isCurrent))
        try log.truncate(to: appended[1].baseOffset)
        try appendBatches(log, counts: [3, 3], valueSize: 40, baseTimestamp: 7, leaderEpoch: 2)
        XCTAssertFalse(planned.slices.contains(where: \.isCurrent), "the key's batch was truncated away")
    }
}
