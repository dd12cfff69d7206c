import Foundation
import TernClient
import TernTestSupport
import TernWire
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// Controlled shutdown and preferred leaders with three real `ternd` processes: SIGTERM of a
/// broker first moves its partition leadership to the other in-sync replicas (committed, seen in
/// another broker's Metadata) and only then does the process stop, exiting 0; the controller
/// fences it, so nothing is elected onto it until it registers again. `tern topic elect-leaders`
/// answers for every partition through any broker.
///
/// The session timeout is long (30 s) on purpose: a fenced-by-timeout broker would move
/// leadership too, but only after that, so a new leader seen within a few seconds of SIGTERM
/// can only be the controlled shutdown's doing.
final class ControlledShutdownTests: XCTestCase {
    var directory: TemporaryDirectory!
    var cluster: ClusterProcesses!

    static let settings = [
        "broker.session.timeout.ms": "30000", "broker.heartbeat.interval.ms": "300",
        "controller.quorum.election.timeout.ms": "500", "controller.quorum.fetch.timeout.ms": "1000",
        "controlled.shutdown.timeout.ms": "15000", "auto.leader.rebalance.enable": "false",
    ]

    override func setUpWithError() throws {
        directory = TemporaryDirectory("tern-controlled-shutdown")
        var settings = Self.settings
        if name.contains("testAutoRebalance") {
            settings["auto.leader.rebalance.enable"] = "true"
            settings["leader.imbalance.check.interval.seconds"] = "1"
        }
        cluster = try ClusterProcesses(count: 3, directory: directory.path, settings: settings)
    }

    override func tearDown() {
        cluster?.stopAll()
        cluster = nil
        directory?.remove()
    }

    // MARK: Helpers

    /// Creates `name` (6 partitions, replication factor 3) and returns its partitions as node 1 sees them.
    private func createTopic(_ name: String) throws -> [MetadataResponse.Partition] {
        let created = cluster.send(
            1, CreateTopicsRequest(topics: [.init(name: name, numPartitions: 6, replicationFactor: 3)]))
        XCTAssertEqual(created?.topics.map(\.errorCode), [ErrorCode.none], "\(String(describing: created))")
        let topic = try XCTUnwrap(cluster.metadata(1, [name])?.topics.first)
        XCTAssertEqual(topic.partitions.count, 6)
        return topic.partitions
    }

    private func tern(_ arguments: [String], node: Int32) throws -> CommandResult {
        try runCommand(Binaries.path("tern"), ["--bootstrap", cluster.node(node).bootstrap] + arguments, timeout: 60)
    }

    struct Election: Decodable, Equatable {
        var topic: String
        var partition: Int32
        var result: String
    }

    // MARK: Tests

