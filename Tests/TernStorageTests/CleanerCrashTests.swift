import Foundation
import Synchronization
import TernTestSupport
import TernWire
import XCTest

@testable import TernStorage

/// A cleaning killed at each step of its swap: after a restart the log holds exactly what it held
/// before (the swap had not committed) or exactly the cleaned equivalent (it had), never a mix,
/// and no leftover files.
final class CleanerCrashTests: XCTestCase {
    let config = LogConfig(segmentBytes: 4096, indexIntervalBytes: 256)

    enum CrashPoint: CaseIterable {
        /// `.cleaned` files written and fsynced, nothing renamed.
        case cleanedWritten
        /// The swap info written and the index files renamed to `.swap`, the log not yet.
        case indexesRenamedToSwap
        /// `N.log.cleaned` renamed to `N.log.swap`: the commit point.
        case committed
        /// Committed, and the first old segment's log renamed to `.deleted` (its indexes not).
        case oldSegmentsPartlyRenamed
        /// Every old file renamed to `.deleted`, the new index files in place, the log still `.swap`.
        case indexesInPlaceLogStillSwap
        /// Everything in place; `.deleted` files and the swap info not yet removed.
        case deletedFilesLeft
    }

    func testEveryCrashPointRecoversToTheOldOrTheCleanedLog() throws {
        for point in CrashPoint.allCases {
            try checkCrash(at: point)
        }
    }

