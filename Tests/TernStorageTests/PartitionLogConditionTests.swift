import Dispatch
import Foundation
import Synchronization
import TernStorage
import TernTestSupport
import TernWire
import XCTest

/// `PartitionLog.append(_:batches:leaderEpoch:if:)`: the condition is checked in the append's
/// lock hold, against the log's end offset or the key index (exact, after compaction and reopen).
final class PartitionLogConditionTests: XCTestCase {
    let config = LogConfig(segmentBytes: 2048, indexIntervalBytes: 256, keyIndexEnabled: true)

    func testEndOffsetConditionAppendsOnlyAtTheExpectedOffset() throws {
        let fixture = try StorageFixture()
        let log = try fixture.log(config)
        let first = try append(log, [keyed("a", "1"), keyed("a", "2")], if: .endOffset(expected: 0))
        guard case .appended(let result) = first else { return XCTFail("\(first)") }
        XCTAssertEqual(result.baseOffset, 0)
        XCTAssertEqual(
            try append(log, [keyed("a", "3")], if: .endOffset(expected: 0)),
            .conditionFailed(actual: 2, logEndOffset: 2))
        XCTAssertEqual(log.logEndOffset, 2, "nothing appended")
    }

    func testKeyConditionsUseTheKeysExactLastOffset() throws {
        let fixture = try StorageFixture()
        var colliding = config
        colliding.keyIndexHashBits = 0  // every key shares one hash: exactness comes from comparing keys
        let log = try fixture.log(colliding)
        let a = Array("order-1".utf8)
        let b = Array("order-2".utf8)
        guard case .appended = try append(log, [keyed("order-1", "created")], if: .keyLastOffset(key: a, expected: -1))
        else { return XCTFail("key absent should hold") }
        // order-2 shares the hash but not the key: still absent.
        guard case .appended = try append(log, [keyed("order-2", "created")], if: .keyLastOffset(key: b, expected: -1))
        else { return XCTFail("another key with the same hash does not satisfy the condition") }
        XCTAssertEqual(
            try append(log, [keyed("order-1", "again")], if: .keyLastOffset(key: a, expected: -1)),
            .conditionFailed(actual: 0, logEndOffset: 2))
        XCTAssertEqual(
            try append(log, [keyed("order-1", "paid")], if: .keyLastOffset(key: a, expected: 1)),
            .conditionFailed(actual: 0, logEndOffset: 2), "offset 1 is order-2's, not order-1's")
        guard
            case .appended(let paid) = try append(
                log, [keyed("order-1", "paid")], if: .keyLastOffset(key: a, expected: 0))
        else { return XCTFail("order-1's last offset is 0") }
        XCTAssertEqual(paid.baseOffset, 2)
        XCTAssertEqual(try log.lastOffset(ofKey: a), 2)
    }

    func testKeyConditionWithoutAnIndexIsRefused() throws {
        let fixture = try StorageFixture()
        var plain = config
        plain.keyIndexEnabled = false
        let log = try fixture.log(plain)
        assertStorageError(.keyIndexDisabled) {
            try append(log, [keyed("k", "v")], if: .keyLastOffset(key: Array("k".utf8), expected: -1))
        }
        XCTAssertEqual(log.logEndOffset, 0)
    }

