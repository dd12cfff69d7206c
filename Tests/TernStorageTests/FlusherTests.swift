import Dispatch
import Foundation
import Synchronization
@testable import TernStorage
import TernTestSupport
import TernWire
import XCTest

/// Group commit through `LogManager.whenDurable`.
final class FlusherTests: XCTestCase {
    func testWhenDurableCompletesAfterFlush() throws {
        let fixture = try StorageFixture(flushMode: .sync)
        let log = try fixture.log()
        let result = try appendBatches(log, counts: [3])[0]
        XCTAssertEqual(log.recoveryPoint, 0)
        let done = expectation(description: "durable")
        fixture.manager.whenDurable(log, upTo: result.lastOffset + 1) { outcome in
            if case .failure(let error) = outcome { XCTFail("\(error)") }
            XCTAssertGreaterThanOrEqual(log.recoveryPoint, result.lastOffset + 1)
            done.fulfill()
        }
        wait(for: [done], timeout: 10)
        XCTAssertEqual(log.recoveryPoint, 3)
        try fixture.manager.shutdown()
    }

    func testManyWaitersShareFewFsyncs() throws {
        let fixture = try StorageFixture(flushMode: .sync)
        let log = try fixture.log()
        let other = try fixture.manager.createLog(TopicPartition("payments", 0), config: LogConfig())
        let manager = fixture.manager
        let before = manager.flushCount
        let producers = 64
        let completed = ManagedCounter()
        let failed = ManagedCounter()
        let group = DispatchGroup()
        // Producers append and wait concurrently, like acks=all produce requests.
        DispatchQueue.concurrentPerform(iterations: producers) { i in
            let target = i % 4 == 0 ? other : log
            var bytes = makeBatch(count: 2)
            guard let result = try? appendProduced(target, &bytes) else { return failed.increment() }
            group.enter()
            manager.whenDurable(target, upTo: result.logEndOffset) { outcome in
                if case .success = outcome, target.recoveryPoint >= result.logEndOffset {
                    completed.increment()
                } else {
                    failed.increment()
                }
                group.leave()
            }
        }
        XCTAssertEqual(group.wait(timeout: .now() + 20), .success)
        XCTAssertEqual(failed.value, 0)
        XCTAssertEqual(completed.value, producers)
        let fsyncs = fixture.manager.flushCount - before
        XCTAssertGreaterThan(fsyncs, 0)
        XCTAssertLessThan(fsyncs, producers, "waiters share fsyncs (\(fsyncs) for \(producers))")
        XCTAssertEqual(log.recoveryPoint, log.logEndOffset)
        XCTAssertEqual(other.recoveryPoint, other.logEndOffset)
        try fixture.manager.shutdown()
    }

    func testQueuedWaitersAreCompletedByOneRound() throws {
        let fixture = try StorageFixture(flushMode: .sync)
        let log = try fixture.log()
        var ends: [Int64] = []
        for _ in 0..<100 { ends.append(try appendBatches(log, counts: [1])[0].lastOffset + 1) }
        let before = fixture.manager.flushCount
        let group = DispatchGroup()
        let completed = ManagedCounter()
        for end in ends {
            group.enter()
            fixture.manager.whenDurable(log, upTo: end) { outcome in
                if case .success = outcome { completed.increment() }
                group.leave()
            }
        }
        XCTAssertEqual(group.wait(timeout: .now() + 20), .success)
        XCTAssertEqual(completed.value, 100)
        // The first waiter may start a round alone; everything queued behind it shares the next.
        XCTAssertLessThanOrEqual(fixture.manager.flushCount - before, 3)
        try fixture.manager.shutdown()
    }

    func testAlreadyDurableCompletesWithoutFsync() throws {
        let fixture = try StorageFixture(flushMode: .sync)
        let log = try fixture.log()
        try appendBatches(log, counts: [2])
        try log.flush()
        let before = fixture.manager.flushCount
        let done = expectation(description: "durable")
        fixture.manager.whenDurable(log, upTo: 2) { _ in done.fulfill() }
        wait(for: [done], timeout: 10)
        XCTAssertEqual(fixture.manager.flushCount, before)
        try fixture.manager.shutdown()
    }

