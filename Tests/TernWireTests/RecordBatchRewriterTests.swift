import TernTestSupport
import TernWire
import XCTest

final class RecordBatchRewriterTests: XCTestCase {
    private func records(_ batch: [UInt8]) throws -> [Record] { try decodeRecords(batch) }

    /// Keeps every other record of `batch` through the iterator and the rewriter.
    private func keepEveryOther(_ batch: [UInt8]) throws -> [UInt8] {
        let header = try XCTUnwrap(RecordBatchHeader(batch))
        var plain = Array(batch[RecordBatchHeader.size...])
        if header.compression == .gzip {
            plain = try plain.withUnsafeBytes { try Gzip.decompress($0, limit: 1 << 20) }
        }
        var kept: [UInt8] = []
        var count: Int32 = 0
        var maxTimestamp = Int64.min
        try plain.withUnsafeBytes { raw in
            try RecordIterator.forEach(in: raw, from: 0, to: raw.count, recordCount: header.recordCount) { record in
                guard record.offsetDelta % 2 == 1 else { return }
                kept.append(contentsOf: raw[record.bytes])
                count += 1
                maxTimestamp = max(maxTimestamp, header.baseTimestamp + record.timestampDelta)
            }
        }
        var output: [UInt8] = []
        try kept.withUnsafeBytes {
            try RecordBatchRewriter.append(
                original: header, records: $0, recordCount: count, maxTimestamp: maxTimestamp, to: &output)
        }
        return output
    }

    func testARewrittenBatchKeepsOffsetsTimestampsHeadersAndCodec() throws {
        for codec in [CompressionCodec.none, .gzip] {
            var builder = RecordBatchBuilder(baseTimestamp: 1000)
            for i in 0..<6 {
                builder.append(
                    key: Array("k\(i)".utf8), value: i == 3 ? nil : Array("v\(i)".utf8),
                    headers: [RecordHeader(key: "h\(i)", value: [UInt8(i)])], timestamp: 1000 + Int64(i * 10))
            }
            var original = builder.finish(compression: codec)
            original.withUnsafeMutableBytes { RecordBatchHeader.assign(baseOffset: 500, partitionLeaderEpoch: 7, in: $0, at: 0) }
            let rewritten = try keepEveryOther(original)
            let header = try rewritten.withUnsafeBytes { try RecordBatchValidator.validateStored($0, at: 0) }
            XCTAssertEqual(header.compression, codec)
            XCTAssertEqual(header.baseOffset, 500)
            XCTAssertEqual(header.partitionLeaderEpoch, 7)
            XCTAssertEqual(header.lastOffsetDelta, 5, "the batch still spans the original offsets")
            XCTAssertEqual(header.recordCount, 3)
            XCTAssertEqual(header.maxTimestamp, 1050)
            XCTAssertEqual(header.totalSize, rewritten.count)
            let expected = try records(original).filter { $0.offset % 2 == 1 }
            XCTAssertEqual(try records(rewritten), expected)
            XCTAssertEqual(expected.map(\.offset), [501, 503, 505])
            XCTAssertNil(expected[1].value, "tombstones are records like any other here")
        }
    }

    func testTheIteratorRefusesBrokenFraming() throws {
        let batch = makeBatch(count: 3)
        let plain = Array(batch[RecordBatchHeader.size...])
        try plain.withUnsafeBytes { raw in
            XCTAssertThrowsError(
                try RecordIterator.forEach(in: raw, from: 0, to: raw.count - 1, recordCount: 3) { _ in })
            XCTAssertThrowsError(try RecordIterator.forEach(in: raw, from: 0, to: raw.count, recordCount: 2) { _ in })
            XCTAssertThrowsError(try RecordIterator.forEach(in: raw, from: 0, to: raw.count + 1, recordCount: 3) { _ in })
        }
    }

    func testCompactedTopicsRequireKeys() throws {
        let keyless = makeBatch(records: [TestRecord(key: "a", value: "1"), TestRecord(key: nil as String?, value: "2")])
        XCTAssertNoThrow(try keyless.withUnsafeBytes { try RecordBatchValidator.validateProduced($0) })
        XCTAssertThrowsError(try keyless.withUnsafeBytes { try RecordBatchValidator.validateProduced($0, requireKeys: true) }) {
            error in
            let wire = error as? WireError
            XCTAssertEqual(wire.map { ErrorCode(validationFailure: $0) }, .invalidRecord)
            XCTAssertTrue(wire?.message.contains("has no key") ?? false, "\(error)")
        }
        var builder = RecordBatchBuilder(baseTimestamp: 0)
        builder.append(key: nil, value: [1])
        let gzip = builder.finish(compression: .gzip)
        XCTAssertThrowsError(try gzip.withUnsafeBytes { try RecordBatchValidator.validateProduced($0, requireKeys: true) })
    }
}
