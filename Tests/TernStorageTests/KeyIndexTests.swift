import Foundation
import TernStorage
import TernTestSupport
import TernWire
import XCTest

/// The per-partition key index: `lastOffset(ofKey:)` and `readKey(...)` against a model of what
/// was appended, across rolls, reopening, damaged index files, hash collisions, truncation and
/// compaction.
final class KeyIndexTests: XCTestCase {
    /// Small segments and a dense offset index, so a few hundred records span many segments.
    let config = LogConfig(segmentBytes: 2048, indexIntervalBytes: 256, keyIndexEnabled: true)

    /// Appends `count` records in batches of `perBatch`, the key of record i being `key(i)`;
    /// returns the offsets of each key, in order.
    @discardableResult
    func appendKeyed(
        _ log: PartitionLog, count: Int, perBatch: Int = 5, start: Int = 0, key: (Int) -> String,
        model: inout [String: [Int64]]
    ) throws -> [Int64] {
        var offsets: [Int64] = []
        var i = start
        while i < start + count {
            let n = min(perBatch, start + count - i)
            let records = (i..<i + n).map { TestRecord(key: Array(key($0).utf8), value: Array("value-\($0)".utf8)) }
            var bytes = makeBatch(records: records)
            let result = try appendProduced(log, &bytes)
            for (j, record) in (i..<i + n).enumerated() {
                model[key(record), default: []].append(result.baseOffset + Int64(j))
                offsets.append(result.baseOffset + Int64(j))
            }
            i += n
        }
        return offsets
    }

    /// Every key's last offset and full history match the model; an absent key has none.
    func assertMatches(
        _ log: PartitionLog, _ model: [String: [Int64]], file: StaticString = #filePath, line: UInt = #line
    ) throws {
        for (key, offsets) in model.sorted(by: { $0.key < $1.key }) {
            XCTAssertEqual(
                try log.lastOffset(ofKey: Array(key.utf8)), offsets.last, "last of \(key)", file: file, line: line)
            XCTAssertEqual(try history(log, key), offsets, "history of \(key)", file: file, line: line)
        }
        XCTAssertNil(try log.lastOffset(ofKey: Array("absent".utf8)), file: file, line: line)
        XCTAssertEqual(try history(log, "absent"), [], file: file, line: line)
    }

    /// A key's offsets read in pages of about `maxBytes`, following `nextOffset`, checking that
    /// each page holds whole batches whose records of that key are the ones listed.
    func history(_ log: PartitionLog, _ key: String, from: Int64 = 0, maxBytes: Int = 300) throws -> [Int64] {
        var offsets: [Int64] = []
        var next = from
        var pages = 0
        while next < log.logEndOffset {
            let result = try log.readKey(Array(key.utf8), from: next, maxOffset: .max, maxBytes: maxBytes)
            let bytes = try ReadResult(
                slices: result.slices, byteCount: result.byteCount, logStartOffset: 0, logEndOffset: 0
            ).readBytes()
            let records = try decodeRecords(bytes).filter { $0.key == Array(key.utf8) && $0.offset >= next }
            XCTAssertEqual(records.map(\.offset), result.offsets, "the page's records of \(key) are the listed ones")
            XCTAssertGreaterThan(result.nextOffset, next, "progress")
            offsets += result.offsets
            next = result.nextOffset
            pages += 1
            XCTAssertLessThan(pages, 10_000)
        }
        return offsets
    }

    func testLastOffsetAndHistoryAcrossRollsSealingAndReopen() throws {
        let fixture = try StorageFixture()
        let log = try fixture.log(config)
        var model: [String: [Int64]] = [:]
        try appendKeyed(log, count: 400, key: { "key-\($0 % 7)" }, model: &model)
        XCTAssertGreaterThan(log.segmentCount, 5)
        // Before any index file is written: sealed segments answer from memory.
        try assertMatches(log, model)
        XCTAssertEqual(try history(log, "key-3", from: 200), model["key-3"]!.filter { $0 >= 200 })

        log.sealKeyIndexes()
        for base in log.segmentBaseOffsets.dropLast() {
            XCTAssertTrue(FileManager.default.fileExists(atPath: fixture.segmentPath(base, ".keyindex")), "\(base)")
        }
        try assertMatches(log, model)

        try fixture.manager.shutdown()
        let reopened = try XCTUnwrap(fixture.reopen(config: config).log(for: fixture.topicPartition))
        XCTAssertEqual(reopened.isKeyIndexed, true)
        try assertMatches(reopened, model)
        // Appends after reopening extend the histories.
        try appendKeyed(reopened, count: 50, start: 400, key: { "key-\($0 % 7)" }, model: &model)
        try assertMatches(reopened, model)
    }

