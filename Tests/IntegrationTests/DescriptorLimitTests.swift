import Foundation
import Synchronization
import TernClient
import TernTestSupport
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// A broker under `ulimit -n 256` (soft and hard) serves topics whose segments far outnumber its
/// descriptors: segment files are opened on demand within `log.max.open.files` (half the limit
/// by default), so creating 2 × 300 partitions, producing to and fetching from every one of them
/// (two segments each), and restarting after `kill -9` all work, and every record is
/// there. (Before segment files were cached, every segment held a descriptor for good: the
/// creation failed with "Too many open files" and the broker could not restart.)
///
/// While the consumer reads all 600 partitions, the broker keeps descriptors to spare: a fetch
/// holds one file per partition until its response is sent, and before reads were bounded
/// (`log.max.open.files` plus a quarter) such a fetch took all 256, and ternd died now and then
/// (libdispatch traps when its worker monitor cannot open `/proc/self/task/N/stat`).
final class DescriptorLimitTests: XCTestCase {
    static let limit = 256
    static let topics = ["wide-a", "wide-b"]
    static let partitions: Int32 = 300
    static let rounds = 2

    func testSixHundredPartitionsUnderADescriptorLimitOf256SurviveKillDashNine() async throws {
        let directory = TemporaryDirectory("tern-descriptors")
        defer { directory.remove() }
        let data = directory.path + "/data"
        let port = freeLoopbackPort()
        // Segments of at most 1 KiB and values of 700 bytes: every record starts a segment.
        let settings = ["log.segment.bytes": "1024"]
        var broker = try BrokerProcess(dataDirectory: data, port: port, settings: settings, descriptorLimit: Self.limit)
        XCTAssertTrue(broker.log.contains("tern_nofile_soft=\(Self.limit)"), broker.log)

        var client = try await TernClient(
            configuration: ClientConfiguration(bootstrap: [broker.bootstrap], requestTimeout: .seconds(30)))
        for topic in Self.topics {
            try await client.admin.createTopic(name: topic, partitions: Int(Self.partitions))
        }
        // Each round sends one record to every partition and waits for all the acknowledgements.
        var expected: [String: String] = [:]  // "topic/partition/offset" -> value
        let producer = client.producer(configuration: ProducerConfiguration(acks: .all))
        for round in 0..<Self.rounds {
            try await withThrowingTaskGroup(of: (String, String).self) { group in
                for topic in Self.topics {
                    for partition in 0..<Self.partitions {
                        group.addTask {
                            let value = "\(topic)-\(partition)-\(round)-" + String(repeating: "x", count: 700)
                            let metadata = try await producer.send(
                                topic: topic, value: Array(value.utf8), partition: partition)
                            return ("\(topic)/\(partition)/\(metadata.offset)", value)
                        }
                    }
                }
                for try await (location, value) in group { expected[location] = value }
            }
        }
        await producer.close()
        XCTAssertEqual(expected.count, Self.topics.count * Int(Self.partitions) * Self.rounds)
        try await assertEveryRecord(client, expected, "before the kill", broker: broker)

        // The open segment files stay within the budget (half of 256), give or take reads in flight.
        let metrics = try httpGet(port: try XCTUnwrap(broker.adminPort), "/metrics").text
        let open = metrics.split(separator: "\n").first { $0.hasPrefix("tern_log_open_segment_files ") }
        let openCount = open.flatMap { Double($0.split(separator: " ").last ?? "") } ?? -1
        XCTAssertGreaterThan(openCount, 0, metrics)
        XCTAssertLessThanOrEqual(openCount, Double(Self.limit / 2 + 8), "open segment files")

        await client.close()
        broker.kill9()

        // Restart under the same limit: every log opens (2 segments each, 1,200 in all), every record is there,
        // and the last partition of each topic takes appends.
        broker = try BrokerProcess(
            dataDirectory: data, port: port, settings: settings, readyTimeout: 120, descriptorLimit: Self.limit)
        defer { broker.stop() }
        client = try await TernClient(
            configuration: ClientConfiguration(bootstrap: [broker.bootstrap], requestTimeout: .seconds(30)))
        try await assertEveryRecord(client, expected, "after kill -9 and restart", broker: broker)
        let after = client.producer(configuration: ProducerConfiguration(acks: .all))
        for topic in Self.topics where broker.isRunning {
            do {
                let metadata = try await after.send(
                    topic: topic, value: Array("after".utf8), partition: Self.partitions - 1)
                XCTAssertEqual(metadata.offset, Int64(Self.rounds), "\(topic): appends continue after the last record")
            } catch {
                XCTFail("\(topic): append after the restart: \(error)\n\(broker.log.suffix(20_000))")
            }
        }
        await after.close()
        await client.close()
        XCTAssertFalse(broker.log.contains("Too many open files"), broker.log)
    }

