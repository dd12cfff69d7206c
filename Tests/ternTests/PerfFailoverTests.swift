import ArgumentParser
import XCTest

@testable import tern

/// `tern perf failover`: its arguments, and the check of the read-back against the
/// acknowledgements that decides whether a failover lost, doubled, moved or reordered a record.
final class PerfFailoverTests: XCTestCase {
    func testArguments() throws {
        let parsed = try PerfFailoverCommand.parse(["--topic", "t", "--seconds", "5", "--ack-log", "/tmp/acks"])
        XCTAssertEqual(parsed.throughput, 1000)
        XCTAssertEqual(parsed.ackLog, "/tmp/acks")
        for (arguments, fragment) in [
            (["--topic", "t", "--throughput", "0"], "--throughput"),
            (["--topic", "t", "--seconds", "0"], "--seconds"),
            (["--topic", "t", "--record-size", "4"], "--record-size"),
            (["--topic", "t", "--partition=-1"], "--partition"),
            (["--seconds", "1"], "--topic"),
        ] {
            XCTAssertThrowsError(try PerfFailoverCommand.parse(arguments)) { error in
                XCTAssertTrue(PerfFailoverCommand.message(for: error).contains(fragment), "\(arguments)")
            }
        }
    }

    private func ack(_ sequence: Int, at offset: Int64, ackMs: UInt64) -> FailoverHistory.Ack {
        FailoverHistory.Ack(
            sequence: sequence, offset: offset, sentNanoseconds: 0, ackNanoseconds: ackMs * 1_000_000)
    }

    func testAFaithfulReadBackPassesAndTheLongestGapIsFound() {
        // Records 0-3 acknowledged; 4 was sent, never acknowledged, yet stored: allowed.
        let acks = [
            ack(0, at: 0, ackMs: 10), ack(1, at: 1, ackMs: 11), ack(2, at: 2, ackMs: 7_511),
            ack(3, at: 3, ackMs: 7_512),
        ]
        let check = FailoverCheck(acknowledged: acks, readBack: [(0, 0), (1, 1), (2, 2), (3, 3), (4, 4)])
        XCTAssertTrue(check.passed)
        XCTAssertEqual(check.longestGapNanoseconds, 7_500_000_000)
        XCTAssertEqual(check.longestGapEndNanoseconds, 7_511_000_000)
    }

    func testEachViolationIsCounted() {
        let acks = [ack(0, at: 0, ackMs: 1), ack(1, at: 1, ackMs: 2), ack(2, at: 2, ackMs: 3), ack(3, at: 3, ackMs: 4)]
        // Sequence 1 missing (lost); 3 at offset 1 instead of 3 (moved); 2 stored twice
        // (duplicated; its later copy at offset 3, not 2: moved); 3 before 2 and 2 after 2 in the
        // log (reordered twice).
        let check = FailoverCheck(acknowledged: acks, readBack: [(0, 0), (1, 3), (2, 2), (3, 2)])
        XCTAssertFalse(check.passed)
        XCTAssertEqual(check.lost, 1)
        XCTAssertEqual(check.duplicated, 1)
        XCTAssertEqual(check.reordered, 2)
        XCTAssertEqual(check.moved, 2)
    }
}
