import TernTestSupport
import TernWire
import XCTest

final class RecordBatchDecoderTests: XCTestCase {
    typealias O = RecordBatchHeader.Offset

    /// Three batches as a log would hold them: offsets 100...102, 103, 104...105.
    private func log() -> (bytes: [UInt8], sizes: [Int], records: [Record]) {
        let first = testRecords(count: 3)
        let second = [TestRecord(key: nil, value: nil, headers: [RecordHeader(key: "h", value: [1])])]
        let third = [TestRecord(key: "a", value: "x"), TestRecord(key: "b", value: nil, timestamp: 5)]
        let batches = [
            makeBatch(records: first, baseOffset: 100), makeBatch(records: second, baseOffset: 103),
            makeBatch(records: third, baseOffset: 104, baseTimestamp: 1),
        ]
        let records =
            expectedRecords(first, baseOffset: 100) + expectedRecords(second, baseOffset: 103)
            + expectedRecords(third, baseOffset: 104, baseTimestamp: 1)
        return (batches.flatMap { $0 }, batches.map(\.count), records)
    }

    func testDecodesEveryBatchWithAbsoluteOffsets() throws {
        let (bytes, _, expected) = log()
        var records: [Record] = []
        let consumed = try RecordBatchDecoder.decode(bytes, into: &records)
        XCTAssertEqual(consumed, bytes.count)
        XCTAssertEqual(records, expected)
    }

    func testForEachRecordLocatesFieldsInTheFetchedBytesWithoutCopying() throws {
        let (bytes, _, expected) = log()
        var seen: [Record] = []
        var sharedStorage = true
        let consumed = try RecordBatchDecoder.forEachRecord(in: bytes) { storage, layout in
            // Uncompressed batches are described in place: the storage is the fetched array itself.
            sharedStorage = sharedStorage && storage.withUnsafeBufferPointer { a in
                bytes.withUnsafeBufferPointer { b in a.baseAddress == b.baseAddress }
            }
            seen.append(
                Record(
                    offset: layout.offset, timestamp: layout.timestamp, key: layout.key.map { Array(storage[$0]) },
                    value: layout.value.map { Array(storage[$0]) }, headers: layout.headers))
        }
        XCTAssertEqual(consumed, bytes.count)
        XCTAssertEqual(seen, expected)
        XCTAssertTrue(sharedStorage, "uncompressed records are reported as ranges of the input array")
    }

    func testForEachRecordReportsGzipRecordsAsRangesOfTheDecompressedBytes() throws {
        var builder = RecordBatchBuilder(baseTimestamp: 1000)
        for i in 0..<50 { builder.append(key: Array("k\(i)".utf8), value: Array(repeating: UInt8(i), count: 40)) }
        let batch = builder.finish(compression: .gzip)
        var values: [[UInt8]] = []
        var keys: [String] = []
        try RecordBatchDecoder.forEachRecord(in: batch) { storage, layout in
            if let key = layout.key { keys.append(String(decoding: storage[key], as: UTF8.self)) }
            if let value = layout.value { values.append(Array(storage[value])) }
        }
        XCTAssertEqual(keys, (0..<50).map { "k\($0)" })
        XCTAssertEqual(values, (0..<50).map { Array(repeating: UInt8($0), count: 40) })
    }

    func testAppendsToExistingRecords() throws {
        let (bytes, _, expected) = log()
        var records = [Record(offset: -5, timestamp: 0, key: nil, value: nil)]
        try RecordBatchDecoder.decode(bytes, into: &records)
        XCTAssertEqual(records.count, expected.count + 1)
        XCTAssertEqual(records.first?.offset, -5)
    }

    func testMinOffsetSkipsEarlierRecordsAndBatches() throws {
        let (bytes, _, expected) = log()
        for minOffset: Int64 in [0, 100, 101, 102, 103, 104, 105, 106, 1000] {
            XCTAssertEqual(
                try decodeRecords(bytes, minOffset: minOffset), expected.filter { $0.offset >= minOffset },
                "minOffset \(minOffset)")
        }
    }

    func testStopsCleanlyAtAPartialTrailingBatch() throws {
        let (bytes, sizes, expected) = log()
        let completeBeforeLast = sizes[0] + sizes[1]
        for cut in completeBeforeLast..<bytes.count {
            var records: [Record] = []
            let consumed = try RecordBatchDecoder.decode(Array(bytes.prefix(cut)), into: &records)
            XCTAssertEqual(consumed, completeBeforeLast, "cut at \(cut)")
            XCTAssertEqual(records, Array(expected.prefix(4)), "cut at \(cut)")
        }
        // Cutting anywhere inside the first batch yields nothing, without error.
        for cut in 0..<sizes[0] {
            var records: [Record] = []
            XCTAssertEqual(try RecordBatchDecoder.decode(Array(bytes.prefix(cut)), into: &records), 0)
            XCTAssertEqual(records, [])
        }
    }

    func testRangeSelectsPartOfABuffer() throws {
        let (bytes, sizes, expected) = log()
        let padded = [0xEE, 0xEE] + bytes + [0xEE]
        var records: [Record] = []
        let consumed = try RecordBatchDecoder.decode(padded, range: (2 + sizes[0])..<(2 + bytes.count), into: &records)
        XCTAssertEqual(consumed, sizes[1] + sizes[2])
        XCTAssertEqual(records, Array(expected.dropFirst(3)))
    }

