import Foundation
import TernStorage
import TernTestSupport
import TernWire
import XCTest

/// The producer state of a real partition log: duplicates answered from it, refusals, and how it
/// survives a crash (rebuilt from the log), a clean restart (snapshot, nothing replayed), a
/// damaged snapshot (rebuilt), a roll (snapshot written by the background flush) and a truncation.
final class ProducerStateRecoveryTests: XCTestCase {
    /// The state without times: replayed batches count as written at the rebuild.
    private func untimed(_ table: ProducerStateTable) -> [Int64: [String]] {
        table.producers.mapValues { entry in
            entry.batches.map {
                "e\(entry.epoch) \($0.firstSequence)-\($0.lastSequence)@\($0.firstOffset)-\($0.lastOffset)"
            }
        }
    }

    let config = LogConfig(segmentBytes: 4096, indexIntervalBytes: 256)

    /// An idempotent batch of `count` records from `sequence`.
    private func batch(id: Int64 = 42, epoch: Int16 = 0, sequence: Int32, count: Int = 3) -> [UInt8] {
        makeBatch(
            records: testRecords(count: count, valueSize: 40), producerId: id, producerEpoch: epoch,
            baseSequence: sequence)
    }

    @discardableResult
    private func append(_ log: PartitionLog, _ bytes: [UInt8]) throws -> AppendResult {
        var bytes = bytes
        return try appendProduced(log, &bytes)
    }

    func testRetryIsAnsweredWithTheOriginalOffsetsAndNothingIsAppended() throws {
        let fixture = try StorageFixture()
        let log = try fixture.log(config)
        let first = try append(log, batch(sequence: 0))
        try appendBatches(log, counts: [2])  // another, non-idempotent writer in between
        let second = try append(log, batch(sequence: 3))
        XCTAssertEqual(log.logEndOffset, 8)
        let retry = try append(log, batch(sequence: 0))
        XCTAssertTrue(retry.duplicate)
        XCTAssertEqual(retry.baseOffset, first.baseOffset)
        XCTAssertEqual(retry.lastOffset, first.lastOffset)
        let retry2 = try append(log, batch(sequence: 3))
        XCTAssertEqual([retry2.baseOffset, retry2.lastOffset], [second.baseOffset, second.lastOffset])
        XCTAssertEqual(log.logEndOffset, 8, "retries appended nothing")
        assertStorageError(.outOfOrderSequence) { try append(log, batch(sequence: 7)) }
        assertStorageError(.unknownProducerId) { try append(log, batch(id: 43, sequence: 5)) }
        XCTAssertEqual(log.logEndOffset, 8, "refusals appended nothing")
    }

    /// Two batches of one producer in one record set chain on each other; a set mixing a retried
    /// batch with a new one is refused whole.
    func testSeveralBatchesOfAProducerInOneAppend() throws {
        let fixture = try StorageFixture()
        let log = try fixture.log(config)
        let pair = batch(sequence: 0) + batch(sequence: 3)
        let stored = try append(log, pair)
        XCTAssertEqual([stored.baseOffset, stored.lastOffset], [0, 5])
        let retried = try append(log, pair)
        XCTAssertTrue(retried.duplicate)
        XCTAssertEqual([retried.baseOffset, retried.lastOffset], [0, 5])
        assertStorageError(.outOfOrderSequence) { try append(log, batch(sequence: 3) + batch(sequence: 6)) }
        assertStorageError(.outOfOrderSequence) { try append(log, batch(sequence: 6) + batch(sequence: 10)) }
        XCTAssertEqual(log.logEndOffset, 6)
    }

    func testStaleEpochIsFenced() throws {
        let fixture = try StorageFixture()
        let log = try fixture.log(config)
        try append(log, batch(epoch: 0, sequence: 0))
        try append(log, batch(epoch: 1, sequence: 0))
        let error = assertStorageError(.invalidProducerEpoch) { try append(log, batch(epoch: 0, sequence: 3)) }
        XCTAssertTrue(error?.message.contains("fenced") ?? false, "\(String(describing: error))")
        assertStorageError(.outOfOrderSequence) { try append(log, batch(epoch: 2, sequence: 1)) }
        try append(log, batch(epoch: 1, sequence: 3))
    }

