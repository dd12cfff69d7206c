import Foundation
import TernTestSupport
import XCTest

/// `tern cluster health` (and `cluster info`) against a broker that accepts connections but does
/// not answer: a SIGSTOPped `ternd` (the kernel still completes the TCP handshake).
final class ClusterHealthTimeoutTests: BrokerTestCase {
    override func setUpWithError() throws {
        try super.setUpWithError()
        XCTAssertEqual(kill(broker.pid, SIGSTOP), 0)
    }

    override func tearDown() {
        if let broker { kill(broker.pid, SIGCONT) }
        super.tearDown()
    }

    private func timedTern(_ arguments: [String]) throws -> (CommandResult, TimeInterval) {
        let start = Date()
        let result = try runCommand(Binaries.path("tern"), ["--bootstrap", broker.bootstrap] + arguments, timeout: 60)
        return (result, Date().timeIntervalSince(start))
    }

    func testHealthOfAStoppedBrokerFailsWithinItsTimeout() throws {
        let (result, elapsed) = try timedTern(["cluster", "health", "--timeout-ms", "1000"])
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.stderr.contains("no answer from \(broker.bootstrap) within 1000 ms"), result.stderr)
        XCTAssertGreaterThanOrEqual(elapsed, 0.9)
        XCTAssertLessThan(elapsed, 1 + 3, "tern cluster health --timeout-ms 1000 took \(elapsed) s")
    }

    func testHealthDefaultsToFiveSecondsAndInfoIsBoundedToo() throws {
        let (health, healthElapsed) = try timedTern(["cluster", "health"])
        XCTAssertNotEqual(health.status, 0)
        XCTAssertTrue(health.stderr.contains("within 5000 ms"), health.stderr)
        XCTAssertLessThan(healthElapsed, 5 + 3, "tern cluster health took \(healthElapsed) s")

        let (info, infoElapsed) = try timedTern(["cluster", "info", "--timeout-ms", "500"])
        XCTAssertNotEqual(info.status, 0)
        XCTAssertTrue(info.stderr.contains("within 500 ms"), info.stderr)
        XCTAssertLessThan(infoElapsed, 0.5 + 3, "tern cluster info --timeout-ms 500 took \(infoElapsed) s")
    }
}
