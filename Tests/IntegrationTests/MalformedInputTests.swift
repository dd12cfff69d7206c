import TernTestSupport
import TernWire
import XCTest

/// Hostile bytes against a real `ternd`: every bad frame is refused or its connection closed, and
/// the broker goes on serving everyone else.
final class MalformedInputTests: BrokerTestCase {
    override class var brokerSettings: [String: String] { ["socket.request.max.bytes": "1048576"] }

    private func assertBrokerServes(file: StaticString = #filePath, line: UInt = #line) throws {
        let connection = try RawConnection(port: broker.port)
        let (status, response) = try connection.roundTrip(ApiVersionsRequest())
        XCTAssertEqual(status.errorCode, .none, file: file, line: line)
        XCTAssertTrue(response?.apis.contains { $0.key == .produce } ?? false, file: file, line: line)
    }

    func testOversizedFrameClosesTheConnectionAndOthersAreServed() throws {
        let other = try RawConnection(port: broker.port)
        let bad = try RawConnection(port: broker.port)
        try bad.write([0xFF, 0xFF, 0xFF, 0xFF, 0, 1, 2, 3])
        XCTAssertTrue(bad.isClosedByPeer())
        XCTAssertEqual(try other.roundTrip(ApiVersionsRequest()).status.errorCode, .none)
        try assertBrokerServes()
    }

    func testUnreadableHeaderClosesTheConnection() throws {
        let bad = try RawConnection(port: broker.port)
        try bad.write([0, 0, 0, 3, 0, 1, 0])  // a 3-byte frame cannot hold a header
        XCTAssertTrue(bad.isClosedByPeer())
        try assertBrokerServes()
    }

    func testGarbageStreamClosesTheConnection() throws {
        var generator = SystemRandomNumberGenerator()
        let bad = try RawConnection(port: broker.port)
        var garbage = (0..<4096).map { _ in UInt8.random(in: 0...255, using: &generator) }
        garbage[0] = 0x7F  // a size far over socket.request.max.bytes
        try? bad.write(garbage)
        XCTAssertTrue(bad.isClosedByPeer())
        try assertBrokerServes()
    }

    func testUnsupportedVersionAndUnknownApiGetUnsupportedVersion() throws {
        let connection = try RawConnection(port: broker.port)
        var writer = ByteWriter()
        writer.write(UInt32(0))
        RequestHeader(apiKey: .metadata, apiVersion: 9, correlationId: 7, clientId: "x").encode(into: &writer)
        writer.patch(UInt32(writer.count - 4), at: 0)
        try connection.write(writer.bytes)
        var reader = ByteReader(try XCTUnwrap(connection.readFrame()))
        let head = try Frame.readResponseHead(&reader)
        XCTAssertEqual(head.correlationId, 7)
        XCTAssertEqual(head.status.errorCode, .unsupportedVersion)

        var unknown = ByteWriter()
        unknown.write(UInt32(0))
        RequestHeader(apiKey: ApiKey(rawValue: 999), apiVersion: 0, correlationId: 8, clientId: "x").encode(into: &unknown)
        unknown.patch(UInt32(unknown.count - 4), at: 0)
        try connection.write(unknown.bytes)
        var reader2 = ByteReader(try XCTUnwrap(connection.readFrame()))
        XCTAssertEqual(try Frame.readResponseHead(&reader2).status.errorCode, .unsupportedVersion)
        // The same connection still works.
        XCTAssertEqual(try connection.roundTrip(ApiVersionsRequest(), correlationId: 9).status.errorCode, .none)
    }

    func testTruncatedBodyGetsInvalidRequest() throws {
        let connection = try RawConnection(port: broker.port)
        var frame = Frame.request(
            MetadataRequest(topics: ["a", "b"]), correlationId: 3, clientId: "x")
        frame.removeLast(3)
        frame.withUnsafeMutableBytes { BigEndian.store(UInt32($0.count - 4), at: 0, in: $0) }
        try connection.write(frame)
        var reader = ByteReader(try XCTUnwrap(connection.readFrame()))
        let head = try Frame.readResponseHead(&reader)
        XCTAssertEqual(head.correlationId, 3)
        XCTAssertEqual(head.status.errorCode, .invalidRequest)
        XCTAssertNotNil(head.status.errorMessage)
    }

    func testPipelinedRequestsAreAnsweredInOrder() throws {
        let connection = try RawConnection(port: broker.port)
        var bytes: [UInt8] = []
        for id in 1...50 as ClosedRange<UInt32> {
            bytes +=
                id % 2 == 0
                ? Frame.request(ApiVersionsRequest(), correlationId: id, clientId: "pipeline")
                : Frame.request(MetadataRequest(topics: nil), correlationId: id, clientId: "pipeline")
        }
        try connection.write(bytes)
        for id in 1...50 as ClosedRange<UInt32> {
            var reader = ByteReader(try XCTUnwrap(connection.readFrame()))
            XCTAssertEqual(try Frame.readResponseHead(&reader).correlationId, id)
        }
    }

    // MARK: produce validation

