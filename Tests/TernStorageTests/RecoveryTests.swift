import Foundation
import TernStorage
import TernTestSupport
import TernWire
import XCTest

/// Reopening logs after clean and unclean stops, with the log files damaged in the ways a crash
/// or a bad disk leaves them.
final class RecoveryTests: XCTestCase {
    let config = LogConfig(segmentBytes: 1500, indexIntervalBytes: 200)

    /// A log of 30 batches of 3 records over several segments, shut down, then reopened as if
    /// the broker had crashed (no clean-shutdown marker). `damage` gets the last segment's path
    /// and its batches before the reopen.
    private func reopenAfterCrash(
        _ fixture: StorageFixture,
        damage: (_ path: String, _ batches: [(position: Int, header: RecordBatchHeader)]) throws -> Void
    ) throws -> (appended: [AppendedBatch], log: PartitionLog) {
        let log = try fixture.log(config)
        let appended = try appendBatches(log, counts: Array(repeating: 3, count: 30), valueSize: 25)
        XCTAssertGreaterThan(log.segmentCount, 2)
        try fixture.manager.shutdown()
        try fixture.removeCleanMarker()
        let lastBase = try XCTUnwrap(
            FileManager.default.contentsOfDirectory(atPath: fixture.partitionDir)
                .filter { $0.hasSuffix(".log") }.compactMap { Int64($0.dropLast(4)) }.max())
        let path = fixture.segmentPath(lastBase)
        try damage(path, try DiskSurgery.batchPositions(path))
        let manager = try fixture.reopen(config: config)
        XCTAssertFalse(manager.openedCleanly)
        return (appended, try XCTUnwrap(manager.log(for: fixture.topicPartition)))
    }

    /// Checks the log ends at `end`, reads back every record below it, and takes new appends at `end`.
    private func assertRecovered(
        _ fixture: StorageFixture, _ log: PartitionLog, end: Int64, file: StaticString = #filePath, line: UInt = #line
    ) throws {
        XCTAssertEqual(log.logEndOffset, end, "log end after recovery", file: file, line: line)
        var offset: Int64 = 0
        var count: Int64 = 0
        while offset < end {
            let records = try recordsOf(log.read(from: offset, maxBytes: 4096, maxOffset: .max), file: file, line: line)
                .filter { $0.offset >= offset }
            guard let last = records.last else { return XCTFail("no records at \(offset)", file: file, line: line) }
            XCTAssertEqual(records.first?.offset, offset, file: file, line: line)
            count += Int64(records.count)
            offset = last.offset + 1
        }
        XCTAssertEqual(count, end, file: file, line: line)
        var bytes = makeBatch(count: 2)
        let result = try appendProduced(log, &bytes)
        XCTAssertEqual(result.baseOffset, end, "appends continue at the recovered end", file: file, line: line)
        XCTAssertEqual(log.logEndOffset, end + 2, file: file, line: line)
        let tail = try recordsOf(log.read(from: end, maxBytes: 4096, maxOffset: .max), file: file, line: line)
        XCTAssertEqual(tail.map(\.offset), [end, end + 1], file: file, line: line)
        // And the appended data survives another (clean) restart.
        try fixture.manager.shutdown()
        let again = try XCTUnwrap(
            fixture.reopen(config: config).log(for: fixture.topicPartition), file: file, line: line)
        XCTAssertEqual(again.logEndOffset, end + 2, file: file, line: line)
        try fixture.manager.shutdown()
    }

    /// Checks one truncation warning names the file, position and offset, with partition metadata.
    private func assertTruncationWarning(
        _ fixture: StorageFixture, path: String, position: Int, offset: Int64, file: StaticString = #filePath,
        line: UInt = #line
    ) {
        let warnings = fixture.capture.warnings.filter { $0.message.contains("truncating") }
        XCTAssertEqual(warnings.count, 1, "\(fixture.capture.warnings.map(\.message))", file: file, line: line)
        guard let warning = warnings.first else { return }
        XCTAssertTrue(warning.message.contains(path), warning.message, file: file, line: line)
        XCTAssertTrue(warning.message.contains("position \(position)"), warning.message, file: file, line: line)
        XCTAssertTrue(warning.message.contains("offset \(offset)"), warning.message, file: file, line: line)
        XCTAssertEqual(warning.metadata["tern_topic"], "orders", file: file, line: line)
        XCTAssertEqual(warning.metadata["tern_partition"], "3", file: file, line: line)
    }

    // MARK: clean