    func testSIGTERMMovesLeadershipAwayBeforeTheBrokerExits() throws {
        cluster.waitForBrokers(3, askingNodes: [1, 2, 3])
        let before = try createTopic("orders")
        // The broker leading partition 0 (each of the three leads two of the six partitions).
        let victim = before[0].leader
        let led = Set(before.filter { $0.leader == victim }.map(\.partition))
        let observer = [Int32(1), 2, 3].first { $0 != victim }!
        let process = try XCTUnwrap(cluster.process(victim))

        let sent = Date()
        kill(process.pid, SIGTERM)
        var movedAfter: TimeInterval?
        cluster.waitUntil(
            10, "node \(observer) shows new leaders for \(led) (well before the 30 s session timeout)", every: 5_000
        ) {
            guard let answer = cluster.metadata(observer, ["orders"]), let topic = answer.topics.first,
                topic.partitions.count == 6
            else { return false }
            guard topic.partitions.allSatisfy({ $0.leader != victim && $0.leader >= 0 }) else { return false }
            movedAfter = Date().timeIntervalSince(sent)
            // Each moved partition went to another replica of the old in-sync set, in a new epoch,
            // and the stopping broker left the in-sync sets.
            for partition in topic.partitions {
                let old = before.first { $0.partition == partition.partition }!
                XCTAssertTrue(old.isr.contains(partition.leader), "\(partition) vs \(old)")
                XCTAssertFalse(partition.isr.contains(victim), "\(partition)")
                if led.contains(partition.partition) { XCTAssertGreaterThan(partition.leaderEpoch, old.leaderEpoch) }
            }
            return true
        }
        if let movedAfter {
            print(
                "controlled shutdown: new leaders visible on node \(observer) \(Int(movedAfter * 1000)) ms after SIGTERM"
            )
        }
        // Then fenced (the second step, once nothing is left to move): no longer a live broker.
        cluster.waitUntil(10, "node \(observer) no longer lists broker \(victim) as live") {
            cluster.metadata(observer)?.brokers.contains { $0.nodeId == victim } == false
        }

        // The process then exits cleanly, well within controlled.shutdown.timeout.ms.
        let deadline = Date().addingTimeInterval(30)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        XCTAssertFalse(process.isRunning, "still running 30 s after SIGTERM\n\(cluster.log(victim))")
        XCTAssertEqual(process.stop(), 0, cluster.log(victim))
        // In its own words, in this order: leadership moved (committed), then the clean stop.
        let log = cluster.log(victim)
        let moved = try XCTUnwrap(log.range(of: "controlled shutdown: leadership moved"), log)
        let stopped = try XCTUnwrap(log.range(of: "shut down cleanly"), log)
        XCTAssertLessThan(moved.lowerBound, stopped.lowerBound)

        // Back again: registered anew and unfenced, but it leads nothing until it is in sync
        // again and a preferred election (asked for here; automatic rebalance is off in this
        // class) gives it back its partitions. Each partition says what happened to it.
        try cluster.start(victim)
        cluster.waitForBrokers(3, askingNodes: [1, 2, 3])
        XCTAssertFalse(
            cluster.metadata(observer, ["orders"])?.topics.first?.partitions.contains { $0.leader == victim } ?? true)
        let asked = try tern(["topic", "elect-leaders", "orders", "--json"], node: observer)
        let results = try JSONDecoder().decode([Election].self, from: Data(asked.stdout.utf8))
        XCTAssertEqual(results.map(\.partition), [0, 1, 2, 3, 4, 5], asked.stdout + asked.stderr)
        let now = try XCTUnwrap(cluster.metadata(observer, ["orders"])?.topics.first?.partitions)
        for result in results {
            let partition = try XCTUnwrap(now.first { $0.partition == result.partition })
            if partition.replicas.first != victim {
                XCTAssertEqual(result.result, "ELECTION_NOT_NEEDED", "\(result)")
            } else if result.result == "NONE" {
                // In sync again (replication lets it back): the election moved leadership home.
                XCTAssertEqual(partition.leader, victim, "\(partition)")
            } else {
                // Not yet in sync (or, before replication, never: nothing lets it back yet).
                XCTAssertEqual(result.result, "PREFERRED_LEADER_NOT_AVAILABLE", "\(result)")
                XCTAssertNotEqual(partition.leader, victim)
            }
        }
        let refused = results.contains { $0.result == "PREFERRED_LEADER_NOT_AVAILABLE" }
        XCTAssertEqual(asked.status, refused ? 1 : 0, asked.stderr)
    }

