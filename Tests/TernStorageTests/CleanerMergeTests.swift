import Foundation
import Synchronization
import TernTestSupport
import TernWire
import XCTest

@testable import TernStorage

/// The cleaner groups segments by their cleaned size, as Kafka does: a compaction leaves few
/// segments, none of them an empty `.log` left behind, offsets in order and every latest value
/// readable; a group left empty is removed; and the swap's fsyncs do not hold the log's lock.
final class CleanerMergeTests: XCTestCase {
    /// 1,000 keys written 20 times in order: the latest value of each key is in the last 1,000.
    private func twentyVersions() -> [KeyedRecord] {
        (0..<20).flatMap { version in (0..<1000).map { KeyedRecord(key: "key-\($0)", value: "v\(version)-of-\($0)") } }
    }

    private func logFiles(_ log: PartitionLog) throws -> [(name: String, size: Int)] {
        try FileManager.default.contentsOfDirectory(atPath: log.directory).filter { $0.hasSuffix(".log") }.sorted()
            .map { ($0, try DiskSurgery.size(log.directory + "/" + $0)) }
    }

    func testTwentyThousandRecordsOfAThousandKeysCompactToFewSegmentsAndNoEmptyLogFile() throws {
        let fixture = try StorageFixture()
        let log = try fixture.log(LogConfig(segmentBytes: 80_000, indexIntervalBytes: 4096))
        try appendKeyed(log, twentyVersions())
        try log.roll()  // everything written is cleanable
        try log.flush()  // the cleaner stops at the recovery point
        let segmentsBefore = log.segmentCount
        XCTAssertGreaterThanOrEqual(segmentsBefore, 8)

        let map = OffsetMap(bufferBytes: 1 << 20)
        let result = try XCTUnwrap(log.clean(using: map, options: CleaningOptions(deleteRetentionMs: 0, nowMs: 0)))
        let files = try logFiles(log)
        let activeName = DiskSurgery.segmentName(try XCTUnwrap(log.segmentBaseOffsets.last), ".log")
        XCTAssertEqual(files.filter { $0.size == 0 && $0.name != activeName }.map(\.name), [], "no empty .log left")
        XCTAssertEqual(log.segmentCount, 2, "the 1,000 latest records fit one segment, plus the active one")
        XCTAssertEqual(result.segmentsReplaced, segmentsBefore - 1)
        XCTAssertEqual(result.segmentsWritten, 1)
        XCTAssertEqual(log.logStartOffset, 0, "the log start does not move")

        let records = try allRecords(log)
        XCTAssertEqual(records.count, 1000)
        XCTAssertEqual(records.map(\.offset), Array(19_000..<20_000), "the latest records, at their offsets")
        XCTAssertEqual(records.map { string($0.value) }, (0..<1000).map { "v19-of-\($0)" })

        // The same after a restart, and the next cleaning finds nothing to do.
        try fixture.manager.shutdown()
        let reopened = try XCTUnwrap(fixture.reopen(config: log.config).log(for: fixture.topicPartition))
        XCTAssertEqual(try allRecords(reopened).map(\.offset), Array(19_000..<20_000))
        XCTAssertEqual(reopened.logStartOffset, 0)
        XCTAssertNil(try reopened.clean(using: map, options: CleaningOptions(deleteRetentionMs: 0, nowMs: 0)))
        try fixture.manager.shutdown()
    }

    func testCleanedSegmentsMergeUpToSegmentBytesAndNoFurther() throws {
        let fixture = try StorageFixture()
        // 5,000 distinct keys, then 5,000 rewrites of the first 500: most segments keep a lot.
        let log = try fixture.log(LogConfig(segmentBytes: 40_000, indexIntervalBytes: 1024))
        var records = (0..<5000).map { KeyedRecord(key: "key-\($0)", value: "first-\($0)") }
        records += (0..<5000).map { KeyedRecord(key: "key-\($0 % 500)", value: "again-\($0)") }
        try appendKeyed(log, records)
        try log.roll()
        try log.flush()  // the cleaner stops at the recovery point
        let before = try allRecords(log)
        let activeBase = try XCTUnwrap(log.segmentBaseOffsets.last)

        let map = OffsetMap(bufferBytes: 1 << 20)
        _ = try XCTUnwrap(log.clean(using: map, options: CleaningOptions(deleteRetentionMs: 0, nowMs: 0)))
        XCTAssertEqual(try allRecords(log), expectedAfterCleaning(before, activeBase: activeBase))
        let files = try logFiles(log)
        let cleaned = files.dropLast()  // the active segment is last
        XCTAssertTrue(cleaned.allSatisfy { $0.size > 0 && $0.size <= 40_000 }, "\(files)")
        // Greedy grouping: two neighbours never fit one segment together.
        for (a, b) in zip(cleaned, cleaned.dropFirst()) {
            XCTAssertGreaterThan(a.size + b.size, 40_000, "\(a.name) and \(b.name) should have been merged")
        }
    }

