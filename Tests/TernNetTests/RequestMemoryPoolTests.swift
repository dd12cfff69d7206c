import Synchronization
import XCTest

@testable import TernNet

/// The process-wide request memory budget: grants while below its limit (even past it, so a
/// frame larger than the pool is still read), makes later frames wait, and wakes them on release.
final class RequestMemoryPoolTests: XCTestCase {
    private final class Token {}

    func testGrantsBelowTheLimitAndWakesWaitersOnRelease() {
        let pool = RequestMemoryPool(limit: 100)
        let first = Token()
        let second = Token()
        let woken = Atomic<Int>(0)
        XCTAssertTrue(pool.reserve(150, waiter: ObjectIdentifier(first), frameInProgress: false) { XCTFail("granted, never woken") })
        XCTAssertEqual(pool.usedBytes, 150)
        XCTAssertFalse(pool.reserve(10, waiter: ObjectIdentifier(second), frameInProgress: false) { woken.add(1, ordering: .relaxed) })
        XCTAssertEqual(pool.waitingCount, 1)
        // A charge past the limit does not wake anyone; a release below it does, once.
        pool.charge(20)
        pool.release(20)
        XCTAssertEqual(woken.load(ordering: .relaxed), 0)
        pool.release(100)
        XCTAssertEqual(woken.load(ordering: .relaxed), 1)
        XCTAssertEqual(pool.waitingCount, 0)
        XCTAssertTrue(pool.reserve(10, waiter: ObjectIdentifier(second), frameInProgress: false) {})
        pool.release(60)
        XCTAssertEqual(pool.usedBytes, 0)
        XCTAssertEqual(woken.load(ordering: .relaxed), 1)
    }

    func testCancelledWaiterIsNotWoken() {
        let pool = RequestMemoryPool(limit: 10)
        let holder = Token()
        let waiter = Token()
        XCTAssertTrue(pool.reserve(10, waiter: ObjectIdentifier(holder), frameInProgress: false) {})
        XCTAssertFalse(pool.reserve(5, waiter: ObjectIdentifier(waiter), frameInProgress: false) { XCTFail("a cancelled waiter was woken") })
        pool.cancelWait(ObjectIdentifier(waiter))
        pool.release(10)
        XCTAssertEqual(pool.usedBytes, 0)
    }

    func testOneFrameInProgressFinishesPastAnExhaustedPoolAndHandsTheTurnOn() {
        let pool = RequestMemoryPool(limit: 100)
        let first = Token()
        let second = Token()
        let third = Token()
        let woken = Atomic<Int>(0)
        // Two frames part-way through fill the pool; a new frame waits.
        XCTAssertTrue(pool.reserve(60, waiter: ObjectIdentifier(first), frameInProgress: false) {})
        XCTAssertTrue(pool.reserve(60, waiter: ObjectIdentifier(second), frameInProgress: false) {})
        XCTAssertFalse(pool.reserve(10, waiter: ObjectIdentifier(third), frameInProgress: false) {})
        // Both need more to finish: one of them is let through (else neither could ever finish).
        XCTAssertTrue(pool.reserve(60, waiter: ObjectIdentifier(first), frameInProgress: true) {})
        XCTAssertTrue(pool.reserve(60, waiter: ObjectIdentifier(first), frameInProgress: true) {})
        XCTAssertFalse(
            pool.reserve(60, waiter: ObjectIdentifier(second), frameInProgress: true) { woken.add(1, ordering: .relaxed) })
        XCTAssertEqual(pool.usedBytes, 240)
        // A handler keeps 100 bytes of a request. The finisher hands its frame over: the pool is
        // still over its limit, but the other frame in progress is woken to take its turn.
        pool.charge(100)
        pool.releaseFrame(180, holder: ObjectIdentifier(first))
        XCTAssertEqual(pool.usedBytes, 160)
        XCTAssertEqual(woken.load(ordering: .relaxed), 1)
        XCTAssertTrue(pool.reserve(60, waiter: ObjectIdentifier(second), frameInProgress: true) {})
        XCTAssertFalse(pool.reserve(10, waiter: ObjectIdentifier(third), frameInProgress: false) {})
        pool.releaseFrame(120, holder: ObjectIdentifier(second))
        pool.release(100)
        XCTAssertEqual(pool.usedBytes, 0)
    }
}
