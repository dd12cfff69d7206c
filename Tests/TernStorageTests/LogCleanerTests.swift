import Foundation
import Logging
import Synchronization
import TernTestSupport
import TernWire
import XCTest

@testable import TernStorage

final class LogCleanerTests: XCTestCase {
    let config = LogConfig(segmentBytes: 4096, indexIntervalBytes: 256)
    let farFuture = defaultTestTimestamp + 1_000_000_000

    /// 50 keys × 20 versions, shuffled by a fixed seed.
    func versionedRecords(keys: Int = 50, versions: Int = 20) -> [KeyedRecord] {
        var generator = SeededGenerator(seed: 7)
        var records: [KeyedRecord] = []
        for version in 0..<versions {
            var round = (0..<keys).map { KeyedRecord(key: "key-\($0)", value: "v\(version)-of-\($0)") }
            round.shuffle(using: &generator)
            records += round
        }
        return records
    }

    func testCompactionKeepsTheLatestRecordOfEachKeyAtItsOffset() throws {
        let fixture = try StorageFixture()
        let log = try fixture.log(config)
        try appendKeyed(log, versionedRecords())
        let before = try allRecords(log)
        let activeBase = log.segmentBaseOffsets.last ?? 0
        XCTAssertGreaterThan(log.segmentCount, 5)
        // Cleaned segments merge while their sources fit one segment.bytes.
        log.update(config: LogConfig(segmentBytes: 64 * 1024, indexIntervalBytes: 256))

        let map = OffsetMap(bufferBytes: 1 << 20)
        try log.flush()  // the cleaner stops at the recovery point
        let result = try XCTUnwrap(log.clean(using: map, options: CleaningOptions(deleteRetentionMs: 0, nowMs: 0)))
        let after = try allRecords(log)
        XCTAssertEqual(after, expectedAfterCleaning(before, activeBase: activeBase))
        XCTAssertEqual(result.firstDirtyOffset, activeBase)
        XCTAssertEqual(log.firstDirtyOffset, activeBase)
        XCTAssertGreaterThan(result.recordsRemoved, 0)
        XCTAssertEqual(log.segmentCount, 2, "the cleaned segments were merged into one")
        XCTAssertEqual(after.map(\.offset), after.map(\.offset).sorted(), "offsets stay in order")
        XCTAssertEqual(log.logEndOffset, Int64(before.count), "the log end does not move")

        // Nothing dirty now: a second pass does nothing.
        XCTAssertNil(try log.clean(using: map, options: CleaningOptions(deleteRetentionMs: 0, nowMs: 0)))

        // Appends continue, and a read at an offset inside a gap starts at the next record.
        try appendKeyed(log, [KeyedRecord(key: "key-1", value: "newest")])
        XCTAssertEqual(try allRecords(log).last.flatMap { string($0.value) }, "newest")
        let gapOffset = try XCTUnwrap((0..<activeBase).first { offset in !after.contains { $0.offset == offset } })
        let fromGap = try recordsOf(log.read(from: gapOffset, maxBytes: 1 << 20, maxOffset: .max))
        XCTAssertEqual(fromGap.first?.offset, after.first { $0.offset > gapOffset }?.offset)
    }