    /// `ternd` raises its soft descriptor limit to the hard one at start and logs both.
    func testTerndRaisesItsSoftDescriptorLimitToTheHardLimit() throws {
        let directory = TemporaryDirectory("tern-nofile")
        defer { directory.remove() }
        let hard = try runCommand("/bin/bash", ["-c", "ulimit -Hn"]).stdout.trimmingCharacters(
            in: .whitespacesAndNewlines)
        guard let hardLimit = Int(hard), hardLimit > 200 else { throw XCTSkip("hard RLIMIT_NOFILE is \(hard)") }
        let port = freeLoopbackPort()
        let log = directory.path + "/ternd.log"
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [
            "-c", "ulimit -S -n 200 && exec \"$0\" \"$@\"", Binaries.path("ternd"),
            "--set", "listeners=PLAINTEXT://127.0.0.1:\(port)", "--set", "admin.listeners=",
            "--set", "log.dirs=\(directory.path)/data",
        ]
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        defer {
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
            process.waitUntilExit()
        }
        let deadline = Date().addingTimeInterval(30)
        while !loopbackPortAccepts(port) && process.isRunning && Date() < deadline { usleep(20_000) }
        let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        XCTAssertTrue(text.contains("tern_nofile_soft_at_start=200"), text)
        XCTAssertTrue(text.contains("tern_nofile_soft=\(hardLimit)"), text)
        XCTAssertTrue(text.contains("tern_nofile_hard=\(hardLimit)"), text)
        XCTAssertTrue(text.contains("segment files open at most: \(hardLimit / 2)"), text)
        kill(process.processIdentifier, SIGTERM)
    }

    /// Reads every partition of both topics from the beginning and compares with `expected`,
    /// sampling `broker`'s descriptors meanwhile; a failure shows the end of the broker's log.
    private func assertEveryRecord(
        _ client: TernClient, _ expected: [String: String], _ context: String, broker: BrokerProcess
    ) async throws {
        let sampler = DescriptorSampler(pid: broker.pid)
        defer { sampler.stop() }
        let consumer = client.consumer()
        var partitions: [TopicPartition] = []
        for topic in Self.topics {
            for partition in 0..<Self.partitions {
                partitions.append(TopicPartition(topic: topic, partition: partition))
            }
        }
        try await consumer.assign(partitions)
        try await consumer.seekToBeginning()
        var found: [String: String] = [:]
        let deadline = ContinuousClock.now + .seconds(120)
        while found.count < expected.count && ContinuousClock.now < deadline && broker.isRunning {
            for record in try await consumer.poll(timeout: .seconds(1)) {
                let key = "\(record.topic)/\(record.partition)/\(record.offset)"
                found[key] = record.value.map { String(decoding: $0, as: UTF8.self) } ?? ""
            }
        }
        await consumer.close()
        let peak = sampler.stop()
        XCTAssertLessThanOrEqual(
            peak, Self.limit - 16, "\(context): the broker kept at least 16 of its \(Self.limit) descriptors to spare")
        XCTAssertTrue(broker.isRunning, "\(context): the broker died\n\(broker.log.suffix(20_000))")
        let wrong = expected.filter { found[$0.key] != $0.value }
        guard found.count != expected.count || !wrong.isEmpty else { return }
        XCTAssertEqual(found.count, expected.count, "\(context): records read")
        XCTFail(
            "\(context): \(wrong.count) records missing or different, e.g. \(wrong.keys.sorted().prefix(3))\n"
                + "broker log (end):\n\(broker.log.suffix(20_000))")
    }
}

/// Counts a process's open descriptors (`/proc/PID/fd`) every 2 ms on a thread of its own until
/// stopped, keeping the largest count seen.
private final class DescriptorSampler: Sendable {
    private let peak = Atomic<Int>(0)
    private let stopped = Atomic<Bool>(false)
    private let done = DispatchSemaphore(value: 0)

    init(pid: Int32) {
        let thread = Thread { [self] in
            let path = "/proc/\(pid)/fd"
            while !stopped.load(ordering: .relaxed) {
                if let count = try? FileManager.default.contentsOfDirectory(atPath: path).count {
                    peak.max(count, ordering: .relaxed)
                }
                usleep(2_000)
            }
            done.signal()
        }
        thread.start()
    }

    /// Stops sampling (once; later calls only read) and returns the largest count seen.
    @discardableResult
    func stop() -> Int {
        if !stopped.exchange(true, ordering: .relaxed) { done.wait() }
        return peak.load(ordering: .relaxed)
    }
}