    private func createTopic(_ name: String, partitions: Int32 = 1) throws {
        let connection = try RawConnection(port: broker.port)
        let (_, response) = try connection.roundTrip(
            CreateTopicsRequest(topics: [.init(name: name, numPartitions: partitions)]))
        XCTAssertEqual(response?.topics.first?.errorCode, ErrorCode.none)
    }

    private func produce(_ records: [UInt8], topic: String = "t", acks: Int16 = 1) throws -> ProduceResponse.Partition {
        let connection = try RawConnection(port: broker.port)
        let (status, response) = try connection.roundTrip(
            ProduceRequest(
                acks: acks, timeoutMs: 5000,
                topics: [.init(name: topic, partitions: [.init(partition: 0, records: records)])]))
        XCTAssertEqual(status.errorCode, .none)
        return try XCTUnwrap(response?.topics.first?.partitions.first)
    }

    private func latestOffset(_ topic: String = "t") throws -> Int64 {
        let connection = try RawConnection(port: broker.port)
        let (_, response) = try connection.roundTrip(
            ListOffsetsRequest(topics: [.init(name: topic, partitions: [.init(partition: 0, timestamp: -1)])]))
        return try XCTUnwrap(response?.topics.first?.partitions.first?.offset)
    }

    private func validBatch(count: Int = 3) -> [UInt8] {
        var builder = RecordBatchBuilder(baseTimestamp: 1_700_000_000_000)
        for i in 0..<count { builder.append(key: Array("k\(i)".utf8), value: Array("value-\(i)".utf8)) }
        return builder.finish()
    }

    func testBadBatchesAreRefusedWithSpecificCodesAndNothingIsStored() throws {
        try createTopic("t")
        var badCRC = validBatch()
        badCRC[badCRC.count - 1] ^= 0xFF
        XCTAssertEqual(try produce(badCRC).errorCode, .corruptMessage)

        var badMagic = validBatch()
        badMagic[RecordBatchHeader.Offset.magic] = 1
        XCTAssertEqual(try produce(badMagic).errorCode, .unsupportedForMessageFormat)

        // recordCount says 4 but the batch holds 3 (CRC recomputed so only the count is wrong).
        var badCount = validBatch()
        badCount.withUnsafeMutableBytes { raw in
            BigEndian.store(UInt32(4), at: RecordBatchHeader.Offset.recordCount, in: raw)
            BigEndian.store(UInt32(3), at: RecordBatchHeader.Offset.lastOffsetDelta, in: raw)
            let crc = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[RecordBatchHeader.Offset.attributes...]))
            BigEndian.store(crc, at: RecordBatchHeader.Offset.crc, in: raw)
        }
        XCTAssertEqual(try produce(badCount).errorCode, .invalidRecord)

        // A record length varint that runs past the batch (CRC recomputed).
        var badFraming = validBatch()
        badFraming.withUnsafeMutableBytes { raw in
            raw[RecordBatchHeader.size] = 0x7E  // zig-zag 63: longer than the record
            let crc = CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[RecordBatchHeader.Offset.attributes...]))
            BigEndian.store(crc, at: RecordBatchHeader.Offset.crc, in: raw)
        }
        XCTAssertEqual(try produce(badFraming).errorCode, .invalidRecord)

        XCTAssertEqual(try produce(Array(validBatch().prefix(40))).errorCode, .invalidRecord)
        XCTAssertEqual(try latestOffset(), 0, "nothing may be stored from refused batches")

        let ok = try produce(validBatch(count: 5))
        XCTAssertEqual(ok.errorCode, .none)
        XCTAssertEqual(ok.baseOffset, 0)
        XCTAssertEqual(try latestOffset(), 5)
    }

    func testFetchOutOfRangeAndUnknownPartitions() throws {
        try createTopic("t")
        XCTAssertEqual(try produce(validBatch(count: 2)).errorCode, .none)
        let connection = try RawConnection(port: broker.port)
        func fetch(_ topic: String, _ partition: Int32, _ offset: Int64) throws -> FetchResponse.Partition {
            let (_, response) = try connection.roundTrip(
                FetchRequest(
                    maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20,
                    topics: [.init(name: topic, partitions: [.init(partition: partition, fetchOffset: offset, maxBytes: 1 << 20)])]))
            return try XCTUnwrap(response?.topics.first?.partitions.first)
        }
        XCTAssertEqual(try fetch("t", 0, 3).errorCode, .offsetOutOfRange)
        XCTAssertEqual(try fetch("t", 0, -1).errorCode, .offsetOutOfRange)
        XCTAssertEqual(try fetch("t", 7, 0).errorCode, .unknownTopicOrPartition)
        XCTAssertEqual(try fetch("nope", 0, 0).errorCode, .unknownTopicOrPartition)
        let ok = try fetch("t", 0, 1)
        XCTAssertEqual(ok.errorCode, .none)
        XCTAssertEqual(ok.highWatermark, 2)
        var records: [Record] = []
        try RecordBatchDecoder.decode(ok.records, minOffset: 1, into: &records)
        XCTAssertEqual(records.map(\.offset), [1])
        XCTAssertEqual(records.first?.value, Array("value-1".utf8))
        XCTAssertEqual(try fetch("t", 0, 2).records, [], "fetch at the end returns no data")
    }
}
