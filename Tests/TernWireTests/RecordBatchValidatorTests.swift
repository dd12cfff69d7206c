import TernTestSupport
import TernWire
import XCTest

/// Every way a produced batch can be wrong gets its own WireError code, and
/// `ErrorCode(validationFailure:)` turns that into the code the broker answers with.
final class RecordBatchValidatorTests: XCTestCase {
    typealias O = RecordBatchHeader.Offset

    @discardableResult
    private func validate(_ bytes: [UInt8]) throws -> [ValidatedBatch] {
        try bytes.withUnsafeBytes { try RecordBatchValidator.validateProduced($0) }
    }

    /// Asserts that validating `bytes` fails with `code` and maps to `errorCode`.
    private func assertRefused(
        _ bytes: [UInt8], _ code: WireError.Code, _ errorCode: ErrorCode, _ message: String = "",
        file: StaticString = #filePath, line: UInt = #line
    ) {
        do {
            try validate(bytes)
            XCTFail("batch was accepted; expected \(code). \(message)", file: file, line: line)
        } catch let error as WireError {
            XCTAssertEqual(error.code, code, "\(error) \(message)", file: file, line: line)
            XCTAssertEqual(
                ErrorCode(validationFailure: error), errorCode, "\(error) \(message)", file: file, line: line)
        } catch {
            XCTFail("non-WireError \(error)", file: file, line: line)
        }
    }

    // MARK: accepted

    func testSingleAndConcatenatedBatches() throws {
        let a = makeBatch(count: 3)
        let b = makeBatch(count: 1)
        let c = makeBatch(records: [TestRecord(key: nil, value: nil)])
        let validated = try validate(a + b + c)
        XCTAssertEqual(validated.map(\.position), [0, a.count, a.count + b.count])
        XCTAssertEqual(validated.map(\.size), [a.count, b.count, c.count])
        XCTAssertEqual(validated.map(\.header.recordCount), [3, 1, 1])
    }

    func testBaseOffsetAndLeaderEpochAreOutsideTheCRC() throws {
        var batch = makeBatch(count: 2)
        BatchSurgery.set(Int64(987_654), field: O.baseOffset, in: &batch)
        BatchSurgery.set(Int32(42), field: O.partitionLeaderEpoch, in: &batch)
        XCTAssertEqual(try validate(batch).first?.header.baseOffset, 987_654)
    }

    func testLogAppendTimeSkipsTheMaxTimestampCheck() throws {
        var batch = makeBatch(count: 2)
        BatchSurgery.set(Int16(0x08), field: O.attributes, in: &batch)
        BatchSurgery.set(Int64(5), field: O.maxTimestamp, in: &batch)
        BatchSurgery.recomputeCRC(&batch)
        XCTAssertNoThrow(try validate(batch))
    }

    func testRawBatchHelperMakesValidBatches() throws {
        let batch = makeRawBatch([RawRecord(offsetDelta: 0), RawRecord(offsetDelta: 1, timestampDelta: 7)])
        XCTAssertNoThrow(try validate(batch))
    }

    // MARK: CORRUPT_MESSAGE

    func testBadCRC() {
        let batch = makeBatch(count: 3)
        var lastByte = batch
        lastByte[lastByte.count - 1] ^= 0xFF
        assertRefused(lastByte, .checksumMismatch, .corruptMessage, "record byte flipped")
        var attributes = batch
        attributes[O.attributes + 1] ^= 0x40
        assertRefused(attributes, .checksumMismatch, .corruptMessage, "attributes flipped")
        var crcField = batch
        crcField[O.crc] ^= 0x01
        assertRefused(crcField, .checksumMismatch, .corruptMessage, "crc flipped")
        var count = batch
        count[O.recordCount + 3] ^= 0x01
        assertRefused(count, .checksumMismatch, .corruptMessage, "recordCount changed without a new CRC")
        // A bad CRC in the second batch names that batch.
        var second = makeBatch(count: 1) + batch
        second[second.count - 2] ^= 0x10
        XCTAssertThrowsError(try validate(second)) { error in
            XCTAssertTrue((error as? WireError)?.message.contains("batch 1") ?? false, "\(error)")
        }
    }

