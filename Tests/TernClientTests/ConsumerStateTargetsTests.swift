import Synchronization
import XCTest

@testable import TernClient

/// `ConsumerState.targetsVersion`: what makes an in-flight fetch stale (and so superseded by the
/// fetch loop) and what does not.
final class ConsumerStateTargetsTests: XCTestCase {
    private let tp = TopicPartition(topic: "t", partition: 0)

    func testAssignmentSeekAndResolvedPositionsMoveTheVersion() {
        var state = ConsumerState()
        var version = state.targetsVersion
        func moved(_ what: String) {
            XCTAssertNotEqual(state.targetsVersion, version, what)
            version = state.targetsVersion
        }
        state.assign([tp], reset: .earliest)
        moved("assign")
        let pending = state.pendingResets[tp]
        state.resolved(tp, offset: 0, epoch: pending?.epoch ?? 0)
        moved("resolved")
        XCTAssertTrue(state.seek(tp, to: .offset(7)))
        moved("seek")
        state.add([TopicPartition(topic: "t", partition: 1): .offset(0)])
        moved("add")
        state.remove([TopicPartition(topic: "t", partition: 1)])
        moved("remove")
    }

    func testAFetchResultAndTakingRecordsDoNotMoveTheVersion() {
        var state = ConsumerState()
        state.assign([tp], reset: .earliest)
        XCTAssertTrue(state.seek(tp, to: .offset(0)))
        let version = state.targetsVersion
        let now = ContinuousClock.now
        guard let target = state.fetchTargets(now: now, leader: { _ in 1 }).byLeader[1]?.first else {
            return XCTFail("no fetch target")
        }
        let record = ConsumerRecord(topic: "t", partition: 0, offset: 0, timestamp: 0, key: nil, value: [1])
        _ = state.apply(
            .records([record], nextOffset: 1, bytes: 1), for: target, policy: .earliest, now: now, backoff: .zero)
        XCTAssertEqual(state.take(max: 10).map(\.offset), [0])
        XCTAssertEqual(state.targetsVersion, version)
    }

    func testAChangeWakesTheWaitingFetchLoop() async {
        let state = MutexBox()
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            state.update { $0.targetsWaiter = continuation }
            state.update { _ = $0.seek(tp, to: .offset(1)) }  // not assigned: nothing changes
            state.update { XCTAssertNotNil($0.targetsWaiter) }
            state.update { $0.assign([tp], reset: .latest) }  // resumes the waiter
        }
        state.update { XCTAssertNil($0.targetsWaiter) }
    }
}

/// A `ConsumerState` behind a lock, as the consumer keeps it.
private final class MutexBox: Sendable {
    private let state = Mutex(ConsumerState())
    func update(_ body: (inout ConsumerState) -> Void) { state.withLock { body(&$0) } }
}
