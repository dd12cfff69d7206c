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
        XCTAssertTrue(pool.reserve(150, waiter: ObjectIdentifier(first)) { XCTFail("granted, never woken") })
        XCTAssertEqual(pool.usedBytes, 150)
        XCTAssertFalse(pool.reserve(10, waiter: ObjectIdentifier(second)) { woken.add(1, ordering: .relaxed) })
        XCTAssertEqual(pool.waitingCount, 1)
        // A charge past the limit does not wake anyone; a release below it does, once.
        pool.charge(20)
        pool.release(20)
        XCTAssertEqual(woken.load(ordering: .relaxed), 0)
        pool.release(100)
        XCTAssertEqual(woken.load(ordering: .relaxed), 1)
        XCTAssertEqual(pool.waitingCount, 0)
        XCTAssertTrue(pool.reserve(10, waiter: ObjectIdentifier(second)) {})
        pool.release(60)
        XCTAssertEqual(pool.usedBytes, 0)
        XCTAssertEqual(woken.load(ordering: .relaxed), 1)
    }

    func testCancelledWaiterIsNotWoken() {
        let pool = RequestMemoryPool(limit: 10)
        let holder = Token()
        let waiter = Token()
        XCTAssertTrue(pool.reserve(10, waiter: ObjectIdentifier(holder)) {})
        XCTAssertFalse(pool.reserve(5, waiter: ObjectIdentifier(waiter)) { XCTFail("a cancelled waiter was woken") })
        pool.cancelWait(ObjectIdentifier(waiter))
        pool.release(10)
        XCTAssertEqual(pool.usedBytes, 0)
    }
}
