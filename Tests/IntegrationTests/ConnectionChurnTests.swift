import Foundation
import TernClient
import TernTestSupport
import TernWire
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// A broker under a connection storm — thousands of connections opened and dropped from several
/// threads in every way a broken or crashing client drops them (close, reset, half a frame, a
/// request or a parked long poll abandoned before the reply) — while a producer and a consumer
/// go on working: the broker keeps its PID, loses no acknowledged record, still answers, and
/// gives every descriptor and connection back afterwards.
///
/// The storm runs `TERN_CHURN_SECONDS` (default 6) on `TERN_CHURN_THREADS` threads (default 4);
/// set them higher to soak the broker (and, in the client test, the SDK) for minutes.
final class ConnectionChurnTests: XCTestCase {
    static var seconds: Int { Int(ProcessInfo.processInfo.environment["TERN_CHURN_SECONDS"] ?? "") ?? 6 }
    static var threads: Int { Int(ProcessInfo.processInfo.environment["TERN_CHURN_THREADS"] ?? "") ?? 4 }
    /// Descriptors a broker may legitimately hold beyond its idle count afterwards (segment
    /// files opened by reads): far below what a leak of one storm connection in a hundred holds.
    static let descriptorSlack = 8

    func testBrokerSurvivesAConnectionStormAndGivesEveryDescriptorBack() async throws {
        let directory = TemporaryDirectory("tern-churn")
        defer { directory.remove() }
        let broker = try BrokerProcess(dataDirectory: directory.path + "/data")
        defer { broker.stop() }
        let pid = broker.pid
        let admin = try XCTUnwrap(broker.adminPort)

        var client = try await TernClient(configuration: ClientConfiguration(bootstrap: [broker.bootstrap]))
        try await client.admin.createTopic(name: "churn-work", partitions: 1)
        try await client.admin.createTopic(name: "churn-idle", partitions: 1)
        await client.close()
        // Idle: no client connected, the topics' files open.
        XCTAssertTrue(connectionsOpen(admin) == 0 || pollConnectionsClosed(admin, broker), "idle before the storm")
        let idleDescriptors = ProcessCounts.descriptors(pid)
        let idleThreads = ProcessCounts.threads(pid)
        XCTAssertGreaterThan(idleDescriptors, 0)

        // The producer and consumer work through the storm.
        client = try await TernClient(
            configuration: ClientConfiguration(bootstrap: [broker.bootstrap], requestTimeout: .seconds(60)))
        let producer = client.producer(configuration: ProducerConfiguration(acks: .all))
        let churn = ConnectionChurn(
            port: broker.port, idleTopic: "churn-idle", threads: Self.threads, duration: .seconds(Self.seconds),
            maxConnectionsPerThread: 200_000)
        let started = ContinuousClock.now
        async let storm = churn.run()
        var acknowledged = 0
        let stormEnds = started + .seconds(Self.seconds)
        while ContinuousClock.now < stormEnds {
            let metadata = try await producer.send(
                topic: "churn-work", value: Array("record-\(acknowledged)".utf8), partition: 0)
            XCTAssertEqual(metadata.offset, Int64(acknowledged), "offsets are dense during the storm")
            acknowledged += 1
        }
        let totals = await storm
        let elapsed = ContinuousClock.now - started
        await producer.close()
        print(
            "churn: \(totals) in \(elapsed) on \(Self.threads) threads; \(acknowledged) records acknowledged meanwhile")

        XCTAssertTrue(broker.isRunning, "ternd died under the storm\n\(broker.log.suffix(4000))")
        XCTAssertEqual(broker.pid, pid)
        XCTAssertFalse(broker.log.contains("BUG IN"), broker.log.suffix(4000).description)
        XCTAssertGreaterThan(totals.connections, 500, "the storm drove too few connections to mean anything: \(totals)")
        XCTAssertEqual(totals.missingReplies, 0, "well-behaved connections went unanswered: \(totals)")
        XCTAssertGreaterThan(acknowledged, 0)

        // Every acknowledged record is there, in order.
        let consumer = client.consumer()
        try await consumer.assign([TopicPartition(topic: "churn-work", partition: 0)])
        try await consumer.seekToBeginning()
        var values: [String] = []
        let readDeadline = ContinuousClock.now + .seconds(60)
        while values.count < acknowledged && ContinuousClock.now < readDeadline {
            for record in try await consumer.poll(timeout: .seconds(1)) {
                values.append(String(decoding: record.value ?? [], as: UTF8.self))
            }
        }
        await consumer.close()
        XCTAssertEqual(values, (0..<acknowledged).map { "record-\($0)" })

        // A fresh connection is answered (and closed at the end of this scope).
        do {
            let raw = try RawConnection(port: broker.port)
            XCTAssertEqual(try raw.roundTrip(ApiVersionsRequest()).status.errorCode, .none)
        }
        await client.close()

        // Every storm connection closed and gave its descriptor back (parked long polls end
        // within their 5 s wait at the latest); the worker threads wind down.
        pollConnectionsClosed(admin, broker)
        var descriptors = ProcessCounts.descriptors(pid)
        pollUntil(30, "descriptors back to idle (\(idleDescriptors) + \(Self.descriptorSlack))", logs: "") {
            descriptors = ProcessCounts.descriptors(pid)
            return descriptors <= idleDescriptors + Self.descriptorSlack
        }
        var threads = ProcessCounts.threads(pid)
        pollUntil(30, "threads back near idle (\(idleThreads))", logs: "") {
            threads = ProcessCounts.threads(pid)
            return threads <= idleThreads + 8
        }
        print(
            "churn: broker descriptors \(idleDescriptors) idle, \(descriptors) after; threads \(idleThreads) idle, \(threads) after"
        )
        XCTAssertTrue(broker.isRunning)
    }

