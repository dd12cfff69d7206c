import Foundation
import TernStorage
import TernTestSupport
import XCTest

@testable import TernBroker

final class BrokerConfigTests: XCTestCase {
    private func write(_ text: String) throws -> (TemporaryDirectory, String) {
        let directory = TemporaryDirectory("tern-config")
        let path = directory.path + "/ternd.conf"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return (directory, path)
    }

    func testAdminListenersParseAndEmptyDisables() throws {
        XCTAssertEqual(try BrokerConfig.load(file: nil).adminListeners, [Listener(host: "127.0.0.1", port: 9644)])
        XCTAssertEqual(try BrokerConfig.load(file: nil, overrides: ["admin.listeners="]).adminListeners, [])
        XCTAssertEqual(
            try BrokerConfig.load(file: nil, overrides: ["admin.listeners=0.0.0.0:9644, http://[::1]:9645"]).adminListeners,
            [Listener(host: "0.0.0.0", port: 9644), Listener(host: "::1", port: 9645)])
        XCTAssertThrowsError(try BrokerConfig.load(file: nil, overrides: ["admin.listeners=localhost"])) { error in
            XCTAssertTrue("\(error)".contains("admin.listeners"), "\(error)")
        }
        XCTAssertThrowsError(try BrokerConfig.load(file: nil, environment: ["TERN_ADMIN_LISTENERS": "h:99999"]))
    }

    func testEmbeddedDefaultsRunASingleNodeBrokerOnLoopback9092() throws {
        let config = try BrokerConfig.load(file: nil)
        XCTAssertEqual(config.listeners, [Listener(host: "127.0.0.1", port: 9092)])
        XCTAssertEqual(config.logDirs, ["./tern-data"])
        XCTAssertEqual(config.numPartitions, 1)
        XCTAssertEqual(config.flushMode, .sync)
        XCTAssertFalse(config.autoCreateTopics)
    }

    func testFileThenEnvironmentThenSetOverride() throws {
        let (directory, path) = try write(
            """
            # comment
            num.partitions = 3
            log.dirs = /tmp/a
              log.flush.mode=interval
            log.segment.bytes = 2048
            """)
        defer { directory.remove() }
        let config = try BrokerConfig.load(
            file: path, environment: ["TERN_LOG_DIRS": "/tmp/b", "TERN_NUM_PARTITIONS": "5", "PATH": "/bin"],
            overrides: ["num.partitions=7"])
        XCTAssertEqual(config.numPartitions, 7)
        XCTAssertEqual(config.logDirs, ["/tmp/b"])
        XCTAssertEqual(config.flushMode, .interval(milliseconds: 1000))
        XCTAssertEqual(config["log.segment.bytes"], "2048")
        XCTAssertEqual(config.sources["num.partitions"], .commandLine)
        XCTAssertEqual(config.sources["log.dirs"], .environment)
        XCTAssertEqual(config.sources["log.segment.bytes"], .file)
    }