    /// A crash (no close, no snapshot): the reopened log replays every batch into the state, so
    /// a retry of any of the last five batches is still recognised and the sequence continues.
    func testCrashRebuildsProducerStateFromTheLog() throws {
        let fixture = try StorageFixture()
        let log = try fixture.log(config)
        var results: [AppendResult] = []
        for i: Int32 in 0..<40 { results.append(try append(log, batch(sequence: i * 3))) }
        XCTAssertGreaterThan(log.segmentCount, 2, "the test needs rolled segments")
        let before = log.producerState
        try fixture.removeCleanMarkerIfPresent()
        let reopened = try XCTUnwrap(fixture.reopen(config: config).log(for: fixture.topicPartition))
        XCTAssertEqual(untimed(reopened.producerState), untimed(before))
        for i in 35..<40 {
            let retry = try append(reopened, batch(sequence: Int32(i) * 3))
            XCTAssertTrue(retry.duplicate)
            XCTAssertEqual(retry.baseOffset, results[i].baseOffset)
        }
        assertStorageError(.outOfOrderSequence) { try append(reopened, batch(sequence: 34 * 3)) }
        XCTAssertEqual(try append(reopened, batch(sequence: 120)).baseOffset, 120)
    }

    /// A clean shutdown snapshots the state at the log end: the next open replays no batch. A
    /// damaged snapshot is ignored (and removed) and the state rebuilt from the log, equal.
    func testSnapshotOnCloseAndDamagedSnapshotFallsBackToTheLog() throws {
        let fixture = try StorageFixture()
        let log = try fixture.log(config)
        for i: Int32 in 0..<30 { try append(log, batch(sequence: i * 3)) }
        try append(log, batch(id: 7, epoch: 3, sequence: 0))
        let before = log.producerState
        try fixture.manager.shutdown()
        let snapshot = fixture.partitionDir + "/" + DiskSurgery.segmentName(93, ".snapshot")
        XCTAssertTrue(FileManager.default.fileExists(atPath: snapshot), "snapshot at the log end")
        // Only the closing snapshot: a damaged one must then fall back to the whole log.
        for name in try FileManager.default.contentsOfDirectory(atPath: fixture.partitionDir)
        where name.hasSuffix(".snapshot") && fixture.partitionDir + "/" + name != snapshot {
            try FileManager.default.removeItem(atPath: fixture.partitionDir + "/" + name)
        }

        let clean = try XCTUnwrap(fixture.reopen(config: config).log(for: fixture.topicPartition))
        XCTAssertEqual(clean.producerState, before)
        XCTAssertEqual(fixture.manager.recoveryStats.producerBatchesReplayed, 0)
        try fixture.manager.shutdown()

        try DiskSurgery.overwrite(snapshot, at: 20, with: [0xFF])
        let rebuilt = try XCTUnwrap(fixture.reopen(config: config).log(for: fixture.topicPartition))
        XCTAssertEqual(untimed(rebuilt.producerState), untimed(before))
        XCTAssertEqual(fixture.manager.recoveryStats.producerBatchesReplayed, 31)
        XCTAssertTrue(fixture.capture.warnings.contains { $0.message.contains("damaged producer snapshot") })
        XCTAssertFalse(FileManager.default.fileExists(atPath: snapshot), "the damaged file is removed")
    }