    /// Threads race on one key, each appending only on top of the offset it last saw: one winner
    /// per expected offset, and the key's history is one unbroken chain.
    func testConcurrentKeyConditionsHaveOneWinnerPerOffset() throws {
        let fixture = try StorageFixture()
        let log = try fixture.log(config)
        let key = Array("account-9".utf8)
        let writers = 8
        let perWriter = 25
        let wins = Mutex<[(expected: Int64, offset: Int64)]>([])
        let failures = Mutex<[String]>([])
        DispatchQueue.concurrentPerform(iterations: writers) { writer in
            var seen: Int64 = -1
            var won = 0
            var attempts = 0
            while won < perWriter && attempts < 100_000 {
                attempts += 1
                do {
                    // Other keys interleave, so the key's offsets are not the log's.
                    _ = try append(log, [keyed("noise-\(writer)", "n")], if: .endOffset(expected: log.logEndOffset))
                    switch try append(
                        log, [keyed("account-9", "w\(writer)@\(seen)")], if: .keyLastOffset(key: key, expected: seen))
                    {
                    case .appended(let result):
                        wins.withLock { $0.append((seen, result.baseOffset)) }
                        seen = result.baseOffset
                        won += 1
                    case .conditionFailed(let actual, _):
                        seen = actual
                    }
                } catch {
                    failures.withLock { $0.append("\(error)") }
                    return
                }
            }
        }
        XCTAssertEqual(failures.withLock { $0 }, [])
        let all = wins.withLock { $0 }.sorted { $0.offset < $1.offset }
        XCTAssertEqual(all.count, writers * perWriter)
        XCTAssertEqual(Set(all.map(\.expected)).count, all.count, "one winner per expected offset")
        // A chain: each win expected the previous win's offset, the first expected none.
        XCTAssertEqual(all.first?.expected, -1)
        for (previous, next) in zip(all, all.dropFirst()) { XCTAssertEqual(next.expected, previous.offset) }
        XCTAssertEqual(try log.lastOffset(ofKey: key), all.last?.offset)
    }

    /// Compaction removes superseded records of a key: a condition still sees the key's true
    /// (retained) last offset, and after a reopen it is checked against the recovered log.
    func testKeyConditionsAfterCompactionAndReopen() throws {
        let fixture = try StorageFixture()
        let log = try fixture.log(config)
        let key = Array("k".utf8)
        var last: Int64 = -1
        for i in 0..<60 {
            guard
                case .appended(let result) = try append(
                    log, [keyed("k", "v\(i)"), keyed("k", "w\(i)")], if: .keyLastOffset(key: key, expected: last))
            else { return XCTFail("append \(i)") }
            last = result.lastOffset
            _ = try append(log, [keyed("other-\(i % 3)", "x")], if: .endOffset(expected: log.logEndOffset))
        }
        try log.roll()
        try log.flush()  // the cleaner stops at the recovery point
        _ = try XCTUnwrap(
            log.clean(using: OffsetMap(bufferBytes: 1 << 16), options: .init(deleteRetentionMs: 0, nowMs: 0)))
        XCTAssertEqual(try log.lastOffset(ofKey: key), last, "the latest record of the key is retained")
        XCTAssertEqual(
            try append(log, [keyed("k", "stale")], if: .keyLastOffset(key: key, expected: last - 3)),
            .conditionFailed(actual: last, logEndOffset: log.logEndOffset))
        guard
            case .appended(let after) = try append(
                log, [keyed("k", "next")], if: .keyLastOffset(key: key, expected: last))
        else { return XCTFail("the true last offset satisfies the condition after compaction") }

        try fixture.manager.shutdown()
        try fixture.removeCleanMarker()
        let reopened = try XCTUnwrap(fixture.reopen(config: config).log(for: fixture.topicPartition))
        XCTAssertEqual(
            try append(reopened, [keyed("k", "stale")], if: .keyLastOffset(key: key, expected: last)),
            .conditionFailed(actual: after.baseOffset, logEndOffset: reopened.logEndOffset),
            "a condition true before the last append is false after the reopen")
        guard
            case .appended = try append(
                reopened, [keyed("k", "fresh")], if: .keyLastOffset(key: key, expected: after.baseOffset))
        else { return XCTFail("the recovered last offset satisfies the condition") }
    }
}

/// Appends `records` (one batch) if `condition` holds.
@discardableResult
private func append(_ log: PartitionLog, _ records: [TestRecord], if condition: AppendCondition) throws
    -> ConditionalAppendResult
{
    var bytes = makeBatch(records: records)
    let batches = try bytes.withUnsafeBytes { try RecordBatchValidator.validateProduced($0) }
    return try log.append(&bytes, batches: batches, leaderEpoch: 0, if: condition)
}

private func keyed(_ key: String, _ value: String) -> TestRecord {
    TestRecord(key: Array(key.utf8), value: Array(value.utf8))
}
