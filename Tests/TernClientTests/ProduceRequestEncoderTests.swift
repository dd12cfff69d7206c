import TernWire
import XCTest

@testable import TernClient

final class ProduceRequestEncoderTests: XCTestCase {
    func makeBatch(_ tp: TopicPartition, values: [String]) -> ProducerBatch {
        var batch = ProducerBatch(
            topicPartition: tp, baseTimestamp: 1_000, capacity: 256, now: .now, deliveryTimeout: .seconds(1))
        for value in values {
            batch.append(key: nil, value: bytes(value), headers: [], timestamp: 1_000, completion: .callback { _ in })
        }
        batch.close()
        return batch
    }

    func testChunksConcatenateToTheSameFrameAsTheRequestEncoder() throws {
        let a0 = TopicPartition(topic: "a", partition: 0)
        let a1 = TopicPartition(topic: "a", partition: 1)
        let b3 = TopicPartition(topic: "b", partition: 3)
        let batches: [(TopicPartition, [ProducerBatch])] = [
            (a0, [makeBatch(a0, values: ["x", "y"]), makeBatch(a0, values: ["z"])]),
            (b3, [makeBatch(b3, values: ["q"])]),
            (a1, [makeBatch(a1, values: ["w"])]),
        ]
        let chunks = ProduceRequestEncoder.encode(
            correlationId: 77, clientId: "cid", acks: -1, timeoutMs: 30_000, partitions: batches)
        XCTAssertGreaterThan(chunks.count, 4, "batch bytes travel as their own chunks")

        func records(_ list: [ProducerBatch]) -> [UInt8] { list.flatMap { $0.encoded ?? [] } }
        let expected = Frame.request(
            ProduceRequest(
                acks: -1, timeoutMs: 30_000,
                topics: [
                    .init(
                        name: "a",
                        partitions: [
                            .init(partition: 0, records: records(batches[0].1)),
                            .init(partition: 1, records: records(batches[2].1)),
                        ]),
                    .init(name: "b", partitions: [.init(partition: 3, records: records(batches[1].1))]),
                ]),
            correlationId: 77, clientId: "cid")
        XCTAssertEqual(chunks.flatMap { $0 }, expected)

        var reader = ByteReader(Array(expected.dropFirst(4)))
        let header = try RequestHeader(from: &reader)
        XCTAssertEqual(header.correlationId, 77)
        let decoded = try ProduceRequest(from: &reader)
        let twoBatches = try XCTUnwrap(decoded.topics.first?.partitions.first?.records)
        XCTAssertEqual(try twoBatches.withUnsafeBytes { try RecordBatchValidator.validateProduced($0) }.count, 2)
    }
}
