import Foundation
import TernStorage
import TernTestSupport
import TernWire
import XCTest

final class PartitionLogAppendReadTests: XCTestCase {
    /// Small segments and a dense index, so a few hundred records span many segments.
    let smallConfig = LogConfig(segmentBytes: 2048, indexIntervalBytes: 256)

    func testAppendAssignsConsecutiveOffsetsAndLeaderEpoch() throws {
        let fixture = try StorageFixture()
        let log = try fixture.log()
        XCTAssertEqual(log.logEndOffset, 0)
        XCTAssertEqual(log.logStartOffset, 0)

        // Two batches in one produce payload: one append, consecutive offsets.
        var bytes = makeBatch(count: 3) + makeBatch(count: 2)
        let result = try appendProduced(log, &bytes, leaderEpoch: 7)
        XCTAssertEqual(result.baseOffset, 0)
        XCTAssertEqual(result.lastOffset, 4)
        XCTAssertEqual(result.logEndOffset, 5)
        XCTAssertEqual(result.logStartOffset, 0)
        XCTAssertEqual(log.logEndOffset, 5)
        XCTAssertEqual(log.sizeInBytes, Int64(bytes.count))

        // The caller's buffer was patched in place, and the patch left the CRC valid.
        let headers = try bytes.withUnsafeBytes { raw in
            try RecordBatchValidator.validateProduced(raw).map(\.header)
        }
        XCTAssertEqual(headers.map(\.baseOffset), [0, 3])
        XCTAssertEqual(headers.map(\.partitionLeaderEpoch), [7, 7])

        let read = try log.read(from: 0, maxBytes: 1 << 20, maxOffset: .max)
        XCTAssertEqual(try read.readBytes(), bytes, "stored exactly as produced, with the assigned offsets")
        XCTAssertEqual(read.logEndOffset, 5)

        var next = makeBatch(count: 4)
        let second = try appendProduced(log, &next)
        XCTAssertEqual(second.baseOffset, 5)
        XCTAssertEqual(second.lastOffset, 8)
        XCTAssertEqual(second.logEndOffset, 9)
    }

    func testRoundTripAcrossManySegments() throws {
        let fixture = try StorageFixture()
        let log = try fixture.log(smallConfig)
        let counts = (0..<120).map { 1 + $0 % 5 }
        let appended = try appendBatches(log, counts: counts, valueSize: 20)
        let total = Int64(counts.reduce(0, +))
        XCTAssertEqual(log.logEndOffset, total)
        XCTAssertGreaterThan(log.segmentCount, 5, "small segmentBytes rolls many segments")

        // Consume the whole log the way a consumer does: read, advance past the last record.
        var offset: Int64 = 0
        var records: [Record] = []
        while offset < log.logEndOffset {
            let result = try log.read(from: offset, maxBytes: 700, maxOffset: .max)
            let batch = try recordsOf(result).filter { $0.offset >= offset }
            XCTAssertFalse(batch.isEmpty, "progress at \(offset)")
            records += batch
            offset = (batch.last?.offset ?? offset) + 1
        }
        XCTAssertEqual(records.map(\.offset), Array(0..<total))
        let expected = appended.flatMap { expectedRecords($0.records, baseOffset: $0.baseOffset) }
        XCTAssertEqual(records, expected)
    }

    func testReadAtEveryOffsetStartsWithTheBatchHoldingIt() throws {
        let fixture = try StorageFixture()
        let log = try fixture.log(smallConfig)
        let appended = try appendBatches(log, counts: (0..<60).map { 1 + $0 % 4 }, valueSize: 30)
        for batch in appended {
            for offset in batch.baseOffset...batch.lastOffset {
                let result = try log.read(from: offset, maxBytes: 1, maxOffset: .max)
                let headers = try batchHeaders(result)
                XCTAssertEqual(headers.count, 1, "maxBytes 1 still returns one whole batch (offset \(offset))")
                XCTAssertEqual(headers.first?.baseOffset, batch.baseOffset, "offset \(offset)")
                XCTAssertEqual(headers.first?.lastOffset, batch.lastOffset, "offset \(offset)")
                XCTAssertEqual(result.byteCount, batch.size)
            }
        }
    }

