import Foundation
import Logging
import TernStorage
import TernTestSupport
import TernWire
import XCTest

/// Recovery salvages instead of truncating: a corrupt batch with good batches after it loses only
/// itself (its bytes go to a `.corrupt` file, its offsets become a gap); only a torn tail of the
/// last segment is cut off.
final class SalvageTests: XCTestCase {
    let config = LogConfig(segmentBytes: 1500, indexIntervalBytes: 200)

    /// A log of 30 batches of 3 records over several segments, then a crash before any recovery
    /// checkpoint (every segment is scanned). `damage` gets the directory's segment paths, oldest
    /// first, before the reopen.
    private func crash(
        _ fixture: StorageFixture, damage: (_ segments: [String]) throws -> Void
    ) throws -> (appended: [AppendedBatch], log: PartitionLog) {
        let log = try fixture.log(config)
        let appended = try appendBatches(log, counts: Array(repeating: 3, count: 30), valueSize: 25)
        XCTAssertGreaterThan(log.segmentCount, 3)
        try fixture.manager.shutdown()
        try fixture.removeCleanMarker()
        try FileManager.default.removeItem(atPath: fixture.logDir + "/recovery-point-offset-checkpoint")
        try damage(try segmentPaths(fixture))
        let manager = try fixture.reopen(config: config)
        XCTAssertFalse(manager.openedCleanly)
        return (appended, try XCTUnwrap(manager.log(for: fixture.topicPartition)))
    }

