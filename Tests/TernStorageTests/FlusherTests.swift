import Dispatch
import Foundation
import TernStorage
import TernTestSupport
import TernWire
import XCTest

/// Group commit through `LogManager.whenDurable`.
final class FlusherTests: XCTestCase {
    func testWhenDurableCompletesAfterFlush() throws {
        let fixture = try StorageFixture(flushMode: .sync)
        let log = try fixture.log()
        let result = try appendBatches(log, counts: [3])[0]
        XCTAssertEqual(log.recoveryPoint, 0)
        let done = expectation(description: "durable")
        fixture.manager.whenDurable(log, upTo: result.lastOffset + 1) { outcome in
            if case .failure(let error) = outcome { XCTFail("\(error)") }
            XCTAssertGreaterThanOrEqual(log.recoveryPoint, result.lastOffset + 1)
            done.fulfill()
        }
        wait(for: [done], timeout: 10)
        XCTAssertEqual(log.recoveryPoint, 3)
        try fixture.manager.shutdown()
    }

    func testManyWaitersShareFewFsyncs() throws {
        let fixture = try StorageFixture(flushMode: .sync)
        let log = try fixture.log()
        let other = try fixture.manager.createLog(TopicPartition("payments", 0), config: LogConfig())
        let manager = fixture.manager
        let before = manager.flushCount
        let producers = 64
        let completed = ManagedCounter()
        let failed = ManagedCounter()
        let group = DispatchGroup()
        // Producers append and wait concurrently, like acks=all produce requests.
        DispatchQueue.concurrentPerform(iterations: producers) { i in
            let target = i % 4 == 0 ? other : log
            var bytes = makeBatch(count: 2)
            guard let result = try? appendProduced(target, &bytes) else { return failed.increment() }
            group.enter()
            manager.whenDurable(target, upTo: result.logEndOffset) { outcome in
                if case .success = outcome, target.recoveryPoint >= result.logEndOffset {
                    completed.increment()
                } else {
                    failed.increment()
                }
                group.leave()
            }
        }
        XCTAssertEqual(group.wait(timeout: .now() + 20), .success)
        XCTAssertEqual(failed.value, 0)
        XCTAssertEqual(completed.value, producers)
        let fsyncs = fixture.manager.flushCount - before
        XCTAssertGreaterThan(fsyncs, 0)
        XCTAssertLessThan(fsyncs, producers, "waiters share fsyncs (\(fsyncs) for \(producers))")
        XCTAssertEqual(log.recoveryPoint, log.logEndOffset)
        XCTAssertEqual(other.recoveryPoint, other.logEndOffset)
        try fixture.manager.shutdown()
    }

    func testQueuedWaitersAreCompletedByOneRound() throws {
        let fixture = try StorageFixture(flushMode: .sync)
        let log = try fixture.log()
        var ends: [Int64] = []
        for _ in 0..<100 { ends.append(try appendBatches(log, counts: [1])[0].lastOffset + 1) }
        let before = fixture.manager.flushCount
        let group = DispatchGroup()
        let completed = ManagedCounter()
        for end in ends {
            group.enter()
            fixture.manager.whenDurable(log, upTo: end) { outcome in
                if case .success = outcome { completed.increment() }
                group.leave()
            }
        }
        XCTAssertEqual(group.wait(timeout: .now() + 20), .success)
        XCTAssertEqual(completed.value, 100)
        // The first waiter may start a round alone; everything queued behind it shares the next.
        XCTAssertLessThanOrEqual(fixture.manager.flushCount - before, 3)
        try fixture.manager.shutdown()
    }

    func testAlreadyDurableCompletesWithoutFsync() throws {
        let fixture = try StorageFixture(flushMode: .sync)
        let log = try fixture.log()
        try appendBatches(log, counts: [2])
        try log.flush()
        let before = fixture.manager.flushCount
        let done = expectation(description: "durable")
        fixture.manager.whenDurable(log, upTo: 2) { _ in done.fulfill() }
        wait(for: [done], timeout: 10)
        XCTAssertEqual(fixture.manager.flushCount, before)
        try fixture.manager.shutdown()
    }

    func testIntervalModeCompletesAtOnceAndFlushesInTheBackground() throws {
        let fixture = try StorageFixture(flushMode: .interval(milliseconds: 20))
        let log = try fixture.log()
        try appendBatches(log, counts: [5])
        let done = expectation(description: "completed")
        fixture.manager.whenDurable(log, upTo: 5) { outcome in
            if case .failure(let error) = outcome { XCTFail("\(error)") }
            done.fulfill()
        }
        wait(for: [done], timeout: 1)
        let deadline = Date().addingTimeInterval(5)
        while log.recoveryPoint < 5 && Date() < deadline { usleep(5_000) }
        XCTAssertEqual(log.recoveryPoint, 5, "the background flusher advanced the recovery point")
        XCTAssertGreaterThan(fixture.manager.flushCount, 0)
        try fixture.manager.shutdown()
    }

    func testWaitersAfterShutdownFail() throws {
        let fixture = try StorageFixture(flushMode: .sync)
        let log = try fixture.log()
        try appendBatches(log, counts: [1])
        try fixture.manager.shutdown()
        let done = expectation(description: "completed")
        fixture.manager.whenDurable(log, upTo: 5) { outcome in
            if case .success = outcome { XCTFail("a closed manager cannot make data durable") }
            done.fulfill()
        }
        wait(for: [done], timeout: 5)
    }

    func testFlushAdvancesRecoveryPointAcrossSegments() throws {
        let fixture = try StorageFixture(flushMode: .sync)
        let log = try fixture.log(LogConfig(segmentBytes: 600))
        try appendBatches(log, counts: Array(repeating: 2, count: 20), valueSize: 40)
        XCTAssertGreaterThan(log.segmentCount, 2)
        XCTAssertLessThan(log.recoveryPoint, log.logEndOffset)
        try log.flush()
        XCTAssertEqual(log.recoveryPoint, log.logEndOffset)
        try fixture.manager.shutdown()
    }
}