    func testReadRespectsMaxBytesWithWholeBatches() throws {
        let fixture = try StorageFixture()
        let log = try fixture.log()
        let appended = try appendBatches(log, counts: Array(repeating: 2, count: 20), valueSize: 100)
        let size = appended[0].size
        XCTAssertTrue(appended.allSatisfy { $0.size == size })

        let three = try log.read(from: 0, maxBytes: size * 3, maxOffset: .max)
        XCTAssertEqual(try batchHeaders(three).map(\.baseOffset), [0, 2, 4])
        XCTAssertEqual(three.byteCount, size * 3)

        // Not quite enough room for the fourth batch: whole batches only.
        let partial = try log.read(from: 0, maxBytes: size * 4 - 1, maxOffset: .max)
        _ = try recordsOf(partial)
        XCTAssertLessThanOrEqual(partial.byteCount, size * 4 - 1)
        XCTAssertGreaterThanOrEqual(partial.byteCount, size * 3)

        // A first batch larger than maxBytes still comes back whole, alone.
        let one = try log.read(from: 5, maxBytes: 10, maxOffset: .max)
        XCTAssertEqual(try batchHeaders(one).map(\.baseOffset), [4])
        XCTAssertEqual(one.byteCount, size)
    }

    func testReadStopsBeforeMaxOffset() throws {
        let fixture = try StorageFixture()
        let log = try fixture.log(smallConfig)
        let appended = try appendBatches(log, counts: Array(repeating: 3, count: 30), valueSize: 10)
        let highWatermark = appended[10].baseOffset + 1  // inside batch 10
        var offset: Int64 = 0
        var seen: [Int64] = []
        while true {
            let result = try log.read(from: offset, maxBytes: 1 << 20, maxOffset: highWatermark)
            let headers = try batchHeaders(result)
            if headers.isEmpty { break }
            XCTAssertTrue(headers.allSatisfy { $0.baseOffset < highWatermark })
            seen += headers.map(\.baseOffset)
            offset = (headers.last?.lastOffset ?? offset) + 1
        }
        XCTAssertEqual(seen, appended[0...10].map(\.baseOffset), "up to the batch holding maxOffset - 1")

        let atBound = try log.read(from: appended[11].baseOffset, maxBytes: 1 << 20, maxOffset: appended[11].baseOffset)
        XCTAssertTrue(atBound.slices.isEmpty)
        XCTAssertEqual(atBound.byteCount, 0)
        XCTAssertEqual(atBound.logEndOffset, log.logEndOffset)
    }

    func testReadOutOfRange() throws {
        let fixture = try StorageFixture()
        let log = try fixture.log()
        try appendBatches(log, counts: [3, 3])

        let end = try log.read(from: 6, maxBytes: 1000, maxOffset: .max)
        XCTAssertTrue(end.slices.isEmpty, "reading at the log end is empty, not an error")
        XCTAssertEqual(end.logEndOffset, 6)
        XCTAssertEqual(end.logStartOffset, 0)

        let above = assertStorageError(.offsetOutOfRange) { try log.read(from: 7, maxBytes: 1000, maxOffset: .max) }
        XCTAssertTrue(above?.message.contains("7") ?? false, above?.message ?? "")
        XCTAssertTrue(above?.message.contains("orders") ?? false, above?.message ?? "")
        assertStorageError(.offsetOutOfRange) { try log.read(from: -1, maxBytes: 1000, maxOffset: .max) }
    }

    func testReadBelowLogStartOffsetIsOutOfRange() throws {
        let fixture = try StorageFixture()
        let log = try fixture.log(smallConfig)
        let appended = try appendBatches(log, counts: Array(repeating: 2, count: 40), valueSize: 40)
        let start = appended[25].baseOffset
        try log.advanceLogStartOffset(to: start)
        XCTAssertEqual(log.logStartOffset, start)
        assertStorageError(.offsetOutOfRange) { try log.read(from: start - 1, maxBytes: 1000, maxOffset: .max) }
        let first = try log.read(from: start, maxBytes: 1, maxOffset: .max)
        XCTAssertEqual(try batchHeaders(first).first?.baseOffset, start)
        XCTAssertEqual(first.logStartOffset, start)
    }

    func testReadSliceKeepsTheFileOpenAfterTheLogIsDeleted() throws {
        let fixture = try StorageFixture()
        let log = try fixture.log()
        try appendBatches(log, counts: [5])
        let result = try log.read(from: 0, maxBytes: 1 << 20, maxOffset: .max)
        XCTAssertGreaterThanOrEqual(result.slices.first?.file.descriptor ?? -1, 0)
        try fixture.manager.deleteLog(fixture.topicPartition)
        XCTAssertEqual(try recordsOf(result).count, 5, "the slice's file stays readable while referenced")
    }