    private func segmentPaths(_ fixture: StorageFixture) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: fixture.partitionDir).filter { $0.hasSuffix(".log") }
            .sorted().map { fixture.partitionDir + "/" + $0 }
    }

    private func corruptFiles(_ fixture: StorageFixture) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: fixture.partitionDir).filter { $0.hasSuffix(".corrupt") }
            .sorted()
    }

    /// Flips one byte inside the records of a batch (its header stays intact).
    private func flipPayloadByte(_ path: String, _ batch: (position: Int, header: RecordBatchHeader)) throws {
        var bytes = try DiskSurgery.contents(path)
        bytes[batch.position + RecordBatchHeader.size + batch.header.totalSize / 3] ^= 0x10
        try DiskSurgery.write(bytes, to: path)
    }

    /// Every record readable from the start, by offset.
    private func readAll(_ log: PartitionLog, file: StaticString = #filePath, line: UInt = #line) throws -> [Record] {
        var records: [Record] = []
        var offset = log.logStartOffset
        while offset < log.logEndOffset {
            let batch = try recordsOf(log.read(from: offset, maxBytes: 2048, maxOffset: .max), file: file, line: line)
                .filter { $0.offset >= offset }
            guard let last = batch.last else {
                XCTFail("nothing read at \(offset)", file: file, line: line)
                break
            }
            records += batch
            offset = last.offset + 1
        }
        return records
    }

    /// The log holds exactly the appended records of every batch not in `lost`, at their original
    /// offsets; a new append lands after the old end; both survive a clean restart.
    private func assertKept(
        _ fixture: StorageFixture, _ log: PartitionLog, _ appended: [AppendedBatch], lost: Set<Int64>,
        file: StaticString = #filePath, line: UInt = #line
    ) throws {
        var expected: [(Int64, [UInt8]?)] = []
        for batch in appended where !lost.contains(batch.baseOffset) {
            for (i, record) in batch.records.enumerated() {
                expected.append((batch.baseOffset + Int64(i), record.value))
            }
        }
        let end = appended.last.map { $0.lastOffset + 1 } ?? 0
        XCTAssertEqual(log.logEndOffset, end, "the log end stays after the last kept batch", file: file, line: line)
        let records = try readAll(log, file: file, line: line)
        XCTAssertEqual(records.map(\.offset), expected.map(\.0), file: file, line: line)
        XCTAssertEqual(records.map(\.value), expected.map(\.1), file: file, line: line)
        var bytes = makeBatch(count: 2)
        XCTAssertEqual(
            try appendProduced(log, &bytes).baseOffset, end, "new records never reuse offsets", file: file, line: line)
        try fixture.manager.shutdown()
        let again = try XCTUnwrap(
            fixture.reopen(config: config).log(for: fixture.topicPartition), file: file, line: line)
        XCTAssertEqual(
            try readAll(again, file: file, line: line).map(\.offset), expected.map(\.0) + [end, end + 1], file: file,
            line: line)
        try fixture.manager.shutdown()
    }

    /// One error line per region naming the file, the position and the lost offsets.
    private func assertReported(
        _ fixture: StorageFixture, _ regions: [(path: String, position: Int, lost: Range<Int64>)],
        file: StaticString = #filePath, line: UInt = #line
    ) {
        let errors = fixture.capture.all.filter { $0.level == .error && $0.message.contains("corrupt data") }
        XCTAssertEqual(errors.count, regions.count, "\(errors.map(\.message))", file: file, line: line)
        for (error, region) in zip(errors, regions) {
            XCTAssertTrue(error.message.contains(region.path), error.message, file: file, line: line)
            XCTAssertTrue(error.message.contains("position \(region.position)"), error.message, file: file, line: line)
            XCTAssertTrue(
                error.message.contains("offsets \(region.lost.lowerBound)..<\(region.lost.upperBound)"), error.message,
                file: file, line: line)
            XCTAssertEqual(error.metadata["tern_partition"], "3", file: file, line: line)
        }
    }

    func testFlippedByteMidSegmentLosesOnlyThatBatch() throws {
        for segment in [0, 1, -1] {  // the first segment, a middle one, the last one
            let fixture = try StorageFixture()
            var victim: (path: String, position: Int, header: RecordBatchHeader)?
            var original: [UInt8] = []
            let (appended, log) = try crash(fixture) { paths in
                let path = paths[segment < 0 ? paths.count - 1 : segment]
                let batches = try DiskSurgery.batchPositions(path)
                XCTAssertGreaterThan(batches.count, 2)
                let batch = batches[batches.count / 2]
                victim = (path, batch.position, batch.header)
                try flipPayloadByte(path, batch)
                original = Array(
                    try DiskSurgery.contents(path)[batch.position..<(batch.position + batch.header.totalSize)])
            }
            let bad = try XCTUnwrap(victim)
            try assertKept(fixture, log, appended, lost: [bad.header.baseOffset])
            let corrupt = try corruptFiles(fixture)
            let expectedName = (bad.path as NSString).lastPathComponent + ".\(bad.position).corrupt"
            XCTAssertEqual(corrupt, [expectedName], "segment \(segment)")
            XCTAssertEqual(try DiskSurgery.contents(fixture.partitionDir + "/" + expectedName), original)
            assertReported(fixture, [(bad.path, bad.position, bad.header.baseOffset..<(bad.header.lastOffset + 1))])
        }
    }

    /// `baseOffset` lies outside the CRC: a flipped bit moves a batch forward, leaving a gap that
    /// the next good batch fills. Only the moved batch is set aside; the batches after it keep
    /// their offsets (before, they all seemed to go backwards and were lost).
    func testABitFlippedForwardInABaseOffsetLosesOnlyThatBatch() throws {
        for segment in [0, -1] {  // an older segment, the last one
            let fixture = try StorageFixture()
            var victim: (path: String, position: Int, header: RecordBatchHeader)?
            let (appended, log) = try crash(fixture) { paths in
                let path = paths[segment < 0 ? paths.count - 1 : segment]
                let batches = try DiskSurgery.batchPositions(path)
                XCTAssertGreaterThan(batches.count, 2)
                let batch = batches[batches.count / 2]
                victim = (path, batch.position, batch.header)
                var bytes = try DiskSurgery.contents(path)
                // The lowest byte of the big-endian baseOffset: set a clear bit, so the batch moves forward.
                let low = batch.position + 7
                let bit = try XCTUnwrap([UInt8(0x10), 0x20, 0x40, 0x08].first { bytes[low] & $0 == 0 })
                bytes[low] |= bit
                try DiskSurgery.write(bytes, to: path)
            }
            let bad = try XCTUnwrap(victim)
            try assertKept(fixture, log, appended, lost: [bad.header.baseOffset])
            let expectedName = (bad.path as NSString).lastPathComponent + ".\(bad.position).corrupt"
            XCTAssertEqual(try corruptFiles(fixture), [expectedName], "segment \(segment)")
            assertReported(fixture, [(bad.path, bad.position, bad.header.baseOffset..<(bad.header.lastOffset + 1))])
        }
    }

    func testDamagedLengthFieldsResynchroniseOnTheNextGoodBatch() throws {
        let lengths: [[UInt8]] = [
            [0x7F, 0xFF, 0xFF, 0xFF], [0, 0, 0, 0], [0xFF, 0xFF, 0xFF, 0xF0], [0, 0, 0, 70], [0, 0, 3, 0],
        ]
        for length in lengths {
            let fixture = try StorageFixture()
            var lost: Int64 = -1
            let (appended, log) = try crash(fixture) { paths in
                let batches = try DiskSurgery.batchPositions(paths[1])
                let batch = batches[1]
                lost = batch.header.baseOffset
                try DiskSurgery.overwrite(
                    paths[1], at: batch.position + RecordBatchHeader.Offset.batchLength, with: length)
            }
            try assertKept(fixture, log, appended, lost: [lost])
            XCTAssertEqual(try corruptFiles(fixture).count, 1, "length \(length)")
        }
    }

    func testDamagedHeaderAndMagicResynchronise() throws {
        let fixture = try StorageFixture()
        var lost: Int64 = -1
        let (appended, log) = try crash(fixture) { paths in
            let batch = try DiskSurgery.batchPositions(paths[0])[2]
            lost = batch.header.baseOffset
            try DiskSurgery.overwrite(paths[0], at: batch.position + 4, with: DiskSurgery.garbage(20))
        }
        try assertKept(fixture, log, appended, lost: [lost])
    }

    func testSeveralCorruptBatchesInSeveralSegments() throws {
        let fixture = try StorageFixture()
        var lost: Set<Int64> = []
        var regions: [(String, Int, Range<Int64>)] = []
        let (appended, log) = try crash(fixture) { paths in
            for (segment, indexes) in [(0, [1, 3]), (2, [0]), (paths.count - 1, [1])] {
                let batches = try DiskSurgery.batchPositions(paths[segment])
                for i in indexes {
                    let batch = batches[i]
                    try flipPayloadByte(paths[segment], batch)
                    lost.insert(batch.header.baseOffset)
                    // Reported at the position in the file as found.
                    regions.append(
                        (paths[segment], batch.position, batch.header.baseOffset..<(batch.header.lastOffset + 1)))
                }
            }
        }
        try assertKept(fixture, log, appended, lost: lost)
        XCTAssertEqual(try corruptFiles(fixture).count, 4)
        assertReported(fixture, regions)
    }

    func testFakeBatchInsideARecordIsNotResumedAt() throws {
        // A producer can put a whole valid batch (good CRC, plausible offsets) inside a record
        // value. When the batch holding it is corrupt but its header intact, recovery resumes at
        // the position the header names, never at the fake inside it.
        let fixture = try StorageFixture()
        let log = try fixture.log(config)
        var appended = try appendBatches(log, counts: [3, 3], valueSize: 25)
        let fake = makeBatch(count: 2, baseOffset: 7, valueSize: 10)
        var carrier = makeBatch(records: [TestRecord(key: Array("k".utf8), value: [1, 2, 3] + fake + [4, 5])])
        let result = try appendProduced(log, &carrier)
        appended.append(
            AppendedBatch(
                baseOffset: result.baseOffset, lastOffset: result.lastOffset,
                records: [TestRecord(key: nil, value: nil)], size: carrier.count))
        appended += try appendBatches(log, counts: [3, 3], valueSize: 25)
        try fixture.manager.shutdown()
        try fixture.removeCleanMarker()
        // Corruption below a checkpointed recovery point is not looked for at start-up: drop it.
        try FileManager.default.removeItem(atPath: fixture.logDir + "/recovery-point-offset-checkpoint")
        let path = fixture.segmentPath(0)
        let batches = try DiskSurgery.batchPositions(path)
        XCTAssertEqual(batches.count, 5)
        // Flip a byte of the carrier's records before the fake batch.
        var bytes = try DiskSurgery.contents(path)
        bytes[batches[2].position + RecordBatchHeader.size + 2] ^= 0x01
        try DiskSurgery.write(bytes, to: path)
        let reopened = try XCTUnwrap(fixture.reopen(config: config).log(for: fixture.topicPartition))
        try assertKept(fixture, reopened, appended, lost: [result.baseOffset])
    }

    func testRecordsFullOfFakeHeadersCostBoundedWork() throws {
        // A record value packed with plausible batch headers (magic 2, lengths that fit, offsets
        // past the last good batch) whose CRCs are wrong, in a batch whose length field is then
        // destroyed: the byte-by-byte search checks each, within its budget, and resumes at the
        // real next batch.
        let fixture = try StorageFixture()
        let log = try fixture.log(LogConfig(segmentBytes: 1 << 20, indexIntervalBytes: 200))
        var appended = try appendBatches(log, counts: [3, 3], valueSize: 25)
        var fakes: [UInt8] = []
        for i in 0..<1000 {
            var fake = [UInt8](repeating: 0, count: RecordBatchHeader.size)
            fake.withUnsafeMutableBytes { raw in
                RecordBatchHeader.assign(baseOffset: 7 + Int64(i % 5), partitionLeaderEpoch: 0, in: raw, at: 0)
            }
            let length = UInt32(20_000 + i)
            for k in 0..<4 {
                fake[RecordBatchHeader.Offset.batchLength + k] = UInt8(truncatingIfNeeded: length >> (24 - 8 * k))
            }
            fake[RecordBatchHeader.Offset.magic] = 2
            fakes += fake
        }
        var carrier = makeBatch(records: [TestRecord(key: Array("k".utf8), value: fakes)])
        let result = try appendProduced(log, &carrier)
        appended.append(
            AppendedBatch(
                baseOffset: result.baseOffset, lastOffset: result.lastOffset,
                records: [TestRecord(key: nil, value: nil)],
                size: carrier.count))
        appended += try appendBatches(log, counts: [3, 3], valueSize: 25)
        try fixture.manager.shutdown()
        try fixture.removeCleanMarker()
        try FileManager.default.removeItem(atPath: fixture.logDir + "/recovery-point-offset-checkpoint")
        let path = fixture.segmentPath(0)
        let batches = try DiskSurgery.batchPositions(path)
        XCTAssertEqual(batches.count, 5)
        try DiskSurgery.overwrite(
            path, at: batches[2].position + RecordBatchHeader.Offset.batchLength, with: [0x00, 0x10, 0x00, 0x00])
        let started = Date()
        let reopened = try XCTUnwrap(fixture.reopen(config: config).log(for: fixture.topicPartition))
        XCTAssertLessThan(Date().timeIntervalSince(started), 30)
        try assertKept(fixture, reopened, appended, lost: [result.baseOffset])
    }

    func testCorruptTailOfAnOlderSegmentKeepsTheLaterSegments() throws {
        let fixture = try StorageFixture()
        var lost: Set<Int64> = []
        var segmentsBefore = 0
        let (appended, log) = try crash(fixture) { paths in
            segmentsBefore = paths.count
            let batches = try DiskSurgery.batchPositions(paths[1])
            let from = batches[batches.count - 2]
            for batch in batches.suffix(2) { lost.insert(batch.header.baseOffset) }
            let size = try DiskSurgery.size(paths[1])
            try DiskSurgery.overwrite(
                paths[1], at: from.position + 10, with: DiskSurgery.garbage(size - from.position - 10))
        }
        XCTAssertEqual(log.segmentCount, segmentsBefore)
        try assertKept(fixture, log, appended, lost: lost)
        XCTAssertEqual(try corruptFiles(fixture).count, 1)
    }

    func testCorruptRegionBeforeATornTailIsSalvagedAndTheTailCut() throws {
        // A corrupt batch mid-segment, then a torn last batch: the first is set aside, the torn
        // one is cut (nothing valid follows it), everything between is kept.
        let fixture = try StorageFixture()
        var lost: Set<Int64> = []
        let (appended, log) = try crash(fixture) { paths in
            let path = paths[paths.count - 1]
            let batches = try DiskSurgery.batchPositions(path)
            XCTAssertGreaterThan(batches.count, 2)
            try flipPayloadByte(path, batches[0])
            lost.insert(batches[0].header.baseOffset)
            let last = batches[batches.count - 1]
            lost.insert(last.header.baseOffset)
            try DiskSurgery.truncate(path, to: last.position + last.header.totalSize / 2)
        }
        // The torn batch's offsets are simply gone: the log ends before it.
        let tornBase = try XCTUnwrap(lost.max())
        XCTAssertEqual(log.logEndOffset, tornBase)
        let kept = appended.filter { $0.baseOffset < tornBase }
        try assertKept(fixture, log, kept, lost: lost)
        XCTAssertEqual(try corruptFiles(fixture).count, 1)
    }

    func testCorruptionRunningToTheEndOfTheLastSegmentIsATornTail() throws {
        let fixture = try StorageFixture()
        var cut: Int64 = 0
        let (appended, log) = try crash(fixture) { paths in
            let path = paths[paths.count - 1]
            let batches = try DiskSurgery.batchPositions(path)
            let victim = batches[batches.count - 2]
            cut = victim.header.baseOffset
            try flipPayloadByte(path, victim)
            try flipPayloadByte(path, batches[batches.count - 1])
        }
        XCTAssertEqual(log.logEndOffset, cut)
        try assertKept(fixture, log, appended.filter { $0.baseOffset < cut }, lost: [])
        XCTAssertEqual(try corruptFiles(fixture), [], "a torn tail is cut, not kept")
    }

    func testSalvageRepeatsSafelyAfterAnotherCrash() throws {
        let fixture = try StorageFixture()
        var lost: Int64 = -1
        let (appended, log) = try crash(fixture) { paths in
            let batch = try DiskSurgery.batchPositions(paths[0])[1]
            lost = batch.header.baseOffset
            try flipPayloadByte(paths[0], batch)
        }
        XCTAssertEqual(log.logEndOffset, appended.last.map { $0.lastOffset + 1 })
        // Crash again at once: nothing more is lost, no second region is found.
        let again = try XCTUnwrap(fixture.reopen(config: config).log(for: fixture.topicPartition))
        XCTAssertEqual(fixture.manager.recoveryStats.corruptRegions, 0)
        try assertKept(fixture, again, appended, lost: [lost])
        XCTAssertEqual(try corruptFiles(fixture).count, 1)
    }

    func testStatsCountTheRegions() throws {
        let fixture = try StorageFixture()
        var bytes: Int64 = 0
        _ = try crash(fixture) { paths in
            let batch = try DiskSurgery.batchPositions(paths[1])[1]
            bytes = Int64(batch.header.totalSize)
            try flipPayloadByte(paths[1], batch)
        }
        XCTAssertEqual(fixture.manager.recoveryStats.corruptRegions, 1)
        XCTAssertEqual(fixture.manager.recoveryStats.corruptBytes, bytes)
        XCTAssertEqual(fixture.manager.recoveryStats.truncations, 0)
        XCTAssertEqual(fixture.manager.recoveryStats.segmentsDeleted, 0)
    }
}