    func testCollidingHashesNeverAnswerForAnotherKey() throws {
        let fixture = try StorageFixture()
        // No hash bits kept: every key has the same hash, so only the byte comparison tells them apart.
        var colliding = config
        colliding.keyIndexHashBits = 0
        let log = try fixture.log(colliding)
        var model: [String: [Int64]] = [:]
        try appendKeyed(log, count: 200, key: { "k\($0 % 3)" }, model: &model)
        try assertMatches(log, model)
        log.sealKeyIndexes()
        try assertMatches(log, model)
        // A prefix of a key, and a key with one more byte, are other keys.
        XCTAssertNil(try log.lastOffset(ofKey: Array("k".utf8)))
        XCTAssertNil(try log.lastOffset(ofKey: Array("k10".utf8)))
        XCTAssertNil(try log.lastOffset(ofKey: []))
    }

    func testDamagedOrMissingKeyIndexFilesAreRebuilt() throws {
        let fixture = try StorageFixture()
        let log = try fixture.log(config)
        var model: [String: [Int64]] = [:]
        try appendKeyed(log, count: 300, key: { "key-\($0 % 5)" }, model: &model)
        try fixture.manager.shutdown()
        let bases = log.segmentBaseOffsets
        XCTAssertGreaterThan(bases.count, 4)
        // One file cut short, one missing, one with an entry flipped (its CRC no longer matches).
        let cut = fixture.segmentPath(bases[0], ".keyindex")
        try DiskSurgery.truncate(cut, to: try DiskSurgery.size(cut) - 3)
        try FileManager.default.removeItem(atPath: fixture.segmentPath(bases[1], ".keyindex"))
        let flipped = fixture.segmentPath(bases[2], ".keyindex")
        var bytes = try DiskSurgery.contents(flipped)
        bytes[45] ^= 0xFF
        try DiskSurgery.write(bytes, to: flipped)

        let manager = try fixture.reopen(config: config)
        XCTAssertEqual(manager.recoveryStats.keyIndexesRebuilt, 2, "the cut and the missing file, checked on open")
        let reopened = try XCTUnwrap(manager.log(for: fixture.topicPartition))
        // The flipped entry is caught when its block is read: the answer comes from the segment.
        try assertMatches(reopened, model)
        XCTAssertTrue(fixture.capture.warnings.contains { $0.message.contains("is damaged") })
        reopened.sealKeyIndexes()
        XCTAssertNotEqual(try DiskSurgery.contents(flipped), bytes, "the damaged file was written again")
        try assertMatches(reopened, model)
        try fixture.manager.shutdown()
        XCTAssertEqual(try fixture.reopen(config: config).recoveryStats.keyIndexesRebuilt, 0)
    }

    func testUncleanStopRebuildsTheActiveIndexFromTheLog() throws {
        let fixture = try StorageFixture()
        let log = try fixture.log(config)
        var model: [String: [Int64]] = [:]
        try appendKeyed(log, count: 120, key: { "key-\($0 % 4)" }, model: &model)
        try log.flush()
        try fixture.manager.shutdown()
        try fixture.removeCleanMarker()
        // A torn batch at the end of the active segment, as a crash mid-write leaves it.
        let active = fixture.segmentPath(log.segmentBaseOffsets.last!)
        try DiskSurgery.append(active, Array(makeBatch(count: 3).prefix(40)))
        let reopened = try XCTUnwrap(fixture.reopen(config: config).log(for: fixture.topicPartition))
        try assertMatches(reopened, model)
    }

    func testTruncationForgetsTheCutRecords() throws {
        let fixture = try StorageFixture()
        let log = try fixture.log(config)
        var model: [String: [Int64]] = [:]
        try appendKeyed(log, count: 200, key: { "key-\($0 % 3)" }, model: &model)
        log.sealKeyIndexes()
        // Into a sealed segment: it becomes the active one again.
        let cut = log.segmentBaseOffsets[2] + 3
        try log.truncate(to: cut)
        let end = log.logEndOffset
        for key in model.keys { model[key] = model[key]!.filter { $0 < end } }
        try assertMatches(log, model)
        try appendKeyed(log, count: 30, start: 200, key: { "key-\($0 % 3)" }, model: &model)
        try assertMatches(log, model)
    }

