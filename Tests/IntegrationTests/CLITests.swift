import Foundation
import TernTestSupport
import XCTest

/// The README's quickstart, through the real `tern` and `ternd` executables.
final class CLITests: BrokerTestCase {

    @discardableResult
    private func tern(_ arguments: [String], stdin: String? = nil, file: StaticString = #filePath, line: UInt = #line)
        throws -> CommandResult
    {
        try runCommand(
            Binaries.path("tern"), ["--bootstrap", broker.bootstrap] + arguments, stdin: stdin, timeout: 180)
    }

    /// `seq 1 100000 | tern produce t --acks all` then `tern consume t --from-beginning --max-messages 100000`
    /// returns every line exactly once, in order within each partition.
    func testProduceAndConsume100kLinesAcrossThreePartitions() throws {
        let created = try tern(["topic", "create", "t", "--partitions", "3"])
        XCTAssertEqual(created.status, 0, created.stderr)

        let input = (1...100_000).map(String.init).joined(separator: "\n") + "\n"
        let produced = try tern(["produce", "t", "--acks", "all"], stdin: input)
        XCTAssertEqual(produced.status, 0, produced.stderr)
        XCTAssertTrue(produced.stderr.contains("produced: 100000 acknowledged, 0 failed"), produced.stderr)

        let consumed = try tern(
            ["consume", "t", "--from-beginning", "--max-messages", "100000", "--print-offset", "--timeout-ms", "20000"])
        XCTAssertEqual(consumed.status, 0, consumed.stderr)
        let lines = consumed.stdout.split(separator: "\n")
        XCTAssertEqual(lines.count, 100_000)

        var values = Set<Int>()
        var lastValueByPartition: [Substring: Int] = [:]
        var lastOffsetByPartition: [Substring: Int] = [:]
        for line in lines {
            // "partition:offset<TAB>value"
            let parts = line.split(separator: "\t", maxSplits: 1)
            XCTAssertEqual(parts.count, 2, "bad line \(line)")
            guard parts.count == 2, let value = Int(parts[1]) else { continue }
            let position = parts[0].split(separator: ":")
            let partition = position[0]
            let offset = Int(position[1]) ?? -1
            XCTAssertTrue(values.insert(value).inserted, "value \(value) consumed twice")
            if let last = lastValueByPartition[partition] {
                XCTAssertLessThan(last, value, "partition \(partition) out of order")
            }
            if let last = lastOffsetByPartition[partition] { XCTAssertEqual(offset, last + 1) }
            lastValueByPartition[partition] = value
            lastOffsetByPartition[partition] = offset
        }
        XCTAssertEqual(values, Set(1...100_000))
        XCTAssertEqual(lastValueByPartition.count, 3, "null keys should spread over all partitions")
    }

    func testTopicAdministration() throws {
        XCTAssertEqual(
            try tern(["topic", "create", "orders", "--partitions", "4", "--config", "retention.ms=1000"]).status, 0)
        let duplicate = try tern(["topic", "create", "orders", "--partitions", "4"])
        XCTAssertNotEqual(duplicate.status, 0)
        XCTAssertTrue(duplicate.stderr.contains("already exists"), duplicate.stderr)

        let invalid = try tern(["topic", "create", "bad", "--partitions", "1", "--config", "retention.ms=-7"])
        XCTAssertNotEqual(invalid.status, 0)
        XCTAssertTrue(invalid.stderr.contains("retention.ms"), invalid.stderr)

        let list = try tern(["topic", "list"])
        XCTAssertTrue(list.stdout.contains("orders"), list.stdout)
        XCTAssertFalse(list.stdout.contains("bad"), list.stdout)

        let listJSON = try tern(["topic", "list", "--json"])
        XCTAssertNoThrow(try JSONSerialization.jsonObject(with: Data(listJSON.stdout.utf8)), listJSON.stdout)

        XCTAssertEqual(try tern(["produce", "orders", "--key-separator", ":"], stdin: "a:1\nb:2\nc:3\n").status, 0)
        let describe = try tern(["topic", "describe", "orders", "--json"])
        XCTAssertEqual(describe.status, 0, describe.stderr)
        XCTAssertTrue(describe.stdout.contains("retention.ms"), describe.stdout)
        let json = try JSONSerialization.jsonObject(with: Data(describe.stdout.utf8))
        XCTAssertNotNil(json)

        XCTAssertEqual(try tern(["topic", "delete", "orders"]).status, 0)
        XCTAssertFalse(try tern(["topic", "list"]).stdout.contains("orders"))
        let gone = try tern(["topic", "describe", "orders"])
        XCTAssertNotEqual(gone.status, 0)
    }

    func testKeysLandOnTheirMurmur2PartitionAndKeepOrder() throws {
        XCTAssertEqual(try tern(["topic", "create", "keyed", "--partitions", "4"]).status, 0)
        let input = (0..<400).map { "customer-\($0 % 8):event-\($0)" }.joined(separator: "\n")
        XCTAssertEqual(try tern(["produce", "keyed", "--key-separator", ":"], stdin: input).status, 0)
        let consumed = try tern(
            ["consume", "keyed", "--from-beginning", "--max-messages", "400", "--print-key", "--print-offset",
             "--timeout-ms", "10000"])
        XCTAssertEqual(consumed.status, 0, consumed.stderr)
        var partitionOfKey: [Substring: Substring] = [:]
        var lastEventOfKey: [Substring: Int] = [:]
        for line in consumed.stdout.split(separator: "\n") {
            let fields = line.split(separator: "\t")  // partition:offset, key, value
            XCTAssertEqual(fields.count, 3, String(line))
            guard fields.count == 3 else { continue }
            let partition = fields[0].split(separator: ":")[0]
            if let known = partitionOfKey[fields[1]] { XCTAssertEqual(known, partition, "key moved partition") }
            partitionOfKey[fields[1]] = partition
            let event = Int(fields[2].dropFirst("event-".count)) ?? -1
            if let last = lastEventOfKey[fields[1]] { XCTAssertLessThan(last, event, "key out of order") }
            lastEventOfKey[fields[1]] = event
        }
        XCTAssertEqual(partitionOfKey.count, 8)
    }

    func testConsumeTimesOutAndProduceToUnknownTopicFails() throws {
        XCTAssertEqual(try tern(["topic", "create", "empty", "--partitions", "1"]).status, 0)
        let consumed = try tern(["consume", "empty", "--from-beginning", "--timeout-ms", "500"])
        XCTAssertEqual(consumed.status, 0, consumed.stderr)
        XCTAssertEqual(consumed.stdout, "")

        let failed = try tern(["produce", "missing"], stdin: "x\n")
        XCTAssertNotEqual(failed.status, 0)
        XCTAssertTrue(failed.stderr.contains("missing"), failed.stderr)
    }

    func testClusterInfoAndHealth() throws {
        let health = try tern(["cluster", "health"])
        XCTAssertEqual(health.status, 0, health.stderr)
        XCTAssertTrue(health.stdout.hasPrefix("ok"), health.stdout)
        let info = try tern(["cluster", "info", "--json"])
        XCTAssertEqual(info.status, 0, info.stderr)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(info.stdout.utf8)) as? [String: Any])
        let brokers = try XCTUnwrap(object["brokers"] as? [[String: Any]])
        XCTAssertEqual(brokers.first?["port"] as? Int, broker.port)
        XCTAssertEqual(object["controllerId"] as? Int, 0)
        XCTAssertNotNil(object["version"] as? String)
        XCTAssertGreaterThanOrEqual(object["uptimeMs"] as? Int ?? -1, 0)

        let down = try runCommand(
            Binaries.path("tern"), ["--bootstrap", "127.0.0.1:\(freeLoopbackPort())", "cluster", "health"])
        XCTAssertNotEqual(down.status, 0)
    }

    func testConnectionRefusedNamesTheAddress() throws {
        let port = freeLoopbackPort()
        let result = try runCommand(Binaries.path("tern"), ["--bootstrap", "127.0.0.1:\(port)", "topic", "list"])
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.stderr.contains("127.0.0.1:\(port)"), result.stderr)
    }
}