    func testHeadersTimestampsAndKeylessRecordsAreKept() throws {
        let fixture = try StorageFixture()
        let log = try fixture.log(config)
        var records: [KeyedRecord] = []
        for i in 0..<200 {
            records.append(
                KeyedRecord(
                    key: i % 7 == 0 ? nil : "k\(i % 10)", value: "value-\(i)",
                    headers: [RecordHeader(key: "h", value: Array("header-\(i)".utf8)), RecordHeader(key: "n", value: nil)]))
        }
        try appendKeyed(log, records, perBatch: 7)
        try log.roll()
        let before = try allRecords(log)
        try log.flush()  // the cleaner stops at the recovery point
        _ = try XCTUnwrap(log.clean(using: OffsetMap(bufferBytes: 1 << 16), options: .init(deleteRetentionMs: 0, nowMs: 0)))
        let after = try allRecords(log)
        XCTAssertEqual(after, expectedAfterCleaning(before, activeBase: Int64(before.count)))
        XCTAssertEqual(after.filter { $0.key == nil }.count, before.filter { $0.key == nil }.count)
        for record in after {
            let original = try XCTUnwrap(before.first { $0.offset == record.offset })
            XCTAssertEqual(record.timestamp, original.timestamp)
            XCTAssertEqual(record.headers, original.headers)
        }
        // Rebuilt batches carry the largest timestamp of what they kept, and valid CRCs.
        for header in try batchHeaders(log.read(from: 0, maxBytes: 1 << 20, maxOffset: .max)) {
            let kept = after.filter { $0.offset >= header.baseOffset && $0.offset <= header.lastOffset }
            XCTAssertEqual(header.maxTimestamp, kept.map(\.timestamp).max())
            XCTAssertEqual(Int(header.recordCount), kept.count)
        }
    }

    func testGzipBatchesAreCleanedAndStayGzip() throws {
        let fixture = try StorageFixture()
        let log = try fixture.log(config)
        try appendKeyed(log, versionedRecords(keys: 30, versions: 10), perBatch: 15, compression: .gzip)
        try log.roll()
        let before = try allRecords(log)
        try log.flush()  // the cleaner stops at the recovery point
        _ = try XCTUnwrap(log.clean(using: OffsetMap(bufferBytes: 1 << 16), options: .init(deleteRetentionMs: 0, nowMs: 0)))
        XCTAssertEqual(try allRecords(log), expectedAfterCleaning(before, activeBase: Int64(before.count)))
        let headers = try batchHeaders(log.read(from: 0, maxBytes: 1 << 20, maxOffset: .max))
        XCTAssertFalse(headers.isEmpty)
        XCTAssertTrue(headers.allSatisfy { $0.compression == .gzip }, "\(headers.map(\.compression))")
    }

    func testAFullMapCleansThePrefixItCoversAndTheNextPassGoesOn() throws {
        let fixture = try StorageFixture()
        let log = try fixture.log(config)
        // 400 distinct keys, each written twice; a map of 100 keys covers a fraction at a time.
        let records = (0..<800).map { KeyedRecord(key: "key-\($0 % 400)", value: "value-\($0)") }
        try appendKeyed(log, records)
        try log.roll()
        let before = try allRecords(log)
        let map = OffsetMap(bufferBytes: 112 * OffsetMap.slotSize)
        XCTAssertEqual(map.maxEntries, 100)

        try log.flush()  // the cleaner stops at the recovery point
        let first = try XCTUnwrap(log.clean(using: map, options: .init(deleteRetentionMs: 0, nowMs: 0)))
        XCTAssertTrue(first.mapFilled)
        XCTAssertGreaterThan(first.firstDirtyOffset, 0)
        XCTAssertLessThan(first.firstDirtyOffset, 800)
        // Whatever was cleaned, no key lost its latest value and nothing was doubled.
        let partial = try allRecords(log)
        XCTAssertEqual(Set(partial.map(\.offset)).count, partial.count)
        XCTAssertTrue(Set(expectedAfterCleaning(before, activeBase: 800).map(\.offset)).isSubset(of: partial.map(\.offset)))

        var passes = 1
        while try log.clean(using: map, options: .init(deleteRetentionMs: 0, nowMs: 0)) != nil { passes += 1 }
        XCTAssertGreaterThan(passes, 2)
        XCTAssertEqual(log.firstDirtyOffset, 800)
        XCTAssertEqual(try allRecords(log), expectedAfterCleaning(before, activeBase: 800))
    }

