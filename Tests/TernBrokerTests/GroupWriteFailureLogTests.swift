import Logging
import TernWire
import XCTest

@testable import TernBroker

/// Failed group writes (below min ISR the session timer retries every 100 ms) are logged once,
/// then summarised per interval, and their recovery is logged: driven by an explicit clock.
final class GroupWriteFailureLogTests: XCTestCase {
    func testFailuresBelowMinIsrAreSummarisedAndRecoveryIsLogged() {
        let log = GroupWriteFailureLog(
            logger: Logger(label: "groups") { _ in SwiftLogNoOpLogHandler() }, intervalNanoseconds: 10_000_000_000)
        let failure = GroupStorageFailure(.coordinatorNotAvailable, "below min.insync.replicas")
        let start: UInt64 = 1_000_000_000
        let tick: UInt64 = 100_000_000
        XCTAssertNil(log.persisted(partition: 3, now: start), "a healthy partition logs nothing")
        var lines: [GroupWriteFailureLog.Line] = []
        // 30 s of expiries retried every 100 ms on partition 3.
        for i in 0..<300 {
            if let line = log.failed(group: "g", partition: 3, failure, now: start + UInt64(i) * tick) {
                lines.append(line)
            }
        }
        XCTAssertEqual(lines, [.first, .summary(suppressed: 99), .summary(suppressed: 99)])
        // Another partition's first failure is not held back by partition 3's.
        XCTAssertEqual(log.failed(group: "h", partition: 4, failure, now: start + 30 * tick), .first)
        // The ISR grows back: the next write persists.
        XCTAssertEqual(
            log.persisted(partition: 3, now: start + 30_000_000_000), .recovered(failures: 300, lastedMs: 30_000))
        XCTAssertNil(log.persisted(partition: 3, now: start + 30_100_000_000))
        // Failing again later is news again.
        XCTAssertEqual(log.failed(group: "g", partition: 3, failure, now: start + 31_000_000_000), .first)
    }
}