    func testAGroupLeftEmptyIsRemovedAndTheFirstSegmentStays() throws {
        let fixture = try StorageFixture()
        let log = try fixture.log(LogConfig(segmentBytes: 2000, indexIntervalBytes: 256))
        try appendKeyed(log, (0..<600).map { KeyedRecord(key: "key-\($0 % 20)", value: "v\($0)") })
        try log.roll()
        try log.flush()  // the cleaner stops at the recovery point
        let before = try allRecords(log)
        let bases = log.segmentBaseOffsets
        XCTAssertGreaterThan(bases.count, 5)

        // Remove the segments after the first, as a cleaning does with a group it emptied.
        let map = OffsetMap(bufferBytes: 1 << 16)
        let plan = try XCTUnwrap(
            log.planCleaning(
                using: map, options: CleaningOptions(deleteRetentionMs: 0, nowMs: 0), shouldStop: { false }))
        let middle = Array(plan.sources[1..<3])
        XCTAssertTrue(try log.remove(middle))
        XCTAssertEqual(log.segmentBaseOffsets, [bases[0]] + bases[3...])
        for source in middle {
            XCTAssertFalse(FileManager.default.fileExists(atPath: fixture.segmentPath(source.baseOffset)))
            XCTAssertFalse(FileManager.default.fileExists(atPath: fixture.segmentPath(source.baseOffset) + ".deleted"))
        }
        let gone = middle[0].baseOffset..<middle[1].nextOffset
        XCTAssertEqual(try allRecords(log), before.filter { !gone.contains($0.offset) })
        XCTAssertFalse(try log.remove(middle), "a group no longer in the log is not removed twice")
        // The first segment is never removed (it carries the log start across a restart).
        XCTAssertFalse(try log.remove([plan.sources[0]]))

        // A cleaning that empties every cleanable segment (every key deleted, tombstones expired)
        // leaves the first one, empty: its base offset is the log start a restart finds.
        try appendKeyed(log, (0..<20).map { KeyedRecord(key: "key-\($0)", value: nil) })
        try log.roll()
        try log.flush()  // the cleaner stops at the recovery point
        let options = CleaningOptions(deleteRetentionMs: 0, nowMs: defaultTestTimestamp + 1_000_000, force: true)
        let result = try XCTUnwrap(log.clean(using: map, options: options))
        XCTAssertEqual(result.segmentsWritten, 1)
        XCTAssertEqual(log.segmentBaseOffsets.first, bases[0])
        XCTAssertEqual(log.segmentCount, 2)
        XCTAssertEqual(log.logStartOffset, 0)
        XCTAssertEqual(try allRecords(log).count, 0)
        XCTAssertEqual(try DiskSurgery.size(fixture.segmentPath(bases[0])), 0)
    }

