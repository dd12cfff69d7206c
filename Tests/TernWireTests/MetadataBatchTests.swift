import TernWire
import XCTest

/// The metadata log's entry payload: a decision's records round-trip as one batch; a truncated,
/// padded or lying batch throws a ``WireError`` and never allocates what its count claims.
final class MetadataBatchTests: XCTestCase {
    func testRoundTripsEveryRecordTypeAsOneBatch() throws {
        let records = MetadataRecordTests.samples
        XCTAssertEqual(try MetadataBatch.decode(MetadataBatch.encode(records)), records)
        XCTAssertEqual(try MetadataBatch.decode(MetadataBatch.encode([])), [])
    }

    func testEmptyPayloadIsARaftControlEntryWithNoRecords() throws {
        XCTAssertEqual(try MetadataBatch.decode([]), [])
    }

    func testEveryTruncationThrows() {
        let bytes = MetadataBatch.encode(MetadataRecordTests.samples)
        for cut in 1..<bytes.count {
            XCTAssertThrowsError(try MetadataBatch.decode(Array(bytes[0..<cut])), "cut at \(cut)") {
                XCTAssertTrue($0 is WireError, "cut at \(cut): \($0)")
            }
        }
    }

    func testTrailingBytesAreMalformed() {
        let bytes = MetadataBatch.encode([.clusterId("c")]) + [0]
        XCTAssertThrowsError(try MetadataBatch.decode(bytes)) { XCTAssertTrue($0 is WireError) }
    }

    func testHugeCountIsRefusedBeforeAllocating() {
        // Four billion records claimed in four bytes.
        XCTAssertThrowsError(try MetadataBatch.decode([0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0])) { error in
            XCTAssertTrue("\(error)".contains("claims"), "\(error)")
        }
    }

    func testRandomBytesNeverTrap() {
        var state: UInt64 = 0x5EED
        for _ in 0..<20_000 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let length = Int(state >> 58)
            var bytes: [UInt8] = []
            for i in 0..<length { bytes.append(UInt8(truncatingIfNeeded: (state >> UInt64(i % 56)) &+ UInt64(i))) }
            _ = try? MetadataBatch.decode(bytes)
        }
    }
}