    private func checkCrash(at point: CrashPoint) throws {
        let fixture = try StorageFixture(function: "crash\(point)")
        let log = try fixture.log(config)
        var records: [KeyedRecord] = []
        for version in 0..<15 { records += (0..<40).map { KeyedRecord(key: "key-\($0)", value: "v\(version)-\($0)") } }
        try appendKeyed(log, records)
        try log.flush()  // the cleaner stops at the recovery point
        let before = try allRecords(log)
        let activeBase = log.segmentBaseOffsets.last ?? 0
        log.update(config: LogConfig(segmentBytes: 64 * 1024, indexIntervalBytes: 256))  // one merged group

        let map = OffsetMap(bufferBytes: 1 << 16)
        let options = CleaningOptions(deleteRetentionMs: 0, nowMs: 0)
        let plan = try XCTUnwrap(log.planCleaning(using: map, options: options, shouldStop: { false }))
        let group = plan.sources
        XCTAssertGreaterThan(group.count, 1, "the group merges segments")
        var cleaner = SegmentCleaner(
            directory: log.directory, topicPartition: log.topicPartition, map: map, options: options,
            indexIntervalBytes: config.indexIntervalBytes)
        _ = try cleaner.clean(group, shouldStop: { false })
        try fixture.manager.shutdown()

        let dir = log.directory
        let base = group[0].baseOffset
        let end = group[group.count - 1].nextOffset
        func path(_ offset: Int64, _ suffix: String) -> String { dir + "/" + DiskSurgery.segmentName(offset, suffix) }
        func move(_ from: String, _ to: String) throws { try FileManager.default.moveItem(atPath: from, toPath: to) }
        let committed: Bool
        switch point {
        case .cleanedWritten:
            committed = false
        case .indexesRenamedToSwap:
            try DiskSurgery.write(Array("\(end)\n".utf8), to: path(base, ".swapinfo"))
            try move(path(base, ".index.cleaned"), path(base, ".index.swap"))
            try move(path(base, ".timeindex.cleaned"), path(base, ".timeindex.swap"))
            committed = false
        case .committed, .oldSegmentsPartlyRenamed, .indexesInPlaceLogStillSwap, .deletedFilesLeft:
            try DiskSurgery.write(Array("\(end)\n".utf8), to: path(base, ".swapinfo"))
            for suffix in [".index", ".timeindex", ".log"] { try move(path(base, suffix + ".cleaned"), path(base, suffix + ".swap")) }
            if point == .oldSegmentsPartlyRenamed {
                try move(path(base, ".log"), path(base, ".log.deleted"))
            }
            if point == .indexesInPlaceLogStillSwap || point == .deletedFilesLeft {
                for source in group {
                    for suffix in [".log", ".index", ".timeindex"] where FileManager.default.fileExists(atPath: path(source.baseOffset, suffix)) {
                        try move(path(source.baseOffset, suffix), path(source.baseOffset, suffix + ".deleted"))
                    }
                }
                try move(path(base, ".index.swap"), path(base, ".index"))
                try move(path(base, ".timeindex.swap"), path(base, ".timeindex"))
                if point == .deletedFilesLeft { try move(path(base, ".log.swap"), path(base, ".log")) }
            }
            committed = true
        }
        try fixture.removeCleanMarker()  // as after kill -9

        let manager = try fixture.reopen(config: config)
        let reopened = try XCTUnwrap(manager.log(for: fixture.topicPartition))
        let expected =
            committed
            ? before.filter { record in
                guard record.offset >= base && record.offset < end else { return true }
                return expectedAfterCleaning(before, activeBase: activeBase).contains { $0.offset == record.offset }
            } : before
        XCTAssertEqual(try allRecords(reopened), expected, "crash point \(point)")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir).filter {
            $0.hasSuffix(".cleaned") || $0.hasSuffix(".swap") || $0.hasSuffix(".deleted") || $0.hasSuffix(".swapinfo")
        }
        XCTAssertEqual(leftovers, [], "crash point \(point)")
        // The log works on: it takes appends and a full cleaning reaches the fully compacted state.
        try appendKeyed(reopened, [KeyedRecord(key: "key-0", value: "after")])
        try reopened.roll()
        try reopened.flush()  // the cleaner stops at the recovery point
        _ = try reopened.clean(using: map, options: options)
        let final = try allRecords(reopened)
        XCTAssertEqual(final.count, 40, "crash point \(point)")
        XCTAssertEqual(final.last.flatMap { string($0.value) }, "after")
        try manager.shutdown()
    }

    /// A cleaning whose output needs several groups (each merging several segments), "crashed"
    /// at the commit point of each swap in turn: a copy of the directory taken there, opened as
    /// after `kill -9`, holds the groups swapped so far and the committing one cleaned, the rest
    /// as before, with no leftover files.
    func testACrashAtEachSwapOfAMultiGroupCleaningRecoversToTheGroupsCommittedSoFar() throws {
        let fixture = try StorageFixture()
        let log = try fixture.log(LogConfig(segmentBytes: 1500, indexIntervalBytes: 256))
        // 300 keys written 3 times: the cleaned output (300 records) needs several segments.
        var records: [KeyedRecord] = []
        for version in 0..<3 { records += (0..<300).map { KeyedRecord(key: "key-\($0)", value: "v\(version)-\($0)") } }
        try appendKeyed(log, records)
        try log.roll()
        let before = try allRecords(log)
        let activeBase = try XCTUnwrap(log.segmentBaseOffsets.last)
        let cleanedAll = expectedAfterCleaning(before, activeBase: activeBase)
        log.update(config: LogConfig(segmentBytes: 6000, indexIntervalBytes: 256))

        // At each swap's commit fsync: copy the directory (the crash) and note the range committing.
        let snapshots = Mutex<[(path: String, base: Int64, end: Int64)]>([])
        let root = fixture.logDir
        let dir = log.directory
        log.swapWillSync.withLock {
            $0 = {
                let copy = root + "-crash-\(snapshots.withLock { $0.count })"
                let info = (try? FileManager.default.contentsOfDirectory(atPath: dir))?.first {
                    $0.hasSuffix(".swapinfo")
                }
                let base = info.flatMap { Int64($0.dropLast(".swapinfo".count)) } ?? -1
                let end =
                    (try? String(contentsOfFile: dir + "/" + (info ?? ""), encoding: .utf8))
                    .flatMap { Int64($0.trimmingCharacters(in: .whitespacesAndNewlines)) } ?? -1
                try? FileManager.default.copyItem(atPath: root, toPath: copy)
                snapshots.withLock { $0.append((copy, base, end)) }
            }
        }
        let map = OffsetMap(bufferBytes: 1 << 16)
        try log.flush()  // the cleaner stops at the recovery point
        let result = try XCTUnwrap(log.clean(using: map, options: CleaningOptions(deleteRetentionMs: 0, nowMs: 0)))
        XCTAssertEqual(try allRecords(log), cleanedAll)
        let taken = snapshots.withLock { $0 }
        XCTAssertGreaterThanOrEqual(taken.count, 2, "several groups")
        XCTAssertEqual(taken.count, result.segmentsWritten)
        XCTAssertGreaterThan(result.segmentsReplaced, result.segmentsWritten, "groups merge several segments")
        try fixture.manager.shutdown()

        var committedEnd: Int64 = 0
        for (i, snapshot) in taken.enumerated() {
            defer { try? FileManager.default.removeItem(atPath: snapshot.path) }
            XCTAssertEqual(snapshot.base, committedEnd, "swap \(i) starts where the one before ended")
            committedEnd = snapshot.end
            try? FileManager.default.removeItem(atPath: snapshot.path + "/.tern-clean-shutdown")
            let manager = try LogManager(logDirs: [snapshot.path], flushMode: .sync, logger: fixture.capture.logger())
            let reopened = try XCTUnwrap(manager.log(for: fixture.topicPartition))
            let expected = before.filter { record in
                record.offset >= committedEnd || cleanedAll.contains { $0.offset == record.offset }
            }
            XCTAssertEqual(try allRecords(reopened), expected, "crash at swap \(i)")
            let partitionDir = snapshot.path + "/" + fixture.topicPartition.description
            let leftovers = try FileManager.default.contentsOfDirectory(atPath: partitionDir).filter {
                $0.hasSuffix(".cleaned") || $0.hasSuffix(".swap") || $0.hasSuffix(".deleted")
                    || $0.hasSuffix(".swapinfo")
            }
            XCTAssertEqual(leftovers, [], "crash at swap \(i)")
            try manager.shutdown()
        }
    }
}
