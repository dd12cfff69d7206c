import TernTestSupport
import TernWire
import XCTest

final class GzipTests: XCTestCase {
    func testRoundTripAndCompressesRepetitiveData() throws {
        let input = Array(String(repeating: "OrderCreated customer-42 ", count: 400).utf8)
        let compressed = input.withUnsafeBytes { Gzip.compress($0) }
        XCTAssertLessThan(compressed.count, input.count / 10)
        XCTAssertEqual(Array(compressed.prefix(2)), [0x1F, 0x8B], "a gzip member")
        XCTAssertEqual(try compressed.withUnsafeBytes { try Gzip.decompress($0, limit: 1 << 20) }, input)
        let empty = [UInt8]().withUnsafeBytes { Gzip.compress($0) }
        XCTAssertEqual(try empty.withUnsafeBytes { try Gzip.decompress($0, limit: 10) }, [])
    }

    func testCorruptTruncatedTrailingAndOversizedInputIsRefused() {
        let input = Array((0..<5000).map { UInt8($0 % 251) })
        let compressed = input.withUnsafeBytes { Gzip.compress($0) }
        var corrupt = compressed
        corrupt[corrupt.count / 2] ^= 0xFF
        for (name, bytes, limit) in [
            ("corrupt", corrupt, 1 << 20), ("truncated", Array(compressed.dropLast(9)), 1 << 20),
            ("trailing garbage", compressed + [1, 2, 3], 1 << 20), ("bomb", compressed, 1000),
            ("not gzip", Array("hello".utf8), 1 << 20),
        ] {
            XCTAssertThrowsError(try bytes.withUnsafeBytes { try Gzip.decompress($0, limit: limit) }, name) { error in
                XCTAssertEqual((error as? WireError)?.code, .malformed, name)
            }
        }
    }

    func testGzipBatchValidatesAndDecodesToTheSameRecords() throws {
        let records = testRecords(count: 50, valueSize: 64)
        var builder = RecordBatchBuilder(baseTimestamp: defaultTestTimestamp)
        for record in records {
            builder.append(key: record.key, value: record.value, headers: record.headers, timestamp: record.timestamp)
        }
        let batch = builder.finish(compression: .gzip)
        let header = try XCTUnwrap(RecordBatchHeader(batch))
        XCTAssertEqual(header.compression, .gzip)
        XCTAssertEqual(try batch.withUnsafeBytes { try RecordBatchValidator.validateProduced($0) }.count, 1)
        var decoded: [Record] = []
        try RecordBatchDecoder.decode(batch, into: &decoded)
        XCTAssertEqual(decoded.map(\.value), records.map(\.value))
        XCTAssertEqual(decoded.map(\.key), records.map(\.key))
        XCTAssertEqual(decoded.map(\.offset), (0..<50).map { Int64($0) })
    }

    func testGzipBatchWithCorruptDeflateStreamIsInvalidRecord() throws {
        var builder = RecordBatchBuilder(baseTimestamp: defaultTestTimestamp)
        for i in 0..<20 { builder.append(key: nil, value: Array("event-\(i)".utf8)) }
        var batch = builder.finish(compression: .gzip)
        batch[RecordBatchHeader.size + 20] ^= 0x55  // inside the deflate stream
        BatchSurgery.recomputeCRC(&batch)  // the CRC is fine: only the compressed bytes are bad
        XCTAssertThrowsError(try batch.withUnsafeBytes { try RecordBatchValidator.validateProduced($0) }) { error in
            let wire = error as? WireError
            XCTAssertEqual(wire.map { ErrorCode(validationFailure: $0) }, .invalidRecord)
            XCTAssertTrue(wire?.message.contains("gzip") ?? false, "\(error)")
        }
    }
}