    /// Automatic rebalance (1 s checks) gives a restarted broker its preferred partitions back once
    /// it is in the in-sync sets again. Letting a returning replica back in needs replication
    /// (the leader's AlterPartition once the follower caught up): without it the test skips,
    /// saying so.
    func testAutoRebalanceGivesARestartedBrokerItsPartitionsBack() throws {
        cluster.waitForBrokers(3, askingNodes: [1, 2, 3])
        let before = try createTopic("orders")
        let victim = before[0].leader
        XCTAssertEqual(cluster.process(victim)?.stop(timeout: 30), 0, cluster.log(victim))
        let observer = [Int32(1), 2, 3].first { $0 != victim }!
        XCTAssertFalse(
            cluster.metadata(observer, ["orders"])?.topics.first?.partitions.contains { $0.leader == victim } ?? true)
        try cluster.start(victim)
        cluster.waitForBrokers(3, askingNodes: [1, 2, 3])
        let deadline = Date().addingTimeInterval(20)
        func inSync() -> Bool {
            cluster.metadata(observer, ["orders"])?.topics.first?.partitions.allSatisfy { $0.isr.contains(victim) }
                == true
        }
        while !inSync() && Date() < deadline { usleep(100_000) }
        try XCTSkipUnless(
            inSync(), "broker \(victim) did not rejoin the in-sync sets within 20 s: needs replication (AlterPartition)"
        )
        cluster.waitUntil(10, "every partition led by its preferred replica again") {
            cluster.metadata(observer, ["orders"])?.topics.first?.partitions.allSatisfy {
                $0.leader == $0.replicas.first
            }
                == true
        }
    }

    /// A producer writing to a partition whose leader gets SIGTERM is acknowledged again by the
    /// new leader soon after: the gap is the controlled shutdown's hand-over plus one metadata
    /// refresh, not `broker.session.timeout.ms` (30 s here). The old leader exits only once its
    /// leadership has moved, so an acknowledgement of a send begun after it exited is the new
    /// leader's.
    func testAProducerIsAcknowledgedByTheNewLeaderSoonAfterSIGTERM() async throws {
        cluster.waitForBrokers(3, askingNodes: [1, 2, 3])
        let before = try createTopic("orders")
        let victim = before[0].leader
        let others = [Int32(1), 2, 3].filter { $0 != victim }
        let client = try await TernClient(
            configuration: ClientConfiguration(
                bootstrap: others.map { cluster.node($0).bootstrap }, requestTimeout: .seconds(5)))
        let producer = client.producer(
            configuration: ProducerConfiguration(
                acks: .leader, linger: .zero, retryBackoff: .milliseconds(20), deliveryTimeout: .seconds(20),
                enableIdempotence: false))
        var last: Int64 = -1
        for i in 0..<20 {
            last = try await producer.send(topic: "orders", value: Array("before-\(i)".utf8), partition: 0).offset
        }
        XCTAssertEqual(last, 19)
        let process = try XCTUnwrap(cluster.process(victim))
        let clock = ContinuousClock()
        let sent = clock.now
        kill(process.pid, SIGTERM)
        var previousAck = sent
        var longestGap = Duration.zero
        var newLeaderAfter: Duration?
        var i = 0
        while newLeaderAfter == nil && clock.now - sent < .seconds(15) {
            let oldLeaderGone = !process.isRunning
            _ = try await producer.send(topic: "orders", value: Array("after-\(i)".utf8), partition: 0)
            let now = clock.now
            longestGap = max(longestGap, now - previousAck)
            previousAck = now
            if oldLeaderGone { newLeaderAfter = now - sent }
            i += 1
        }
        await producer.close()
        await client.close()
        let after = try XCTUnwrap(newLeaderAfter, "no acknowledgement from a new leader within 15 s of SIGTERM")
        print(
            "controlled shutdown: first acknowledgement by the new leader \(after.milliseconds) ms after SIGTERM; "
                + "longest gap between acknowledgements \(longestGap.milliseconds) ms")
        XCTAssertLessThan(
            after, .seconds(10), "the session timeout is 30 s: only the controlled shutdown explains this")
        // The stop goes on by itself (a second SIGTERM would exit at once): wait for it.
        let deadline = Date().addingTimeInterval(30)
        while process.isRunning && Date() < deadline { usleep(20_000) }
        XCTAssertFalse(process.isRunning, cluster.log(victim))
        XCTAssertEqual(process.stop(), 0, cluster.log(victim))
    }

