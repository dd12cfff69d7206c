import TernWire
import XCTest

@testable import TernClient

extension ProducerState {
    /// As after a successful InitProducerId (id 500, epoch 0).
    mutating func givenProducerId(_ id: Int64 = 500, epoch: Int16 = 0) {
        idempotence.phase = .initializing
        _ = producerIdReceived(.success(InitProducerIdResponse(producerId: id, producerEpoch: epoch)))
    }
}

/// The idempotent producer's state machine: no batch leaves before a producer id, batches are
/// numbered once and keep their numbers through retries (sent again as the same group), at most
/// five batches of a partition per request, epoch bump after a sequence error, fatal fencing,
/// conditional batches never numbered.
final class ProducerIdempotenceTests: XCTestCase {
    let tp = TopicPartition(topic: "t", partition: 0)

    private func makeState(batchSize: Int = 200) -> ProducerState {
        var state = ProducerState(
            configuration: ProducerConfiguration(batchSize: batchSize, linger: .zero, retryBackoff: .zero),
            partitioner: StickyPartitioner(firstPartition: { _ in 0 }))
        state.metadata = testMetadata(partitions: 1)
        return state
    }

    private func place(_ state: inout ProducerState, _ count: Int, collector: ResultCollector) {
        for index in 0..<count {
            _ = state.place(
                topic: "t", key: nil, value: Array("value-\(index)".utf8), headers: [], partition: 0,
                timestamp: 5_000, completion: .callback(collector.completion), now: .now)
        }
    }

    private func headers(_ batches: [ProducerBatch]) -> [RecordBatchHeader] {
        batches.compactMap { $0.encoded.flatMap { RecordBatchHeader($0) } }
    }

    func testNothingIsSentBeforeAProducerIdAndBatchesAreNumberedFromZero() throws {
        var state = makeState()
        let collector = ResultCollector()
        place(&state, 80, collector: collector)
        let waiting = state.drain(now: .now, connectionReady: { _ in true })
        XCTAssertTrue(waiting.initProducerId, "asks for an id")
        XCTAssertTrue(waiting.send.isEmpty, "sends nothing without one")
        XCTAssertFalse(state.drain(now: .now, connectionReady: { _ in true }).initProducerId, "asks once")

        let ready = state.producerIdReceived(.success(InitProducerIdResponse(producerId: 77, producerEpoch: 0)))
        XCTAssertTrue(ready.drainAgain)
        let sent = try XCTUnwrap(state.drain(now: .now, connectionReady: { _ in true }).send[1])
        let numbered = headers(sent[0].1)
        XCTAssertEqual(numbered.count, 5, "at most five batches of a partition per request")
        var expected: Int32 = 0
        for header in numbered {
            XCTAssertEqual(header.producerId, 77)
            XCTAssertEqual(header.producerEpoch, 0)
            XCTAssertEqual(header.baseSequence, expected)
            expected += header.recordCount
        }
        // The stamped batches still pass the broker's checks (CRC recomputed).
        for batch in sent[0].1 {
            let bytes = try XCTUnwrap(batch.encoded)
            XCTAssertNoThrow(try bytes.withUnsafeBytes { try RecordBatchValidator.validateProduced($0) })
        }
        _ = state.apply([tp: .delivered(baseOffset: 0)], sent: sent, node: 1, now: .now)
        let next = try XCTUnwrap(state.drain(now: .now, connectionReady: { _ in true }).send[1])
        XCTAssertEqual(headers(next[0].1).first?.baseSequence, expected, "the next request continues the sequence")
    }