    func testAppendRefusesBatchLargerThanMaxMessageBytes() throws {
        let fixture = try StorageFixture()
        let log = try fixture.log(LogConfig(maxMessageBytes: 200))
        var big = makeBatch(count: 1, valueSize: 300)
        let error = assertStorageError(.messageTooLarge) { try appendProduced(log, &big) }
        XCTAssertTrue(error?.message.contains("200") ?? false, error?.message ?? "")
        XCTAssertEqual(log.logEndOffset, 0)
        XCTAssertEqual(log.sizeInBytes, 0)
        var small = makeBatch(count: 1, valueSize: 10)
        XCTAssertEqual(try appendProduced(log, &small).baseOffset, 0)
    }

    func testRollsBySize() throws {
        let fixture = try StorageFixture()
        let config = LogConfig(segmentBytes: 1000)
        let log = try fixture.log(config)
        let appended = try appendBatches(log, counts: Array(repeating: 2, count: 30), valueSize: 50)
        XCTAssertGreaterThan(log.segmentCount, 3)
        // Each segment holds at most segmentBytes (no single batch here is larger), and every
        // segment file is named by the offset of its first batch.
        let names = try FileManager.default.contentsOfDirectory(atPath: fixture.partitionDir)
            .filter { $0.hasSuffix(".log") }.sorted()
        XCTAssertEqual(names.count, log.segmentCount)
        for name in names {
            let path = fixture.partitionDir + "/" + name
            XCTAssertLessThanOrEqual(try DiskSurgery.size(path), config.segmentBytes, name)
            let first = try DiskSurgery.batchPositions(path).first
            XCTAssertEqual(first.map { DiskSurgery.segmentName($0.header.baseOffset, ".log") }, name)
        }
        XCTAssertEqual(log.sizeInBytes, Int64(appended.reduce(0) { $0 + $1.size }))
    }

    /// Asserts every segment but the active one is at most `limit` bytes unless it holds a single
    /// batch, and that each is named by its first batch's offset; returns the segment sizes.
    @discardableResult
    private func assertSegmentsWithin(
        _ fixture: StorageFixture, limit: Int, file: StaticString = #filePath, line: UInt = #line
    ) throws -> [Int] {
        let names = try FileManager.default.contentsOfDirectory(atPath: fixture.partitionDir)
            .filter { $0.hasSuffix(".log") }.sorted()
        var sizes: [Int] = []
        for name in names {
            let path = fixture.partitionDir + "/" + name
            let batches = try DiskSurgery.batchPositions(path)
            let size = try DiskSurgery.size(path)
            sizes.append(size)
            if batches.count > 1 {
                XCTAssertLessThanOrEqual(size, limit, "\(name) holds \(batches.count) batches", file: file, line: line)
            }
            XCTAssertEqual(
                batches.first.map { DiskSurgery.segmentName($0.header.baseOffset, ".log") }, name, file: file,
                line: line)
        }
        return sizes
    }

    func testMultiBatchAppendsRollBeforeOverflowing() throws {
        // A produce request carrying several batches per partition (as `tern produce` sends):
        // the log rolls before each batch that would overflow, not once per request.
        let fixture = try StorageFixture()
        let config = LogConfig(segmentBytes: 3000)
        let log = try fixture.log(config)
        var expected: [Int64] = []
        for request in 0..<12 {
            var bytes: [UInt8] = []
            for _ in 0..<8 { bytes += makeBatch(count: 4, valueSize: 150 + request) }
            let result = try appendProduced(log, &bytes)
            XCTAssertEqual(result.lastOffset - result.baseOffset + 1, 32)
            expected.append(result.baseOffset)
        }
        XCTAssertEqual(log.logEndOffset, 12 * 32)
        let sizes = try assertSegmentsWithin(fixture, limit: config.segmentBytes)
        XCTAssertGreaterThan(sizes.count, 12, "a request's batches span segments: \(sizes)")
        let records = try recordsOf(log.read(from: 0, maxBytes: 1 << 24, maxOffset: .max))
        XCTAssertEqual(records.map(\.offset), Array(0..<(12 * 32)))
        // And the indexes of every segment land on real batches after a restart.
        try fixture.manager.shutdown()
        let reopened = try XCTUnwrap(fixture.reopen(config: config).log(for: fixture.topicPartition))
        for base in expected {
            XCTAssertEqual(try batchHeaders(reopened.read(from: base, maxBytes: 1, maxOffset: .max)).first?.baseOffset, base)
        }
        try fixture.manager.shutdown()
    }

    func testOnlyASingleOversizedBatchExceedsSegmentBytes() throws {
        let fixture = try StorageFixture()
        let config = LogConfig(segmentBytes: 1024)
        let log = try fixture.log(config)
        var bytes = makeBatch(count: 2, valueSize: 100) + makeBatch(count: 1, valueSize: 3000)
            + makeBatch(count: 2, valueSize: 100)
        try appendProduced(log, &bytes)
        let sizes = try assertSegmentsWithin(fixture, limit: config.segmentBytes)
        XCTAssertEqual(sizes.count, 3, "small | oversized alone | small: \(sizes)")
        XCTAssertGreaterThan(sizes[1], config.segmentBytes)
        XCTAssertEqual(log.logEndOffset, 5)
    }

