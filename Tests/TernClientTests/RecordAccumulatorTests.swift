import TernWire
import XCTest

@testable import TernClient

final class RecordAccumulatorTests: XCTestCase {
    let tp = TopicPartition(topic: "t", partition: 0)

    func makeAccumulator(batchSize: Int = 1024, linger: Duration = .milliseconds(5), maxRequestSize: Int = 1 << 20)
        -> RecordAccumulator
    {
        RecordAccumulator(
            configuration: .init(
                batchSize: batchSize, linger: linger, deliveryTimeout: .seconds(120), maxRequestSize: maxRequestSize))
    }

    func append(
        _ accumulator: inout RecordAccumulator, count: Int, valueSize: Int = 50, to tp: TopicPartition? = nil,
        now: ContinuousClock.Instant, completion: RecordCompletion = .callback { _ in }
    ) -> [RecordAccumulator.AppendOutcome] {
        (0..<count).map { index in
            accumulator.append(
                to: tp ?? self.tp, key: nil, value: Array(repeating: UInt8(truncatingIfNeeded: index), count: valueSize),
                headers: [], timestamp: 1_000 + Int64(index), completion: completion, now: now)
        }
    }

    func testRecordsGoIntoBatchesNoLargerThanBatchSize() throws {
        var accumulator = makeAccumulator(batchSize: 1024)
        let now = ContinuousClock.now
        let outcomes = append(&accumulator, count: 100, now: now)
        XCTAssertTrue(outcomes[0].openedBatch)
        let batches = try XCTUnwrap(accumulator.queues[tp]?.allBatches)
        XCTAssertGreaterThan(batches.count, 3)
        XCTAssertEqual(batches.reduce(0) { $0 + $1.recordCount }, 100)
        for batch in batches { XCTAssertLessThanOrEqual(batch.sizeInBytes, 1024) }
        XCTAssertEqual(outcomes.filter(\.closedBatch).count, batches.count - 1)
        XCTAssertTrue(batches.last?.isOpen ?? false)
        XCTAssertEqual(accumulator.bufferedBytes, batches.reduce(0) { $0 + $1.sizeInBytes })

        // Closed batches are ready at once; all records come back, in order, from valid batches.
        let drained = accumulator.drain(now: now, flushing: false, leader: { _ in 1 }, canSend: { _ in true })
        let sent = try XCTUnwrap(drained.requests[1]?.first?.1)
        XCTAssertEqual(sent.count, batches.count - 1, "the open batch waits for linger")
        var records: [Record] = []
        for batch in sent {
            let bytes = try XCTUnwrap(batch.encoded)
            _ = try bytes.withUnsafeBytes { try RecordBatchValidator.validateProduced($0) }
            try RecordBatchDecoder.decode(bytes, into: &records)
        }
        XCTAssertEqual(records.map(\.timestamp), (0..<Int64(records.count)).map { 1_000 + $0 })
    }

    func testOversizedRecordGetsABatchOfItsOwn() throws {
        var accumulator = makeAccumulator(batchSize: 256)
        _ = append(&accumulator, count: 1, valueSize: 10, now: .now)
        let outcome = append(&accumulator, count: 1, valueSize: 1000, now: .now)[0]
        XCTAssertTrue(outcome.closedBatch)
        XCTAssertEqual(accumulator.queues[tp]?.allBatches.map(\.recordCount), [1, 1])
    }

    func testLingerHoldsAnOpenBatchUntilItExpires() throws {
        var accumulator = makeAccumulator(linger: .milliseconds(50))
        let start = ContinuousClock.now
        _ = append(&accumulator, count: 3, now: start)
        XCTAssertEqual(accumulator.nextWakeup(after: start), start + .milliseconds(50))

        let early = accumulator.drain(
            now: start + .milliseconds(49), flushing: false, leader: { _ in 1 }, canSend: { _ in true })
        XCTAssertTrue(early.requests.isEmpty)

        let late = accumulator.drain(
            now: start + .milliseconds(50), flushing: false, leader: { _ in 1 }, canSend: { _ in true })
        let sent = try XCTUnwrap(late.requests[1])
        XCTAssertEqual(sent.count, 1)
        XCTAssertEqual(sent[0].1.map(\.recordCount), [3])
        XCTAssertFalse(sent[0].1[0].isOpen, "sent batches are closed")
        XCTAssertEqual(late.closedOpenBatches, [tp])
        XCTAssertEqual(accumulator.queues[tp]?.inFlight, true)
    }

    func testFlushIgnoresLinger() {
        var accumulator = makeAccumulator(linger: .seconds(60))
        let now = ContinuousClock.now
        _ = append(&accumulator, count: 1, now: now)
        let drained = accumulator.drain(now: now, flushing: true, leader: { _ in 1 }, canSend: { _ in true })
        XCTAssertEqual(drained.requests[1]?.count, 1)
    }

