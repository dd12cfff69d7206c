import TernWire
import XCTest

/// Fetch v3 carries each partition's durable offset (a follower's fsynced log end); v0–v2
/// requests still decode, without it.
final class FetchVersionTests: XCTestCase {
    private func request(version: UInt16) -> FetchRequest {
        FetchRequest(
            replicaId: 2, maxWaitMs: 500, minBytes: 1, maxBytes: 1 << 20,
            topics: [
                .init(
                    name: "t",
                    partitions: [
                        .init(
                            partition: 0, fetchOffset: 40, maxBytes: 1 << 20, currentLeaderEpoch: 3,
                            lastFetchedEpoch: 2, durableOffset: 37)
                    ])
            ], version: version)
    }

    func testVersion3CarriesTheDurableOffset() throws {
        var writer = ByteWriter()
        request(version: 3).encode(into: &writer)
        var reader = ByteReader(writer.bytes)
        let decoded = try FetchRequest(from: &reader, version: 3)
        XCTAssertTrue(reader.isAtEnd)
        XCTAssertEqual(decoded, request(version: 3))
        XCTAssertEqual(decoded.topics.first?.partitions.first?.durableOffset, 37)
    }

    func testOlderVersionsDecodeWithoutIt() throws {
        for version: UInt16 in [0, 1, 2] {
            var writer = ByteWriter()
            request(version: version).encode(into: &writer)
            // v3 adds 8 bytes per partition; v2 8 (two epochs); v1 12 (session id, epoch, forgotten topics).
            let smaller: [UInt16: Int] = [2: 8, 1: 16, 0: 28]
            XCTAssertEqual(writer.bytes.count, encodedSize(version: 3) - smaller[version]!, "v\(version)")
            var reader = ByteReader(writer.bytes)
            let decoded = try FetchRequest(from: &reader, version: version)
            XCTAssertTrue(reader.isAtEnd, "v\(version)")
            XCTAssertEqual(
                decoded.topics.first?.partitions.first?.durableOffset, -1, "v\(version) has no durable offset")
            XCTAssertEqual(decoded.topics.first?.partitions.first?.fetchOffset, 40)
        }
    }

    private func encodedSize(version: UInt16) -> Int {
        var writer = ByteWriter()
        request(version: version).encode(into: &writer)
        return writer.bytes.count
    }
}
