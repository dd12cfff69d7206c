import Foundation
import TernClient
import TernTestSupport
import TernWire
import XCTest

/// gzip batches through producer, broker and consumer, and a corrupt one refused.
final class CompressionTests: BrokerTestCase {

    func testGzipRoundTripThroughSDKAndBrokerStoresCompressedBatches() async throws {
        let client = try await TernClient(configuration: ClientConfiguration(bootstrap: [broker.bootstrap]))
        try await client.admin.createTopic(name: "zipped", partitions: 1)
        let producer = client.producer(configuration: ProducerConfiguration(acks: .all, compression: .gzip))
        let values = (0..<3000).map { "PaymentReceived {\"account\":\"acct-\($0 % 10)\",\"amount\":\($0)}" }
        for value in values {
            producer.send(topic: "zipped", key: Array("acct".utf8), value: Array(value.utf8)) { _ in }
        }
        try await producer.flush()
        await producer.close()

        let consumer = client.consumer()
        try await consumer.assign(topic: "zipped")
        try await consumer.seekToBeginning()
        var received: [String] = []
        let deadline = ContinuousClock.now + .seconds(30)
        while received.count < values.count && ContinuousClock.now < deadline {
            received += try await consumer.poll(timeout: .seconds(1)).map { String(decoding: $0.value ?? [], as: UTF8.self) }
        }
        await consumer.close()
        await client.close()
        XCTAssertEqual(received, values)

        // On disk the batches are the producer's gzip batches, much smaller than the values.
        let segment = directory.path + "/data/zipped-0/00000000000000000000.log"
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: segment)))
        let header = try XCTUnwrap(RecordBatchHeader(bytes))
        XCTAssertEqual(header.compression, .gzip)
        XCTAssertLessThan(bytes.count, values.reduce(0) { $0 + $1.utf8.count } / 3)
    }

    func testCLIProducesGzipAndConsumesTransparently() throws {
        let tern = Binaries.path("tern")
        XCTAssertEqual(try runCommand(tern, ["--bootstrap", broker.bootstrap, "topic", "create", "z", "--partitions", "2"]).status, 0)
        let lines = (1...5000).map { "line-\($0)" }
        let produced = try runCommand(
            tern, ["--bootstrap", broker.bootstrap, "produce", "z", "--compression", "gzip"],
            stdin: lines.joined(separator: "\n"))
        XCTAssertEqual(produced.status, 0, produced.stderr)
        let consumed = try runCommand(
            tern,
            ["--bootstrap", broker.bootstrap, "consume", "z", "--from-beginning", "--max-messages", "5000",
             "--timeout-ms", "10000"])
        XCTAssertEqual(consumed.status, 0, consumed.stderr)
        XCTAssertEqual(Set(consumed.stdout.split(separator: "\n").map(String.init)), Set(lines))
        let bad = try runCommand(tern, ["--bootstrap", broker.bootstrap, "produce", "z", "--compression", "lz4"], stdin: "x")
        XCTAssertNotEqual(bad.status, 0)
    }

    func testCorruptCompressedBatchIsRefusedAndNothingIsStored() throws {
        let connection = try RawConnection(port: broker.port)
        _ = try connection.roundTrip(CreateTopicsRequest(topics: [.init(name: "c", numPartitions: 1)]))
        var builder = RecordBatchBuilder(baseTimestamp: defaultTestTimestamp)
        for i in 0..<20 { builder.append(key: nil, value: Array("event-\(i)".utf8)) }
        var batch = builder.finish(compression: .gzip)
        batch[RecordBatchHeader.size + 15] ^= 0x5A
        BatchSurgery.recomputeCRC(&batch)
        let (_, response) = try connection.roundTrip(
            ProduceRequest(acks: 1, timeoutMs: 5000, topics: [.init(name: "c", partitions: [.init(partition: 0, records: batch)])]))
        let partition = try XCTUnwrap(response?.topics.first?.partitions.first)
        XCTAssertEqual(partition.errorCode, .invalidRecord)
        XCTAssertTrue(partition.errorMessage?.contains("gzip") ?? false, "\(String(describing: partition.errorMessage))")
        let (_, offsets) = try connection.roundTrip(
            ListOffsetsRequest(topics: [.init(name: "c", partitions: [.init(partition: 0, timestamp: -1)])]))
        XCTAssertEqual(offsets?.topics.first?.partitions.first?.offset, 0)
    }
}