    func testIntervalModeCompletesAtOnceAndFlushesInTheBackground() throws {
        let fixture = try StorageFixture(flushMode: .interval(milliseconds: 20))
        let log = try fixture.log()
        try appendBatches(log, counts: [5])
        let done = expectation(description: "completed")
        fixture.manager.whenDurable(log, upTo: 5) { outcome in
            if case .failure(let error) = outcome { XCTFail("\(error)") }
            done.fulfill()
        }
        wait(for: [done], timeout: 1)
        let deadline = Date().addingTimeInterval(5)
        while log.recoveryPoint < 5 && Date() < deadline { usleep(5_000) }
        XCTAssertEqual(log.recoveryPoint, 5, "the background flusher advanced the recovery point")
        XCTAssertGreaterThan(fixture.manager.flushCount, 0)
        try fixture.manager.shutdown()
    }

    func testWaitersAfterShutdownFail() throws {
        let fixture = try StorageFixture(flushMode: .sync)
        let log = try fixture.log()
        try appendBatches(log, counts: [1])
        try fixture.manager.shutdown()
        let done = expectation(description: "completed")
        fixture.manager.whenDurable(log, upTo: 5) { outcome in
            if case .success = outcome { XCTFail("a closed manager cannot make data durable") }
            done.fulfill()
        }
        wait(for: [done], timeout: 5)
    }

    func testFlushAdvancesRecoveryPointAcrossSegments() throws {
        let fixture = try StorageFixture(flushMode: .sync)
        let log = try fixture.log(LogConfig(segmentBytes: 600))
        try appendBatches(log, counts: Array(repeating: 2, count: 20), valueSize: 40)
        XCTAssertGreaterThan(log.segmentCount, 2)
        XCTAssertLessThan(log.recoveryPoint, log.logEndOffset)
        try log.flush()
        XCTAssertEqual(log.recoveryPoint, log.logEndOffset)
        try fixture.manager.shutdown()
    }

    // MARK: background flushes (acks=0/1 data) and checkpoints