    /// The SDK side of the storm: clients connect, send and are closed in a loop from several
    /// tasks, half of them while their request is still in flight; the test process (the client)
    /// survives and gives its descriptors back.
    func testClientsConnectingAndClosingInALoopLeaveNoDescriptorBehind() async throws {
        let directory = TemporaryDirectory("tern-churn-client")
        defer { directory.remove() }
        let broker = try BrokerProcess(dataDirectory: directory.path + "/data")
        defer { broker.stop() }
        let setup = try await TernClient(configuration: ClientConfiguration(bootstrap: [broker.bootstrap]))
        try await setup.admin.createTopic(name: "churn-client", partitions: 1)
        await setup.close()

        let me = getpid()
        let idleDescriptors = ProcessCounts.descriptors(me)
        let seconds = max(Self.seconds / 2, 3)
        let deadline = ContinuousClock.now + .seconds(seconds)
        let bootstrap = broker.bootstrap
        let cycles = try await withThrowingTaskGroup(of: Int.self) { group in
            for worker in 0..<Self.threads {
                group.addTask {
                    var cycles = 0
                    while ContinuousClock.now < deadline {
                        let client = try await TernClient(
                            configuration: ClientConfiguration(bootstrap: [bootstrap], requestTimeout: .seconds(60)))
                        if (cycles + worker) % 2 == 0 {
                            // Closed with a request in flight: its answer meets a closed socket.
                            let pending = Task { try? await client.partitionCount(topic: "churn-client") }
                            await client.close()
                            _ = await pending.value
                        } else {
                            let partitions = try await client.partitionCount(topic: "churn-client")
                            XCTAssertEqual(partitions, 1)
                            await client.close()
                        }
                        cycles += 1
                    }
                    return cycles
                }
            }
            return try await group.reduce(0, +)
        }
        print("churn: \(cycles) client connect/close cycles in \(seconds) s on \(Self.threads) tasks")
        XCTAssertGreaterThan(cycles, 20)
        XCTAssertTrue(broker.isRunning)

        var descriptors = ProcessCounts.descriptors(me)
        pollUntil(20, "the test process's descriptors back to idle (\(idleDescriptors))", logs: "") {
            descriptors = ProcessCounts.descriptors(me)
            return descriptors <= idleDescriptors + Self.descriptorSlack
        }
        print("churn: client process descriptors \(idleDescriptors) idle, \(descriptors) after")
    }

    /// `tern_connections_open` summed over the broker's listeners; -1 when unreadable.
    private func connectionsOpen(_ adminPort: Int) -> Int {
        guard let text = try? httpGet(port: adminPort, "/metrics").text else { return -1 }
        var total = 0.0
        for line in text.split(separator: "\n") where line.hasPrefix("tern_connections_open") {
            total += Double(line.split(separator: " ").last ?? "") ?? 0
        }
        return Int(total)
    }

    @discardableResult
    private func pollConnectionsClosed(_ adminPort: Int, _ broker: BrokerProcess) -> Bool {
        pollUntil(30, "the broker's connections all closed", logs: broker.log.suffix(3000).description) {
            connectionsOpen(adminPort) == 0
        }
    }
}