    func testTheLastBrokerStopsAtOnce() throws {
        cluster.waitForBrokers(3, askingNodes: [1, 2, 3])
        _ = try createTopic("orders")
        // Two brokers stop with a controlled shutdown each; the last one has nobody to hand its
        // partitions to (both others fenced) and does not wait for the quorum it lost.
        for id in [Int32(1), 2] {
            XCTAssertEqual(cluster.process(id)?.stop(timeout: 30), 0, cluster.log(id))
        }
        let last = try XCTUnwrap(cluster.process(3))
        let started = Date()
        XCTAssertEqual(last.stop(timeout: 30), 0, cluster.log(3))
        let took = Date().timeIntervalSince(started)
        XCTAssertLessThan(took, 10, "the last broker took \(took) s to stop\n\(cluster.log(3))")
        XCTAssertFalse(cluster.log(3).contains("controlled shutdown timed out"), cluster.log(3))
    }

    /// The quorum is gone (two nodes killed, still unfenced in the survivor's image: the 30 s
    /// session has not passed): the survivor's controlled shutdown finds no leader and gives up
    /// after 2 × (fetch + election timeout) = 3 s, well before controlled.shutdown.timeout.ms (15 s).
    func testSIGTERMWithoutAQuorumDoesNotWaitForTheTimeout() throws {
        cluster.waitForBrokers(3, askingNodes: [1, 2, 3])
        _ = try createTopic("orders")
        cluster.kill9(1)
        cluster.kill9(2)
        let survivor = try XCTUnwrap(cluster.process(3))
        let started = Date()
        XCTAssertEqual(survivor.stop(timeout: 30), 0, cluster.log(3))
        let took = Date().timeIntervalSince(started)
        XCTAssertLessThan(took, 12, "took \(took) s\n\(cluster.log(3))")
        XCTAssertTrue(cluster.log(3).contains("controlled shutdown timed out"), cluster.log(3))
    }

    func testElectLeadersThroughAnyBroker() throws {
        cluster.waitForBrokers(3, askingNodes: [1, 2, 3])
        let before = try createTopic("orders")
        // Everything is led by its preferred replica: nothing to do, from a non-controller too.
        for node in [Int32(1), 2, 3] {
            let all = try tern(["topic", "elect-leaders", "--json"], node: node)
            XCTAssertEqual(all.status, 0, all.stderr)
            XCTAssertEqual(try JSONDecoder().decode([Election].self, from: Data(all.stdout.utf8)), [])
        }
        let one = try tern(["topic", "elect-leaders", "orders", "--partition", "2", "--json"], node: 2)
        XCTAssertEqual(one.status, 0, one.stderr)
        XCTAssertEqual(
            try JSONDecoder().decode([Election].self, from: Data(one.stdout.utf8)),
            [Election(topic: "orders", partition: 2, result: "ELECTION_NOT_NEEDED")])
        let text = try tern(["topic", "elect-leaders", "orders"], node: 3)
        XCTAssertEqual(text.status, 0, text.stderr)
        XCTAssertTrue(text.stdout.contains("ELECTION_NOT_NEEDED"), text.stdout)
        // Unknown topics and partitions are refused by name.
        let missing = try tern(["topic", "elect-leaders", "nope"], node: 1)
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.stderr.contains("nope"), missing.stderr)
        let wrong = try tern(["topic", "elect-leaders", "orders", "--partition", "9", "--json"], node: 1)
        XCTAssertEqual(wrong.status, 1)
        XCTAssertEqual(
            try JSONDecoder().decode([Election].self, from: Data(wrong.stdout.utf8)),
            [Election(topic: "orders", partition: 9, result: "UNKNOWN_TOPIC_OR_PARTITION")])
        XCTAssertEqual(cluster.metadata(1, ["orders"])?.topics.first?.partitions, before)
    }
}

extension Duration {
    /// Whole milliseconds.
    fileprivate var milliseconds: Int64 { components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000 }
}