    func testTombstonesStayUntilDeleteRetentionHasPassed() throws {
        let fixture = try StorageFixture()
        let log = try fixture.log(config)
        var records = (0..<100).map { KeyedRecord(key: "key-\($0 % 20)", value: "value-\($0)") }
        records += (0..<5).map { KeyedRecord(key: "key-\($0)", value: nil) }
        try appendKeyed(log, records)
        try log.roll()
        let before = try allRecords(log)
        let newest = before.map(\.timestamp).max() ?? 0
        let map = OffsetMap(bufferBytes: 1 << 16)

        // One hour of delete retention, one minute after the writes: tombstones stay.
        let hour: Int64 = 3_600_000
        try log.flush()  // the cleaner stops at the recovery point
        _ = try XCTUnwrap(log.clean(using: map, options: .init(deleteRetentionMs: hour, nowMs: newest + 60_000)))
        let kept = try allRecords(log)
        XCTAssertEqual(kept, expectedAfterCleaning(before, activeBase: 105))
        XCTAssertEqual(kept.filter { $0.value == nil }.count, 5)
        XCTAssertFalse(log.cleanableStats(nowMs: newest + 60_000).tombstonesDue)
        XCTAssertTrue(log.cleanableStats(nowMs: newest + hour + 1).tombstonesDue)

        // Past the retention, a forced pass (nothing is dirty) removes them and their keys.
        _ = try XCTUnwrap(
            log.clean(using: map, options: .init(deleteRetentionMs: hour, nowMs: newest + hour + 1, force: true)))
        let after = try allRecords(log)
        XCTAssertEqual(after, expectedAfterCleaning(before, activeBase: 105, dropTombstones: true))
        XCTAssertEqual(after.count, 15)
        XCTAssertFalse(after.contains { string($0.key) == "key-0" })
    }

    func testReadsMadeBeforeASwapStillReadTheOldFiles() throws {
        let fixture = try StorageFixture()
        let log = try fixture.log(config)
        try appendKeyed(log, versionedRecords())
        let planned = try log.read(from: 0, maxBytes: 256 << 20, maxOffset: .max)
        let before = try recordsOf(planned)
        try log.flush()  // the cleaner stops at the recovery point
        _ = try XCTUnwrap(log.clean(using: OffsetMap(bufferBytes: 1 << 16), options: .init(deleteRetentionMs: 0, nowMs: 0)))
        XCTAssertNotEqual(try allRecords(log), before)
        // The slices hold the replaced (now deleted) files open: they read what they planned.
        XCTAssertEqual(try recordsOf(planned), before)
        let names = try FileManager.default.contentsOfDirectory(atPath: fixture.partitionDir)
        XCTAssertFalse(names.contains { $0.hasSuffix(".deleted") || $0.hasSuffix(".swap") || $0.hasSuffix(".cleaned") })
    }

    func testConcurrentReadersSeeAnOrderedConsistentStreamWhileCleaningRuns() throws {
        let fixture = try StorageFixture()
        let log = try fixture.log(config)
        try appendKeyed(log, versionedRecords())
        let latest = Dictionary(
            try allRecords(log).map { (string($0.key) ?? "", string($0.value) ?? "") }, uniquingKeysWith: { $1 })
        let done = ManagedAtomicFlag()
        let problems = ProblemList()
        let reads = ManagedCounter()
        let reader = Thread {
            while !done.isSet {
                do {
                    let records = try allRecords(log)
                    let offsets = records.map(\.offset)
                    if offsets != offsets.sorted() || Set(offsets).count != offsets.count {
                        problems.add("offsets out of order or doubled")
                    }
                    var seen: [String: String] = [:]
                    for record in records { seen[string(record.key) ?? ""] = string(record.value) }
                    if seen != latest { problems.add("a key's latest value is missing") }
                    reads.increment()
                } catch {
                    problems.add("\(error)")
                }
            }
        }
        reader.start()
        let map = OffsetMap(bufferBytes: 40 * OffsetMap.slotSize)  // many small passes
        try log.flush()  // the cleaner stops at the recovery point
        while try log.clean(using: map, options: .init(deleteRetentionMs: 0, nowMs: 0)) != nil {}
        let deadline = Date().addingTimeInterval(30)
        while reads.value < 3 && Date() < deadline { usleep(1000) }
        done.set()
        while !reader.isFinished { usleep(1000) }
        XCTAssertEqual(problems.all, [])
        XCTAssertGreaterThan(reads.value, 0)
    }

