import TernTestSupport
import TernWire
import XCTest

@testable import TernClient

/// Conditional batches never share a request partition with other batches: their condition
/// covers exactly their records.
final class RecordAccumulatorAloneTests: XCTestCase {
    let tp = TopicPartition(topic: "t", partition: 0)

    private func conditional(_ value: String, condition: ProduceCondition, now: ContinuousClock.Instant)
        -> ProducerBatch
    {
        var batch = ProducerBatch(
            topicPartition: tp, baseTimestamp: 1_000, capacity: 256, now: now, deliveryTimeout: .seconds(60))
        batch.append(
            key: Array("k".utf8), value: Array(value.utf8), headers: [], timestamp: 1_000,
            completion: .callback { _ in })
        batch.condition = condition
        batch.appendId = [1, 2, 3, 4]
        batch.close()
        return batch
    }

    func testConditionalBatchIsSentAloneAfterWhatCameBefore() throws {
        var accumulator = RecordAccumulator(
            configuration: .init(
                batchSize: 1024, linger: .seconds(10), deliveryTimeout: .seconds(60), maxRequestSize: 1 << 20))
        let now = ContinuousClock.now
        for index in 0..<3 {
            _ = accumulator.append(
                to: tp, key: nil, value: [UInt8(index)], headers: [], timestamp: 1_000, completion: .callback { _ in },
                now: now)
        }
        accumulator.enqueueAlone(conditional("c1", condition: .endOffset(3), now: now))
        accumulator.enqueueAlone(conditional("c2", condition: .endOffset(4), now: now))
        _ = accumulator.append(
            to: tp, key: nil, value: [9], headers: [], timestamp: 1_000, completion: .callback { _ in }, now: now)
        XCTAssertEqual(accumulator.queues[tp]?.allBatches.map(\.recordCount), [3, 1, 1, 1])

        func drainOnce() throws -> [ProducerBatch] {
            let drained = accumulator.drain(now: now, flushing: true, leader: { _ in 1 }, canSend: { _ in true })
            let batches = try XCTUnwrap(drained.requests[1]?.first?.1)
            accumulator.finishedInFlight(tp)
            return batches
        }
        // The plain records queued before go first (linger ignored: the conditional batch closed them).
        XCTAssertEqual(try drainOnce().map(\.condition), [nil])
        XCTAssertEqual(try drainOnce().map(\.condition), [.endOffset(3)])
        XCTAssertEqual(try drainOnce().map(\.condition), [.endOffset(4)])
        XCTAssertEqual(try drainOnce().map(\.condition), [nil])
    }

    func testEncoderWritesVersionOneOnlyWithACondition() throws {
        let now = ContinuousClock.now
        var plain = ProducerBatch(
            topicPartition: tp, baseTimestamp: 1_000, capacity: 256, now: now, deliveryTimeout: .seconds(60))
        plain.append(key: nil, value: [1], headers: [], timestamp: 1_000, completion: .callback { _ in })
        plain.close()
        let other = TopicPartition(topic: "t", partition: 1)
        let plainOnly = ProduceRequestEncoder.encode(
            correlationId: 1, clientId: "c", acks: -1, timeoutMs: 100, partitions: [(tp, [plain])])
        let (header0, request0) = try parseRequestFrame(plainOnly.flatMap { $0 }, as: ProduceRequest.self)
        XCTAssertEqual(header0.apiVersion, 0)
        XCTAssertNil(request0.topics[0].partitions[0].condition)

        let batch = conditional("c", condition: .keyLastOffset(-1), now: now)
        let mixed = ProduceRequestEncoder.encode(
            correlationId: 2, clientId: "c", acks: -1, timeoutMs: 100,
            partitions: [(other, [plain]), (tp, [batch])])
        let (header1, request1) = try parseRequestFrame(mixed.flatMap { $0 }, as: ProduceRequest.self)
        XCTAssertEqual(header1.apiVersion, 1)
        let partitions = request1.topics[0].partitions.sorted { $0.partition < $1.partition }
        XCTAssertEqual(partitions.map(\.condition), [.keyLastOffset(-1), nil])
        XCTAssertEqual(partitions.map(\.appendId), [[1, 2, 3, 4], nil])
        XCTAssertEqual(partitions[0].records, batch.encoded)
    }
}
