import Foundation
import TernTestSupport
import TernWire
import XCTest

/// A real `ternd` killed with SIGKILL and restarted: a flipped byte in the middle of a segment
/// costs only its batch; `acks=1` data is flushed and checkpointed in the background so recovery
/// scans only the tail; segments roll before they would overflow `segment.bytes`.
final class RecoveryCrashTests: XCTestCase {
    private func tern(_ broker: BrokerProcess, _ arguments: [String], stdin: String? = nil) throws -> CommandResult {
        try runCommand(
            Binaries.path("tern"), ["--bootstrap", broker.bootstrap] + arguments, stdin: stdin, timeout: 180)
    }

    private func scrape(_ broker: BrokerProcess) throws -> PrometheusText {
        let response = try httpGet(port: broker.adminPort ?? 0, "/metrics")
        XCTAssertEqual(response.status, 200)
        return try PrometheusText(response.text)
    }

    /// The batches of a segment file: (position, header).
    private func batches(_ path: String) throws -> [(position: Int, header: RecordBatchHeader)] {
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        var result: [(Int, RecordBatchHeader)] = []
        var position = 0
        while let header = RecordBatchHeader(bytes, at: position), header.batchLength > 0,
            header.totalSize <= bytes.count - position
        {
            result.append((position, header))
            position += header.totalSize
        }
        return result
    }