    func testTheCleanerLeavesSegmentsAboveTheRecoveryPointAlone() throws {
        let fixture = try StorageFixture(flushMode: .interval(milliseconds: 3_600_000))
        // Nothing syncs the rolled segments behind the test's back.
        fixture.manager.backgroundFlusher.stop()
        let log = try fixture.log(config)
        try appendKeyed(log, versionedRecords())
        try log.flush()
        let synced = log.recoveryPoint
        // More versions of the same keys, not yet synced: they supersede the synced records.
        try appendKeyed(log, versionedRecords(versions: 6))
        let activeBase = log.segmentBaseOffsets.last ?? 0
        XCTAssertEqual(log.recoveryPoint, synced)
        XCTAssertLessThan(synced, activeBase, "the later rolled segments are not synced")
        let before = try allRecords(log)
        /// Offset and value of each record (compact failure messages).
        func summary(_ records: [Record]) -> [String] { records.map { "\($0.offset)=\(string($0.value) ?? "nil")" } }
        let bases = log.segmentBaseOffsets
        // Segments holding records past the recovery point, with their file sizes.
        let unsynced = try zip(bases, bases.dropFirst()).filter { $0.1 > synced }.map { pair in
            (pair.0, try DiskSurgery.contents(fixture.segmentPath(pair.0)).count)
        }
        XCTAssertGreaterThan(unsynced.count, 1)
        // The first segment not wholly synced (the one active at the flush).
        let bound = try XCTUnwrap(unsynced.first?.0)
        XCTAssertGreaterThan(bound, 0)

        // Only what lies below the recovery point is cleaned: the records a crash can still take
        // back are not used to remove older ones, and their segments are not rewritten.
        let map = OffsetMap(bufferBytes: 1 << 20)
        let options = CleaningOptions(deleteRetentionMs: 0, nowMs: 0)
        while try log.clean(using: map, options: options) != nil {}
        XCTAssertEqual(log.firstDirtyOffset, bound)
        for (base, size) in unsynced {
            XCTAssertTrue(log.segmentBaseOffsets.contains(base), "segment \(base) above the recovery point was replaced")
            XCTAssertEqual(
                try DiskSurgery.contents(fixture.segmentPath(base)).count, size,
                "segment \(base) above the recovery point \(synced) was rewritten")
        }
        XCTAssertEqual(
            summary(try allRecords(log).filter { $0.offset >= bound }), summary(before.filter { $0.offset >= bound }))
        XCTAssertEqual(
            summary(try allRecords(log).filter { $0.offset < bound }),
            summary(expectedAfterCleaning(before.filter { $0.offset < bound }, activeBase: bound)))

        // Once synced, everything below the active segment is cleaned.
        try log.flush()
        XCTAssertGreaterThanOrEqual(log.recoveryPoint, activeBase)
        while try log.clean(using: map, options: options) != nil {}
        XCTAssertEqual(log.firstDirtyOffset, activeBase)
        XCTAssertEqual(summary(try allRecords(log)), summary(expectedAfterCleaning(before, activeBase: activeBase)))
    }

    func testTheCheckpointSurvivesARestart() throws {
        let fixture = try StorageFixture()
        let log = try fixture.log(config)
        try appendKeyed(log, versionedRecords())
        let activeBase = log.segmentBaseOffsets.last ?? 0
        try log.flush()  // the cleaner stops at the recovery point
        _ = try XCTUnwrap(log.clean(using: OffsetMap(bufferBytes: 1 << 16), options: .init(deleteRetentionMs: 0, nowMs: 0)))
        let cleaned = try allRecords(log)
        try fixture.manager.shutdown()
        let manager = try fixture.reopen(config: config)
        let reopened = try XCTUnwrap(manager.log(for: fixture.topicPartition))
        XCTAssertEqual(reopened.firstDirtyOffset, activeBase)
        XCTAssertEqual(try allRecords(reopened), cleaned)
        XCTAssertNil(try reopened.clean(using: OffsetMap(bufferBytes: 1 << 16), options: .init(deleteRetentionMs: 0, nowMs: 0)))
    }