    /// A cleaning that leaves nothing (every key deleted, its tombstone expired) keeps the first
    /// segment, empty: the log start, the segment list, reads and appends stay the same across a
    /// clean and an unclean restart.
    func testAFullCleanKeepsTheLogStartAndSegmentsAcrossRestarts() throws {
        let config = LogConfig(segmentBytes: 2000, indexIntervalBytes: 256)
        let fixture = try StorageFixture()
        let log = try fixture.log(config)
        try appendKeyed(log, (0..<600).map { KeyedRecord(key: "key-\($0 % 20)", value: "v\($0)") })
        try appendKeyed(log, (0..<20).map { KeyedRecord(key: "key-\($0)", value: nil) })
        try log.roll()
        try log.flush()  // the cleaner stops at the recovery point
        let activeBase = try XCTUnwrap(log.segmentBaseOffsets.last)
        XCTAssertEqual(activeBase, 620)
        let map = OffsetMap(bufferBytes: 1 << 16)
        let options = CleaningOptions(deleteRetentionMs: 0, nowMs: defaultTestTimestamp + 1_000_000)
        _ = try XCTUnwrap(log.clean(using: map, options: options))
        // Tombstones go in the pass that finds them expired (a forced pass over a clean log).
        _ = try log.clean(using: map, options: CleaningOptions(deleteRetentionMs: 0, nowMs: options.nowMs, force: true))

        func check(_ log: PartitionLog, _ when: String) throws {
            XCTAssertEqual(log.logStartOffset, 0, when)
            XCTAssertEqual(log.segmentBaseOffsets, [0, activeBase], when)
            XCTAssertEqual(try DiskSurgery.size(fixture.segmentPath(0)), 0, when)
            XCTAssertEqual(log.logEndOffset, activeBase, when)
            XCTAssertEqual(try allRecords(log).count, 0, when)
        }
        try check(log, "after cleaning")
        try fixture.manager.shutdown()
        try check(try XCTUnwrap(fixture.reopen(config: config).log(for: fixture.topicPartition)), "after a clean restart")
        try fixture.manager.shutdown()
        try fixture.removeCleanMarker()
        try FileManager.default.removeItem(atPath: fixture.logDir + "/" + LogManager.recoveryPointCheckpoint)
        let manager = try fixture.reopen(config: config)
        XCTAssertFalse(manager.openedCleanly)
        let reopened = try XCTUnwrap(manager.log(for: fixture.topicPartition))
        try check(reopened, "after an unclean restart")
        // Appends go on at the old end; a read from the log start finds them.
        try appendKeyed(reopened, [KeyedRecord(key: "key-1", value: "again")])
        let fromStart = try recordsOf(reopened.read(from: 0, maxBytes: 1 << 20, maxOffset: .max))
        XCTAssertEqual(fromStart.map(\.offset), [activeBase])
        try fixture.manager.shutdown()
    }

