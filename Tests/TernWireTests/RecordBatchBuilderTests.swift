import TernTestSupport
import TernWire
import XCTest

final class RecordBatchBuilderTests: XCTestCase {
    private func validate(_ batch: [UInt8]) throws -> [ValidatedBatch] {
        try batch.withUnsafeBytes { try RecordBatchValidator.validateProduced($0) }
    }

    func testKnownGoodByteLayout() {
        // One record, key "k", value "v", no headers, at the base timestamp. CRC from an
        // independent bit-at-a-time CRC-32C over bytes 21..<70.
        var builder = RecordBatchBuilder(baseTimestamp: 1_700_000_000_000)
        builder.append(key: Array("k".utf8), value: Array("v".utf8))
        let expected: [UInt8] = [
            0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // 0 baseOffset 0
            0x00, 0x00, 0x00, 0x3A,  // 8 batchLength 58 (= 70 - 12)
            0xFF, 0xFF, 0xFF, 0xFF,  // 12 partitionLeaderEpoch -1
            0x02,  // 16 magic 2
            0xE9, 0x9B, 0x8D, 0xD8,  // 17 crc
            0x00, 0x00,  // 21 attributes
            0x00, 0x00, 0x00, 0x00,  // 23 lastOffsetDelta 0
            0x00, 0x00, 0x01, 0x8B, 0xCF, 0xE5, 0x68, 0x00,  // 27 baseTimestamp
            0x00, 0x00, 0x01, 0x8B, 0xCF, 0xE5, 0x68, 0x00,  // 35 maxTimestamp
            0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,  // 43 producerId -1
            0xFF, 0xFF,  // 51 producerEpoch -1
            0xFF, 0xFF, 0xFF, 0xFF,  // 53 baseSequence -1
            0x00, 0x00, 0x00, 0x01,  // 57 recordCount 1
            0x10,  // 61 record length 8 (zig-zag)
            0x00,  // attributes
            0x00,  // timestampDelta 0
            0x00,  // offsetDelta 0
            0x02, 0x6B,  // key length 1, "k"
            0x02, 0x76,  // value length 1, "v"
            0x00,  // header count 0
        ]
        let batch = builder.finish()
        XCTAssertEqual(batch, expected)
        XCTAssertEqual(batch.count, 70)
    }

    func testHeaderFieldOffsets() {
        typealias O = RecordBatchHeader.Offset
        XCTAssertEqual(
            [
                O.baseOffset, O.batchLength, O.partitionLeaderEpoch, O.magic, O.crc, O.attributes, O.lastOffsetDelta,
                O.baseTimestamp, O.maxTimestamp, O.producerId, O.producerEpoch, O.baseSequence, O.recordCount,
            ],
            [0, 8, 12, 16, 17, 21, 23, 27, 35, 43, 51, 53, 57])
        XCTAssertEqual(RecordBatchHeader.size, 61)
        XCTAssertEqual(RecordBatchHeader.logOverhead, 12)
        XCTAssertEqual(RecordBatchHeader.currentMagic, 2)
    }