    // MARK: UNSUPPORTED_FOR_MESSAGE_FORMAT

    func testMagicOtherThanTwo() {
        for magic: Int8 in [0, 1, 3, -1] {
            var batch = makeBatch(count: 2)
            BatchSurgery.set(magic, field: O.magic, in: &batch)
            assertRefused(batch, .unsupportedVersion, .unsupportedForMessageFormat, "magic \(magic)")
        }
        // Magic is judged before the length: a short v0/v1 message set is still "wrong format".
        var old = [UInt8](repeating: 0, count: 61)
        old[O.magic] = 1
        assertRefused(old, .unsupportedVersion, .unsupportedForMessageFormat)
    }

    // MARK: UNSUPPORTED_COMPRESSION_TYPE

    func testCompressedBatchesOtherThanGzip() {
        for codec: Int16 in [2, 3, 4, 5, 6, 7] {
            var batch = makeBatch(count: 2)
            BatchSurgery.set(codec, field: O.attributes, in: &batch)
            BatchSurgery.recomputeCRC(&batch)
            assertRefused(batch, .unsupportedCompression, .unsupportedCompressionType, "codec \(codec)")
        }
    }

    func testGzipFlagOverUncompressedRecordsIsInvalid() {
        var batch = makeBatch(count: 2)
        BatchSurgery.set(Int16(1), field: O.attributes, in: &batch)
        BatchSurgery.recomputeCRC(&batch)
        assertRefused(batch, .malformed, .invalidRecord, "gzip flag, plain records")
    }

    // MARK: INVALID_RECORD

    func testEmptyRecordSet() {
        assertRefused([], .malformed, .invalidRecord)
    }

    func testRecordCountMismatch() {
        let three = [RawRecord(offsetDelta: 0), RawRecord(offsetDelta: 1), RawRecord(offsetDelta: 2)]
        // Says 4, holds 3: the walk runs out of bytes.
        assertRefused(makeRawBatch(three, recordCount: 4), .truncated, .invalidRecord, "count too high")
        // Says 2, holds 3: bytes are left over after the counted records.
        assertRefused(makeRawBatch(three, recordCount: 2), .malformed, .invalidRecord, "count too low")
        // lastOffsetDelta disagrees with recordCount.
        assertRefused(makeRawBatch(three, lastOffsetDelta: 3), .malformed, .invalidRecord, "lastOffsetDelta")
        assertRefused(makeRawBatch(three, lastOffsetDelta: 1), .malformed, .invalidRecord, "lastOffsetDelta")
        // Zero and negative counts.
        assertRefused(makeRawBatch(records: [], recordCount: 0, lastOffsetDelta: 0), .malformed, .invalidRecord, "zero")
        assertRefused(makeRawBatch(three, recordCount: -1, lastOffsetDelta: 2), .malformed, .invalidRecord, "negative")
        assertRefused(
            makeRawBatch(three, recordCount: 3, lastOffsetDelta: -1), .malformed, .invalidRecord, "negative delta")
    }

    func testOffsetDeltaGaps() {
        for deltas: [Int32] in [[0, 2, 3], [1, 2, 3], [0, 0, 1], [0, 1, 1], [2, 1, 0], [0, -1, 2]] {
            let batch = makeRawBatch(deltas.map { RawRecord(offsetDelta: $0) }, lastOffsetDelta: 2)
            assertRefused(batch, .malformed, .invalidRecord, "deltas \(deltas)")
        }
    }