    /// Retention deleting segments while a cleaning reads them: the cleaning gives up ("the log
    /// changed"), leaves no cleaner files behind, and the log serves what retention left.
    func testACleaningRacingRetentionGivesUpCleanly() throws {
        let fixture = try StorageFixture()
        let log = try fixture.log(LogConfig(segmentBytes: 2000, indexIntervalBytes: 256))
        try appendKeyed(log, (0..<600).map { KeyedRecord(key: "key-\($0 % 50)", value: "v\($0)") })
        try log.roll()
        try log.flush()  // the cleaner stops at the recovery point
        let segments = log.segmentCount
        let calls = Mutex(0)
        let result = try log.clean(
            using: OffsetMap(bufferBytes: 1 << 16), options: CleaningOptions(deleteRetentionMs: 0, nowMs: 0),
            shouldStop: {
                // Halfway through the map, retention removes the two oldest segments.
                if calls.withLock({
                    $0 += 1; return $0
                }) == 30 {
                    let size = log.sizeInBytes
                    let sizes = log.segmentBaseOffsets.count
                    XCTAssertEqual(sizes, segments)
                    _ = try? log.applyRetention(retentionMs: -1, retentionBytes: size - 3000, nowMs: 0)
                }
                return false
            })
        XCTAssertNil(result, "the cleaning gave up")
        XCTAssertLessThan(log.segmentCount, segments, "retention ran")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: log.directory).filter {
            $0.hasSuffix(".cleaned") || $0.hasSuffix(".swap") || $0.hasSuffix(".deleted") || $0.hasSuffix(".swapinfo")
        }
        XCTAssertEqual(leftovers, [])
        let records = try allRecords(log)
        XCTAssertEqual(records.first?.offset, log.logStartOffset)
        XCTAssertEqual(records.last?.offset, 599)
        // The next cleaning goes through.
        XCTAssertNotNil(
            try log.clean(
                using: OffsetMap(bufferBytes: 1 << 16), options: CleaningOptions(deleteRetentionMs: 0, nowMs: 0)))
    }

    /// The swap fsyncs the directory (twice) and the swap info outside the log's lock: with the
    /// swap held at its commit fsync, appends, reads and flushes of the same log go on.
    func testAppendsReadsAndFlushesProceedWhileTheSwapSyncs() throws {
        let fixture = try StorageFixture()
        let (log, atSync, release) = try compactableLogHeldAtItsSwapSync(fixture)
        let cleaning = DispatchSemaphore(value: 0)
        let outcome = Mutex<Result<CleaningResult?, any Error>?>(nil)
        DispatchQueue.global().async {
            let result = Result {
                try log.clean(
                    using: OffsetMap(bufferBytes: 1 << 16), options: CleaningOptions(deleteRetentionMs: 0, nowMs: 0))
            }
            outcome.withLock { $0 = result }
            cleaning.signal()
        }
        XCTAssertEqual(atSync.wait(timeout: .now() + 30), .success, "the swap reached its fsync")

        // While the swap is held there, the log serves on another thread (bounded wait).
        let served = DispatchSemaphore(value: 0)
        let errors = Mutex<[String]>([])
        DispatchQueue.global().async {
            do {
                try appendKeyed(log, [KeyedRecord(key: "key-1", value: "during the swap")])
                _ = try allRecords(log)
                try log.flush()
            } catch {
                errors.withLock { $0.append("\(error)") }
            }
            served.signal()
        }
        let servedInTime = served.wait(timeout: .now() + 10)
        release.signal()
        XCTAssertEqual(servedInTime, .success, "append, read and flush waited for the swap's fsync")
        XCTAssertEqual(errors.withLock { $0 }, [])
        XCTAssertEqual(cleaning.wait(timeout: .now() + 60), .success)
        let result = try XCTUnwrap(outcome.withLock { $0 }).get()
        XCTAssertNotNil(result)
        XCTAssertEqual(try allRecords(log).last.flatMap { string($0.value) }, "during the swap")
    }

    func testASwapFinishingAfterItsTopicWasDeletedAndRecreatedLeavesTheNewLogAlone() throws {
        let fixture = try StorageFixture()
        let (log, atSync, release) = try compactableLogHeldAtItsSwapSync(fixture)
        let cleaning = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            _ = try? log.clean(
                using: OffsetMap(bufferBytes: 1 << 16), options: CleaningOptions(deleteRetentionMs: 0, nowMs: 0))
            cleaning.signal()
        }
        XCTAssertEqual(atSync.wait(timeout: .now() + 30), .success, "the swap reached its fsync")
        // The topic is deleted and created again (same directory path) while the swap syncs.
        try fixture.manager.deleteLog(fixture.topicPartition)
        let recreated = try fixture.manager.createLog(fixture.topicPartition, config: LogConfig(segmentBytes: 4096))
        try appendKeyed(recreated, (0..<5).map { KeyedRecord(key: "new-\($0)", value: "n\($0)") })
        release.signal()
        XCTAssertEqual(cleaning.wait(timeout: .now() + 60), .success)
        // The old log's swap renamed none of the new log's files away.
        XCTAssertTrue(FileManager.default.fileExists(atPath: fixture.segmentPath(0)), "the new log's segment was renamed")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: fixture.partitionDir)
            .filter { $0.hasSuffix(".deleted") || $0.hasSuffix(".swap") }
        XCTAssertEqual(leftovers, [])
        XCTAssertEqual(try allRecords(recreated).map { string($0.value) }, (0..<5).map { "n\($0)" })
    }

    /// A log of 600 records over 40 keys in small segments, ready to be compacted into one, whose
    /// next swap stops at its commit fsync: `atSync` is signalled there, and the swap goes on once
    /// `release` is (or after 60 s).
    private func compactableLogHeldAtItsSwapSync(
        _ fixture: StorageFixture
    ) throws -> (log: PartitionLog, atSync: DispatchSemaphore, release: DispatchSemaphore) {
        let log = try fixture.log(LogConfig(segmentBytes: 4096, indexIntervalBytes: 256))
        try appendKeyed(log, (0..<600).map { KeyedRecord(key: "key-\($0 % 40)", value: "v\($0)") })
        try log.flush()  // the cleaner stops at the recovery point
        log.update(config: LogConfig(segmentBytes: 64 * 1024, indexIntervalBytes: 256))
        let atSync = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        log.swapWillSync.withLock {
            $0 = {
                atSync.signal()
                _ = release.wait(timeout: .now() + 60)
            }
        }
        return (log, atSync, release)
    }
}