    func testHeaderFieldsOfABuiltBatch() throws {
        var builder = RecordBatchBuilder(baseTimestamp: 1000, producerId: 77, producerEpoch: 3, baseSequence: 12)
        builder.append(key: nil, value: [1], timestamp: 1005)
        builder.append(key: nil, value: [2], timestamp: 1003)
        builder.append(key: nil, value: [3])
        XCTAssertEqual(builder.recordCount, 3)
        let batch = builder.finish()
        XCTAssertEqual(builder.sizeInBytes, 0, "finish takes the bytes")
        let header = try XCTUnwrap(RecordBatchHeader(batch))
        XCTAssertEqual(header.baseOffset, 0)
        XCTAssertEqual(header.totalSize, batch.count)
        XCTAssertEqual(Int(header.batchLength), batch.count - 12)
        XCTAssertEqual(header.partitionLeaderEpoch, -1)
        XCTAssertEqual(header.magic, 2)
        XCTAssertEqual(header.crc, CRC32C.checksum(batch, range: 21..<batch.count))
        XCTAssertEqual(header.attributes, 0)
        XCTAssertEqual(header.compression, CompressionCodec.none)
        XCTAssertFalse(header.isLogAppendTime)
        XCTAssertFalse(header.isTransactional)
        XCTAssertFalse(header.isControl)
        XCTAssertEqual(header.lastOffsetDelta, 2)
        XCTAssertEqual(header.lastOffset, 2)
        XCTAssertEqual(header.baseTimestamp, 1000)
        XCTAssertEqual(header.maxTimestamp, 1005)
        XCTAssertEqual(header.producerId, 77)
        XCTAssertEqual(header.producerEpoch, 3)
        XCTAssertEqual(header.baseSequence, 12)
        XCTAssertEqual(header.recordCount, 3)
        XCTAssertNil(RecordBatchHeader(Array(batch.prefix(60))))
        XCTAssertNil(RecordBatchHeader(batch, at: batch.count - 60))
    }

    func testBuiltBatchValidatesAndDecodesToTheSameRecords() throws {
        let records = [
            TestRecord(key: "key", value: "value"),
            TestRecord(key: nil, value: "no key"),
            TestRecord(key: "tombstone", value: nil),
            TestRecord(key: [], value: [], timestamp: defaultTestTimestamp + 10),
            TestRecord(
                key: "h", value: "headers",
                headers: [
                    RecordHeader(key: "trace-id", value: Array("abc".utf8)), RecordHeader(key: "null", value: nil),
                    RecordHeader(key: "", value: []), RecordHeader(key: "ünï☃", value: [0, 0xFF]),
                ],
                timestamp: defaultTestTimestamp + 3),
            TestRecord(
                key: [0, 1, 2, 0xFF], value: [UInt8](repeating: 0xAB, count: 300),
                timestamp: defaultTestTimestamp + 1_000_000),
        ]
        let batch = makeBatch(records: records)
        let validated = try validate(batch)
        XCTAssertEqual(validated.count, 1)
        XCTAssertEqual(validated[0].position, 0)
        XCTAssertEqual(validated[0].size, batch.count)
        XCTAssertEqual(validated[0].header.recordCount, Int32(records.count))
        XCTAssertEqual(validated[0].header.maxTimestamp, defaultTestTimestamp + 1_000_000)
        XCTAssertEqual(try decodeRecords(batch), expectedRecords(records))
    }

    func testTimestampsBeforeTheBaseTimestamp() throws {
        // A producer may append records whose timestamps are older than the base it chose (records
        // with an explicit, earlier create time). The batch must still validate.
        var builder = RecordBatchBuilder(baseTimestamp: 10_000)
        builder.append(key: nil, value: [1], timestamp: 9_000)
        builder.append(key: nil, value: [2], timestamp: 9_500)
        let batch = builder.finish()
        XCTAssertEqual(try validate(batch).first?.header.maxTimestamp, 9_500)
        XCTAssertEqual(try decodeRecords(batch).map(\.timestamp), [9_000, 9_500])
    }

    func testNegativeAndExtremeTimestamps() throws {
        let records = [TestRecord(key: nil, value: [1], timestamp: -1), TestRecord(key: nil, value: [2], timestamp: 0)]
        let batch = makeBatch(records: records, baseTimestamp: -1)
        XCTAssertNoThrow(try validate(batch))
        XCTAssertEqual(try decodeRecords(batch), expectedRecords(records, baseTimestamp: -1))
    }

    func testManyRecordsAndLargeValues() throws {
        let many = testRecords(count: 2000)
        let batch = makeBatch(records: many)
        XCTAssertEqual(try validate(batch).first?.header.recordCount, 2000)
        XCTAssertEqual(try decodeRecords(batch), expectedRecords(many))
        // Offset deltas past 63 and 8191 take 2 and 3 varint bytes; lengths past 63 too.
        let big = [TestRecord(key: nil, value: [UInt8](repeating: 7, count: 1 << 20))]
        let bigBatch = makeBatch(records: big)
        XCTAssertNoThrow(try validate(bigBatch))
        XCTAssertEqual(try decodeRecords(bigBatch), expectedRecords(big))
    }

