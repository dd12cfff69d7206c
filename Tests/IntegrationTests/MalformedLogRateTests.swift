import Foundation
import TernTestSupport
import TernWire
import XCTest

/// A client that opens malformed connections as fast as it can cannot flood the broker's log:
/// the warnings are rate-limited, and the ones dropped are counted on the next line written.
final class MalformedLogRateTests: BrokerTestCase {
    private static let warning = "closing connection: unreadable request header"

    private func warningLines() -> [Substring] {
        broker.log.split(separator: "\n").filter { $0.contains(Self.warning) }
    }

    private func sendMalformed() throws {
        let bad = try RawConnection(port: broker.port)
        try bad.write([0, 0, 0, 3, 0, 1, 0])  // a 3-byte frame cannot hold a request header
        XCTAssertTrue(bad.isClosedByPeer())
    }

    func testMalformedConnectionWarningsAreRateLimitedAndCountSuppressedOnes() throws {
        let started = Date()
        let connections = 200
        for _ in 0..<connections { try sendMalformed() }
        let elapsed = Date().timeIntervalSince(started)
        let burst = warningLines().count
        // The bucket: 10 at once, then one a second.
        XCTAssertGreaterThanOrEqual(burst, 1)
        XCTAssertLessThanOrEqual(burst, 10 + Int(elapsed.rounded(.up)) + 1, "\(burst) warnings in \(elapsed) s")

        // After a pause the next warning is written and says how many were dropped.
        sleep(2)
        try sendMalformed()
        let deadline = Date().addingTimeInterval(10)
        while warningLines().count == burst && Date() < deadline { usleep(20_000) }
        let lines = warningLines()
        XCTAssertEqual(lines.count, burst + 1)
        let suppressed = lines.compactMap { line -> Int? in
            guard let range = line.range(of: "tern_suppressed=") else { return nil }
            return Int(line[range.upperBound...].prefix { $0.isNumber })
        }
        XCTAssertFalse(suppressed.isEmpty, "no line reports the warnings it suppressed")
        XCTAssertEqual(
            lines.count + suppressed.reduce(0, +), connections + 1, "every malformed connection is accounted for")
        XCTAssertEqual(try RawConnection(port: broker.port).roundTrip(ApiVersionsRequest()).status.errorCode, .none)
    }
}
