import TernStorage
import TernTestSupport
import TernWire
import XCTest

final class PartitionLogTimestampTests: XCTestCase {
    func testOffsetForTimestampFindsFirstRecordAtOrAfter() throws {
        let fixture = try StorageFixture()
        let log = try fixture.log(LogConfig(segmentBytes: 1500, indexIntervalBytes: 200))
        // Batch i holds 4 records with timestamps base + 1000 i + 0...3.
        let appended = try appendBatches(log, counts: Array(repeating: 4, count: 40), valueSize: 20)
        XCTAssertGreaterThan(log.segmentCount, 3)
        let base = defaultTestTimestamp

        // Exactly the timestamp of the third record of batch 17.
        let exact = try XCTUnwrap(log.offsetForTimestamp(base + 17_000 + 2))
        XCTAssertEqual(exact.offset, appended[17].baseOffset + 2)
        XCTAssertEqual(exact.timestamp, base + 17_000 + 2)

        // Between batches: the first record of the next batch.
        let between = try XCTUnwrap(log.offsetForTimestamp(base + 17_500))
        XCTAssertEqual(between.offset, appended[18].baseOffset)
        XCTAssertEqual(between.timestamp, base + 18_000)

        // Before everything: the first record.
        let first = try XCTUnwrap(log.offsetForTimestamp(0))
        XCTAssertEqual(first.offset, 0)
        XCTAssertEqual(first.timestamp, base)

        // After everything: none.
        XCTAssertNil(try log.offsetForTimestamp(base + 39_000 + 4))
        let last = try XCTUnwrap(log.offsetForTimestamp(base + 39_000 + 3))
        XCTAssertEqual(last.offset, log.logEndOffset - 1)

        // Every record timestamp maps to its own offset.
        for batch in appended {
            for (i, record) in batch.records.enumerated() {
                let found = try XCTUnwrap(log.offsetForTimestamp(record.timestamp ?? 0))
                XCTAssertEqual(found.offset, batch.baseOffset + Int64(i))
            }
        }
    }

    func testOffsetForTimestampWithTimestampsOutOfOrder() throws {
        let fixture = try StorageFixture()
        let log = try fixture.log(LogConfig(indexIntervalBytes: 1))
        let base = defaultTestTimestamp
        // The second batch has an older record in the middle: the first record at or after
        // base + 50 is still offset 1 (timestamp base + 100).
        for timestamps in [[base, base + 100], [base + 200, base + 10, base + 300], [base + 20]] {
            var bytes = makeBatch(
                records: timestamps.map { TestRecord(key: nil, value: [1], timestamp: $0) }, baseTimestamp: base)
            try appendProduced(log, &bytes)
        }
        XCTAssertEqual(try log.offsetForTimestamp(base + 50)?.offset, 1)
        XCTAssertEqual(try log.offsetForTimestamp(base + 150)?.offset, 2)
        XCTAssertEqual(try log.offsetForTimestamp(base + 250)?.offset, 4)
        XCTAssertEqual(try log.offsetForTimestamp(base + 15)?.offset, 1)
        XCTAssertNil(try log.offsetForTimestamp(base + 301))
    }

    func testOffsetForTimestampOnEmptyLog() throws {
        let fixture = try StorageFixture()
        let log = try fixture.log()
        XCTAssertNil(try log.offsetForTimestamp(0))
    }

    func testOffsetForTimestampAfterCleanReopenUsesStoredTimeIndex() throws {
        let fixture = try StorageFixture()
        let config = LogConfig(segmentBytes: 1500, indexIntervalBytes: 200)
        let log = try fixture.log(config)
        let appended = try appendBatches(log, counts: Array(repeating: 4, count: 40), valueSize: 20)
        try fixture.manager.shutdown()
        let reopened = try XCTUnwrap(fixture.reopen(config: config).log(for: fixture.topicPartition))
        for batch in appended {
            let found = try XCTUnwrap(reopened.offsetForTimestamp(batch.records[1].timestamp ?? 0))
            XCTAssertEqual(found.offset, batch.baseOffset + 1)
        }
        try fixture.manager.shutdown()
    }
}
