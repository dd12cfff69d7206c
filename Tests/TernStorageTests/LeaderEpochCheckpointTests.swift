import Foundation
import TernStorage
import TernTestSupport
import TernWire
import XCTest

/// Leader epochs on real files: stamped on append, kept in `leader-epoch-checkpoint`, recovered
/// after clean and unclean stops, rebuilt when the file is missing, damaged or stale, trimmed
/// with the log.
final class LeaderEpochCheckpointTests: XCTestCase {
    let small = LogConfig(segmentBytes: 600, indexIntervalBytes: 128)

    func entries(_ pairs: [(Int32, Int64)]) -> [EpochEntry] {
        pairs.map { EpochEntry(epoch: $0.0, startOffset: $0.1) }
    }

    func checkpointPath(_ fixture: StorageFixture) -> String { fixture.partitionDir + "/leader-epoch-checkpoint" }

    func checkpointText(_ fixture: StorageFixture) throws -> String {
        String(decoding: try DiskSurgery.contents(checkpointPath(fixture)), as: UTF8.self)
    }

    /// Appends 2-record batches in the given epochs; returns their base offsets.
    @discardableResult
    func append(_ log: PartitionLog, epochs: [Int32], valueSize: Int? = nil) throws -> [Int64] {
        try epochs.map { epoch in
            try appendBatches(log, counts: [2], valueSize: valueSize, leaderEpoch: epoch)[0].baseOffset
        }
    }

    /// The `partitionLeaderEpoch` of every batch in the log, in order.
    func batchEpochs(_ log: PartitionLog) throws -> [Int32] {
        try batchHeaders(log.read(from: log.logStartOffset, maxBytes: 1 << 24, maxOffset: .max)).map(
            \.partitionLeaderEpoch)
    }

    func testAppendsStampTheEpochAndTheCheckpointRecordsWhereEachStarts() throws {
        let fixture = try StorageFixture()
        let log = try fixture.log()
        try append(log, epochs: [0, 0, 3, 3, 3, 5])
        XCTAssertEqual(try batchEpochs(log), [0, 0, 3, 3, 3, 5], "each batch carries its leader's epoch")
        XCTAssertEqual(log.leaderEpochs, entries([(0, 0), (3, 4), (5, 10)]))
        XCTAssertEqual(log.latestEpoch, 5)
        XCTAssertEqual(try checkpointText(fixture), "0\n3\n0 0\n3 4\n5 10\n", "Kafka's text format")
        // The stamp is outside the CRC: the stored batches still validate.
        let bytes = try log.read(from: 0, maxBytes: 1 << 20, maxOffset: .max).readBytes()
        try bytes.withUnsafeBytes { raw in
            var position = 0
            while position < raw.count {
                position += try RecordBatchValidator.validateStored(raw, at: position).totalSize
            }
        }
    }

    func testEndOffsetForEpochAndDivergingEpochOnALog() throws {
        let fixture = try StorageFixture()
        let log = try fixture.log()
        try append(log, epochs: [1, 1, 4, 6])  // 1@0, 4@4, 6@6, end 8
        XCTAssertEqual(log.endOffset(for: 6), EpochEndOffset(epoch: 6, endOffset: 8))
        XCTAssertEqual(log.endOffset(for: 5), EpochEndOffset(epoch: 4, endOffset: 6))
        XCTAssertEqual(log.endOffset(for: 1), EpochEndOffset(epoch: 1, endOffset: 4))
        XCTAssertEqual(log.endOffset(for: 0), EpochEndOffset(epoch: 0, endOffset: 0))
        XCTAssertEqual(log.endOffset(for: 7), .undefined)
        XCTAssertNil(log.divergingEpoch(lastFetchedEpoch: 4, fetchOffset: 6))
        XCTAssertEqual(log.divergingEpoch(lastFetchedEpoch: 5, fetchOffset: 7), EpochEndOffset(epoch: 4, endOffset: 6))
    }

    func testStartLeaderEpochRecordsTheEpochAtTheLogEndBeforeAnyAppend() throws {
        let fixture = try StorageFixture()
        let log = try fixture.log()
        try append(log, epochs: [0, 0])
        try log.startLeaderEpoch(2)
        XCTAssertEqual(log.leaderEpochs, entries([(0, 0), (2, 4)]))
        XCTAssertEqual(log.endOffset(for: 1), EpochEndOffset(epoch: 0, endOffset: 4))
        try append(log, epochs: [2])
        XCTAssertEqual(log.leaderEpochs, entries([(0, 0), (2, 4)]), "appends in the started epoch change nothing")
        assertStorageError(.invalidBatch) { try log.startLeaderEpoch(1) }
    }

    func testEpochsSurviveACleanRestartAndACrash() throws {
        let fixture = try StorageFixture()
        let log = try fixture.log(small)
        try append(log, epochs: [0, 0, 2, 2, 2, 7, 7, 7, 7, 9], valueSize: 60)
        XCTAssertGreaterThan(log.segmentCount, 2)
        let expected = log.leaderEpochs
        try fixture.manager.shutdown()
        var reopened = try XCTUnwrap(fixture.reopen(config: small).log(for: fixture.topicPartition))
        XCTAssertEqual(reopened.leaderEpochs, expected)
        // A crash (no close, no clean marker): the same.
        try append(reopened, epochs: [11], valueSize: 60)
        reopened = try XCTUnwrap(fixture.reopen(config: small).log(for: fixture.topicPartition))
        XCTAssertEqual(reopened.leaderEpochs, expected + entries([(11, 20)]))
        XCTAssertEqual(try batchEpochs(reopened), [0, 0, 2, 2, 2, 7, 7, 7, 7, 9, 11])
    }

