import TernWire
import XCTest

@testable import TernClient

final class StickyPartitionerTests: XCTestCase {
    /// Values from Kafka's own `UtilsTest.testMurmur2`.
    func testMurmur2MatchesKafka() {
        let cases: [(String, Int32)] = [
            ("21", -973_932_308),
            ("foobar", -790_332_482),
            ("a-little-bit-long-string", -985_981_536),
            ("a-little-bit-longer-string", -1_486_304_829),
            ("lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58_897_971),
            ("abc", 479_470_107),
        ]
        for (key, expected) in cases {
            XCTAssertEqual(Murmur2.hash(Array(key.utf8)), expected, key)
        }
    }

    func testKeyedRecordsGoToMurmur2Partition() {
        var partitioner = StickyPartitioner()
        for index in 0..<200 {
            let key = Array("customer-\(index)".utf8)
            let expected = (Murmur2.hash(key) & 0x7fff_ffff) % 7
            XCTAssertEqual(partitioner.partition(topic: "t", key: key, partitionCount: 7), expected)
        }
        // Kafka's placement of "foobar" among 10 partitions: (-790332482 & 0x7fffffff) % 10.
        XCTAssertEqual(partitioner.partition(topic: "t", key: Array("foobar".utf8), partitionCount: 10), 6)
    }

    func testNullKeysStickUntilTheBatchCloses() {
        var partitioner = StickyPartitioner(firstPartition: { _ in 2 })
        for _ in 0..<100 { XCTAssertEqual(partitioner.partition(topic: "t", key: nil, partitionCount: 4), 2) }
        partitioner.batchClosed(topic: "t", partition: 1, partitionCount: 4)  // not the sticky one
        XCTAssertEqual(partitioner.partition(topic: "t", key: nil, partitionCount: 4), 2)
        partitioner.batchClosed(topic: "t", partition: 2, partitionCount: 4)
        XCTAssertEqual(partitioner.partition(topic: "t", key: nil, partitionCount: 4), 3)
        partitioner.batchClosed(topic: "t", partition: 3, partitionCount: 4)
        XCTAssertEqual(partitioner.partition(topic: "t", key: nil, partitionCount: 4), 0)
        XCTAssertEqual(partitioner.partition(topic: "other", key: nil, partitionCount: 4), 2, "sticky per topic")
    }

    /// Through the producer's state: null-keyed records fill one partition's batch, and the
    /// record that does not fit closes it and moves to the next partition.
    func testProducerStateMovesStickyPartitionWhenBatchFills() {
        var state = ProducerState(
            configuration: ProducerConfiguration(batchSize: 512, linger: .seconds(60)),
            partitioner: StickyPartitioner(firstPartition: { _ in 0 }))
        state.metadata = testMetadata(partitions: 3)
        let now = ContinuousClock.now
        var closed = 0
        for index in 0..<60 {
            let placement = state.place(
                topic: "t", key: nil, value: Array(repeating: UInt8(index), count: 20), headers: [], partition: nil,
                timestamp: 1, completion: .callback { _ in }, now: now)
            guard case .appended(let outcome) = placement else { return XCTFail("not appended") }
            if outcome.closedBatch { closed += 1 }
        }
        XCTAssertGreaterThanOrEqual(closed, 2)
        let counts = (0..<3).map { state.accumulator.queues[TopicPartition(topic: "t", partition: $0)]?.allBatches.count ?? 0 }
        XCTAssertEqual(counts.reduce(0, +), closed + 1)
        XCTAssertTrue(counts.allSatisfy { $0 >= 1 }, "\(counts)")
        for queue in state.accumulator.queues.values {
            for batch in queue.allBatches { XCTAssertLessThanOrEqual(batch.sizeInBytes, 512) }
            // Only the newest batch of the partition currently sticky is open.
            XCTAssertTrue(queue.allBatches.dropLast().allSatisfy { !$0.isOpen })
        }
    }
}