    /// Polls `condition` for at most `seconds`.
    private func eventually(_ seconds: Double = 30, _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if try condition() { return true }
            usleep(5_000)
        }
        return try condition()
    }

    func testSyncModeFlushesDataNobodyWaitsForEveryInterval() throws {
        let fixture = try StorageFixture(flushMode: .sync, flushIntervalMs: 20)
        let log = try fixture.log()
        for round in 1...3 {
            try appendBatches(log, counts: [4])
            // No whenDurable: acks=1 traffic. The background flusher still makes it durable.
            XCTAssertTrue(eventually { log.recoveryPoint == Int64(4 * round) }, "round \(round): \(log.recoveryPoint)")
        }
        XCTAssertGreaterThan(fixture.manager.flushCount, 0)
        // An idle log is not flushed again.
        let idle = fixture.manager.flushCount
        usleep(100_000)
        XCTAssertEqual(fixture.manager.flushCount, idle)
        try fixture.manager.shutdown()
    }

    func testRolledSegmentsAreFlushedAtOnceBetweenIntervals() throws {
        let fixture = try StorageFixture(flushMode: .sync, flushIntervalMs: 3_600_000)
        let log = try fixture.log(LogConfig(segmentBytes: 1024))
        try appendBatches(log, counts: [2], valueSize: 100)
        usleep(100_000)
        XCTAssertEqual(log.recoveryPoint, 0, "within the interval, acks=1 data waits for a roll")
        XCTAssertEqual(fixture.manager.flushCount, 0)
        // Appends that roll: the sealed segments are flushed in the background, off the append.
        try appendBatches(log, counts: Array(repeating: 2, count: 12), valueSize: 100)
        XCTAssertGreaterThan(log.segmentCount, 2)
        let activeBase = try XCTUnwrap(log.segmentBaseOffsets.last)
        XCTAssertTrue(eventually { log.recoveryPoint >= activeBase }, "recovery point \(log.recoveryPoint)")
        try fixture.manager.shutdown()
    }

    func testRecoveryPointCheckpointIsWrittenPeriodically() throws {
        let fixture = try StorageFixture(flushMode: .sync, flushIntervalMs: 10, checkpointIntervalMs: 20)
        let log = try fixture.log()
        let path = fixture.logDir + "/" + LogManager.recoveryPointCheckpoint
        func checkpointed() -> Int64? {
            let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
            return text.split(separator: "\n").compactMap { line -> Int64? in
                let fields = line.split(separator: " ")
                return fields.count == 3 && fields[0] == "orders" && fields[1] == "3" ? Int64(fields[2]) : nil
            }.first
        }
        try appendBatches(log, counts: [5])
        XCTAssertTrue(eventually { checkpointed() == 5 }, "checkpoint: \(String(describing: checkpointed()))")
        try appendBatches(log, counts: [3])
        XCTAssertTrue(eventually { checkpointed() == 8 }, "checkpoint: \(String(describing: checkpointed()))")
        // A crash now (no shutdown) trusts the checkpoint: the lone segment is still scanned (it
        // is the active one) but recovery starts from what the checkpoint says is durable.
        let reopened = try XCTUnwrap(fixture.reopen().log(for: fixture.topicPartition))
        XCTAssertEqual(reopened.logEndOffset, 8)
        try fixture.manager.shutdown()
    }

    func testRecoveryAfterACheckpointScansOnlyTheSegmentsAfterIt() throws {
        let config = LogConfig(segmentBytes: 2048)
        let fixture = try StorageFixture(flushMode: .sync, flushIntervalMs: 10, checkpointIntervalMs: 20)
        let log = try fixture.log(config)
        try appendBatches(log, counts: Array(repeating: 3, count: 60), valueSize: 100)
        let segments = log.segmentCount
        XCTAssertGreaterThan(segments, 5)
        let end = log.logEndOffset
        let path = fixture.logDir + "/" + LogManager.recoveryPointCheckpoint
        XCTAssertTrue(
            eventually { ((try? String(contentsOfFile: path, encoding: .utf8)) ?? "").contains("orders 3 \(end)\n") })
        // Crash: no shutdown, no marker.
        let manager = try fixture.reopen(config: config)
        XCTAssertFalse(manager.openedCleanly)
        XCTAssertEqual(manager.recoveryStats.segmentsScanned, 1, "only the active segment is scanned")
        XCTAssertEqual(try XCTUnwrap(manager.log(for: fixture.topicPartition)).logEndOffset, end)
        try fixture.manager.shutdown()
    }
}

extension FlusherTests {
    func testRecoveryScansTheActiveSegmentOnlyFromTheRecoveryPoint() throws {
        // One big active segment: a background flush writes its index entries too, so after a
        // crash only the batches from the last entry below the checkpointed recovery point on are
        // CRC-checked.
        let config = LogConfig(indexIntervalBytes: 1024)
        let fixture = try StorageFixture(flushMode: .sync, flushIntervalMs: 10)
        let log = try fixture.log(config)
        let flushed = try appendBatches(log, counts: Array(repeating: 3, count: 200), valueSize: 100)
        XCTAssertTrue(eventually { log.recoveryPoint == 600 })
        try fixture.manager.writeCheckpoints()
        let tail = try appendBatches(log, counts: Array(repeating: 3, count: 5), valueSize: 100)
        XCTAssertEqual(log.segmentCount, 1)
        let total = log.sizeInBytes
        // Crash: no shutdown, no marker.
        let manager = try fixture.reopen(config: config)
        XCTAssertFalse(manager.openedCleanly)
        XCTAssertEqual(manager.recoveryStats.segmentsScanned, 1)
        XCTAssertLessThan(manager.recoveryStats.bytesRead, total / 10, "of \(total) bytes")
        XCTAssertLessThanOrEqual(manager.recoveryStats.batchesChecked, 5 + 1024 / 100 + 2)
        let recovered = try XCTUnwrap(manager.log(for: fixture.topicPartition))
        XCTAssertEqual(recovered.logEndOffset, tail.last.map { $0.lastOffset + 1 })
        // Every batch is still found by offset (the kept and the rebuilt index entries are right).
        for batch in flushed + tail {
            let headers = try batchHeaders(recovered.read(from: batch.lastOffset, maxBytes: 1, maxOffset: .max))
            XCTAssertEqual(headers.first?.baseOffset, batch.baseOffset)
        }
        try fixture.manager.shutdown()
    }
}