    func testCleanReopenRestoresStateWithoutRecovery() throws {
        let fixture = try StorageFixture()
        let log = try fixture.log(config)
        let appended = try appendBatches(log, counts: Array(repeating: 3, count: 30), valueSize: 25)
        let before = (log.logEndOffset, log.logStartOffset, log.sizeInBytes, log.segmentCount)
        let bytesBefore = try log.read(from: 0, maxBytes: 1 << 24, maxOffset: .max).readBytes()
        try fixture.manager.shutdown()
        XCTAssertTrue(FileManager.default.fileExists(atPath: fixture.logDir + "/.tern-clean-shutdown"))

        let manager = try fixture.reopen(config: config)
        XCTAssertTrue(manager.openedCleanly)
        XCTAssertFalse(
            FileManager.default.fileExists(atPath: fixture.logDir + "/.tern-clean-shutdown"),
            "the marker is removed once the logs are open, so a crash from here is detected")
        XCTAssertEqual(manager.recoveryStats.segmentsScanned, 0, "a clean start does not scan the data")
        XCTAssertLessThan(manager.recoveryStats.batchesChecked, 30 / 2, "only the tails after the last index entries")
        XCTAssertEqual(manager.recoveryStats.truncations, 0)
        let reopened = try XCTUnwrap(manager.log(for: fixture.topicPartition))
        XCTAssertEqual(
            (reopened.logEndOffset, reopened.logStartOffset, reopened.sizeInBytes, reopened.segmentCount).0, before.0)
        XCTAssertEqual(reopened.logStartOffset, before.1)
        XCTAssertEqual(reopened.sizeInBytes, before.2)
        XCTAssertEqual(reopened.segmentCount, before.3)
        XCTAssertEqual(reopened.recoveryPoint, before.0)
        XCTAssertEqual(try reopened.read(from: 0, maxBytes: 1 << 24, maxOffset: .max).readBytes(), bytesBefore)
        for batch in appended {
            let headers = try batchHeaders(reopened.read(from: batch.lastOffset, maxBytes: 1, maxOffset: .max))
            XCTAssertEqual(headers.first?.baseOffset, batch.baseOffset)
        }
        XCTAssertTrue(fixture.capture.warnings.isEmpty, "\(fixture.capture.warnings.map(\.message))")
        try assertRecovered(fixture, reopened, end: 90)
    }

    func testCleanReopenRebuildsBadIndexFiles() throws {
        let fixture = try StorageFixture()
        let log = try fixture.log(config)
        let appended = try appendBatches(log, counts: Array(repeating: 3, count: 30), valueSize: 25)
        try fixture.manager.shutdown()
        let bases = try FileManager.default.contentsOfDirectory(atPath: fixture.partitionDir)
            .filter { $0.hasSuffix(".index") }.compactMap { Int64($0.dropLast(6)) }.sorted()
        XCTAssertGreaterThan(bases.count, 2)
        // One index longer than expected (a partial entry), one shorter, one pointing past the
        // end of its log, one missing, and a time index of garbage.
        try DiskSurgery.append(fixture.segmentPath(bases[0], ".index"), [1, 2, 3])
        try DiskSurgery.truncate(fixture.segmentPath(bases[1], ".index"), to: 3)
        try DiskSurgery.append(fixture.segmentPath(bases[2], ".index"), [0, 0, 0, 9, 0x7F, 0, 0, 0])
        try FileManager.default.removeItem(atPath: fixture.segmentPath(bases[bases.count - 1], ".index"))
        try DiskSurgery.write(DiskSurgery.garbage(36), to: fixture.segmentPath(bases[0], ".timeindex"))

        let reopened = try XCTUnwrap(fixture.reopen(config: config).log(for: fixture.topicPartition))
        XCTAssertEqual(reopened.logEndOffset, 90)
        for batch in appended {
            for offset in [batch.baseOffset, batch.lastOffset] {
                let headers = try batchHeaders(reopened.read(from: offset, maxBytes: 1, maxOffset: .max))
                XCTAssertEqual(headers.first?.baseOffset, batch.baseOffset, "offset \(offset)")
            }
            XCTAssertEqual(try reopened.offsetForTimestamp(batch.records[0].timestamp ?? 0)?.offset, batch.baseOffset)
        }
        try assertRecovered(fixture, reopened, end: 90)
    }