    func testCompactionKeepsOnlyRetainedRecordsAndTheTrueLastOffset() throws {
        let fixture = try StorageFixture()
        let log = try fixture.log(config)
        var model: [String: [Int64]] = [:]
        try appendKeyed(log, count: 300, key: { "key-\($0 % 6)" }, model: &model)
        try log.roll()
        try appendKeyed(log, count: 4, start: 300, key: { "key-\($0 % 2)" }, model: &model)
        try log.flush()  // the cleaner stops at the recovery point
        _ = try XCTUnwrap(
            log.clean(using: OffsetMap(bufferBytes: 1 << 16), options: .init(deleteRetentionMs: 0, nowMs: 0)))
        // Below the active segment only each key's latest record there stays (the active
        // segment is never cleaned, nor does it supersede anything: the map stops below it).
        let activeBase = log.segmentBaseOffsets.last!
        var retained: [String: [Int64]] = [:]
        for (key, offsets) in model {
            let old = offsets.filter { $0 < activeBase }
            let recent = offsets.filter { $0 >= activeBase }
            retained[key] = Array(old.suffix(1)) + recent
        }
        try assertMatches(log, retained)
        for base in log.segmentBaseOffsets.dropLast() {
            XCTAssertTrue(FileManager.default.fileExists(atPath: fixture.segmentPath(base, ".keyindex")), "\(base)")
        }
        try fixture.manager.shutdown()
        let reopened = try XCTUnwrap(fixture.reopen(config: config).log(for: fixture.topicPartition))
        try assertMatches(reopened, retained)
    }

    func testEnablingOnExistingDataAndClearErrors() throws {
        let fixture = try StorageFixture()
        var plain = config
        plain.keyIndexEnabled = false
        let log = try fixture.log(plain)
        var model: [String: [Int64]] = [:]
        try appendKeyed(log, count: 150, key: { "key-\($0 % 4)" }, model: &model)
        XCTAssertFalse(log.isKeyIndexed)
        assertStorageError(.keyIndexDisabled) { _ = try log.lastOffset(ofKey: Array("key-1".utf8)) }
        assertStorageError(.keyIndexDisabled) {
            _ = try log.readKey(Array("key-1".utf8), from: 0, maxOffset: .max, maxBytes: 100)
        }
        log.update(config: config)
        XCTAssertTrue(log.isKeyIndexed)
        try assertMatches(log, model)
        try appendKeyed(log, count: 40, start: 150, key: { "key-\($0 % 4)" }, model: &model)
        try assertMatches(log, model)
        assertStorageError(.offsetOutOfRange) {
            _ = try log.readKey(Array("key-1".utf8), from: -1, maxOffset: .max, maxBytes: 100)
        }
        assertStorageError(.offsetOutOfRange) {
            _ = try log.readKey(Array("key-1".utf8), from: log.logEndOffset + 1, maxOffset: .max, maxBytes: 100)
        }
        // A bound below the log end (the high watermark) hides what lies past it.
        let bounded = try log.readKey(Array("key-1".utf8), from: 0, maxOffset: 20, maxBytes: 1 << 20)
        XCTAssertEqual(bounded.offsets, model["key-1"]!.filter { $0 < 20 })
        XCTAssertEqual(bounded.nextOffset, 20)
        XCTAssertGreaterThan(log.keyIndexMemoryBytes, 0)
    }

    func testGzipBatchesAndFollowerAppendsAreIndexed() throws {
        let fixture = try StorageFixture()
        let log = try fixture.log(config)
        var model: [String: [Int64]] = [:]
        // Gzip batches, as a producer with compression sends them.
        var next: Int64 = 0
        for b in 0..<30 {
            var builder = RecordBatchBuilder(baseTimestamp: defaultTestTimestamp)
            for j in 0..<4 {
                let key = "g\((b * 4 + j) % 5)"
                builder.append(key: Array(key.utf8), value: Array("v\(b)-\(j)".utf8), headers: [], timestamp: nil)
                model[key, default: []].append(next + Int64(j))
            }
            var bytes = builder.finish(compression: .gzip)
            let result = try appendProduced(log, &bytes)
            XCTAssertEqual(result.baseOffset, next)
            next = result.logEndOffset
        }
        // Batches copied from a leader carry their own offsets (with a gap).
        next += 10
        for b in 0..<10 {
            let records = (0..<3).map { j in TestRecord(key: Array("f\((b + j) % 4)".utf8), value: Array("x".utf8)) }
            for (j, record) in records.enumerated() {
                model[String(decoding: record.key!, as: UTF8.self), default: []].append(next + Int64(j))
            }
            let result = try log.appendAsFollower(makeBatch(records: records, baseOffset: next))
            next = result.logEndOffset
        }
        try assertMatches(log, model)
        log.sealKeyIndexes()
        try fixture.manager.shutdown()
        let reopened = try XCTUnwrap(fixture.reopen(config: config).log(for: fixture.topicPartition))
        try assertMatches(reopened, model)
    }
}