extension FlusherTests {
    func testSegmentsDeletedDuringABackgroundFlushDoNotTakeTheLogOffline() throws {
        // Each roll asks for a background flush, which syncs the sealed segment's index files
        // outside the lock; truncations delete those segments meanwhile. A file gone by the time
        // it is synced has nothing left to sync — the log must stay usable.
        let fixture = try StorageFixture(flushMode: .sync, flushIntervalMs: 1)
        let log = try fixture.log(LogConfig(segmentBytes: 1024, indexIntervalBytes: 100))
        for round in 0..<150 {
            try appendBatches(log, counts: Array(repeating: 2, count: 8), valueSize: 100)
            XCTAssertGreaterThan(log.segmentCount, 2)
            try log.truncate(to: log.logEndOffset / 3)
            if round % 10 == 0 { usleep(1_000) }
        }
        let end = log.logEndOffset
        let done = expectation(description: "durable")
        fixture.manager.whenDurable(log, upTo: end) { outcome in
            if case .failure(let error) = outcome { XCTFail("\(error)") }
            done.fulfill()
        }
        wait(for: [done], timeout: 30)
        XCTAssertFalse(
            fixture.capture.all.contains { $0.message.contains("failed") }, "\(fixture.capture.all.map(\.message))")
        try fixture.manager.shutdown()
    }

    func testAFlushThatCannotOpenASegmentStillOwesTheDirectorySync() throws {
        // A flush notes "directory dirty" (a segment was rolled) and then fails to open an
        // evicted segment for a reason other than its deletion (EMFILE in production; here a
        // directory squats on its path, so open fails with EISDIR). The log stays online, but the
        // directory sync it owed must still be owed: the next flush syncs the directory before it
        // advances the recovery point over the new segment.
        let budget = LogManager.maxOpenSegmentFiles
        LogManager.limitOpenSegmentFiles(to: 1)
        defer { LogManager.limitOpenSegmentFiles(to: budget) }
        let fixture = try StorageFixture(flushMode: .sync)
        let log = try fixture.log(LogConfig(segmentBytes: 600))
        try log.flush()
        try appendBatches(log, counts: Array(repeating: 2, count: 12), valueSize: 40)
        XCTAssertGreaterThan(log.segmentCount, 2)
        let bases = try FileManager.default.contentsOfDirectory(atPath: fixture.partitionDir)
            .filter { $0.hasSuffix(".log") }.compactMap { Int64($0.dropLast(4)) }.sorted()
        // The active segment is the cached one; the one before it was evicted and is dirty.
        let victim = fixture.segmentPath(bases[bases.count - 2])
        try FileManager.default.moveItem(atPath: victim, toPath: victim + ".aside")
        try FileManager.default.createDirectory(atPath: victim, withIntermediateDirectories: false)
        XCTAssertThrowsError(try log.flush())
        XCTAssertLessThan(log.recoveryPoint, log.logEndOffset)
        try FileManager.default.removeItem(atPath: victim)
        try FileManager.default.moveItem(atPath: victim + ".aside", toPath: victim)
        // What the failed flush noted as unsynced is still owed.
        XCTAssertTrue(log.state.withLock { $0.directoryDirty }, "the directory sync the failed flush owed was forgotten")
        XCTAssertTrue(
            log.state.withLock { $0.segments.dropLast().contains { $0.indexFilesUnsynced } },
            "the index syncs the failed flush owed were forgotten")
        try log.flush()
        XCTAssertEqual(log.recoveryPoint, log.logEndOffset)
        XCTAssertFalse(log.state.withLock { $0.directoryDirty })
        XCTAssertTrue(
            fixture.capture.all.allSatisfy { !$0.message.contains("offline") }, "\(fixture.capture.all.map(\.message))")
        try fixture.manager.shutdown()
    }
}