    func testBrokenRecordFraming() {
        func refused(_ edit: (inout RawRecord) -> Void, _ code: WireError.Code, _ what: String, line: UInt = #line) {
            var bad = RawRecord(offsetDelta: 1, key: [1, 2], value: [3, 4, 5])
            edit(&bad)
            let batch = makeRawBatch([RawRecord(offsetDelta: 0), bad, RawRecord(offsetDelta: 2)])
            assertRefused(batch, code, .invalidRecord, what, line: line)
        }
        refused({ $0.lengthAdjustment = 1000 }, .malformed, "record length past the batch")
        refused({ $0.lengthAdjustment = -1 }, .truncated, "record length one short of its body")
        refused({ $0.lengthAdjustment = Int32.min / 2 }, .malformed, "negative record length")
        refused(
            {
                $0.trailing = [0]; $0.lengthAdjustment = 0
            }, .malformed, "bytes left inside the record")
        refused(
            {
                $0.key = [UInt8](repeating: 1, count: 10); $0.lengthAdjustment = -8
            }, .truncated, "key past the record")
        refused(
            {
                $0.headers = [RecordHeader(key: "k", value: nil)]; $0.headerCountOverride = -1
            }, .malformed, "negative header count")
        refused(
            {
                $0.headers = [RecordHeader(key: "k", value: nil)]; $0.headerCountOverride = 5
            }, .truncated, "header count too high")
        refused(
            {
                $0.headers = [RecordHeader(key: "k", value: nil)]; $0.headerCountOverride = 0
            }, .malformed, "header count too low")

        // Raw byte-level breakage inside a record body.
        func rawRecord(_ body: [UInt8]) -> [UInt8] {
            var w = ByteWriter()
            w.writeVarint(Int32(body.count))
            w.write(contentsOf: body)
            return w.bytes
        }
        let negativeKey = rawRecord([0, 0, 0, 0x03, 0x00, 0x00])  // key length -2
        assertRefused(makeRawBatch(records: negativeKey, recordCount: 1), .malformed, .invalidRecord, "key length -2")
        let nullHeaderKey = rawRecord([0, 0, 0, 0x01, 0x01, 0x02, 0x01, 0x00])  // one header with a null key
        assertRefused(
            makeRawBatch(records: nullHeaderKey, recordCount: 1), .malformed, .invalidRecord, "null header key")
        let zeroLength = [UInt8(0)]
        assertRefused(makeRawBatch(records: zeroLength, recordCount: 1), .malformed, .invalidRecord, "record length 0")
        let longVarint: [UInt8] = [0x80, 0x80, 0x80, 0x80, 0x80, 0x00]
        assertRefused(
            makeRawBatch(records: longVarint, recordCount: 1), .malformed, .invalidRecord, "6-byte length varint")
        let cutVarint: [UInt8] = [0x80]
        assertRefused(
            makeRawBatch(records: cutVarint, recordCount: 1), .truncated, .invalidRecord, "length varint cut off")
    }

    func testTrailingBytes() {
        let batch = makeBatch(count: 2)
        // After the last batch: too short to be another batch.
        for extra in 1..<RecordBatchHeader.size {
            assertRefused(
                batch + [UInt8](repeating: 0, count: extra), .truncated, .invalidRecord, "\(extra) trailing bytes")
        }
        // Inside the batch, after its records (batchLength and CRC cover them).
        var inside = batch + [0, 0, 0]
        BatchSurgery.fixLengthAndCRC(&inside)
        assertRefused(inside, .malformed, .invalidRecord, "bytes after the records")
    }

    func testTruncatedBatch() {
        let batch = makeBatch(count: 3)
        for length in 1..<batch.count {
            assertRefused(Array(batch.prefix(length)), .truncated, .invalidRecord, "cut to \(length) bytes")
        }
        // A second batch cut short.
        assertRefused(batch + batch.prefix(batch.count - 1), .truncated, .invalidRecord, "second batch cut")
    }

