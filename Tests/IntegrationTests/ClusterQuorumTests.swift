import Foundation
import TernClient
import TernTestSupport
import TernWire
import XCTest

/// Three real `ternd` processes forming one cluster on loopback: the metadata quorum elects an
/// active controller, every broker registers and heartbeats, and the cluster survives `kill -9`
/// and `SIGSTOP` of its controller and fences a broker whose heartbeats stop.
final class ClusterQuorumTests: XCTestCase {
    var directory: TemporaryDirectory!
    var cluster: ClusterProcesses!

    /// Short timeouts so failures are noticed within seconds (the defaults are Kafka's).
    static let settings = [
        "broker.session.timeout.ms": "3000", "broker.heartbeat.interval.ms": "300",
        "controller.quorum.election.timeout.ms": "500", "controller.quorum.fetch.timeout.ms": "1000",
    ]

    override func setUpWithError() throws {
        directory = TemporaryDirectory("tern-cluster")
        cluster = try ClusterProcesses(count: 3, directory: directory.path, settings: Self.settings)
    }

    override func tearDown() {
        cluster?.stopAll()
        cluster = nil
        directory?.remove()
    }

    // MARK: Helpers

    /// Asks one node, with short timeouts; nil when it does not answer.
    private func ask<T: Sendable>(
        _ nodeId: Int32, _ body: @Sendable (TernAdmin) async throws -> T
    ) async -> T? {
        let configuration = ClientConfiguration(
            bootstrap: [cluster.node(nodeId).bootstrap], requestTimeout: .seconds(2), connectTimeout: .seconds(1))
        guard let client = try? await TernClient(configuration: configuration) else { return nil }
        let result = try? await body(client.admin)
        await client.close()
        return result
    }

    /// The cluster as `nodeId` sees it once every broker is registered and unfenced.
    private func formed(askingNode nodeId: Int32, except excluded: Set<Int32> = []) async -> ClusterMembership? {
        guard let membership = await ask(nodeId, { try await $0.describeClusterMembership() }),
            membership.controllerId != nil, membership.nodes.count == 3,
            membership.nodes.allSatisfy({ !$0.fenced || excluded.contains($0.nodeId) })
        else { return nil }
        return membership
    }

    private func tern(_ nodeId: Int32, _ arguments: [String]) throws -> CommandResult {
        try runCommand(Binaries.path("tern"), ["--bootstrap", cluster.node(nodeId).bootstrap] + arguments, timeout: 30)
    }

    // MARK: Tests