    func testOneRequestPerLeaderCarriesEveryReadyPartition() {
        var accumulator = makeAccumulator(linger: .zero)
        let now = ContinuousClock.now
        for partition in 0..<4 {
            _ = append(&accumulator, count: 2, to: TopicPartition(topic: "t", partition: Int32(partition)), now: now)
        }
        let drained = accumulator.drain(
            now: now, flushing: false, leader: { $0.partition % 2 == 0 ? 1 : 2 }, canSend: { _ in true })
        XCTAssertEqual(drained.requests[1]?.map(\.0.partition), [0, 2])
        XCTAssertEqual(drained.requests[2]?.map(\.0.partition), [1, 3])
    }

    func testAPartitionHasOneRequestInFlightAndItsQueuedBatchesTravelTogether() {
        var accumulator = makeAccumulator(batchSize: 256, linger: .zero)
        let now = ContinuousClock.now
        _ = append(&accumulator, count: 2, now: now)
        let first = accumulator.drain(now: now, flushing: false, leader: { _ in 1 }, canSend: { _ in true })
        XCTAssertEqual(first.requests[1]?.first?.1.count, 1)

        _ = append(&accumulator, count: 20, now: now)
        let blocked = accumulator.drain(now: now, flushing: false, leader: { _ in 1 }, canSend: { _ in true })
        XCTAssertTrue(blocked.requests.isEmpty, "partition in flight")

        accumulator.finishedInFlight(tp)
        let next = accumulator.drain(now: now, flushing: false, leader: { _ in 1 }, canSend: { _ in true })
        let batches = next.requests[1]?.first?.1 ?? []
        XCTAssertGreaterThan(batches.count, 1)
        XCTAssertEqual(batches.reduce(0) { $0 + $1.recordCount }, 20)
    }

    func testRequestSizeLimitSplitsAcrossRequests() {
        var accumulator = makeAccumulator(batchSize: 256, linger: .zero, maxRequestSize: 600)
        let now = ContinuousClock.now
        _ = append(&accumulator, count: 30, now: now)
        let drained = accumulator.drain(now: now, flushing: false, leader: { _ in 1 }, canSend: { _ in true })
        let sent = drained.requests[1]?.first?.1 ?? []
        XCTAssertGreaterThanOrEqual(sent.count, 1)
        XCTAssertLessThanOrEqual(sent.reduce(0) { $0 + $1.sizeInBytes }, 600)
        XCTAssertFalse(accumulator.queues[tp]?.isEmpty ?? true)
    }

    func testBlockedAndLeaderlessPartitionsStayQueued() {
        var accumulator = makeAccumulator(linger: .zero)
        let now = ContinuousClock.now
        _ = append(&accumulator, count: 1, to: TopicPartition(topic: "t", partition: 0), now: now)
        _ = append(&accumulator, count: 1, to: TopicPartition(topic: "t", partition: 1), now: now)
        let drained = accumulator.drain(
            now: now, flushing: false, leader: { $0.partition == 0 ? nil : 7 }, canSend: { _ in false })
        XCTAssertTrue(drained.requests.isEmpty)
        XCTAssertEqual(drained.leaderless, [TopicPartition(topic: "t", partition: 0)])
        XCTAssertEqual(drained.blockedNodes, [7])
        XCTAssertEqual(accumulator.queues.values.reduce(0) { $0 + $1.allBatches.count }, 2)
    }

    func testRequeuedBatchesGoFirstAfterTheBackoff() {
        var accumulator = makeAccumulator(batchSize: 256, linger: .zero)
        let now = ContinuousClock.now
        _ = append(&accumulator, count: 4, now: now)
        let sent = accumulator.drain(now: now, flushing: false, leader: { _ in 1 }, canSend: { _ in true })
            .requests[1]?.first?.1 ?? []
        _ = append(&accumulator, count: 4, now: now)
        accumulator.requeue(sent, for: tp, retryAt: now + .milliseconds(100))
        XCTAssertTrue(
            accumulator.drain(now: now + .milliseconds(99), flushing: false, leader: { _ in 1 }, canSend: { _ in true })
                .requests.isEmpty)
        let retried = accumulator.drain(
            now: now + .milliseconds(100), flushing: false, leader: { _ in 1 }, canSend: { _ in true }
        ).requests[1]?.first?.1 ?? []
        XCTAssertEqual(retried.first?.encoded, sent.first?.encoded, "the retried batch leads")
        XCTAssertEqual(retried.first?.attempts, 2)
    }

    func testExpiredBatchesAreRemoved() {
        var accumulator = RecordAccumulator(
            configuration: .init(batchSize: 1024, linger: .zero, deliveryTimeout: .seconds(1), maxRequestSize: 1 << 20))
        let now = ContinuousClock.now
        _ = append(&accumulator, count: 2, now: now)
        XCTAssertTrue(accumulator.expire(now: now + .milliseconds(999)).isEmpty)
        let expired = accumulator.expire(now: now + .seconds(1))
        XCTAssertEqual(expired.map(\.recordCount), [2])
    }
}