    func testEmptySegmentFilesDoNotBreakOpening() throws {
        let fixture = try StorageFixture()
        let log = try fixture.log(config)
        try appendBatches(log, counts: Array(repeating: 3, count: 10), valueSize: 25)
        try fixture.manager.shutdown()
        // A crash right after a roll leaves an empty newest segment (and maybe empty indexes).
        try DiskSurgery.write([], to: fixture.segmentPath(30))
        try DiskSurgery.write([], to: fixture.segmentPath(30, ".index"))
        let clean = try XCTUnwrap(fixture.reopen(config: config).log(for: fixture.topicPartition))
        XCTAssertEqual(clean.logEndOffset, 30)
        try fixture.manager.shutdown()
        try fixture.removeCleanMarker()
        let unclean = try XCTUnwrap(fixture.reopen(config: config).log(for: fixture.topicPartition))
        XCTAssertEqual(unclean.logEndOffset, 30)
        try assertRecovered(fixture, unclean, end: 30)
    }

    func testZeroLengthOnlySegment() throws {
        let fixture = try StorageFixture()
        _ = try fixture.log(config)
        try fixture.manager.shutdown()
        try fixture.removeCleanMarker()
        XCTAssertEqual(try DiskSurgery.size(fixture.segmentPath(0)), 0)
        try DiskSurgery.write([0, 0, 0], to: fixture.segmentPath(0, ".index"))
        let log = try XCTUnwrap(fixture.reopen(config: config).log(for: fixture.topicPartition))
        XCTAssertEqual(log.logEndOffset, 0)
        try assertRecovered(fixture, log, end: 0)
    }

    // MARK: unclean

    func testTailCutMidBatch() throws {
        let fixture = try StorageFixture()
        var cut: (path: String, position: Int, offset: Int64) = ("", 0, 0)
        let (_, log) = try reopenAfterCrash(fixture) { path, batches in
            let last = try XCTUnwrap(batches.last)
            cut = (path, last.position, last.header.baseOffset)
            try DiskSurgery.truncate(path, to: last.position + last.header.totalSize / 2)
        }
        XCTAssertEqual(try DiskSurgery.size(cut.path), cut.position, "the torn batch is cut off the file")
        assertTruncationWarning(fixture, path: cut.path, position: cut.position, offset: cut.offset)
        try assertRecovered(fixture, log, end: cut.offset)
    }

    func testTailCutInsideTheHeader() throws {
        let fixture = try StorageFixture()
        var cut: (position: Int, offset: Int64) = (0, 0)
        let (_, log) = try reopenAfterCrash(fixture) { path, batches in
            let last = try XCTUnwrap(batches.last)
            cut = (last.position, last.header.baseOffset)
            try DiskSurgery.truncate(path, to: last.position + 30)
        }
        try assertRecovered(fixture, log, end: cut.offset)
    }

    func testTailOverwrittenWithGarbage() throws {
        let fixture = try StorageFixture()
        var cut: (path: String, position: Int, offset: Int64) = ("", 0, 0)
        let (_, log) = try reopenAfterCrash(fixture) { path, batches in
            let victim = batches[batches.count - 2]
            cut = (path, victim.position, victim.header.baseOffset)
            let size = try DiskSurgery.size(path)
            try DiskSurgery.overwrite(path, at: victim.position, with: DiskSurgery.garbage(size - victim.position))
        }
        assertTruncationWarning(fixture, path: cut.path, position: cut.position, offset: cut.offset)
        try assertRecovered(fixture, log, end: cut.offset)
    }

    func testCRCCorruptingByteFlipInLastBatch() throws {
        let fixture = try StorageFixture()
        var cut: (path: String, position: Int, offset: Int64) = ("", 0, 0)
        let (_, log) = try reopenAfterCrash(fixture) { path, batches in
            let last = try XCTUnwrap(batches.last)
            cut = (path, last.position, last.header.baseOffset)
            var bytes = try DiskSurgery.contents(path)
            bytes[last.position + RecordBatchHeader.size + 5] ^= 0x40
            try DiskSurgery.write(bytes, to: path)
        }
        assertTruncationWarning(fixture, path: cut.path, position: cut.position, offset: cut.offset)
        XCTAssertTrue(
            fixture.capture.warnings.contains { $0.message.lowercased().contains("crc") },
            "the reason names the CRC: \(fixture.capture.warnings.map(\.message))")
        try assertRecovered(fixture, log, end: cut.offset)
    }

    func testGarbageBatchLength() throws {
        let fixture = try StorageFixture()
        var cut: (path: String, position: Int, offset: Int64) = ("", 0, 0)
        let (_, log) = try reopenAfterCrash(fixture) { path, batches in
            let last = try XCTUnwrap(batches.last)
            cut = (path, last.position, last.header.baseOffset)
            try DiskSurgery.overwrite(
                path, at: last.position + RecordBatchHeader.Offset.batchLength, with: [0x7F, 0xFF, 0xFF, 0xFF])
        }
        assertTruncationWarning(fixture, path: cut.path, position: cut.position, offset: cut.offset)
        try assertRecovered(fixture, log, end: cut.offset)
    }