    func testEstimatedRecordSizeIsAnUpperBound() {
        var rng = SeededGenerator(seed: 3)
        var builder = RecordBatchBuilder(baseTimestamp: 0)
        for _ in 0..<300 {
            let key: [UInt8]? = Bool.random(using: &rng) ? nil : rng.bytes(lengths: 0...200)
            let value: [UInt8]? = Bool.random(using: &rng) ? nil : rng.bytes(lengths: 0...5000)
            let headers = (0..<Int.random(in: 0...3, using: &rng)).map { _ in
                RecordHeader(
                    key: rng.asciiString(Int.random(in: 0...20, using: &rng)),
                    value: Bool.random(using: &rng) ? nil : rng.bytes(lengths: 0...50))
            }
            let before = builder.sizeInBytes
            builder.append(
                key: key, value: value, headers: headers, timestamp: Int64.random(in: -1000...1_000_000, using: &rng))
            let added = builder.sizeInBytes - before
            XCTAssertLessThanOrEqual(
                added,
                RecordBatchBuilder.estimatedRecordSize(keyCount: key?.count, valueCount: value?.count, headers: headers)
            )
        }
        let batch = builder.finish()
        XCTAssertNoThrow(try batch.withUnsafeBytes { try RecordBatchValidator.validateProduced($0) })
    }

    func testEmptyBuilderSizeIsTheHeader() {
        XCTAssertEqual(RecordBatchBuilder(baseTimestamp: 0).sizeInBytes, RecordBatchHeader.size)
    }

    func testAssignWritesOffsetAndEpochOutsideTheCRC() throws {
        var batch = makeBatch(count: 3)
        batch.withUnsafeMutableBytes {
            RecordBatchHeader.assign(baseOffset: 1234, partitionLeaderEpoch: 9, in: $0, at: 0)
        }
        let header = try XCTUnwrap(RecordBatchHeader(batch))
        XCTAssertEqual(header.baseOffset, 1234)
        XCTAssertEqual(header.partitionLeaderEpoch, 9)
        XCTAssertEqual(header.lastOffset, 1236)
        XCTAssertNoThrow(try batch.withUnsafeBytes { try RecordBatchValidator.validateStored($0, at: 0) })
        XCTAssertEqual(try decodeRecords(batch).map(\.offset), [1234, 1235, 1236])
    }

    func testAttributeBits() throws {
        for (attributes, codec, logAppend, transactional, control): (Int16, CompressionCodec?, Bool, Bool, Bool) in [
            (0, CompressionCodec.none, false, false, false), (1, .gzip, false, false, false),
            (2, .snappy, false, false, false),
            (3, .lz4, false, false, false), (4, .zstd, false, false, false), (5, nil, false, false, false),
            (0x08, CompressionCodec.none, true, false, false), (0x10, CompressionCodec.none, false, true, false),
            (0x20, CompressionCodec.none, false, false, true), (0x3B, .lz4, true, true, true),
        ] {
            var batch = makeBatch(count: 1)
            BatchSurgery.set(attributes, field: RecordBatchHeader.Offset.attributes, in: &batch)
            let header = try XCTUnwrap(RecordBatchHeader(batch))
            XCTAssertEqual(header.compression, codec, "\(attributes)")
            XCTAssertEqual(header.isLogAppendTime, logAppend, "\(attributes)")
            XCTAssertEqual(header.isTransactional, transactional, "\(attributes)")
            XCTAssertEqual(header.isControl, control, "\(attributes)")
        }
        XCTAssertEqual(CompressionCodec.allCases.map(\.description), ["none", "gzip", "snappy", "lz4", "zstd"])
    }
}