    func testFollowerAppendsRollBeforeOverflowing() throws {
        let fixture = try StorageFixture()
        let config = LogConfig(segmentBytes: 2000)
        let log = try fixture.log(config)
        var bytes: [UInt8] = []
        for i in 0..<10 { bytes += makeBatch(count: 3, baseOffset: Int64(i * 3), valueSize: 120) }
        XCTAssertEqual(try log.appendAsFollower(bytes).logEndOffset, 30)
        let sizes = try assertSegmentsWithin(fixture, limit: config.segmentBytes)
        XCTAssertGreaterThan(sizes.count, 2, "\(sizes)")
        XCTAssertEqual(try log.read(from: 0, maxBytes: 1 << 20, maxOffset: .max).readBytes(), bytes)
    }

    func testRollsByAge() throws {
        let fixture = try StorageFixture()
        let log = try fixture.log(LogConfig(segmentMs: 5))
        try appendBatches(log, counts: [1])
        XCTAssertEqual(log.segmentCount, 1)
        for _ in 0..<3 {
            usleep(15_000)
            try appendBatches(log, counts: [1])
        }
        XCTAssertEqual(log.segmentCount, 4, "each append after segmentMs starts a new segment")
        XCTAssertEqual(log.logEndOffset, 4)
        let all = try recordsOf(log.read(from: 0, maxBytes: 1 << 20, maxOffset: .max))
        XCTAssertEqual(all.first?.offset, 0)
    }

    func testConfigUpdateAppliesToLaterAppends() throws {
        let fixture = try StorageFixture()
        let log = try fixture.log()
        try appendBatches(log, counts: Array(repeating: 1, count: 5), valueSize: 100)
        XCTAssertEqual(log.segmentCount, 1)
        fixture.manager.updateConfig(fixture.topicPartition, config: LogConfig(segmentBytes: 300))
        try appendBatches(log, counts: Array(repeating: 1, count: 5), valueSize: 100)
        XCTAssertGreaterThan(log.segmentCount, 3)
    }

    func testAppendAsFollower() throws {
        let fixture = try StorageFixture()
        let log = try fixture.log()
        let leaderBytes = makeBatch(count: 3, baseOffset: 0) + makeBatch(count: 2, baseOffset: 3)
        let result = try log.appendAsFollower(leaderBytes)
        XCTAssertEqual(result.baseOffset, 0)
        XCTAssertEqual(result.lastOffset, 4)
        XCTAssertEqual(result.logEndOffset, 5)
        XCTAssertEqual(log.logEndOffset, 5)
        XCTAssertEqual(try log.read(from: 0, maxBytes: 1 << 20, maxOffset: .max).readBytes(), leaderBytes)

        assertStorageError(.invalidBatch) { try log.appendAsFollower(makeBatch(count: 1, baseOffset: 4)) }
        var corrupt = makeBatch(count: 1, baseOffset: 5)
        corrupt[corrupt.count - 1] ^= 0xFF
        assertStorageError(.invalidBatch) { try log.appendAsFollower(corrupt) }
        XCTAssertEqual(log.logEndOffset, 5)
        XCTAssertEqual(try log.appendAsFollower(makeBatch(count: 1, baseOffset: 5)).logEndOffset, 6)
    }

    func testConcurrentReadersDuringAppends() throws {
        let fixture = try StorageFixture()
        let log = try fixture.log(smallConfig)
        try appendBatches(log, counts: [1])
        let done = ManagedAtomicFlag()
        let group = DispatchGroup()
        let failures = ManagedCounter()
        for _ in 0..<2 {
            DispatchQueue.global().async(group: group) {
                while !done.isSet {
                    let end = log.logEndOffset
                    do {
                        let result = try log.read(from: max(0, end - 3), maxBytes: 4096, maxOffset: .max)
                        let bytes = try result.readBytes()
                        try bytes.withUnsafeBytes { raw in
                            var position = 0
                            while position < raw.count {
                                position += try RecordBatchValidator.validateStored(raw, at: position).totalSize
                            }
                        }
                    } catch {
                        failures.increment()
                    }
                }
            }
        }
        try appendBatches(log, counts: Array(repeating: 2, count: 200), valueSize: 16)
        done.set()
        group.wait()
        XCTAssertEqual(failures.value, 0)
    }
}
