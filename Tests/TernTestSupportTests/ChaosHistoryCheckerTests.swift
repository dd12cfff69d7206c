import TernTestSupport
import XCTest

/// The chaos history checker on constructed histories: a valid history passes, with or without
/// indeterminate records, and each kind of violation is detected and named.
final class ChaosHistoryCheckerTests: XCTestCase {
    private func id(_ partition: Int32, _ sequence: Int64) -> ChaosRecordId {
        ChaosRecordId(partition: partition, sequence: sequence)
    }

    private func record(_ partition: Int32, _ offset: Int64, _ id: ChaosRecordId?) -> ChaosObservation {
        ChaosObservation(partition: partition, offset: offset, id: id)
    }

    /// Two partitions, records 0..<4 each, all acknowledged at offsets 0..<4, all stored in order,
    /// a consumer saw the first two of partition 0.
    private func validHistory() -> ChaosHistory {
        var history = ChaosHistory()
        for partition: Int32 in [0, 1] {
            history.attempted[partition] = 4
            for sequence: Int64 in 0..<4 {
                history.acknowledged[id(partition, sequence)] = sequence
                history.final[partition, default: []].append(record(partition, sequence, id(partition, sequence)))
            }
        }
        history.observed = [record(0, 0, id(0, 0)), record(0, 1, id(0, 1)), record(0, 1, id(0, 1))]
        return history
    }

    func testAValidHistoryPasses() {
        let verdict = ChaosHistoryChecker.check(validHistory())
        XCTAssertTrue(verdict.isValid, "\(verdict.problems)")
        XCTAssertEqual(verdict.acknowledged, 8)
        XCTAssertEqual(verdict.indeterminate, 0)
        XCTAssertEqual(
            verdict.summary,
            "acked=8 lost=0 duplicated=0 reordered=0 changed=0 phantom=0 truncated=0 indeterminate=0 (0 stored)")
    }

    func testIndeterminateRecordsMayBePresentOrAbsent() {
        var history = validHistory()
        // p0#4 failed and is stored; p0#5 timed out and is not; p1#4 failed and is not.
        history.attempted = [0: 6, 1: 5]
        history.failed = [id(0, 4), id(0, 5), id(1, 4)]
        history.final[0]?.append(record(0, 4, id(0, 4)))
        let verdict = ChaosHistoryChecker.check(history)
        XCTAssertTrue(verdict.isValid, "\(verdict.problems)")
        XCTAssertEqual(verdict.indeterminate, 3)
        XCTAssertEqual(verdict.indeterminatePresent, 1)
    }

    func testALostAcknowledgedRecordIsReported() {
        var history = validHistory()
        // A failover to a replica that never had p1#2 and p1#3: the log ends at offset 2.
        history.final[1]?.removeLast(2)
        let verdict = ChaosHistoryChecker.check(history)
        XCTAssertEqual(verdict.lost, 2)
        XCTAssertEqual(verdict.violations, 2)
        XCTAssertTrue(verdict.problems[0].hasPrefix("lost: p1#2 acknowledged at p1@2"), verdict.problems[0])
    }

    func testADuplicatedRecordIsReportedEvenWhenNeverAcknowledged() {
        var history = validHistory()
        history.final[0]?.append(record(0, 4, id(0, 3)))
        // An indeterminate record stored twice is a duplicate too.
        history.attempted[1] = 5
        history.failed = [id(1, 4)]
        history.final[1]? += [record(1, 4, id(1, 4)), record(1, 5, id(1, 4))]
        let verdict = ChaosHistoryChecker.check(history)
        XCTAssertEqual(verdict.duplicated, 2, "\(verdict.problems)")
        XCTAssertEqual(verdict.lost, 0)
        XCTAssertTrue(
            verdict.problems.contains { $0.hasPrefix("duplicated: p0#3 stored 2 times") }, "\(verdict.problems)")
    }