    func testARetryResendsTheSameNumberedGroupAlone() throws {
        var state = makeState()
        state.givenProducerId()
        let collector = ResultCollector()
        place(&state, 6, collector: collector)
        let first = try XCTUnwrap(state.drain(now: .now, connectionReady: { _ in true }).send[1])
        place(&state, 30, collector: collector)  // more records queue behind the request in flight
        let lost = TernError(.connectionFailed, "connection closed before the answer")
        _ = state.apply([tp: .retriable(lost)], sent: first, node: 1, now: .now)
        let second = try XCTUnwrap(state.drain(now: .now + .milliseconds(1), connectionReady: { _ in true }).send[1])
        XCTAssertEqual(second[0].1.map(\.encoded), first[0].1.map(\.encoded), "the same numbered bytes, nothing added")
        _ = state.apply([tp: .delivered(baseOffset: 0)], sent: second, node: 1, now: .now)
        let third = try XCTUnwrap(state.drain(now: .now, connectionReady: { _ in true }).send[1])
        let last = try XCTUnwrap(headers(first[0].1).last)
        XCTAssertEqual(
            headers(third[0].1).first?.baseSequence, last.baseSequence + last.recordCount, "new batches continue after")
    }

    func testSequenceErrorFailsTheBatchAndBumpsTheEpoch() throws {
        var state = makeState()
        state.givenProducerId()
        let collector = ResultCollector()
        place(&state, 3, collector: collector)
        let first = try XCTUnwrap(state.drain(now: .now, connectionReady: { _ in true }).send[1])
        let refusal = TernError.broker(.outOfOrderSequenceNumber, "gap", context: "produce to t-0")
        let effects = state.apply([tp: .failed(refusal)], sent: first, node: 1, now: .now)
        XCTAssertEqual(effects.fail.count, first[0].1.count)
        XCTAssertEqual(effects.fail.first?.1.brokerError, .outOfOrderSequenceNumber)
        place(&state, 3, collector: collector)
        let next = try XCTUnwrap(state.drain(now: .now, connectionReady: { _ in true }).send[1])
        let header = try XCTUnwrap(headers(next[0].1).first)
        XCTAssertEqual(header.producerEpoch, 1, "a new epoch")
        XCTAssertEqual(header.baseSequence, 0, "starting over at 0")
        XCTAssertEqual(header.producerId, 500)
    }

    func testFencedProducerFailsEverything() throws {
        var state = makeState()
        state.givenProducerId()
        let collector = ResultCollector()
        place(&state, 3, collector: collector)
        let first = try XCTUnwrap(state.drain(now: .now, connectionReady: { _ in true }).send[1])
        place(&state, 3, collector: collector)
        let fenced = TernError.broker(.invalidProducerEpoch, "old epoch", context: "produce to t-0")
        var effects = state.apply([tp: .failed(fenced)], sent: first, node: 1, now: .now)
        effects = state.drain(now: .now, connectionReady: { _ in true })
        XCTAssertTrue(effects.send.isEmpty)
        XCTAssertFalse(effects.fail.isEmpty, "what was held fails too")
        XCTAssertEqual(effects.fail.first?.1.brokerError, .invalidProducerEpoch)
        XCTAssertNotNil(state.idempotence.fatal)
        XCTAssertEqual(state.outstanding, 0)
    }

    func testRetriableInitFailureAsksAgainAfterTheBackoff() {
        var state = makeState()
        let collector = ResultCollector()
        place(&state, 1, collector: collector)
        XCTAssertTrue(state.drain(now: .now, connectionReady: { _ in true }).initProducerId)
        let effects = state.producerIdReceived(.failure(TernError(.connectionFailed, "no broker")))
        XCTAssertNotNil(effects.drainAfter)
        XCTAssertTrue(state.drain(now: .now, connectionReady: { _ in true }).initProducerId, "asks again")
    }

