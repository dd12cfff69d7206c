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

/// A conditional batch that failed retriably is sent again byte for byte, with the same append
/// id (so the broker can recognise it if it landed), and a conflict fails it with the actual offset.
final class ConditionalRetryStateTests: XCTestCase {
    let tp = TopicPartition(topic: "t", partition: 0)

    func testRetriedConditionalBatchKeepsItsBytesAndIdAndConflictCarriesTheOffset() throws {
        var state = ProducerState(
            configuration: ProducerConfiguration(linger: .zero, retryBackoff: .zero),
            partitioner: StickyPartitioner(firstPartition: { _ in 0 }))
        state.metadata = testMetadata(partitions: 1)
        state.givenProducerId()
        let collector = ResultCollector()
        var batch = ProducerBatch(
            topicPartition: tp, baseTimestamp: 1_000, capacity: 256, now: .now, deliveryTimeout: .seconds(60))
        let appendId: [UInt8] = Array(0..<16)
        batch.append(
            key: Array("k".utf8), value: Array("v".utf8),
            headers: [RecordHeader(key: ProduceCondition.appendIdHeader, value: appendId)], timestamp: 1_000,
            completion: .callback(collector.completion))
        batch.condition = .endOffset(7)
        batch.appendId = appendId
        batch.close()
        state.placeAlone(batch)

        let first = try XCTUnwrap(state.drain(now: .now, connectionReady: { _ in true }).send[1])
        let lost = TernError(.connectionFailed, "connection closed before the answer")
        _ = state.apply([tp: .retriable(lost)], sent: first, node: 1, now: .now)
        let second = try XCTUnwrap(state.drain(now: .now + .milliseconds(1), connectionReady: { _ in true }).send[1])
        XCTAssertEqual(second[0].1.map(\.encoded), first[0].1.map(\.encoded), "the same bytes go again")
        XCTAssertEqual(second[0].1.map(\.appendId), [appendId])
        XCTAssertEqual(second[0].1.map(\.condition), [.endOffset(7)])

        let response = ProduceResponse(topics: [
            .init(
                name: "t",
                partitions: [.init(partition: 0, errorCode: .conditionFailed, errorMessage: "x", actualOffset: 9)])
        ])
        let outcomes = ProduceOutcome.map(.success(response), sent: [tp], peer: "broker 1")
        let effects = state.apply(outcomes, sent: second, node: 1, now: .now)
        for (batch, error) in effects.fail { batch.fail(error) }
        let failure = try XCTUnwrap(collector.failures.first)
        XCTAssertEqual(failure.code, .conditionFailed)
        XCTAssertEqual(failure.actualOffset, 9)
        XCTAssertEqual(state.outstanding, 0)
    }
}