    func testBatchLengthShorterThanTheHeader() {
        for length: Int32 in [0, 1, 48, -1, Int32.min] {
            var batch = makeBatch(count: 1)
            BatchSurgery.set(length, field: O.batchLength, in: &batch)
            assertRefused(batch, .malformed, .invalidRecord, "batchLength \(length)")
        }
    }

    func testOffsetRangePastInt64MaxIsRefused() throws {
        // baseOffset is outside the CRC; a batch whose last offset cannot be represented is refused
        // rather than left to overflow in `lastOffset`.
        var batch = makeBatch(count: 3)
        BatchSurgery.set(Int64.max - 1, field: O.baseOffset, in: &batch)
        assertRefused(batch, .malformed, .invalidRecord)
        XCTAssertThrowsError(try batch.withUnsafeBytes { try RecordBatchValidator.validateStored($0, at: 0) })
        BatchSurgery.set(Int64.max - 2, field: O.baseOffset, in: &batch)
        XCTAssertEqual(try validate(batch).first?.header.lastOffset, Int64.max)
    }

    func testMaxTimestampMismatch() {
        for maxTimestamp in [defaultTestTimestamp - 1, defaultTestTimestamp + 100, Int64.min, Int64.max] {
            var batch = makeBatch(count: 3)  // timestamps base+0...base+2
            BatchSurgery.set(maxTimestamp, field: O.maxTimestamp, in: &batch)
            BatchSurgery.recomputeCRC(&batch)
            assertRefused(batch, .malformed, .invalidRecord, "maxTimestamp \(maxTimestamp)")
        }
    }

    func testValidationFailureMapping() {
        XCTAssertEqual(ErrorCode(validationFailure: WireError(.checksumMismatch, "")), .corruptMessage)
        XCTAssertEqual(ErrorCode(validationFailure: WireError(.unsupportedVersion, "")), .unsupportedForMessageFormat)
        XCTAssertEqual(
            ErrorCode(validationFailure: WireError(.unsupportedCompression, "")), .unsupportedCompressionType)
        XCTAssertEqual(ErrorCode(validationFailure: WireError(.truncated, "")), .invalidRecord)
        XCTAssertEqual(ErrorCode(validationFailure: WireError(.malformed, "")), .invalidRecord)
    }

    // MARK: stored batches

    func testValidateStoredChecksFrameOnly() throws {
        let a = makeBatch(count: 2, baseOffset: 10)
        let b = makeBatch(count: 1, baseOffset: 12)
        let log = a + b
        try log.withUnsafeBytes { raw in
            XCTAssertEqual(try RecordBatchValidator.validateStored(raw, at: 0).baseOffset, 10)
            XCTAssertEqual(try RecordBatchValidator.validateStored(raw, at: a.count).baseOffset, 12)
        }
        // Record framing is not walked for stored data: a bad offset delta with a good CRC passes.
        let gap = makeRawBatch([RawRecord(offsetDelta: 0), RawRecord(offsetDelta: 5)])
        XCTAssertNoThrow(try gap.withUnsafeBytes { try RecordBatchValidator.validateStored($0, at: 0) })

        func storedError(_ bytes: [UInt8], at position: Int = 0) -> WireError.Code? {
            bytes.withUnsafeBytes { raw -> WireError.Code? in
                do {
                    _ = try RecordBatchValidator.validateStored(raw, at: position)
                    return nil
                } catch { return (error as? WireError)?.code }
            }
        }
        XCTAssertEqual(storedError(Array(log.prefix(a.count + 30)), at: a.count), .truncated)
        XCTAssertEqual(storedError(Array(log.prefix(a.count + b.count - 1)), at: a.count), .truncated)
        var corrupt = log
        corrupt[a.count - 1] ^= 1
        XCTAssertEqual(storedError(corrupt), .checksumMismatch)
        var magic = log
        magic[a.count + O.magic] = 0
        XCTAssertEqual(storedError(magic, at: a.count), .unsupportedVersion)
    }
}