    func testNegativeAndTinyBatchLengths() throws {
        for length: [UInt8] in [[0xFF, 0xFF, 0xFF, 0xFF], [0, 0, 0, 0], [0, 0, 0, 10], [0x80, 0, 0, 0]] {
            let fixture = try StorageFixture()
            var cut: Int64 = 0
            let (_, log) = try reopenAfterCrash(fixture) { path, batches in
                let last = try XCTUnwrap(batches.last)
                cut = last.header.baseOffset
                try DiskSurgery.overwrite(path, at: last.position + RecordBatchHeader.Offset.batchLength, with: length)
            }
            try assertRecovered(fixture, log, end: cut)
        }
    }

    func testGarbageAfterTheLastBatchLosesNothing() throws {
        let fixture = try StorageFixture()
        var sizeBefore = 0
        var path = ""
        let (_, log) = try reopenAfterCrash(fixture) { p, _ in
            path = p
            sizeBefore = try DiskSurgery.size(p)
            try DiskSurgery.append(p, DiskSurgery.garbage(5000))
        }
        XCTAssertEqual(try DiskSurgery.size(path), sizeBefore)
        try assertRecovered(fixture, log, end: 90)
    }

    func testZeroFilledTail() throws {
        // What a filesystem may show after a crash: the size grew but the data never made it.
        let fixture = try StorageFixture()
        let (_, log) = try reopenAfterCrash(fixture) { path, _ in
            try DiskSurgery.append(path, [UInt8](repeating: 0, count: 4096))
        }
        try assertRecovered(fixture, log, end: 90)
    }

    func testOffsetsGoingBackwardsAreCut() throws {
        let fixture = try StorageFixture()
        var cut: Int64 = 0
        let (_, log) = try reopenAfterCrash(fixture) { path, batches in
            // A valid batch (good CRC) whose offsets repeat an earlier batch's.
            let last = try XCTUnwrap(batches.last)
            cut = last.header.lastOffset + 1
            var stale = makeBatch(count: 2)
            stale.withUnsafeMutableBytes {
                RecordBatchHeader.assign(baseOffset: last.header.baseOffset, partitionLeaderEpoch: 0, in: $0, at: 0)
            }
            try DiskSurgery.append(path, stale)
        }
        try assertRecovered(fixture, log, end: cut)
    }

    func testCrashWithoutShutdownRecoversFlushedData() throws {
        let fixture = try StorageFixture()
        let log = try fixture.log(config)
        try appendBatches(log, counts: Array(repeating: 3, count: 20), valueSize: 25)
        try log.flush()
        // Abandon the manager: no shutdown, no checkpoints, no marker.
        let manager = try fixture.reopen(config: config)
        XCTAssertFalse(manager.openedCleanly)
        let recovered = try XCTUnwrap(manager.log(for: fixture.topicPartition))
        XCTAssertGreaterThan(manager.recoveryStats.segmentsScanned, 0)
        XCTAssertEqual(manager.recoveryStats.batchesChecked, 20)
        try assertRecovered(fixture, recovered, end: 60)
    }

    func testRecoveryRebuildsIndexesOfTheTruncatedSegment() throws {
        let fixture = try StorageFixture()
        var cut: Int64 = 0
        var path = ""
        let (appended, log) = try reopenAfterCrash(fixture) { p, batches in
            path = p
            let last = try XCTUnwrap(batches.last)
            cut = last.header.baseOffset
            try DiskSurgery.truncate(p, to: last.position + 7)
        }
        // Every batch still readable by offset (index lookups land on real batch starts).
        for batch in appended where batch.lastOffset < cut {
            let headers = try batchHeaders(log.read(from: batch.lastOffset, maxBytes: 1, maxOffset: .max))
            XCTAssertEqual(headers.first?.baseOffset, batch.baseOffset)
        }
        try fixture.manager.shutdown()
        // The rewritten index only points at batch starts inside the file.
        let index = try DiskSurgery.contents(path.replacingOccurrences(of: ".log", with: ".index"))
        XCTAssertEqual(index.count % 8, 0)
        let starts = Set(try DiskSurgery.batchPositions(path).map(\.position))
        for entry in stride(from: 0, to: index.count, by: 8) {
            let position = index[(entry + 4)..<(entry + 8)].reduce(0) { $0 << 8 | Int($1) }
            XCTAssertTrue(starts.contains(position), "index entry \(entry / 8) → \(position)")
        }
    }
}