    private func segmentFiles(_ directory: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasSuffix(".log") }.sorted()
            .map { directory + "/" + $0 }
    }

    // MARK: item 5: salvage, not truncation

    func testFlippedByteMidSegmentLosesOnlyItsBatch() throws {
        let directory = TemporaryDirectory("tern-salvage")
        defer { directory.remove() }
        let data = directory.path + "/data"
        // Recovery looks for corruption after the last recovery-point checkpoint: keep the
        // periodic one (60 s by default) from covering the segment on a slow machine.
        let settings = ["log.flush.offset.checkpoint.interval.ms": "3600000"]
        var broker = try BrokerProcess(dataDirectory: data, settings: settings)
        XCTAssertEqual(try tern(broker, ["topic", "create", "flip", "--partitions", "1"]).status, 0)
        let count = 100_000
        let lines = (0..<count).map { "v-\($0)" }.joined(separator: "\n")
        let produced = try tern(broker, ["produce", "flip", "--acks", "all"], stdin: lines)
        XCTAssertEqual(produced.status, 0, produced.stderr)
        broker.kill9()

        // Flip one byte in the records of the batch in the middle of the segment.
        let segment = try XCTUnwrap(try segmentFiles(data + "/flip-0").first)
        let all = try batches(segment)
        let size = all.last.map { $0.position + $0.header.totalSize } ?? 0
        XCTAssertGreaterThan(all.count, 10, "several batches")
        let victim = try XCTUnwrap(all.first { $0.position + $0.header.totalSize > size / 2 })
        XCTAssertGreaterThan(victim.header.baseOffset, 0)
        XCTAssertLessThan(victim.header.lastOffset, Int64(count - 1), "a batch in the middle, not the last")
        let flipAt = max(size / 2, victim.position + RecordBatchHeader.size + 8)
        let handle = try FileHandle(forUpdating: URL(fileURLWithPath: segment))
        try handle.seek(toOffset: UInt64(flipAt))
        let byte = try XCTUnwrap(try handle.read(upToCount: 1)?.first)
        try handle.seek(toOffset: UInt64(flipAt))
        try handle.write(contentsOf: Data([byte ^ 0x04]))
        try handle.close()

        broker = try BrokerProcess(dataDirectory: data, port: broker.port, settings: settings)
        defer { broker.stop() }
        let lost = victim.header.baseOffset...victim.header.lastOffset
        let expected = count - lost.count
        let consumed = try tern(
            broker,
            [
                "consume", "flip", "--from-beginning", "--print-offset", "--max-messages", "\(expected)",
                "--timeout-ms", "10000",
            ])
        XCTAssertEqual(consumed.status, 0, consumed.stderr)
        var offsets: [Int64] = []
        var mismatched = 0
        for line in consumed.stdout.split(separator: "\n") {
            let fields = line.split(separator: "\t", maxSplits: 1)
            guard fields.count == 2, let offset = Int64(fields[0].split(separator: ":").last ?? "") else { continue }
            offsets.append(offset)
            if fields[1] != "v-\(offset)" { mismatched += 1 }
        }
        let want = (0..<Int64(count)).filter { !lost.contains($0) }
        XCTAssertEqual(offsets.count, want.count, "every record but the corrupt batch's \(lost.count)")
        XCTAssertTrue(
            offsets == want,
            "each at its original offset; first difference at \(zip(offsets, want).first { $0 != $1 }.map { "\($0)" } ?? "the end")"
        )
        XCTAssertEqual(mismatched, 0, "each record's value is the one produced at that offset")

        // New records continue after the old end.
        XCTAssertEqual(try tern(broker, ["produce", "flip", "--acks", "all"], stdin: "after").status, 0)
        let tail = try tern(
            broker,
            [
                "consume", "flip", "--offset", "\(count)", "--print-offset", "--max-messages", "1", "--timeout-ms",
                "10000",
            ])
        XCTAssertEqual(tail.stdout, "0:\(count)\tafter\n", tail.stderr)

        let name = (segment as NSString).lastPathComponent + ".\(victim.position).corrupt"
        let corrupt = data + "/flip-0/" + name
        XCTAssertTrue(FileManager.default.fileExists(atPath: corrupt), "\(name) beside the segment")
        XCTAssertEqual(
            (try FileManager.default.attributesOfItem(atPath: corrupt)[.size] as? NSNumber)?.intValue,
            victim.header.totalSize)
        XCTAssertTrue(broker.log.contains("corrupt data in \(segment)"), broker.log)
        XCTAssertTrue(broker.log.contains("offsets \(lost.lowerBound)..<\(lost.upperBound + 1) are lost"), broker.log)
        XCTAssertEqual(try scrape(broker).value("tern_log_corrupt_batches_total"), 1)
    }

    // MARK: item 10: periodic flush and recovery checkpoint whatever the acks

    func testAcksOneDataIsCheckpointedSoRecoveryScansOnlyTheTail() throws {
        let directory = TemporaryDirectory("tern-checkpoint")
        defer { directory.remove() }
        let data = directory.path + "/data"
        let settings = ["log.flush.interval.ms": "100", "log.flush.offset.checkpoint.interval.ms": "300"]
        var broker = try BrokerProcess(dataDirectory: data, settings: settings)
        let segmentBytes = 1 << 20
        XCTAssertEqual(
            try tern(
                broker, ["topic", "create", "ones", "--partitions", "1", "--config", "segment.bytes=\(segmentBytes)"]
            )
            .status, 0)
        let records = 200_000
        let produced = try tern(
            broker,
            [
                "perf", "produce", "--topic", "ones", "--records", "\(records)", "--record-size", "100", "--acks", "1",
                "--batch-size", "16384",
            ])
        XCTAssertEqual(produced.status, 0, produced.stderr)
        let files = try segmentFiles(data + "/ones-0")
        let segments = files.count
        let totalBytes = try files.reduce(0) {
            $0 + ((try FileManager.default.attributesOfItem(atPath: $1)[.size] as? NSNumber)?.intValue ?? 0)
        }
        XCTAssertGreaterThan(segments, 10)

        // Only acks=1 was written, yet within a few intervals the recovery point on disk reaches the end.
        let checkpoint = data + "/recovery-point-offset-checkpoint"
        func checkpointed() -> Int64? {
            let text = (try? String(contentsOfFile: checkpoint, encoding: .utf8)) ?? ""
            return text.split(separator: "\n").compactMap { line -> Int64? in
                let fields = line.split(separator: " ")
                return fields.count == 3 && fields[0] == "ones" ? Int64(fields[2]) : nil
            }.first
        }
        let deadline = Date().addingTimeInterval(30)
        while checkpointed() != Int64(records) && Date() < deadline { usleep(50_000) }
        XCTAssertEqual(checkpointed(), Int64(records), "the recovery point checkpoint advanced with acks=1 only")
        let flushes = try scrape(broker).value("tern_log_flushes_total") ?? 0
        XCTAssertGreaterThan(flushes, 0)
        broker.kill9()

        broker = try BrokerProcess(dataDirectory: data, port: broker.port, settings: settings)
        defer { broker.stop() }
        let metrics = try scrape(broker)
        let scanned = metrics.value("tern_log_recovery_segments_scanned_total") ?? -1
        let bytesRead = metrics.value("tern_log_recovery_bytes_read_total") ?? -1
        XCTAssertEqual(scanned, 1, "only the active segment after the checkpoint is scanned, of \(segments)")
        // The trusted segments cost only the batches after their last index entry.
        XCTAssertLessThan(bytesRead, Double(totalBytes) / 4, "of \(totalBytes) bytes in \(segments) segments")
        XCTAssertTrue(broker.log.contains("tern_segments_scanned=1"), broker.log)
        XCTAssertEqual(metrics.value("tern_log_end_offset", ["topic": "ones", "partition": "0"]), Double(records))
    }

    // MARK: item 11: roll before an append that would overflow segment.bytes

    func testSegmentsRollBeforeOverflowingSegmentBytes() throws {
        let directory = TemporaryDirectory("tern-roll")
        defer { directory.remove() }
        let data = directory.path + "/data"
        let broker = try BrokerProcess(dataDirectory: data)
        defer { broker.stop() }
        let segmentBytes = 50_000
        XCTAssertEqual(
            try tern(
                broker, ["topic", "create", "rolls", "--partitions", "1", "--config", "segment.bytes=\(segmentBytes)"]
            )
            .status, 0)
        // `tern produce` sends several batches per partition in one request: batches of 16 KiB,
        // requests of up to 1 MiB.
        let lines = (0..<100_000).map { "record-\($0)" }.joined(separator: "\n")
        let produced = try tern(broker, ["produce", "rolls", "--acks", "all", "--batch-size", "16384"], stdin: lines)
        XCTAssertEqual(produced.status, 0, produced.stderr)
        let files = try segmentFiles(data + "/rolls-0")
        XCTAssertGreaterThan(files.count, 10)
        var total = 0
        for file in files {
            let found = try batches(file)
            let size = found.last.map { $0.position + $0.header.totalSize } ?? 0
            total += found.reduce(0) { $0 + Int($1.header.recordCount) }
            if found.count > 1 {
                XCTAssertLessThanOrEqual(
                    size, segmentBytes, "\((file as NSString).lastPathComponent): \(found.count) batches")
            }
        }
        XCTAssertEqual(total, 100_000)
    }
}
