import Foundation
import TernTestSupport
import XCTest

/// `cleanup.policy=delete` topics lose whole old segments past retention.bytes / retention.ms,
/// while the broker runs; consumers see the new log start offset.
final class RetentionTests: XCTestCase {
    func testSizeAndTimeRetentionDeleteOldSegmentsWhileRunning() throws {
        let directory = TemporaryDirectory("tern-retention")
        defer { directory.remove() }
        let broker = try BrokerProcess(
            dataDirectory: directory.path + "/data", settings: ["log.retention.check.interval.ms": "100"])
        defer { broker.stop() }
        let tern = Binaries.path("tern")
        func run(_ arguments: [String], stdin: String? = nil) throws -> CommandResult {
            try runCommand(tern, ["--bootstrap", broker.bootstrap] + arguments, stdin: stdin)
        }
        XCTAssertEqual(
            try run(["topic", "create", "sized", "--partitions", "1", "--config", "segment.bytes=1024",
                     "--config", "retention.bytes=8192"]).status, 0)
        XCTAssertEqual(
            try run(["topic", "create", "timed", "--partitions", "1", "--config", "segment.bytes=1024",
                     "--config", "retention.ms=1"]).status, 0)
        func segmentSizes(_ topic: String) throws -> [Int] {
            let dir = directory.path + "/data/\(topic)-0"
            // A segment retention deletes between the listing and its stat is simply gone.
            return try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".log") }.compactMap {
                (try? FileManager.default.attributesOfItem(atPath: dir + "/" + $0)[.size] as? NSNumber)?.intValue
            }
        }
        func logStartOffset(_ topic: String) throws -> Int {
            let described = try run(["topic", "describe", topic, "--json"])
            let object = try JSONSerialization.jsonObject(with: Data(described.stdout.utf8)) as? [String: Any]
            let partitions = object?["partitions"] as? [[String: Any]]
            return partitions?.first?["logStartOffset"] as? Int ?? -1
        }
        // Written in six rounds: after each, the partition comes back within one segment of its
        // bound (retention runs every 100 ms) — it stays bounded while being written.
        for round in 0..<6 {
            let lines = (1...500).map { "event-\(round * 500 + $0)" }.joined(separator: "\n")
            // Small batches, sent one request at a time, so segments stay near segment.bytes.
            XCTAssertEqual(try run(["produce", "sized", "--batch-size", "512", "--linger-ms", "0"], stdin: lines).status, 0)
            let deadline = Date().addingTimeInterval(15)
            func withinBound() throws -> Bool {
                let sizes = try segmentSizes("sized")
                return sizes.reduce(0, +) <= 8192 + (sizes.max() ?? 0)
            }
            while Date() < deadline, try !withinBound() { usleep(50_000) }
            let sizes = try segmentSizes("sized")
            XCTAssertLessThanOrEqual(sizes.reduce(0, +), 8192 + (sizes.max() ?? 0), "round \(round): within one segment of the bound")
        }
        let lines = (1...3000).map { "event-\($0)" }.joined(separator: "\n")
        let timed = try run(["produce", "timed", "--batch-size", "512", "--linger-ms", "0"], stdin: lines)
        XCTAssertEqual(timed.status, 0, timed.stderr)

        let deadline = Date().addingTimeInterval(15)
        while Date() < deadline, try logStartOffset("sized") == 0 || logStartOffset("timed") == 0 {
            usleep(100_000)
        }
        XCTAssertGreaterThan(try logStartOffset("sized"), 0, broker.log)
        let sizes = try segmentSizes("sized")
        XCTAssertLessThanOrEqual(sizes.reduce(0, +), 8192 + (sizes.max() ?? 0), "within one segment of the bound")
        XCTAssertGreaterThanOrEqual(sizes.reduce(0, +), 8192 - (sizes.max() ?? 0))
        XCTAssertEqual(try segmentSizes("timed").count, 1, "expired segments go; the active one stays")

        // Reading from the beginning starts at the new log start offset (earliest).
        let consumed = try run(["consume", "sized", "--from-beginning", "--print-offset", "--max-messages", "1", "--timeout-ms", "5000"])
        XCTAssertEqual(consumed.status, 0, consumed.stderr)
        XCTAssertTrue(consumed.stdout.hasPrefix("0:\(try logStartOffset("sized"))\t"), consumed.stdout)
    }

    func testAlteringRetentionOnARunningTopicTakesEffectAndBadValuesChangeNothing() throws {
        let directory = TemporaryDirectory("tern-retention")
        defer { directory.remove() }
        let broker = try BrokerProcess(
            dataDirectory: directory.path + "/data", settings: ["log.retention.check.interval.ms": "100"])
        defer { broker.stop() }
        func run(_ arguments: [String], stdin: String? = nil) throws -> CommandResult {
            try runCommand(Binaries.path("tern"), ["--bootstrap", broker.bootstrap] + arguments, stdin: stdin)
        }
        func describe() throws -> [String: Any] {
            let described = try run(["topic", "describe", "t", "--json"])
            return (try JSONSerialization.jsonObject(with: Data(described.stdout.utf8)) as? [String: Any]) ?? [:]
        }
        func config(_ key: String) throws -> String? {
            let configs = try describe()["configs"] as? [[String: Any]]
            return configs?.first { $0["name"] as? String == key }?["value"] as? String
        }
        func logStart() throws -> Int {
            ((try describe()["partitions"] as? [[String: Any]])?.first?["logStartOffset"] as? Int) ?? -1
        }
        XCTAssertEqual(try run(["topic", "create", "t", "--partitions", "1", "--config", "segment.bytes=1024"]).status, 0)
        let lines = (1...3000).map { "event-\($0)" }.joined(separator: "\n")
        XCTAssertEqual(try run(["produce", "t", "--batch-size", "512", "--linger-ms", "0"], stdin: lines).status, 0)
        usleep(300_000)
        XCTAssertEqual(try logStart(), 0, "no retention bound yet")

        for bad in ["retention.ms=-5", "cleanup.policy=shred", "min.cleanable.dirty.ratio=2", "no.such.key=1"] {
            let refused = try run(["topic", "alter", "t", "--config", bad])
            XCTAssertNotEqual(refused.status, 0, bad)
            XCTAssertTrue(refused.stderr.contains(String(bad.split(separator: "=")[0])), refused.stderr)
        }
        XCTAssertEqual(try config("retention.ms"), "604800000", "refused changes leave the config as it was")
        XCTAssertEqual(try config("cleanup.policy"), "delete")

        let altered = try run(["topic", "alter", "t", "--config", "retention.bytes=8192"])
        XCTAssertEqual(altered.status, 0, altered.stderr)
        XCTAssertEqual(try config("retention.bytes"), "8192")
        let deadline = Date().addingTimeInterval(15)
        while Date() < deadline, try logStart() == 0 { usleep(100_000) }
        XCTAssertGreaterThan(try logStart(), 0, "the new bound applies without a restart")
        XCTAssertEqual(try run(["topic", "alter", "t", "--delete-config", "retention.bytes"]).status, 0)
        XCTAssertEqual(try config("retention.bytes"), "-1", "back to the broker default")
    }
}
