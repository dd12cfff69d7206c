import Foundation
import TernTestSupport
import XCTest

/// Start-up failures of `ternd`: each exits non-zero with one clear message.
final class DaemonTests: XCTestCase {
    func testUnknownKeyAndBadValueExitWithConfigError() throws {
        let unknown = try runCommand(Binaries.path("ternd"), ["--set", "log.dirz=/tmp/x"], timeout: 30)
        XCTAssertEqual(unknown.status, 78)
        XCTAssertTrue(unknown.stderr.contains("unknown key 'log.dirz'"), unknown.stderr)

        let directory = TemporaryDirectory("tern-daemon")
        defer { directory.remove() }
        let file = directory.path + "/ternd.conf"
        try "node.id = 1\nnum.partitions = many\n".write(toFile: file, atomically: true, encoding: .utf8)
        let bad = try runCommand(Binaries.path("ternd"), ["--config", file], timeout: 30)
        XCTAssertEqual(bad.status, 78)
        XCTAssertTrue(bad.stderr.contains("\(file):2"), bad.stderr)

        let env = try runCommand(Binaries.path("ternd"), [], environment: ["TERN_LOG_FLUSH_MODE": "never"], timeout: 30)
        XCTAssertEqual(env.status, 78)
        XCTAssertTrue(env.stderr.contains("TERN_LOG_FLUSH_MODE"), env.stderr)
    }

    func testDuplicateKeyInTheConfigFileExitsWithConfigErrorNamingBothLines() throws {
        let directory = TemporaryDirectory("tern-daemon")
        defer { directory.remove() }
        let file = directory.path + "/ternd.conf"
        let port = freeLoopbackPort()
        try """
            listeners = PLAINTEXT://127.0.0.1:\(port)
            log.dirs = \(directory.path)/data
            admin.listeners =
            log.segment.bytes = 1048576
            log.segment.bytes = 2097152

            """.write(toFile: file, atomically: true, encoding: .utf8)
        let result = try runCommand(Binaries.path("ternd"), ["--config", file], timeout: 30)
        XCTAssertEqual(result.status, 78, result.stderr)
        XCTAssertTrue(result.stderr.contains("\(file):5"), result.stderr)
        XCTAssertTrue(result.stderr.contains("duplicate key 'log.segment.bytes'"), result.stderr)
        XCTAssertTrue(result.stderr.contains("line 4"), result.stderr)
    }

    func testUnwritableLogDirExitsWithDataDirectoryError() throws {
        let directory = TemporaryDirectory("tern-daemon")
        defer { directory.remove() }
        let blocker = directory.path + "/file"
        try "not a directory".write(toFile: blocker, atomically: true, encoding: .utf8)
        let port = freeLoopbackPort()
        let result = try runCommand(
            Binaries.path("ternd"),
            ["--set", "log.dirs=\(blocker)/data", "--set", "listeners=PLAINTEXT://127.0.0.1:\(port)"], timeout: 30)
        XCTAssertEqual(result.status, 73, result.stderr)
        XCTAssertTrue(result.stderr.contains(blocker), result.stderr)
    }

    func testPortInUseExitsWithListenerError() throws {
        let directory = TemporaryDirectory("tern-daemon")
        defer { directory.remove() }
        let first = try BrokerProcess(dataDirectory: directory.path + "/one")
        defer { first.stop() }
        let result = try runCommand(
            Binaries.path("ternd"),
            ["--set", "log.dirs=\(directory.path)/two", "--set", "listeners=PLAINTEXT://127.0.0.1:\(first.port)"],
            timeout: 30)
        XCTAssertEqual(result.status, 69, result.stderr)
        XCTAssertTrue(result.stderr.contains("\(first.port)"), result.stderr)
    }

    func testAdminPortInUseExitsWithListenerErrorAndNoReady() throws {
        let directory = TemporaryDirectory("tern-daemon")
        defer { directory.remove() }
        let first = try BrokerProcess(dataDirectory: directory.path + "/one")
        defer { first.stop() }
        let adminPort = try XCTUnwrap(first.adminPort)
        let result = try runCommand(
            Binaries.path("ternd"),
            [
                "--set", "log.dirs=\(directory.path)/two", "--set", "listeners=PLAINTEXT://127.0.0.1:\(freeLoopbackPort())",
                "--set", "admin.listeners=127.0.0.1:\(adminPort)",
            ],
            timeout: 30)
        XCTAssertEqual(result.status, 69, result.stderr)
        XCTAssertTrue(result.stderr.contains("127.0.0.1:\(adminPort)"), result.stderr)
        XCTAssertFalse(result.stderr.contains("ternd ready"), result.stderr)
    }

    func testEmptyAdminListenersDisablesTheAdminListener() throws {
        let directory = TemporaryDirectory("tern-daemon")
        defer { directory.remove() }
        let broker = try BrokerProcess(dataDirectory: directory.path + "/data", settings: ["admin.listeners": ""])
        XCTAssertNil(broker.adminPort)
        XCTAssertFalse(broker.log.contains("admin listening"), broker.log)
        XCTAssertEqual(broker.stop(), 0, broker.log)
    }

    func testSigtermStopsCleanlyAndTopicsSurviveRestart() throws {
        let directory = TemporaryDirectory("tern-daemon")
        defer { directory.remove() }
        let data = directory.path + "/data"
        var broker = try BrokerProcess(dataDirectory: data)
        let tern = Binaries.path("tern")
        XCTAssertEqual(
            try runCommand(tern, ["--bootstrap", broker.bootstrap, "topic", "create", "kept", "--partitions", "2"]).status, 0)
        let lines = (1...1000).map { "line-\($0)" }.joined(separator: "\n")
        XCTAssertEqual(
            try runCommand(tern, ["--bootstrap", broker.bootstrap, "produce", "kept", "--acks", "all"], stdin: lines).status, 0)
        XCTAssertEqual(broker.stop(), 0, broker.log)
        XCTAssertTrue(broker.log.contains("shut down cleanly"), broker.log)

        broker = try BrokerProcess(dataDirectory: data, port: broker.port)
        defer { broker.stop() }
        let consumed = try runCommand(
            tern,
            ["--bootstrap", broker.bootstrap, "consume", "kept", "--from-beginning", "--max-messages", "1000",
             "--timeout-ms", "10000"])
        XCTAssertEqual(consumed.status, 0, consumed.stderr)
        XCTAssertEqual(Set(consumed.stdout.split(separator: "\n").map(String.init)), Set((1...1000).map { "line-\($0)" }))
        XCTAssertFalse(broker.log.contains("truncating"), broker.log)
    }

    func testJSONLogFormatWritesOneObjectPerLine() throws {
        let directory = TemporaryDirectory("tern-daemon")
        defer { directory.remove() }
        let broker = try BrokerProcess(dataDirectory: directory.path + "/data", settings: ["log.format": "json"])
        XCTAssertEqual(broker.stop(), 0)
        let lines = broker.log.split(separator: "\n")
        XCTAssertFalse(lines.isEmpty)
        var messages: [String] = []
        for line in lines {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            XCTAssertNotNil(object?["ts"], String(line))
            messages.append(object?["msg"] as? String ?? "")
        }
        XCTAssertTrue(messages.contains("ternd ready"), "\(messages)")
        XCTAssertTrue(messages.contains("shut down cleanly"), "\(messages)")
    }
}