    func testARecordAtAnotherOffsetThanAcknowledgedIsChanged() {
        var history = validHistory()
        // A new leader took offsets 2 and 3 for other writes; p0#2 and p0#3 were re-sent and
        // stored again, later: present once each, but not where they were acknowledged.
        history.attempted[0] = 6
        history.failed = [id(0, 4), id(0, 5)]
        history.final[0] = [
            record(0, 0, id(0, 0)), record(0, 1, id(0, 1)), record(0, 2, id(0, 4)), record(0, 3, id(0, 5)),
            record(0, 4, id(0, 2)), record(0, 5, id(0, 3)),
        ]
        let verdict = ChaosHistoryChecker.check(history)
        XCTAssertEqual(verdict.changed, 2, "\(verdict.problems)")
        XCTAssertEqual(verdict.lost, 0)
        XCTAssertTrue(
            verdict.problems.contains { $0.hasPrefix("changed: p0#2 acknowledged at p0@2 holds p0#4") },
            "\(verdict.problems)")
    }

    func testAcknowledgedRecordsOutOfSendOrderAreReordered() {
        var history = validHistory()
        // Acknowledgements claim p1#2 at 3 and p1#3 at 2, and the log agrees: stored out of order.
        history.acknowledged[id(1, 2)] = 3
        history.acknowledged[id(1, 3)] = 2
        history.final[1] = [
            record(1, 0, id(1, 0)), record(1, 1, id(1, 1)), record(1, 2, id(1, 3)), record(1, 3, id(1, 2)),
        ]
        let verdict = ChaosHistoryChecker.check(history)
        XCTAssertEqual(verdict.reordered, 2, "\(verdict.problems)")
        XCTAssertEqual(verdict.lost + verdict.changed + verdict.duplicated, 0)
    }

    func testAValueNeverSentIsAPhantom() {
        var history = validHistory()
        // A sequence past what was attempted, and a value the workload never writes.
        history.final[0]? += [record(0, 4, id(0, 9)), record(0, 5, nil)]
        history.observed.append(record(1, 4, id(1, 7)))
        let verdict = ChaosHistoryChecker.check(history)
        XCTAssertEqual(verdict.phantom, 3, "\(verdict.problems)")
        XCTAssertFalse(verdict.isValid)
    }

    func testARecordAConsumerSawMustStay() {
        var history = validHistory()
        // p0#4 was never acknowledged (indeterminate) but a consumer read it at offset 4; the
        // final log ends at 4: a visible record was truncated.
        history.attempted[0] = 5
        history.failed = [id(0, 4)]
        history.observed.append(record(0, 4, id(0, 4)))
        var verdict = ChaosHistoryChecker.check(history)
        XCTAssertEqual(verdict.truncated, 1, "\(verdict.problems)")
        XCTAssertTrue(verdict.problems[0].hasPrefix("truncated: a consumer saw p0#4 at p0@4; it now holds nothing"))
        // Stored at the offset the consumer saw: fine.
        history.final[0]?.append(record(0, 4, id(0, 4)))
        verdict = ChaosHistoryChecker.check(history)
        XCTAssertTrue(verdict.isValid, "\(verdict.problems)")
    }

    func testValuesRoundTripThroughTheirTagOnly() {
        let value = id(2, 41).value(tag: "77")
        XCTAssertEqual(ChaosRecordId(value: value, tag: "77"), id(2, 41))
        XCTAssertNil(ChaosRecordId(value: value, tag: "78"))
        XCTAssertNil(ChaosRecordId(value: Array("chaos/77/2".utf8), tag: "77"))
        XCTAssertNil(ChaosRecordId(value: Array("chaos/77/x/1".utf8), tag: "77"))
    }

    func testVerdictsAddUp() {
        var total = ChaosVerdict()
        var one = ChaosVerdict()
        one.acknowledged = 5
        one.lost = 1
        one.indeterminate = 2
        total.add(one)
        total.add(one)
        XCTAssertEqual(total.acknowledged, 10)
        XCTAssertEqual(total.lost, 2)
        XCTAssertEqual(total.violations, 2)
    }
}
