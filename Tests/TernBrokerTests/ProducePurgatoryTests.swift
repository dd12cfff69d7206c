import Synchronization
import TernStorage
import TernWire
import XCTest

@testable import TernBroker

/// acks=all waiters are answered by the high watermark of the leader epoch they were appended in.
final class ProducePurgatoryTests: XCTestCase {
    private let tp = TopicPartition("t", 0)

    /// A waiter parked just after its replica stopped leading (so `fail` missed it) must not be
    /// acknowledged by a later epoch's high watermark: its offsets may hold other records now.
    func testLaterEpochHighWatermarkFailsAnOlderEpochsWaiter() {
        let purgatory = ProducePurgatory()
        let codes = Mutex<[ErrorCode]>([])
        purgatory.park(tp, endOffset: 365, leaderEpoch: 0, timeoutMs: 60_000) { code in
            codes.withLock { $0.append(code) }
        }
        purgatory.advance(tp, highWatermark: 1_000, leaderEpoch: 2)
        XCTAssertEqual(codes.withLock { $0 }, [.notLeaderOrFollower])
        XCTAssertEqual(purgatory.count, 0)
    }

    /// In its own epoch a waiter completes once the high watermark passes its batch, not before;
    /// a waiter of a newer epoch than the advance's stays parked.
    func testWaiterCompletesOnItsOwnEpochsHighWatermark() {
        let purgatory = ProducePurgatory()
        let codes = Mutex<[Int: ErrorCode]>([:])
        purgatory.park(tp, endOffset: 10, leaderEpoch: 3, timeoutMs: 60_000) { code in
            codes.withLock { $0[1] = code }
        }
        purgatory.park(tp, endOffset: 5, leaderEpoch: 4, timeoutMs: 60_000) { code in
            codes.withLock { $0[2] = code }
        }
        purgatory.advance(tp, highWatermark: 9, leaderEpoch: 3)
        XCTAssertEqual(codes.withLock { $0 }, [:])
        purgatory.advance(tp, highWatermark: 10, leaderEpoch: 3)
        XCTAssertEqual(codes.withLock { $0 }, [1: .none])
        XCTAssertEqual(purgatory.count, 1)
        purgatory.fail(tp, .notLeaderOrFollower)
        XCTAssertEqual(codes.withLock { $0 }, [1: .none, 2: .notLeaderOrFollower])
    }
}
