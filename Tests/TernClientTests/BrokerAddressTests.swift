import XCTest

@testable import TernClient

final class BrokerAddressTests: XCTestCase {
    func testParsesHostAndPort() throws {
        XCTAssertEqual(try BrokerAddress(parsing: "localhost:9092"), BrokerAddress(host: "localhost", port: 9092))
        XCTAssertEqual(try BrokerAddress(parsing: " 10.0.0.1:1 "), BrokerAddress(host: "10.0.0.1", port: 1))
        XCTAssertEqual(try BrokerAddress(parsing: "[::1]:9093"), BrokerAddress(host: "::1", port: 9093))
        XCTAssertEqual(BrokerAddress(host: "::1", port: 9093).description, "[::1]:9093")
    }

    func testParsesCommaSeparatedList() throws {
        let list = try BrokerAddress.parseList("a:1,b:2, c:3")
        XCTAssertEqual(list.map(\.description), ["a:1", "b:2", "c:3"])
    }

    func testBadEntriesAreRefusedWithTheEntryAndReason() {
        let cases: [(String, String)] = [
            ("localhost", "missing port"),
            ("localhost:", "missing port"),
            (":9092", "missing host"),
            ("host:abc", "'abc' is not a number"),
            ("host:0", "from 1 to 65535"),
            ("host:70000", "from 1 to 65535"),
            ("::1:9092", "brackets"),
            ("[::1", "missing ']'"),
            ("", "empty"),
        ]
        for (entry, reason) in cases {
            XCTAssertThrowsError(try BrokerAddress(parsing: entry), entry) { error in
                let error = error as? TernError
                XCTAssertEqual(error?.code, .invalidArgument)
                XCTAssertTrue(error?.message.contains("'\(entry)'") ?? false, error?.message ?? "")
                XCTAssertTrue(error?.message.contains(reason) ?? false, error?.message ?? "")
            }
        }
        XCTAssertThrowsError(try BrokerAddress.parseList("a:1,,b:2")) { error in
            XCTAssertTrue((error as? TernError)?.message.contains("empty") ?? false)
        }
        XCTAssertThrowsError(try BrokerAddress.parseList([String]()))
    }
}
