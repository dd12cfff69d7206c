import Logging
import TernNet
import TernStorage
import TernTestSupport
import TernWire
import XCTest

@testable import TernBroker

#if canImport(Glibc)
import Glibc
#endif

/// The fetch response the broker sends as header bytes interleaved with file regions (for
/// `sendfile`) must be byte-for-byte a valid FetchResponse frame holding the log's batches.
final class FetchEncodingTests: XCTestCase {
    func testChunkedFetchResponseDecodesToTheStoredBatches() throws {
        let directory = TemporaryDirectory("tern-broker")
        defer { directory.remove() }
        let config = try BrokerConfig.load(
            file: nil, overrides: ["log.dirs=\(directory.path)/data", "listeners=PLAINTEXT://127.0.0.1:0"])
        let broker = try Broker(
            config: config, logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
        // Topics are created through the metadata quorum, which runs once the broker started.
        try broker.start()
        defer { try? broker.shutdown() }
        _ = try broker.createTopic(name: "t", partitions: 2, configs: ["segment.bytes": "2048"])
        var stored: [Int32: [UInt8]] = [:]
        for partition in Int32(0)..<2 {
            let log = try XCTUnwrap(broker.logManager.log(for: TopicPartition("t", partition)))
            for i in 0..<30 {
                var bytes = makeBatch(count: 2 + i % 3, valueSize: 40)
                let batches = try bytes.withUnsafeBytes { try RecordBatchValidator.validateProduced($0) }
                _ = try log.append(&bytes, batches: batches, leaderEpoch: 0)
                if i == 0 { stored[partition] = bytes }
            }
        }
        let request = FetchRequest(
            maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20,
            topics: [
                .init(
                    name: "t",
                    partitions: [
                        .init(partition: 0, fetchOffset: 0, maxBytes: 1 << 20),
                        .init(partition: 1, fetchOffset: 5, maxBytes: 100),
                        .init(partition: 9, fetchOffset: 0, maxBytes: 100),
                    ])
            ])
        let chunks = broker.readFetch(request).encode(correlationId: 77)

        // Materialize what TernNet would put on the wire.
        var frame: [UInt8] = []
        for chunk in chunks {
            switch chunk {
            case .bytes(let bytes): frame += bytes
            case .file(let region):
                var part = [UInt8](repeating: 0, count: region.count)
                let n = part.withUnsafeMutableBytes { pread(region.descriptor, $0.baseAddress, region.count, off_t(region.offset)) }
                XCTAssertEqual(n, region.count)
                frame += part
            }
        }
        XCTAssertTrue(chunks.contains { if case .file = $0 { return true } else { return false } }, "records go by sendfile")
        let size = Int(UInt32(frame[0]) << 24 | UInt32(frame[1]) << 16 | UInt32(frame[2]) << 8 | UInt32(frame[3]))
        XCTAssertEqual(size, frame.count - 4)
        var reader = ByteReader(frame, range: 4..<frame.count)
        let head = try Frame.readResponseHead(&reader)
        XCTAssertEqual(head.correlationId, 77)
        let response = try FetchResponse(from: &reader)
        XCTAssertTrue(reader.isAtEnd)
        let partitions = try XCTUnwrap(response.topics.first).partitions
        XCTAssertEqual(partitions.map(\.partition), [0, 1, 9])
        XCTAssertEqual(partitions[2].errorCode, .unknownTopicOrPartition)

        var records: [Record] = []
        try RecordBatchDecoder.decode(partitions[0].records, into: &records)
        XCTAssertEqual(records.first?.offset, 0)
        XCTAssertEqual(Array(partitions[0].records.prefix(stored[0]?.count ?? 0)), stored[0], "bytes as appended")
        var second: [Record] = []
        try RecordBatchDecoder.decode(partitions[1].records, minOffset: 5, into: &second)
        XCTAssertEqual(second.first?.offset, 5, "the small partition budget still yields its first batch")
        XCTAssertEqual(partitions[0].highWatermark, broker.logManager.log(for: TopicPartition("t", 0))?.logEndOffset)
        try broker.shutdown()
    }
}