    func testAFailingLogIsMarkedUncleanableAndTheOthersAreStillCleaned() throws {
        let fixture = try StorageFixture()
        let broken = try fixture.manager.createLog(TopicPartition("broken", 0), config: config)
        let healthy = try fixture.manager.createLog(TopicPartition("healthy", 0), config: config)
        try appendKeyed(broken, versionedRecords())
        try appendKeyed(healthy, versionedRecords(keys: 10, versions: 5))
        try healthy.roll()
        // Flip a byte inside a record of the broken log's first segment: its CRC no longer matches.
        let path = fixture.logDir + "/broken-0/" + DiskSurgery.segmentName(0, ".log")
        let position = try DiskSurgery.batchPositions(path)[1].position + 70
        let original = try DiskSurgery.contents(path)[position]
        try DiskSurgery.overwrite(path, at: position, with: [original ^ 0xFF])

        let cleaner = LogCleaner(
            logManager: fixture.manager, settings: CleanerSettings(), logger: fixture.capture.logger(),
            policy: { _ in CompactionPolicy(minCleanableRatio: 0.5, deleteRetentionMs: 0) }, clock: { 0 })
        let map = OffsetMap(bufferBytes: 1 << 16)
        try healthy.flush()  // the cleaner stops at the recovery point
        try broken.flush()  // the cleaner stops at the recovery point
        var cleaned: [TopicPartition] = []
        for _ in 0..<4 {
            if let (tp, _) = cleaner.cleanDirtiest(using: map) { cleaned.append(tp) }
        }
        XCTAssertEqual(cleaned, [TopicPartition("healthy", 0)])
        XCTAssertEqual(Array(cleaner.uncleanablePartitions.keys), [TopicPartition("broken", 0)])
        XCTAssertTrue(cleaner.uncleanablePartitions.values.first?.contains("CRC") ?? false)
        XCTAssertEqual(fixture.capture.all.filter { $0.level == .error }.count, 1, "logged once")
        // The broken log still serves what it has and still takes appends.
        try appendKeyed(broken, [KeyedRecord(key: "x", value: "y")])
        XCTAssertEqual(healthy.firstDirtyOffset, 50)
    }

    func testTheCleanerThreadsCleanInTheBackgroundAndStop() throws {
        let fixture = try StorageFixture()
        let log = try fixture.log(config)
        try appendKeyed(log, versionedRecords())
        try log.flush()  // the cleaner stops at the recovery point
        let activeBase = log.segmentBaseOffsets.last ?? 0
        let cleaner = LogCleaner(
            logManager: fixture.manager, settings: CleanerSettings(threads: 2, dedupeBufferBytes: 1 << 20, backoffMs: 10),
            logger: fixture.capture.logger(),
            policy: { _ in CompactionPolicy(minCleanableRatio: 0.5, deleteRetentionMs: 0) }, clock: { 0 })
        try cleaner.start()
        let deadline = Date().addingTimeInterval(60)
        while log.firstDirtyOffset < activeBase && Date() < deadline { usleep(10_000) }
        cleaner.stop()
        XCTAssertEqual(log.firstDirtyOffset, activeBase)
        XCTAssertGreaterThan(log.lastCleanedMs, -1)
    }
}

/// Problems found on another thread.
final class ProblemList: Sendable {
    private let items = Mutex<[String]>([])
    var all: [String] { items.withLock { $0 } }
    func add(_ problem: String) { items.withLock { $0.append(problem) } }
}
