import Foundation
import TernTestSupport
import XCTest

/// `tern perf` against a real broker: group consumption by several consumers and the progress
/// line on stderr.
final class PerfCommandTests: BrokerTestCase {
    private func tern(_ arguments: [String]) throws -> CommandResult {
        try runCommand(Binaries.path("tern"), ["--bootstrap", broker.bootstrap] + arguments, timeout: 120)
    }

    func testThreeConsumersInAGroupReadEveryRecordOnce() throws {
        XCTAssertEqual(try tern(["topic", "create", "shared", "--partitions", "6"]).status, 0)
        let produced = try tern(["perf", "produce", "--topic", "shared", "--records", "60000", "--record-size", "50"])
        XCTAssertEqual(produced.status, 0, produced.stderr)
        let consumed = try tern([
            "perf", "consume", "--topic", "shared", "--records", "60000", "--consumers", "3", "--group", "perf-group",
            "--json",
        ])
        XCTAssertEqual(consumed.status, 0, consumed.stderr)
        XCTAssertTrue(consumed.stdout.contains("\"records\":60000"), consumed.stdout)
        XCTAssertTrue(consumed.stdout.contains("\"failed\":0"), consumed.stdout)
        // The consumers committed as they left: the group has no lag.
        let described = try tern(["group", "describe", "perf-group", "--json"])
        XCTAssertEqual(described.status, 0, described.stderr)
        struct Description: Decodable {
            struct Partition: Decodable {
                var committedOffset: Int64
                var lag: Int64
            }
            var partitions: [Partition]
        }
        let description = try JSONDecoder().decode(Description.self, from: Data(described.stdout.utf8))
        XCTAssertEqual(description.partitions.count, 6)
        XCTAssertEqual(description.partitions.reduce(0) { $0 + $1.committedOffset }, 60000)
        XCTAssertTrue(description.partitions.allSatisfy { $0.lag == 0 }, described.stdout)
    }

    func testProgressIsPrintedEverySecond() throws {
        XCTAssertEqual(try tern(["topic", "create", "slow", "--partitions", "1"]).status, 0)
        let run = try tern(["perf", "e2e", "--topic", "slow", "--records", "2500", "--throughput", "1000", "--acks", "1"])
        XCTAssertEqual(run.status, 0, run.stderr)
        let lines = run.stderr.split(separator: "\n").filter { $0.hasPrefix("e2e: ") && $0.contains(" s, ") }
        XCTAssertGreaterThanOrEqual(lines.count, 2, run.stderr)
        XCTAssertTrue(lines.first?.hasPrefix("e2e: 1 s, ") ?? false, run.stderr)
    }
}
