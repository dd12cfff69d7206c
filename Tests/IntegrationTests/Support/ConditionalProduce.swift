import TernTestSupport
import TernWire
import XCTest

/// Raw Produce v1 and Fetch helpers for the conditional-append tests: they speak the wire
/// protocol directly, so a test controls the append id, the exact bytes and when a connection
/// closes.
enum ConditionalProduce {
    /// A batch of `records` whose first record carries `tern.append.id` = `appendId` (if given).
    static func batch(_ records: [TestRecord], appendId: [UInt8]? = nil, gzip: Bool = false) -> [UInt8] {
        var builder = RecordBatchBuilder(baseTimestamp: defaultTestTimestamp)
        for (index, record) in records.enumerated() {
            var headers = record.headers
            if index == 0, let appendId {
                headers.append(RecordHeader(key: ProduceCondition.appendIdHeader, value: appendId))
            }
            builder.append(key: record.key, value: record.value, headers: headers, timestamp: record.timestamp)
        }
        return builder.finish(compression: gzip ? .gzip : .none)
    }

    /// A Produce v1 request for one partition.
    static func request(
        topic: String, partition: Int32 = 0, records: [UInt8], condition: ProduceCondition?, appendId: [UInt8]? = nil,
        acks: Int16 = -1
    ) -> ProduceRequest {
        ProduceRequest(
            acks: acks, timeoutMs: 30_000,
            topics: [
                .init(
                    name: topic,
                    partitions: [
                        .init(partition: partition, records: records, condition: condition, appendId: appendId)
                    ])
            ], version: 1)
    }

    /// Sends a Produce v1 request on a new connection and returns its one partition's answer.
    static func send(
        port: Int, topic: String, partition: Int32 = 0, records: [UInt8], condition: ProduceCondition?,
        appendId: [UInt8]? = nil
    ) throws -> ProduceResponse.Partition {
        let connection = try RawConnection(port: port, timeout: 30)
        let request = request(
            topic: topic, partition: partition, records: records, condition: condition, appendId: appendId)
        let (status, response) = try connection.roundTrip(request)
        XCTAssertEqual(status.errorCode, .none, "\(status)")
        return try XCTUnwrap(response?.topics.first?.partitions.first)
    }

    /// Every record of `topic`-`partition`, by plain Fetch from offset 0 to the log end.
    static func records(port: Int, topic: String, partition: Int32 = 0) throws -> [Record] {
        let connection = try RawConnection(port: port, timeout: 30)
        var records: [Record] = []
        var offset: Int64 = 0
        for round in 0..<10_000 {
            let request = FetchRequest(
                maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20,
                topics: [
                    .init(
                        name: topic, partitions: [.init(partition: partition, fetchOffset: offset, maxBytes: 1 << 20)])
                ],
                version: 0)
            let (status, response) = try connection.roundTrip(request, correlationId: UInt32(round + 1))
            XCTAssertEqual(status.errorCode, .none, "\(status)")
            let answer = try XCTUnwrap(response?.topics.first?.partitions.first)
            XCTAssertEqual(answer.errorCode, .none, answer.errorMessage ?? "")
            let before = records.count
            try RecordBatchDecoder.decode(answer.records, minOffset: offset, into: &records)
            if records.count == before { break }
            offset = (records.last?.offset ?? offset) + 1
        }
        return records
    }

    /// The log end offset of `topic`-`partition` (ListOffsets latest).
    static func endOffset(port: Int, topic: String, partition: Int32 = 0) throws -> Int64 {
        let connection = try RawConnection(port: port, timeout: 30)
        let (status, response) = try connection.roundTrip(
            ListOffsetsRequest(topics: [.init(name: topic, partitions: [.init(partition: partition, timestamp: -1)])]))
        XCTAssertEqual(status.errorCode, .none, "\(status)")
        return try XCTUnwrap(response?.topics.first?.partitions.first?.offset)
    }
}