    func testMissingCheckpointIsRebuiltFromTheBatches() throws {
        let fixture = try StorageFixture()
        let log = try fixture.log(small)
        // Epoch changes inside segments and at their boundaries.
        try append(log, epochs: [0, 1, 1, 1, 1, 1, 1, 3, 4, 4, 4, 4, 4, 4, 4, 8], valueSize: 60)
        XCTAssertGreaterThan(log.segmentCount, 3)
        let expected = log.leaderEpochs
        XCTAssertEqual(expected.count, 5)
        try fixture.manager.shutdown()
        try FileManager.default.removeItem(atPath: checkpointPath(fixture))
        let reopened = try XCTUnwrap(fixture.reopen(config: small).log(for: fixture.topicPartition))
        XCTAssertEqual(reopened.leaderEpochs, expected)
        XCTAssertEqual(
            try checkpointText(fixture), "0\n5\n" + expected.map { "\($0.epoch) \($0.startOffset)\n" }.joined(),
            "the rebuilt checkpoint is written")
    }

    func testDamagedCheckpointIsRebuilt() throws {
        for damage in ["garbage\u{1}\n", "0\n3\n0 0\n", "0\n2\n3 0\n1 5\n", "0\n1\n-4 0\n", "0\n1\n0 0"] {
            let fixture = try StorageFixture()
            let log = try fixture.log()
            try append(log, epochs: [0, 2, 5])
            let expected = log.leaderEpochs
            try fixture.manager.shutdown()
            try DiskSurgery.write(Array(damage.utf8), to: checkpointPath(fixture))
            let reopened = try XCTUnwrap(fixture.reopen().log(for: fixture.topicPartition))
            XCTAssertEqual(reopened.leaderEpochs, expected, "after \(damage.debugDescription)")
            XCTAssertTrue(
                fixture.capture.warnings.contains { $0.message.contains("rebuilding the leader-epoch checkpoint") },
                "a damaged checkpoint is reported")
        }
    }

    /// A checkpoint that lacks the last batch's epoch (it cannot be trusted) is rebuilt; one that
    /// reaches past the log end (a crash between a truncation and its rewrite) is trimmed.
    func testStaleCheckpointIsRebuiltOrTrimmed() throws {
        let fixture = try StorageFixture()
        let log = try fixture.log()
        try append(log, epochs: [0, 2, 5])
        try fixture.manager.shutdown()
        try DiskSurgery.write(Array("0\n2\n0 0\n2 2\n".utf8), to: checkpointPath(fixture))
        var reopened = try XCTUnwrap(fixture.reopen().log(for: fixture.topicPartition))
        XCTAssertEqual(reopened.leaderEpochs, entries([(0, 0), (2, 2), (5, 4)]))
        try fixture.manager.shutdown()
        try DiskSurgery.write(Array("0\n4\n0 0\n2 2\n5 4\n6 6\n".utf8), to: checkpointPath(fixture))
        reopened = try XCTUnwrap(fixture.reopen().log(for: fixture.topicPartition))
        XCTAssertEqual(reopened.leaderEpochs, entries([(0, 0), (2, 2), (5, 4)]))
        XCTAssertEqual(try checkpointText(fixture), "0\n3\n0 0\n2 2\n5 4\n", "the trimmed table is written back")
    }

    func testMovingTheLogStartTrimsTheEpochs() throws {
        let fixture = try StorageFixture()
        let log = try fixture.log(small)
        try append(log, epochs: [0, 0, 0, 3, 3, 3, 3, 3, 6, 6], valueSize: 60)
        try log.advanceLogStartOffset(to: 7)
        XCTAssertEqual(log.leaderEpochs, entries([(3, 7), (6, 16)]))
        XCTAssertEqual(try checkpointText(fixture), "0\n2\n3 7\n6 16\n")
        let result = try log.applyRetention(retentionMs: -1, retentionBytes: 1, nowMs: 0)
        XCTAssertGreaterThan(result.deletedSegments, 0)
        XCTAssertEqual(log.leaderEpochs.first?.startOffset, log.logStartOffset)
        XCTAssertEqual(log.leaderEpochs.last, EpochEntry(epoch: 6, startOffset: 16))
        try fixture.manager.shutdown()
        let reopened = try XCTUnwrap(fixture.reopen(config: small).log(for: fixture.topicPartition))
        XCTAssertEqual(reopened.leaderEpochs, log.leaderEpochs)
    }

    func testFollowerAppendsRecordTheEpochsTheirBatchesCarry() throws {
        let fixture = try StorageFixture()
        let log = try fixture.log()
        var bytes: [UInt8] = []
        for (base, epoch) in [(Int64(0), Int32(1)), (2, 1), (4, 3), (6, 4)] {
            var batch = makeBatch(count: 2, baseOffset: base)
            batch.withUnsafeMutableBytes {
                RecordBatchHeader.assign(baseOffset: base, partitionLeaderEpoch: epoch, in: $0, at: 0)
            }
            bytes += batch
        }
        _ = try log.appendAsFollower(bytes)
        XCTAssertEqual(log.leaderEpochs, entries([(1, 0), (3, 4), (4, 6)]))
        XCTAssertEqual(try batchEpochs(log), [1, 1, 3, 4], "a follower keeps its leader's stamps")
        XCTAssertEqual(try checkpointText(fixture), "0\n3\n1 0\n3 4\n4 6\n")
    }
}