    func testConditionalBatchesAndIdempotenceOffAreNotNumbered() throws {
        var state = makeState()
        state.givenProducerId()
        let collector = ResultCollector()
        var batch = ProducerBatch(
            topicPartition: tp, baseTimestamp: 1_000, capacity: 256, now: .now, deliveryTimeout: .seconds(60))
        batch.append(key: nil, value: [1], headers: [], timestamp: 1_000, completion: .callback(collector.completion))
        batch.condition = .endOffset(0)
        batch.close()
        state.placeAlone(batch)
        let sent = try XCTUnwrap(state.drain(now: .now, connectionReady: { _ in true }).send[1])
        XCTAssertEqual(headers(sent[0].1).first?.producerId, -1, "a conditional batch is guarded by its append id")

        var off = ProducerState(
            configuration: ProducerConfiguration(linger: .zero, enableIdempotence: false),
            partitioner: StickyPartitioner(firstPartition: { _ in 0 }))
        off.metadata = testMetadata(partitions: 1)
        place(&off, 3, collector: collector)
        let drained = off.drain(now: .now, connectionReady: { _ in true })
        XCTAssertFalse(drained.initProducerId)
        XCTAssertEqual(headers(try XCTUnwrap(drained.send[1])[0].1).first?.producerId, -1)
    }
}

/// UNKNOWN_PRODUCER_ID (a new leader that never stored this producer's batches): the batches are
/// numbered again from 0 in the same epoch and retried, not failed.
final class ProducerUnknownProducerTests: XCTestCase {
    let tp = TopicPartition(topic: "t", partition: 0)

    private func headers(_ batches: [ProducerBatch]) -> [RecordBatchHeader] {
        batches.compactMap { $0.encoded.flatMap { RecordBatchHeader($0) } }
    }

    func testAnUnknownProducerRenumbersThePartitionAndRetries() throws {
        var state = ProducerState(
            configuration: ProducerConfiguration(batchSize: 200, linger: .zero, retryBackoff: .zero),
            partitioner: StickyPartitioner(firstPartition: { _ in 0 }))
        state.metadata = testMetadata(partitions: 1)
        state.givenProducerId()
        let collector = ResultCollector()
        func place(_ count: Int) {
            for index in 0..<count {
                _ = state.place(
                    topic: "t", key: nil, value: Array("value-\(index)".utf8), headers: [], partition: 0,
                    timestamp: 5_000, completion: .callback(collector.completion), now: .now)
            }
        }
        place(3)
        let first = try XCTUnwrap(state.drain(now: .now, connectionReady: { _ in true }).send[1])
        _ = state.apply([tp: .delivered(baseOffset: 0)], sent: first, node: 1, now: .now)
        place(3)
        let second = try XCTUnwrap(state.drain(now: .now, connectionReady: { _ in true }).send[1])
        let numbered = try XCTUnwrap(headers(second[0].1).first)
        XCTAssertGreaterThan(numbered.baseSequence, 0)

        let unknown = TernError.broker(.unknownProducerId, "no state", context: "produce to t-0")
        let effects = state.apply([tp: .failed(unknown)], sent: second, node: 2, now: .now)
        XCTAssertTrue(effects.fail.isEmpty, "retried, not failed")
        XCTAssertTrue(effects.refreshMetadata)
        let retried = try XCTUnwrap(state.drain(now: .now + .milliseconds(1), connectionReady: { _ in true }).send[1])
        let renumbered = headers(retried[0].1)
        XCTAssertEqual(renumbered.first?.baseSequence, 0, "numbered again from 0")
        XCTAssertEqual(renumbered.first?.producerEpoch, numbered.producerEpoch, "same epoch")
        XCTAssertEqual(renumbered.first?.producerId, numbered.producerId)
        XCTAssertEqual(retried[0].1.reduce(0) { $0 + $1.recordCount }, second[0].1.reduce(0) { $0 + $1.recordCount })
        for batch in retried[0].1 {
            let bytes = try XCTUnwrap(batch.encoded)
            XCTAssertNoThrow(try bytes.withUnsafeBytes { try RecordBatchValidator.validateProduced($0) })
        }
        let delivered = state.apply([tp: .delivered(baseOffset: 0)], sent: retried, node: 2, now: .now)
        XCTAssertEqual(delivered.deliver.count, retried[0].1.count)
        XCTAssertTrue(delivered.fail.isEmpty)
    }
}