    func testUnknownKeyNamesFileAndLine() throws {
        let (directory, path) = try write("node.id = 1\n\nlog.dirz = /tmp\n")
        defer { directory.remove() }
        XCTAssertThrowsError(try BrokerConfig.load(file: path)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("\(path):3"), text)
            XCTAssertTrue(text.contains("unknown key 'log.dirz'"), text)
        }
    }

    func testDuplicateKeyInTheFileNamesBothLines() throws {
        let (directory, path) = try write("node.id = 1\nnum.partitions = 3\n# again\n  num.partitions=4\n")
        defer { directory.remove() }
        XCTAssertThrowsError(try BrokerConfig.load(file: path)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("\(path):4"), text)
            XCTAssertTrue(text.contains("duplicate key 'num.partitions'"), text)
            XCTAssertTrue(text.contains("line 2"), text)
        }
    }

    /// Found by the config-file fuzz target: "\r\n" is one Character in Swift, so a file saved
    /// with CRLF line ends (a Windows editor) was read as one line and refused.
    func testCRLFLineEndsReadLikeLF() throws {
        let (directory, path) = try write("# broker\r\nnode.id = 2\r\nnum.partitions = 3\r\n\r\nlog.dirs = /tmp/a\r\n")
        defer { directory.remove() }
        let config = try BrokerConfig.load(file: path)
        XCTAssertEqual(config.nodeId, 2)
        XCTAssertEqual(config.numPartitions, 3)
        XCTAssertEqual(config.logDirs, ["/tmp/a"])
        XCTAssertEqual(config.sources["num.partitions"], .file)

        let (other, duplicate) = try write("node.id = 1\r\nnum.partitions = 3\r\nnum.partitions = 4\r\n")
        defer { other.remove() }
        XCTAssertThrowsError(try BrokerConfig.load(file: duplicate)) { error in
            XCTAssertTrue("\(error)".contains("\(duplicate):3"), "\(error)")
            XCTAssertTrue("\(error)".contains("line 2"), "\(error)")
        }
    }

    func testOverridesAreNotDuplicatesButTwoVariablesForOneKeyAre() throws {
        let (directory, path) = try write("num.partitions = 3\n")
        defer { directory.remove() }
        let config = try BrokerConfig.load(
            file: path, environment: ["TERN_NUM_PARTITIONS": "5"], overrides: ["num.partitions=6", "num.partitions=7"])
        XCTAssertEqual(config.numPartitions, 7)
        XCTAssertThrowsError(
            try BrokerConfig.load(file: nil, environment: ["TERN_NUM_PARTITIONS": "5", "TERN_num_partitions": "6"])
        ) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("TERN_NUM_PARTITIONS") && text.contains("TERN_num_partitions"), text)
        }
    }

    func testBadValuesAreRefusedWithAReason() throws {
        let cases: [(String, String)] = [
            ("num.partitions = zero", "not a whole number"),
            ("num.partitions = 0", "outside"),
            ("log.flush.mode = sometimes", "not one of"),
            ("auto.create.topics.enable = yes", "not true or false"),
            ("listeners = http://x:1", "PLAINTEXT://"),
            ("listeners = PLAINTEXT://x:99999", "port"),
            ("just words", "expected 'key = value'"),
        ]
        for (line, reason) in cases {
            let (directory, path) = try write(line + "\n")
            defer { directory.remove() }
            XCTAssertThrowsError(try BrokerConfig.load(file: path), line) { error in
                XCTAssertTrue("\(error)".contains(reason), "\(line): \(error)")
            }
        }
    }

    func testBadEnvironmentAndSetValuesNameTheirOrigin() {
        XCTAssertThrowsError(try BrokerConfig.load(file: nil, environment: ["TERN_NODE_ID": "-4"])) { error in
            XCTAssertTrue("\(error)".contains("TERN_NODE_ID"), "\(error)")
        }
        XCTAssertThrowsError(try BrokerConfig.load(file: nil, overrides: ["nonsense"])) { error in
            XCTAssertTrue("\(error)".contains("expected key=value"), "\(error)")
        }
        XCTAssertThrowsError(try BrokerConfig.load(file: "/nonexistent/ternd.conf")) { error in
            XCTAssertTrue("\(error)".contains("cannot read the config file"), "\(error)")
        }
    }

    /// Config/ternd.conf documents every key with its default, and nothing else.
    func testShippedConfigFileListsEveryKeyWithItsDefault() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let path = root.appendingPathComponent("Config/ternd.conf").path
        let text = try String(contentsOfFile: path, encoding: .utf8)
        var seen: [String: String] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            let parts = line.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2 else { continue }
            seen[parts[0].trimmingCharacters(in: .whitespaces)] = parts[1].trimmingCharacters(in: .whitespaces)
        }
        for definition in BrokerConfigKeys.all {
            XCTAssertEqual(seen[definition.name], definition.defaultValue, "Config/ternd.conf: \(definition.name)")
        }
        XCTAssertEqual(Set(seen.keys), Set(BrokerConfigKeys.all.map(\.name)))
        // And the shipped file loads.
        _ = try BrokerConfig.load(file: path)
    }

    func testTopicNamesAndConfigsAreValidatedLikeKafka() {
        XCTAssertNil(TopicInfo.validateName("orders.v1_created-2"))
        XCTAssertNotNil(TopicInfo.validateName(""))
        XCTAssertNotNil(TopicInfo.validateName(".."))
        XCTAssertNotNil(TopicInfo.validateName("has space"))
        XCTAssertNotNil(TopicInfo.validateName(String(repeating: "a", count: 250)))
        XCTAssertNil(TopicInfo.validateConfigs(["cleanup.policy": "compact,delete", "retention.ms": "-1"]))
        XCTAssertNotNil(TopicInfo.validateConfigs(["retention.ms": "-5"]))
        XCTAssertNotNil(TopicInfo.validateConfigs(["cleanup.policy": "shred"]))
        XCTAssertNotNil(TopicInfo.validateConfigs(["min.cleanable.dirty.ratio": "1.5"]))
        XCTAssertNotNil(TopicInfo.validateConfigs(["no.such.key": "1"]))
    }
}