    /// A roll queues a snapshot at the new segment's base; the background flush writes it, and a
    /// crash afterwards replays only the batches after it.
    func testRollSnapshotBoundsReplay() throws {
        let fixture = try StorageFixture(flushIntervalMs: 10)
        let log = try fixture.log(config)
        for i: Int32 in 0..<40 { try append(log, batch(sequence: i * 3)) }
        let bases = log.segmentBaseOffsets
        XCTAssertGreaterThan(bases.count, 2)
        let newest = try XCTUnwrap(bases.last)
        let path = fixture.partitionDir + "/" + DiskSurgery.segmentName(newest, ".snapshot")
        let deadline = ContinuousClock.now + .seconds(30)
        while !FileManager.default.fileExists(atPath: path), ContinuousClock.now < deadline {
            Thread.sleep(forTimeInterval: 0.02)
        }
        XCTAssertTrue(FileManager.default.fileExists(atPath: path), "the background flush wrote the roll's snapshot")
        let snapshots = try FileManager.default.contentsOfDirectory(atPath: fixture.partitionDir)
            .filter { $0.hasSuffix(".snapshot") }
        XCTAssertLessThanOrEqual(snapshots.count, 2, "old snapshots are deleted: \(snapshots)")
        let before = log.producerState
        try fixture.removeCleanMarkerIfPresent()
        let reopened = try XCTUnwrap(fixture.reopen(config: config).log(for: fixture.topicPartition))
        XCTAssertEqual(untimed(reopened.producerState), untimed(before))
        XCTAssertLessThan(fixture.manager.recoveryStats.producerBatchesReplayed, 40)
    }

    /// A truncation removes batches the state had recorded: the state is rebuilt to match, and
    /// the producer's sequence continues from what is left.
    func testTruncationRebuildsProducerState() throws {
        let fixture = try StorageFixture()
        let log = try fixture.log(config)
        for i: Int32 in 0..<10 { try append(log, batch(sequence: i * 3)) }
        try log.truncate(to: 15)
        XCTAssertEqual(log.logEndOffset, 15)
        XCTAssertEqual(log.producerState.producers[42]?.lastSequence, 14)
        XCTAssertFalse(try append(log, batch(sequence: 15)).duplicate)
        try log.truncate(to: 0)
        XCTAssertEqual(log.producerState.count, 0)
        XCTAssertEqual(try append(log, batch(sequence: 0)).baseOffset, 0)
    }

    /// Retention deleting the segments a producer wrote to does not forget the producer: its
    /// state outlives the batches (Kafka's KIP-360), also across a restart (the snapshot).
    func testRetentionKeepsProducerState() throws {
        let fixture = try StorageFixture()
        let log = try fixture.log(config)
        var results: [AppendResult] = []
        for i: Int32 in 0..<40 { results.append(try append(log, batch(sequence: i * 3))) }
        try appendBatches(log, counts: Array(repeating: 5, count: 30))  // another writer fills newer segments
        let active = try XCTUnwrap(log.segmentBaseOffsets.last)
        XCTAssertGreaterThan(active, 120, "the producer's batches are all in older segments")
        try log.advanceLogStartOffset(to: active)
        XCTAssertEqual(log.segmentCount, 1)
        let retry = try append(log, batch(sequence: 39 * 3))
        XCTAssertTrue(retry.duplicate)
        XCTAssertEqual(retry.baseOffset, results[39].baseOffset)
        try fixture.manager.shutdown()
        let reopened = try XCTUnwrap(fixture.reopen(config: config).log(for: fixture.topicPartition))
        XCTAssertTrue(try append(reopened, batch(sequence: 39 * 3)).duplicate, "after a restart too")
        XCTAssertFalse(try append(reopened, batch(sequence: 40 * 3)).duplicate)
    }

    func testIdleProducersExpire() throws {
        let fixture = try StorageFixture()
        let log = try fixture.log(config)
        try append(log, batch(sequence: 0))
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        XCTAssertEqual(log.expireProducers(nowMs: now, expirationMs: 3_600_000), 0)
        XCTAssertEqual(log.expireProducers(nowMs: now + 3_600_000, expirationMs: 3_600_000), 1)
        assertStorageError(.unknownProducerId) { try append(log, batch(sequence: 3)) }
        XCTAssertFalse(try append(log, batch(epoch: 1, sequence: 0)).duplicate)
    }
}

extension StorageFixture {
    /// What a crash leaves: no clean-shutdown marker (there is none while the manager runs).
    func removeCleanMarkerIfPresent() throws {
        let marker = directory.path + "/.tern-clean-shutdown"
        if FileManager.default.fileExists(atPath: marker) { try FileManager.default.removeItem(atPath: marker) }
    }
}
