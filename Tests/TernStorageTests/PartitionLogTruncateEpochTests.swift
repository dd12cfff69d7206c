import Foundation
import TernStorage
import TernTestSupport
import TernWire
import XCTest

/// Truncation with leader epochs: the table and its checkpoint follow the log, appends continue,
/// and a crash at any step of a truncation leaves a log that opens consistent.
final class PartitionLogTruncateEpochTests: XCTestCase {
    let small = LogConfig(segmentBytes: 600, indexIntervalBytes: 128)

    func entries(_ pairs: [(Int32, Int64)]) -> [EpochEntry] {
        pairs.map { EpochEntry(epoch: $0.0, startOffset: $0.1) }
    }

    func checkpointPath(_ fixture: StorageFixture) -> String { fixture.partitionDir + "/leader-epoch-checkpoint" }

    @discardableResult
    func append(_ log: PartitionLog, epochs: [Int32], valueSize: Int? = 60) throws -> [AppendedBatch] {
        try epochs.map { try appendBatches(log, counts: [2], valueSize: valueSize, leaderEpoch: $0)[0] }
    }

    /// Every offset reads back with the epoch and value it was appended with; the log ends at `end`.
    func assertContents(
        _ log: PartitionLog, _ expected: [(batch: AppendedBatch, epoch: Int32)], end: Int64,
        file: StaticString = #filePath, line: UInt = #line
    ) throws {
        XCTAssertEqual(log.logEndOffset, end, file: file, line: line)
        let result = try log.read(from: log.logStartOffset, maxBytes: 1 << 24, maxOffset: .max)
        let headers = try batchHeaders(result)
        XCTAssertEqual(headers.map(\.baseOffset), expected.map(\.batch.baseOffset), file: file, line: line)
        XCTAssertEqual(headers.map(\.partitionLeaderEpoch), expected.map(\.epoch), file: file, line: line)
        let values = try recordsOf(result).map(\.value)
        XCTAssertEqual(values, expected.flatMap { $0.batch.records.map(\.value) }, file: file, line: line)
    }

    func testTruncationsKeepTheEpochTableAndAppendsContinue() throws {
        let fixture = try StorageFixture()
        let log = try fixture.log(small)
        let epochs: [Int32] = [0, 0, 0, 2, 2, 2, 2, 4, 4, 4, 4, 4, 6, 6]
        var kept = zip(try append(log, epochs: epochs), epochs).map { ($0, $1) }
        XCTAssertGreaterThan(log.segmentCount, 3)
        let bases = log.segmentBaseOffsets

        // Beyond the end: nothing.
        try log.truncate(to: 100)
        XCTAssertEqual(log.leaderEpochs, entries([(0, 0), (2, 6), (4, 14), (6, 24)]))

        // Mid-segment, inside epoch 4: epoch 6 goes.
        try log.truncate(to: 19)  // inside the batch at 18: the batch goes whole
        kept = Array(kept.prefix(9))
        try assertContents(log, kept, end: 18)
        XCTAssertEqual(log.leaderEpochs, entries([(0, 0), (2, 6), (4, 14)]))

        // At a segment boundary.
        let boundary = try XCTUnwrap(bases.first { $0 > 6 && $0 <= 14 })
        try log.truncate(to: boundary)
        kept = kept.filter { $0.0.baseOffset < boundary }
        try assertContents(log, kept, end: boundary)
        XCTAssertEqual(log.leaderEpochs, entries([(0, 0), (2, 6)]))
        XCTAssertTrue(log.segmentBaseOffsets.allSatisfy { $0 <= boundary })

        // Append in a new epoch, then crash (no close) and reopen: the same table and data.
        kept += zip(try append(log, epochs: [9, 9]), [Int32(9), 9]).map { ($0, $1) }
        XCTAssertEqual(log.leaderEpochs.last, EpochEntry(epoch: 9, startOffset: boundary))
        let table = log.leaderEpochs
        let reopened = try XCTUnwrap(fixture.reopen(config: small).log(for: fixture.topicPartition))
        XCTAssertEqual(reopened.leaderEpochs, table)
        try assertContents(reopened, kept, end: boundary + 4)

        // To 0: empty, no epochs; a new epoch starts at 0.
        try reopened.truncate(to: 0)
        XCTAssertEqual(reopened.logEndOffset, 0)
        XCTAssertEqual(reopened.leaderEpochs, [])
        XCTAssertEqual(String(decoding: try DiskSurgery.contents(checkpointPath(fixture)), as: UTF8.self), "0\n0\n")
        let fresh = try append(reopened, epochs: [12])
        let again = try XCTUnwrap(fixture.reopen(config: small).log(for: fixture.topicPartition))
        XCTAssertEqual(again.leaderEpochs, entries([(12, 0)]))
        try assertContents(again, [(fresh[0], 12)], end: 2)
    }