    func testEmptyInput() throws {
        var records: [Record] = []
        XCTAssertEqual(try RecordBatchDecoder.decode([], into: &records), 0)
        XCTAssertEqual(records, [])
    }

    func testCorruptCompleteBatchThrows() {
        var (bytes, sizes, _) = log()
        bytes[sizes[0] + sizes[1] - 1] ^= 0x55
        var records: [Record] = []
        assertWireError(.checksumMismatch) { try RecordBatchDecoder.decode(bytes, into: &records) }
    }

    func testCorruptBatchLengthThrowsRatherThanLookingPartial() {
        // Only a length that runs past the data means "partial"; a negative or too-small one is
        // corruption, and silently stopping there would leave a consumer re-fetching forever.
        for length: Int32 in [-1, Int32.min, 0, 48] {
            var bytes = makeBatch(count: 1) + makeBatch(count: 2, baseOffset: 1)
            BatchSurgery.set(length, field: O.batchLength, in: &bytes, batchAt: bytes.count - makeBatch(count: 2).count)
            var records: [Record] = []
            assertWireError(.malformed, "batchLength \(length)") {
                try RecordBatchDecoder.decode(bytes, into: &records)
            }
        }
    }

    func testWrongMagicThrows() {
        var bytes = makeBatch(count: 1)
        bytes[O.magic] = 1
        var records: [Record] = []
        assertWireError(.unsupportedVersion) { try RecordBatchDecoder.decode(bytes, into: &records) }
    }

    func testCompressedBatchThrows() {
        var bytes = makeBatch(count: 1)
        BatchSurgery.set(Int16(2), field: O.attributes, in: &bytes)  // snappy: not built in
        BatchSurgery.recomputeCRC(&bytes)
        var records: [Record] = []
        assertWireError(.unsupportedCompression) { try RecordBatchDecoder.decode(bytes, into: &records) }
    }

    func testControlBatchesAreSkipped() throws {
        var control = makeBatch(count: 1, baseOffset: 0)
        BatchSurgery.set(Int16(0x20), field: O.attributes, in: &control)
        BatchSurgery.recomputeCRC(&control)
        let data = makeBatch(count: 2, baseOffset: 1)
        XCTAssertEqual(try decodeRecords(control + data).map(\.offset), [1, 2])
    }

    func testLogAppendTimeUsesMaxTimestamp() throws {
        var batch = makeBatch(count: 3)
        BatchSurgery.set(Int16(0x08), field: O.attributes, in: &batch)
        BatchSurgery.set(Int64(42), field: O.maxTimestamp, in: &batch)
        BatchSurgery.recomputeCRC(&batch)
        XCTAssertEqual(try decodeRecords(batch).map(\.timestamp), [42, 42, 42])
    }

    func testBadRecordInsideAValidCRCThrows() {
        // The CRC matches but a record's length runs past the batch.
        var bad = RawRecord(offsetDelta: 0)
        bad.lengthAdjustment = 50
        let batch = makeRawBatch([bad])
        var records: [Record] = []
        assertWireError(.malformed) { try RecordBatchDecoder.decode(batch, into: &records) }
    }

    func testOffsetsNearInt64MaxDoNotTrap() throws {
        // baseOffset lies outside the CRC, so a hostile or broken peer can set it to anything.
        for baseOffset in [Int64.max, Int64.max - 1, Int64.min] {
            var batch = makeBatch(count: 3)
            BatchSurgery.set(baseOffset, field: O.baseOffset, in: &batch)
            var records: [Record] = []
            do {
                try RecordBatchDecoder.decode(batch, minOffset: 0, into: &records)
            } catch let error as WireError {
                XCTAssertEqual(error.code, .malformed, "\(error)")
            }
        }
        // A record whose offsetDelta pushes past Int64.max (the CRC matches: only the header's
        // baseOffset, outside the CRC, was changed).
        var batch = makeRawBatch([RawRecord(offsetDelta: 0)])
        BatchSurgery.set(Int64.max, field: O.baseOffset, in: &batch)
        var records: [Record] = []
        XCTAssertNoThrow(try RecordBatchDecoder.decode(batch, minOffset: Int64.max, into: &records))
        XCTAssertEqual(records.map(\.offset), [Int64.max])

        // Record offset deltas are not covered by validateStored; one that overflows the offset
        // must be reported, not trapped on.
        for (baseOffset, delta) in [(Int64.max, Int32(5)), (Int64.min, Int32(-5)), (Int64.max - 1, Int32.max)] {
            var hostile = makeRawBatch([RawRecord(offsetDelta: delta)], lastOffsetDelta: 0)
            BatchSurgery.set(baseOffset, field: O.baseOffset, in: &hostile)
            var out: [Record] = []
            assertWireError(.malformed, "base \(baseOffset) delta \(delta)") {
                try RecordBatchDecoder.decode(hostile, minOffset: Int64.min, into: &out)
            }
        }
    }
}
