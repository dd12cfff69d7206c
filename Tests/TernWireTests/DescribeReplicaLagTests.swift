import TernWire
import XCTest

/// DescribeReplicaLag (key 1003): the byte layout `docs/protocol.md` §7.32 specifies, and lying
/// counts refused before anything is allocated for them.
final class DescribeReplicaLagTests: XCTestCase {
    private func body(_ encode: (inout ByteWriter) -> Void) -> [UInt8] {
        var writer = ByteWriter()
        encode(&writer)
        return writer.bytes
    }

    func testRequestLayout() throws {
        let request = DescribeReplicaLagRequest(topics: [.init(name: "t", partitions: [1])])
        let expected: [UInt8] = [0, 0, 0, 1, 0, 1, 0x74, 0, 0, 0, 1, 0, 0, 0, 1]
        XCTAssertEqual(body { request.encode(into: &$0) }, expected)
        var reader = ByteReader(expected)
        XCTAssertEqual(try DescribeReplicaLagRequest(from: &reader), request)
    }

    func testResponseLayout() throws {
        let response = DescribeReplicaLagResponse(topics: [
            .init(
                name: "t",
                partitions: [
                    .init(
                        partition: 1, leaderEpoch: 2, highWatermark: 3, logEndOffset: 4,
                        replicas: [
                            .init(
                                replicaId: 5, fetchOffset: 6, durableOffset: 7, lagRecords: 8, caughtUpAgoMs: 9,
                                lastFetchAgoMs: -1)
                        ])
                ])
        ])
        func i32(_ v: Int32) -> [UInt8] { withUnsafeBytes(of: v.bigEndian, Array.init) }
        func i64(_ v: Int64) -> [UInt8] { withUnsafeBytes(of: v.bigEndian, Array.init) }
        var expected: [UInt8] = i32(1) + [0, 1, 0x74] + i32(1)
        expected += i32(1) + [0, 0] + [0xFF, 0xFF] + i32(2) + i64(3) + i64(4)
        expected += i32(1) + i32(5) + i64(6) + i64(7) + i64(8) + i64(9) + i64(-1)
        XCTAssertEqual(body { response.encode(into: &$0) }, expected)
        var reader = ByteReader(expected)
        XCTAssertEqual(try DescribeReplicaLagResponse(from: &reader), response)
        XCTAssertTrue(reader.isAtEnd)
    }

    func testLyingCountsAndShortBodiesAreRefused() {
        // A topic claiming 2^32-1 partitions, and one claiming a replica that is not there.
        let lying: [UInt8] = [0, 0, 0, 1, 0, 1, 0x74, 0xFF, 0xFF, 0xFF, 0xFF]
        var reader = ByteReader(lying)
        XCTAssertThrowsError(try DescribeReplicaLagRequest(from: &reader))
        var response = body {
            DescribeReplicaLagResponse(topics: [
                .init(name: "t", partitions: [.init(partition: 0, replicas: [.init(replicaId: 1)])])
            ]).encode(into: &$0)
        }
        response.removeLast(8)
        var short = ByteReader(response)
        XCTAssertThrowsError(try DescribeReplicaLagResponse(from: &short))
    }
}