    /// A crash after a truncation returned, before anything else (kill -9: no close, no marker):
    /// the truncation is durable and the log opens as it was left.
    func testCrashRightAfterTruncateReopensTruncated() throws {
        let fixture = try StorageFixture()
        let log = try fixture.log(small)
        let epochs: [Int32] = [1, 1, 1, 1, 3, 3, 3, 3, 3, 5, 5]
        let appended = try append(log, epochs: epochs)
        try log.truncate(to: 10)
        let reopened = try XCTUnwrap(fixture.reopen(config: small).log(for: fixture.topicPartition))
        try assertContents(reopened, zip(appended.prefix(5), epochs).map { ($0, $1) }, end: 10)
        XCTAssertEqual(reopened.leaderEpochs, entries([(1, 0), (3, 8)]))
        XCTAssertEqual(reopened.recoveryPoint, 10)
    }

    /// The steps of a truncation, each interrupted: newest segments deleted but the cut not made;
    /// the cut made but the epoch checkpoint not rewritten. Each opens consistent, and the
    /// truncation, repeated, completes.
    func testCrashAtEachStepOfATruncationLeavesARecoverableLog() throws {
        let fixture = try StorageFixture()
        let log = try fixture.log(small)
        let epochs: [Int32] = [1, 1, 1, 1, 3, 3, 3, 3, 3, 5, 5, 5, 5, 7, 7]
        let appended = try append(log, epochs: epochs)
        let table = log.leaderEpochs
        let bases = log.segmentBaseOffsets
        XCTAssertGreaterThan(bases.count, 3)
        try fixture.manager.shutdown()
        try fixture.removeCleanMarker()

        // Step 1 interrupted: only the newest segment deleted (truncation deletes newest first).
        let newest = try XCTUnwrap(bases.last)
        for suffix in [".log", ".index", ".timeindex"] {
            try? FileManager.default.removeItem(atPath: fixture.segmentPath(newest, suffix))
        }
        var reopened = try XCTUnwrap(fixture.reopen(config: small).log(for: fixture.topicPartition))
        let keptBatches = zip(appended, epochs).filter { $0.0.baseOffset < newest }.map { ($0.0, $0.1) }
        try assertContents(reopened, keptBatches, end: newest)
        XCTAssertEqual(reopened.leaderEpochs, table.filter { $0.startOffset < newest })
        try fixture.manager.shutdown()
        try fixture.removeCleanMarker()

        // Step 2 done (the cut) but step 3 (the checkpoint) not: the old table reaches past the end.
        let oldCheckpoint = try DiskSurgery.contents(checkpointPath(fixture))
        reopened = try XCTUnwrap(fixture.reopen(config: small).log(for: fixture.topicPartition))
        try reopened.truncate(to: 9)
        try fixture.manager.shutdown()
        try fixture.removeCleanMarker()
        try DiskSurgery.write(oldCheckpoint, to: checkpointPath(fixture))
        reopened = try XCTUnwrap(fixture.reopen(config: small).log(for: fixture.topicPartition))
        try assertContents(reopened, zip(appended.prefix(4), epochs).map { ($0, $1) }, end: 8)
        XCTAssertEqual(reopened.leaderEpochs, entries([(1, 0)]))

        // And the log takes appends in a new epoch from there.
        let more = try append(reopened, epochs: [8])
        XCTAssertEqual(more[0].baseOffset, 8)
        XCTAssertEqual(reopened.leaderEpochs, entries([(1, 0), (8, 8)]))
    }
}
