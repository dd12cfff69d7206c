import Foundation
import TernTestSupport
import XCTest

/// `kill -9` of a broker whose cleaner is compacting: after every restart the topic holds each
/// key's latest acknowledged value exactly once below the active segment, offsets in order,
/// nothing lost and nothing doubled; the cleaner then finishes. (Each step of the segment swap is
/// killed deterministically in `CleanerCrashTests`; this drives the real process.)
final class CompactionCrashTests: XCTestCase {
    func testKillDashNineWhileCleaningLosesAndDoublesNothing() throws {
        let directory = TemporaryDirectory("tern-compaction-crash")
        defer { directory.remove() }
        let data = directory.path + "/data"
        let port = freeLoopbackPort()
        func run(_ arguments: [String], stdin: String? = nil) throws -> CommandResult {
            try runCommand(Binaries.path("tern"), ["--bootstrap", "127.0.0.1:\(port)"] + arguments, stdin: stdin)
        }
        func produce(version: Int) throws {
            let lines = (0..<1000).map { "key-\($0),v\(version)-\($0)" }.joined(separator: "\n")
            let result = try run(["produce", "crashy", "--key-separator", ",", "--acks", "all"], stdin: lines)
            XCTAssertEqual(result.status, 0, result.stderr)
        }
        /// Every record from the beginning: (offset, key, value).
        func consume() throws -> [(Int64, String, String)] {
            let result = try run(["consume", "crashy", "--from-beginning", "--print-key", "--print-offset", "--timeout-ms", "2000"])
            XCTAssertEqual(result.status, 0, result.stderr)
            return result.stdout.split(separator: "\n").compactMap { line in
                let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
                guard fields.count == 3, let offset = Int64(fields[0].split(separator: ":").last ?? "") else { return nil }
                return (offset, String(fields[1]), String(fields[2]))
            }
        }
        var latestVersion = 0
        func check(_ records: [(Int64, String, String)], _ context: String) {
            let offsets = records.map(\.0)
            XCTAssertEqual(offsets, offsets.sorted(), "\(context): offsets in order")
            XCTAssertEqual(Set(offsets).count, offsets.count, "\(context): no record twice")
            var latest: [String: String] = [:]
            for record in records { latest[record.1] = record.2 }
            XCTAssertEqual(latest.count, 1000, "\(context): every key is there")
            for key in 0..<1000 where latest["key-\(key)"] != "v\(latestVersion)-\(key)" {
                XCTFail("\(context): key-\(key) is \(latest["key-\(key)"] ?? "missing"), not v\(latestVersion)")
                break
            }
        }

        // A dirty compacted log, written with the cleaner off. The ratio 0 makes any dirt
        // cleanable: a kill can leave as little as one dirty record below the active segment
        // (segments roll before the batch that would overflow them), which any positive ratio
        // rightly leaves for later, and the end of this test waits for the cleaner to finish.
        var broker = try BrokerProcess(dataDirectory: data, port: port, settings: ["log.cleaner.enable": "false"])
        XCTAssertEqual(
            try run([
                "topic", "create", "crashy", "--partitions", "1", "--config", "cleanup.policy=compact",
                "--config", "segment.bytes=16384", "--config", "min.cleanable.dirty.ratio=0",
            ]).status, 0)
        for version in 0..<20 {
            try produce(version: version)
            latestVersion = version
        }
        broker.stop()

        // Restart with the cleaner on (it starts at once) and kill -9 at varied moments.
        for round in 0..<6 {
            broker = try BrokerProcess(dataDirectory: data, port: port, settings: ["log.cleaner.backoff.ms": "20"])
            if round % 2 == 1 {
                latestVersion += 1
                try produce(version: latestVersion)  // new dirt, acknowledged before the kill
            }
            usleep(useconds_t(5_000 + round * 45_000))
            broker.kill9()
            broker = try BrokerProcess(dataDirectory: data, port: port, settings: ["log.cleaner.enable": "false"])
            check(try consume(), "after kill \(round)")
            broker.stop()
        }

        // The cleaner finishes the job after the last crash.
        broker = try BrokerProcess(dataDirectory: data, port: port, settings: ["log.cleaner.backoff.ms": "20"])
        defer { broker.stop() }
        let active =
            try FileManager.default.contentsOfDirectory(atPath: data + "/crashy-0")
            .filter { $0.hasSuffix(".log") }.compactMap { Int64($0.dropLast(4)) }.max() ?? -1
        func checkpoint() -> Int64 {
            let text = (try? String(contentsOfFile: data + "/cleaner-offset-checkpoint", encoding: .utf8)) ?? ""
            return text.split(separator: "\n").compactMap { line -> Int64? in
                let f = line.split(separator: " ")
                return f.count == 3 && f[0] == "crashy" ? Int64(f[2]) : nil
            }.first ?? -1
        }
        let deadline = Date().addingTimeInterval(60)
        while checkpoint() < active && Date() < deadline { usleep(50_000) }
        XCTAssertEqual(checkpoint(), active, broker.log)
        let records = try consume()
        check(records, "after cleaning")
        let belowActive = records.filter { $0.0 < active }
        XCTAssertEqual(Set(belowActive.map(\.1)).count, belowActive.count, "one record per key below the active segment")
        XCTAssertFalse(broker.log.contains("error"), broker.log)
    }
}