    func testClusterFormsWithThreeBrokersAndOneController() async throws {
        // Every node's image shows it: followers apply what is committed one fetch after the leader.
        await cluster.waitUntilAsync(60, "three unfenced brokers and a controller, seen by every node") {
            for id in [Int32(1), 2, 3] where await formed(askingNode: id) == nil { return false }
            return true
        }
        let info = try tern(2, ["cluster", "info", "--json"])
        XCTAssertEqual(info.status, 0, info.stderr)
        let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(info.stdout.utf8)) as? [String: Any])
        let brokers = try XCTUnwrap(object["brokers"] as? [[String: Any]])
        XCTAssertEqual(brokers.compactMap { $0["nodeId"] as? Int }, [1, 2, 3])
        XCTAssertEqual(brokers.compactMap { $0["fenced"] as? Bool }, [false, false, false])
        XCTAssertEqual(brokers.map { $0["port"] as? Int }, cluster.nodes.map(\.clientPort))
        let controller = try XCTUnwrap(object["controllerId"] as? Int)
        XCTAssertTrue((1...3).contains(controller), "controller \(controller)")
        XCTAssertNotNil(object["clusterId"] as? String)
        // Every node names the same controller and cluster id.
        for id in [Int32(1), 3] {
            let view = await formed(askingNode: id)
            let other = try XCTUnwrap(view)
            XCTAssertEqual(other.controllerId.map(Int.init), controller)
            XCTAssertEqual(other.clusterId, object["clusterId"] as? String)
        }
        // The meta.properties of every node records the cluster id.
        for node in cluster.nodes {
            let properties = try String(contentsOfFile: node.dataDirectory + "/meta.properties", encoding: .utf8)
            XCTAssertTrue(properties.contains("cluster.id=\(object["clusterId"] as? String ?? "?")"), properties)
        }

        let quorum = try tern(1, ["cluster", "quorum", "--json"])
        XCTAssertEqual(quorum.status, 0, quorum.stderr)
        let q = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(quorum.stdout.utf8)) as? [String: Any])
        XCTAssertEqual(q["leaderId"] as? Int, controller)
        let voters = try XCTUnwrap(q["voters"] as? [[String: Any]])
        XCTAssertEqual(voters.compactMap { $0["nodeId"] as? Int }, [1, 2, 3])
        XCTAssertEqual(voters.filter { $0["leader"] as? Bool == true }.count, 1)
        // From the leader's view every voter's log end offset is known.
        XCTAssertEqual(voters.compactMap { $0["logEndOffset"] as? Int }.count, 3, quorum.stdout)

        let health = try tern(3, ["cluster", "health"])
        XCTAssertEqual(health.status, 0, health.stderr)
        XCTAssertTrue(health.stdout.hasPrefix("ok: 3 brokers"), health.stdout)
        let ready = try httpGet(port: cluster.node(1).adminPort, "/health/ready")
        XCTAssertEqual(ready.status, 200)
        let metrics = try httpGet(port: cluster.node(Int32(controller)).adminPort, "/metrics")
        let text = String(decoding: metrics.body, as: UTF8.self)
        XCTAssertTrue(text.contains("\ntern_quorum_role 4.0\n"), text)
        XCTAssertTrue(text.contains("\ntern_cluster_brokers 3.0\n"), text)
        XCTAssertTrue(text.contains("\ntern_cluster_fenced_brokers 0.0\n"), text)
        XCTAssertTrue(text.contains("\ntern_quorum_has_leader 1.0\n"), text)
        XCTAssertTrue(text.contains("# HELP tern_quorum_epoch "), text)
    }

    /// BrokerRegistration and BrokerHeartbeat on the controller listener: a heartbeat from a node
    /// that never registered, a stale epoch, a body with trailing bytes and one for a node that is
    /// not the controller are refused, and change nothing.
    func testControllerListenerRefusesBadBrokerRequests() async throws {
        await cluster.waitUntilAsync(60, "the cluster to form") { await formed(askingNode: 1) != nil }
        let formedView = await formed(askingNode: 1)
        let controller = try XCTUnwrap(formedView?.controllerId)
        let follower = try XCTUnwrap([Int32(1), 2, 3].first { $0 != controller })
        let connection = try RawConnection(port: cluster.node(controller).controllerPort)

        let unknown = try connection.roundTrip(BrokerHeartbeatRequest(nodeId: 42, brokerEpoch: 1, metadataOffset: 0))
        XCTAssertEqual(unknown.response?.errorCode, .brokerIdNotRegistered, "\(unknown)")
        let stale = try connection.roundTrip(
            BrokerHeartbeatRequest(nodeId: follower, brokerEpoch: 0, metadataOffset: 0), correlationId: 2)
        XCTAssertEqual(stale.response?.errorCode, .staleBrokerEpoch, "\(stale)")

        var frame = Frame.request(
            BrokerHeartbeatRequest(nodeId: follower, brokerEpoch: 0, metadataOffset: 0), correlationId: 3,
            clientId: "raw-test")
        frame += [0xAA]
        let size = UInt32(frame.count - 4)
        frame[0] = UInt8(size >> 24)
        frame[1] = UInt8(truncatingIfNeeded: size >> 16)
        frame[2] = UInt8(truncatingIfNeeded: size >> 8)
        frame[3] = UInt8(truncatingIfNeeded: size)
        try connection.write(frame)
        var reader = ByteReader(try XCTUnwrap(connection.readFrame()))
        XCTAssertEqual(try Frame.readResponseHead(&reader).status.errorCode, .invalidRequest)

        let elsewhere = try RawConnection(port: cluster.node(follower).controllerPort)
        let notController = try elsewhere.roundTrip(
            BrokerRegistrationRequest(
                nodeId: 42, clusterId: "", incarnationId: MetadataUUID(high: 1, low: 2), listeners: [], roles: [.broker]
            ))
        XCTAssertEqual(notController.response?.errorCode, .notController, "\(notController)")

        // Nothing changed: still three unfenced brokers, node 42 unknown.
        let after = await formed(askingNode: 1)
        XCTAssertEqual(after?.nodes.map(\.nodeId), [1, 2, 3])
    }

    /// Two of three nodes lost: no leader, so the survivor is not ready and `tern cluster health`
    /// names the lost quorum; with one node back a leader is elected and all is well again.
    func testLosingTheMajorityLeavesNoLeaderUntilItReturns() async throws {
        await cluster.waitUntilAsync(60, "the cluster to form") { await formed(askingNode: 1) != nil }
        cluster.kill9(2)
        cluster.kill9(3)
        await cluster.waitUntilAsync(30, "node 1 without a quorum leader") {
            (try? httpGet(port: cluster.node(1).adminPort, "/health/ready"))?.status == 503
        }
        let notReady = try httpGet(port: cluster.node(1).adminPort, "/health/ready")
        XCTAssertTrue(String(decoding: notReady.body, as: UTF8.self).contains("no metadata quorum leader"))
        let health = try tern(1, ["cluster", "health"])
        XCTAssertNotEqual(health.status, 0)
        XCTAssertTrue(health.stderr.contains("the metadata quorum has no leader"), health.stderr)
        let summary = try httpGet(port: cluster.node(1).adminPort, "/v1/cluster")
        XCTAssertTrue(String(decoding: summary.body, as: UTF8.self).contains("\"ready\" : false"))

        try cluster.start(2)
        await cluster.waitUntilAsync(60, "a leader again once node 2 is back") {
            (try? httpGet(port: cluster.node(1).adminPort, "/health/ready"))?.status == 200
        }
        // The new controller gives node 3's old registration a full session, then fences it.
        await cluster.waitUntilAsync(30, "node 3 fenced while it is down") {
            await ask(1, { try await $0.describeClusterMembership() })?.nodes.first { $0.nodeId == 3 }?.fenced == true
        }
        try cluster.start(3)
        await cluster.waitUntilAsync(60, "node 3 registered again and unfenced") { await formed(askingNode: 1) != nil }
        let healthy = try tern(1, ["cluster", "health"])
        XCTAssertEqual(healthy.status, 0, healthy.stderr)
    }

    func testKillingTheActiveControllerElectsAnotherAndTheNodeCatchesUpOnRestart() async throws {
        await cluster.waitUntilAsync(60, "the cluster to form") { await formed(askingNode: 1) != nil }
        let formedView = await formed(askingNode: 1)
        let first = try XCTUnwrap(formedView?.controllerId)
        cluster.kill9(first)
        let survivor: Int32 = first == 1 ? 2 : 1
        let killedAt = Date()
        await cluster.waitUntilAsync(30, "another controller after kill -9 of \(first)") {
            guard let membership = await ask(survivor, { try await $0.describeClusterMembership() }),
                let controller = membership.controllerId
            else { return false }
            return controller != first
        }
        let failover = Date().timeIntervalSince(killedAt)
        // The killed broker is fenced once its session expires.
        await cluster.waitUntilAsync(30, "node \(first) fenced") {
            await ask(survivor, { try await $0.describeClusterMembership() })?.nodes
                .first { $0.nodeId == first }?.fenced == true
        }
        try cluster.start(first)
        await cluster.waitUntilAsync(60, "node \(first) back, caught up and unfenced") {
            await formed(askingNode: survivor) != nil
        }
        // The restarted node's log reached the leader's end offset.
        await cluster.waitUntilAsync(30, "node \(first) caught up with the leader's log") {
            guard let quorum = await ask(survivor, { try await $0.describeQuorum() }),
                let leader = quorum.leaderId,
                let fromLeader = await ask(leader, { try await $0.describeQuorum() }),
                fromLeader.role == "leader"
            else { return false }
            let ends = fromLeader.voters.compactMap(\.logEndOffset)
            return ends.count == 3 && Set(ends).count == 1
        }
        print("controller failover after kill -9: \(String(format: "%.2f", failover)) s")
    }

    func testPausedControllerStepsDownAfterItResumes() async throws {
        await cluster.waitUntilAsync(60, "the cluster to form") { await formed(askingNode: 1) != nil }
        let formedView = await formed(askingNode: 1)
        let paused = try XCTUnwrap(formedView?.controllerId)
        let other: Int32 = paused == 1 ? 2 : 1
        cluster.pause(paused)
        await cluster.waitUntilAsync(30, "a new leader while node \(paused) is stopped") {
            guard let quorum = await ask(other, { try await $0.describeQuorum() }), let leader = quorum.leaderId
            else { return false }
            return leader != paused
        }
        cluster.resume(paused)
        // Once it runs again it learns of the newer epoch and follows: one leader, agreed by all.
        await cluster.waitUntilAsync(30, "node \(paused) to step down and every node to agree on one leader") {
            var views: [QuorumDescription] = []
            for id in [Int32(1), 2, 3] {
                guard let view = await ask(id, { try await $0.describeQuorum() }) else { return false }
                views.append(view)
            }
            let leaders = Set(views.compactMap(\.leaderId))
            let epochs = Set(views.map(\.epoch))
            return leaders.count == 1 && epochs.count == 1 && !leaders.contains(paused)
                && views.filter { $0.role == "leader" }.count == 1
        }
        await cluster.waitUntilAsync(30, "every broker unfenced again") { await formed(askingNode: paused) != nil }
    }

    func testBrokerWhoseHeartbeatsStopIsFencedThenUnfenced() async throws {
        await cluster.waitUntilAsync(60, "the cluster to form") { await formed(askingNode: 1) != nil }
        let formedView = await formed(askingNode: 1)
        let controller = try XCTUnwrap(formedView?.controllerId)
        let victim = try XCTUnwrap([Int32(1), 2, 3].first { $0 != controller })
        let observer = try XCTUnwrap([Int32(1), 2, 3].first { $0 != controller && $0 != victim })
        // The observer must have seen the victim unfenced first: otherwise the fencing of its
        // registration (before its first heartbeat) passes for the fencing this test causes.
        await cluster.waitUntilAsync(30, "node \(observer) sees every broker unfenced") {
            await formed(askingNode: observer) != nil
        }
        cluster.pause(victim)
        await cluster.waitUntilAsync(30, "node \(victim) fenced after its heartbeats stopped") {
            await ask(observer, { try await $0.describeClusterMembership() })?.nodes
                .first { $0.nodeId == victim }?.fenced == true
        }
        let health = try tern(observer, ["cluster", "health"])
        XCTAssertNotEqual(health.status, 0)
        XCTAssertTrue(health.stderr.contains("broker \(victim) fenced"), health.stderr)
        let info = try tern(observer, ["cluster", "info"])
        XCTAssertEqual(info.status, 0, info.stderr)
        XCTAssertTrue(
            info.stdout.split(separator: "\n").contains { $0.hasPrefix("\(victim) ") && $0.contains("fenced") },
            info.stdout)
        cluster.resume(victim)
        await cluster.waitUntilAsync(30, "node \(victim) unfenced after it resumed") {
            await formed(askingNode: observer) != nil
        }
    }
}
