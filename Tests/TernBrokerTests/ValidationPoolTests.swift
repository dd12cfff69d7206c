import Dispatch
import Synchronization
import TernNet
import XCTest

@testable import TernBroker

/// The validation pool: bounded, fair between connections, in order within one.
final class ValidationPoolTests: XCTestCase {
    private final class Journal: Sendable {
        let entries = Mutex<[String]>([])
        let running = Atomic<Int>(0)
        let mostRunning = Atomic<Int>(0)
        func record(_ entry: String) { entries.withLock { $0.append(entry) } }
    }

    func testConnectionsTakeTurnsAndEachKeepsItsOrder() {
        let pool = ValidationPool(concurrency: 1)
        let journal = Journal()
        let done = DispatchGroup()
        let gate = DispatchSemaphore(value: 0)
        // Connection 1 queues five jobs; the first holds the only worker until connection 2 has
        // queued its two.
        for i in 0..<5 {
            done.enter()
            pool.submit(1) {
                if i == 0 { gate.wait() }
                journal.record("a\(i)")
                done.leave()
            }
        }
        for i in 0..<2 {
            done.enter()
            pool.submit(2) {
                journal.record("b\(i)")
                done.leave()
            }
        }
        XCTAssertTrue(pool.hasWork(for: 1))
        XCTAssertTrue(pool.hasWork(for: 2))
        XCTAssertFalse(pool.hasWork(for: 3))
        gate.signal()
        XCTAssertEqual(done.wait(timeout: .now() + 10), .success)
        // Round-robin: the second connection's jobs do not wait behind the first's backlog.
        XCTAssertEqual(journal.entries.withLock { $0 }, ["a0", "b0", "a1", "b1", "a2", "a3", "a4"])
        let deadline = Date().addingTimeInterval(5)
        while pool.busyConnections > 0 && Date() < deadline { usleep(1_000) }
        XCTAssertEqual(pool.busyConnections, 0)
    }

    func testConcurrencyIsBoundedAndOneJobPerConnection() {
        let pool = ValidationPool(concurrency: 2)
        let journal = Journal()
        let done = DispatchGroup()
        for connection in UInt64(0)..<6 {
            for _ in 0..<3 {
                done.enter()
                pool.submit(connection) {
                    let now = journal.running.add(1, ordering: .relaxed).newValue
                    _ = journal.mostRunning.max(now, ordering: .relaxed)
                    usleep(2_000)
                    journal.running.subtract(1, ordering: .relaxed)
                    done.leave()
                }
            }
        }
        XCTAssertEqual(done.wait(timeout: .now() + 20), .success)
        XCTAssertLessThanOrEqual(journal.mostRunning.load(ordering: .relaxed), 2)
    }

    func testDiscardDropsJobsNotStartedAndGivesBackTheirMemory() {
        let memory = RequestMemoryPool(limit: 1 << 20)
        let pool = ValidationPool(concurrency: 1, memory: memory)
        let gate = DispatchSemaphore(value: 0)
        let ran = Atomic<Int>(0)
        let first = DispatchSemaphore(value: 0)
        let started = DispatchSemaphore(value: 0)
        pool.submit(1, bytes: 100) {
            started.signal()
            gate.wait()
            ran.add(1, ordering: .relaxed)
            first.signal()
        }
        XCTAssertEqual(started.wait(timeout: .now() + 10), .success)
        for _ in 0..<3 { pool.submit(1, bytes: 1000) { ran.add(1, ordering: .relaxed) } }
        XCTAssertEqual(memory.usedBytes, 3100)
        // The running job finishes; the three queued behind it never start.
        pool.discard(1)
        gate.signal()
        XCTAssertEqual(first.wait(timeout: .now() + 10), .success)
        let deadline = Date().addingTimeInterval(5)
        while pool.busyConnections > 0 && Date() < deadline { usleep(1_000) }
        XCTAssertEqual(ran.load(ordering: .relaxed), 1)
        XCTAssertEqual(memory.usedBytes, 0)
        XCTAssertFalse(pool.hasWork(for: 1))
    }
}
