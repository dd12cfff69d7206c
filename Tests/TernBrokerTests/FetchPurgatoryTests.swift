import Dispatch
import Logging
import Synchronization
import TernStorage
import XCTest

@testable import TernBroker

/// The fetch purgatory: a parked fetch completes once, for the first of enough appended bytes,
/// its (capped) wait, its connection closing or shutdown, and then nothing of it stays alive.
final class FetchPurgatoryTests: XCTestCase {
    private let tp = TopicPartition("t", 0)
    private let day = 86_400_000

    /// Stands for what a parked fetch's completion holds (request, buffers, connection).
    private final class Held: Sendable {}

    /// Counts completions.
    private final class Counter: Sendable {
        let value = Atomic<Int>(0)
        func bump() { value.add(1, ordering: .relaxed) }
        var count: Int { value.load(ordering: .relaxed) }
    }

    private func waitUntil(_ condition: () -> Bool, timeout: TimeInterval = 5) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while !condition() {
            if Date() > deadline { return false }
            usleep(2_000)
        }
        return true
    }

    func testAppendCompletesOnceAndReleasesWhatTheFetchHeld() {
        let purgatory = FetchPurgatory(maxWaitCapMs: day, logger: Logger(label: "test"))
        let completions = Counter()
        weak var weakHeld: Held?
        do {
            let held = Held()
            weakHeld = held
            purgatory.park(owner: 1, partitions: [tp], minBytes: 10, maxWaitMs: Int(Int32.max)) {
                _ = held
                completions.bump()
            }
        }
        purgatory.didAppend(to: tp, bytes: 4)
        XCTAssertEqual(purgatory.parkedCount, 1)
        purgatory.didAppend(to: tp, bytes: 6)
        purgatory.didAppend(to: tp, bytes: 6)
        XCTAssertTrue(waitUntil { completions.count == 1 })
        // The timer of a day-long wait is cancelled: the completion and what it holds are gone
        // now, not in a day.
        XCTAssertTrue(waitUntil { weakHeld == nil }, "a completed fetch is still held by its timer")
        XCTAssertEqual(purgatory.parkedCount, 0)
        purgatory.completeAll()
        usleep(50_000)
        XCTAssertEqual(completions.count, 1)
    }

    func testCancelCompletesOnlyTheClosingConnectionsFetches() {
        let purgatory = FetchPurgatory(maxWaitCapMs: day, logger: Logger(label: "test"))
        let closing = Counter()
        let staying = Counter()
        weak var weakHeld: Held?
        do {
            let held = Held()
            weakHeld = held
            for _ in 0..<3 {
                purgatory.park(owner: 7, partitions: [tp], minBytes: 1, maxWaitMs: day) {
                    _ = held
                    closing.bump()
                }
            }
        }
        purgatory.park(owner: 8, partitions: [tp], minBytes: 1, maxWaitMs: day) { staying.bump() }
        purgatory.cancel(owner: 7)
        XCTAssertEqual(closing.count, 3, "cancel completes synchronously")
        XCTAssertEqual(staying.count, 0)
        XCTAssertEqual(purgatory.parkedCount, 1)
        XCTAssertTrue(waitUntil { weakHeld == nil })
        purgatory.cancel(owner: 7)
        XCTAssertEqual(closing.count, 3)
        purgatory.completeAll()
        XCTAssertEqual(staying.count, 1)
    }

    func testWaitIsCappedWhateverTheClientAsks() {
        let purgatory = FetchPurgatory(maxWaitCapMs: 50, logger: Logger(label: "test"))
        let completions = Counter()
        let started = DispatchTime.now()
        purgatory.park(owner: 1, partitions: [tp], minBytes: 1, maxWaitMs: Int(Int32.max)) { completions.bump() }
        XCTAssertTrue(waitUntil({ completions.count == 1 }, timeout: 10))
        let elapsedMs = (DispatchTime.now().uptimeNanoseconds - started.uptimeNanoseconds) / 1_000_000
        XCTAssertGreaterThanOrEqual(elapsedMs, 45)
        XCTAssertEqual(purgatory.parkedCount, 0)
    }
}
