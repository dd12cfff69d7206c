import Foundation
import TernTestSupport
import XCTest

/// The `tern` executable's argument validation, run as a process: everything here is refused
/// before any connection is attempted, so no broker is needed.
final class CLIArgumentTests: XCTestCase {
    private func tern(_ arguments: [String]) throws -> CommandResult {
        let path = Binaries.path("tern")
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw XCTSkip("tern executable not built at \(path)")
        }
        // A port nothing listens on: a command that got past validation fails fast.
        return try runCommand(path, ["--bootstrap", "127.0.0.1:1"] + arguments, timeout: 30)
    }

    private func assertRefused(
        _ arguments: [String], mentioning text: String, file: StaticString = #filePath, line: UInt = #line
    ) throws {
        let result = try tern(arguments)
        XCTAssertEqual(result.status, 64, "exit status of tern \(arguments): \(result.stderr)", file: file, line: line)
        XCTAssertTrue(result.stderr.contains(text), result.stderr, file: file, line: line)
    }

    func testFromBeginningWithOffsetIsRefused() throws {
        try assertRefused(["consume", "t", "--from-beginning", "--offset", "5"], mentioning: "cannot be used together")
    }

    func testBadAcksIsRefused() throws {
        try assertRefused(["produce", "t", "--acks", "2"], mentioning: "'0', '1' or 'all'")
    }

    func testConfigWithoutEqualsIsRefused() throws {
        try assertRefused(
            ["topic", "create", "t", "--partitions", "1", "--config", "retention.ms"], mentioning: "KEY=VALUE")
    }

    func testMissingPartitionsIsRefused() throws {
        try assertRefused(["topic", "create", "t"], mentioning: "--partitions")
    }

    func testBadBootstrapIsOneClearLine() throws {
        let path = Binaries.path("tern")
        guard FileManager.default.isExecutableFile(atPath: path) else { throw XCTSkip("tern not built") }
        let result = try runCommand(path, ["--bootstrap", "nohost", "topic", "list"], timeout: 30)
        XCTAssertEqual(result.status, 1)
        XCTAssertEqual(result.stderr, "tern: error: bad broker address 'nohost': missing port (expected HOST:PORT)\n")
    }

    func testConnectionRefusedNamesTheAddress() throws {
        let result = try tern(["topic", "list"])
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.stderr.hasPrefix("tern: error: "), result.stderr)
        XCTAssertTrue(result.stderr.contains("127.0.0.1:1"), result.stderr)
        XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, result.stderr)
    }

    func testConsumeHelpDocumentsTheOutputFormat() throws {
        let result = try tern(["consume", "--help"])
        XCTAssertEqual(result.status, 0)
        XCTAssertTrue(result.stdout.contains("[PARTITION:OFFSET<TAB>][KEY<TAB>]VALUE"), result.stdout)
    }
}
