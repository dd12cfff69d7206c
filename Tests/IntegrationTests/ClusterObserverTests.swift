import Foundation
import TernClient
import TernTestSupport
import XCTest

/// Real `ternd` processes with dedicated roles: broker-only nodes (`process.roles = broker`)
/// follow the metadata log as observers — they register, serve clients, follow leader changes
/// and catch up after a restart, but never count towards the quorum — and controller-only nodes
/// vote without registering as brokers.
final class ClusterObserverTests: XCTestCase {
    var directory: TemporaryDirectory!
    var cluster: ClusterProcesses!

    override func setUp() {
        directory = TemporaryDirectory("tern-observer")
    }

    override func tearDown() {
        cluster?.stopAll()
        cluster = nil
        directory?.remove()
    }

    /// 1-3 vote and are brokers; 4 is a broker-only observer.
    func startVotersAndObserver() throws {
        cluster = try ClusterProcesses(
            count: 4, directory: directory.path, settings: ClusterQuorumTests.settings,
            roles: ["broker,controller", "broker,controller", "broker,controller", "broker"])
    }

    private func ask<T: Sendable>(_ nodeId: Int32, _ body: @Sendable (TernAdmin) async throws -> T) async -> T? {
        let configuration = ClientConfiguration(
            bootstrap: [cluster.node(nodeId).bootstrap], requestTimeout: .seconds(2), connectTimeout: .seconds(1))
        guard let client = try? await TernClient(configuration: configuration) else { return nil }
        let result = try? await body(client.admin)
        await client.close()
        return result
    }

    /// The membership `nodeId` sees once a controller is known and exactly `brokers` are
    /// registered, every one unfenced.
    private func formed(askingNode nodeId: Int32, brokers: [Int32]) async -> ClusterMembership? {
        guard let membership = await ask(nodeId, { try await $0.describeClusterMembership() }),
            membership.controllerId != nil, membership.nodes.map(\.nodeId) == brokers,
            membership.nodes.allSatisfy({ !$0.fenced })
        else { return nil }
        return membership
    }

    /// The quorum as its leader describes it, asked through `nodeId`'s view of who leads.
    private func leaderView(via nodeId: Int32) async -> QuorumDescription? {
        guard let leader = await ask(nodeId, { try await $0.describeQuorum() })?.leaderId,
            let view = await ask(leader, { try await $0.describeQuorum() }), view.role == "leader"
        else { return nil }
        return view
    }

    private func tern(_ nodeId: Int32, _ arguments: [String]) throws -> CommandResult {
        try runCommand(Binaries.path("tern"), ["--bootstrap", cluster.node(nodeId).bootstrap] + arguments, timeout: 30)
    }

    private func json(_ result: CommandResult) throws -> [String: Any] {
        XCTAssertEqual(result.status, 0, result.stderr)
        return try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
    }

    func testObserverRegistersFollowsLeaderChangesAndCatchesUpAfterARestart() async throws {
        try startVotersAndObserver()
        await cluster.waitUntilAsync(60, "four unfenced brokers, seen by the observer") {
            await formed(askingNode: 4, brokers: [1, 2, 3, 4]) != nil
        }
        // `tern cluster info`: node 4 is a broker only.
        let info = try json(try tern(4, ["cluster", "info", "--json"]))
        let brokers = try XCTUnwrap(info["brokers"] as? [[String: Any]])
        XCTAssertEqual(brokers.compactMap { $0["nodeId"] as? Int }, [1, 2, 3, 4])
        XCTAssertEqual(brokers.map { $0["roles"] as? [String] ?? [] }.last, ["broker"])
        XCTAssertEqual(brokers.first?["roles"] as? [String], ["broker", "controller"])
        // The observer's own view: role observer, following the leader.
        let ownView = await ask(4, { try await $0.describeQuorum() })
        let own = try XCTUnwrap(ownView)
        XCTAssertEqual(own.role, "observer")
        XCTAssertEqual(own.voters.map(\.nodeId), [1, 2, 3])
        XCTAssertNotNil(own.leaderId)
        // `tern cluster quorum` (the leader's view): three voters, node 4 an observer with its progress.
        await cluster.waitUntilAsync(30, "the leader listing observer 4") {
            guard let q = try? json(try tern(4, ["cluster", "quorum", "--json"])),
                let observers = q["observers"] as? [[String: Any]]
            else { return false }
            return observers.compactMap { $0["nodeId"] as? Int } == [4]
                && observers.first?["logEndOffset"] as? Int != nil
                && observers.first?["lastContactMs"] as? Int != nil
        }
        let quorum = try json(try tern(1, ["cluster", "quorum", "--json"]))
        XCTAssertEqual((quorum["voters"] as? [[String: Any]])?.compactMap { $0["nodeId"] as? Int }, [1, 2, 3])
        let table = try tern(1, ["cluster", "quorum"])
        XCTAssertTrue(
            table.stdout.split(separator: "\n").contains { $0.hasPrefix("4 ") && $0.contains("observer") }, table.stdout
        )
        let summary = String(decoding: try httpGet(port: cluster.node(4).adminPort, "/v1/cluster").body, as: UTF8.self)
        XCTAssertTrue(summary.contains("\"role\" : \"observer\""), summary)
        let metrics = String(decoding: try httpGet(port: cluster.node(4).adminPort, "/metrics").body, as: UTF8.self)
        XCTAssertTrue(metrics.contains("\ntern_quorum_role 5.0\n"), metrics)
        XCTAssertTrue(metrics.contains("\ntern_quorum_has_leader 1.0\n"), metrics)

        // kill -9 of the active controller: another is elected, and the observer follows it
        // without being fenced (it keeps heartbeating to whoever leads).
        let first = try XCTUnwrap(own.leaderId)
        cluster.kill9(first)
        let survivor: Int32 = first == 1 ? 2 : 1
        await cluster.waitUntilAsync(30, "the observer following a new leader after kill -9 of \(first)") {
            guard let view = await ask(4, { try await $0.describeQuorum() }), let leader = view.leaderId else {
                return false
            }
            return leader != first
        }
        await cluster.waitUntilAsync(30, "node \(first) fenced by the new controller") {
            await ask(survivor, { try await $0.describeClusterMembership() })?.nodes.first { $0.nodeId == first }?
                .fenced == true
        }
        let afterFailover = await ask(survivor, { try await $0.describeClusterMembership() })
        XCTAssertEqual(afterFailover?.nodes.first { $0.nodeId == 4 }?.fenced, false, "the observer was fenced")
        await cluster.waitUntilAsync(30, "the new leader listing observer 4") {
            await leaderView(via: survivor)?.observers.map(\.nodeId) == [4]
        }
        try cluster.start(first)
        await cluster.waitUntilAsync(60, "node \(first) back and unfenced") {
            await formed(askingNode: 4, brokers: [1, 2, 3, 4]) != nil
        }

        // The observer killed and restarted catches up with the leader's log and registers again.
        let leaderBefore = await leaderView(via: survivor)
        let before = try XCTUnwrap(leaderBefore).logEndOffset
        cluster.kill9(4)
        try cluster.start(4)
        await cluster.waitUntilAsync(60, "observer 4 back, unfenced") {
            await formed(askingNode: 4, brokers: [1, 2, 3, 4]) != nil
        }
        await cluster.waitUntilAsync(30, "observer 4 caught up with the leader's log") {
            guard let leader = await leaderView(via: survivor),
                let own = await ask(4, { try await $0.describeQuorum() })
            else { return false }
            return own.logEndOffset >= before && own.highWatermark == leader.highWatermark
                && leader.observers.first { $0.nodeId == 4 }?.logEndOffset == leader.logEndOffset
        }
    }

    /// One voter and one observer are not a majority of three voters: no leader until a second
    /// voter returns.
    func testObserverDoesNotMakeAMajorityWithTheLastVoter() async throws {
        try startVotersAndObserver()
        await cluster.waitUntilAsync(60, "the cluster to form") {
            await formed(askingNode: 4, brokers: [1, 2, 3, 4]) != nil
        }
        cluster.kill9(2)
        cluster.kill9(3)
        await cluster.waitUntilAsync(30, "no quorum leader, on node 1 and on the observer") {
            (try? httpGet(port: cluster.node(1).adminPort, "/health/ready"))?.status == 503
                && (try? httpGet(port: cluster.node(4).adminPort, "/health/ready"))?.status == 503
        }
        // And it stays so, over many election timeouts (500 ms here): node 1 with the observer
        // never elects a leader.
        let until = Date().addingTimeInterval(4)
        while Date() < until {
            let view = await ask(1, { try await $0.describeQuorum() })
            XCTAssertNotEqual(view?.role, "leader", "node 1 leads with only the observer's fetches")
            XCTAssertNil(view?.leaderId)
            try await Task.sleep(for: .milliseconds(250))
        }
        let notReady = String(
            decoding: try httpGet(port: cluster.node(4).adminPort, "/health/ready").body, as: UTF8.self)
        XCTAssertTrue(notReady.contains("no metadata quorum leader"), notReady)
        XCTAssertTrue(notReady.contains("observer"), notReady)

        try cluster.start(2)
        await cluster.waitUntilAsync(60, "a leader again once voter 2 is back, seen by the observer") {
            (try? httpGet(port: cluster.node(4).adminPort, "/health/ready"))?.status == 200
        }
    }

    /// A controller-only node votes (it is in `tern cluster quorum`) but does not register as a
    /// broker (it is not in `tern cluster info`) and has no client listener.
    func testControllerOnlyNodeVotesWithoutBeingABroker() async throws {
        cluster = try ClusterProcesses(
            count: 3, directory: directory.path, settings: ClusterQuorumTests.settings,
            roles: ["broker,controller", "broker,controller", "controller"])
        await cluster.waitUntilAsync(60, "brokers 1 and 2 registered and unfenced") {
            await formed(askingNode: 1, brokers: [1, 2]) != nil
        }
        XCTAssertFalse(loopbackPortAccepts(cluster.node(3).clientPort), "the controller-only node serves clients")
        let info = try json(try tern(2, ["cluster", "info", "--json"]))
        XCTAssertEqual((info["brokers"] as? [[String: Any]])?.compactMap { $0["nodeId"] as? Int }, [1, 2])
        await cluster.waitUntilAsync(30, "node 3 a voter with a known log end offset") {
            guard let q = try? json(try tern(1, ["cluster", "quorum", "--json"])),
                let voters = q["voters"] as? [[String: Any]]
            else { return false }
            return voters.compactMap { $0["nodeId"] as? Int } == [1, 2, 3]
                && (q["observers"] as? [[String: Any]])?.isEmpty == true
                && (q["leaderId"] as? Int == 3 || voters.last?["logEndOffset"] as? Int != nil)
        }
        // It counts: with node 2 gone, 1 and 3 are still a majority.
        cluster.kill9(2)
        await cluster.waitUntilAsync(30, "a leader among 1 and 3") {
            guard let view = await ask(1, { try await $0.describeQuorum() }), let leader = view.leaderId else {
                return false
            }
            return leader == 1 || leader == 3
        }
        let summary = String(decoding: try httpGet(port: cluster.node(3).adminPort, "/v1/cluster").body, as: UTF8.self)
        XCTAssertTrue(summary.contains("\"brokers\""), summary)
    }

    /// Kafka's dedicated layout: three controller-only voters, two broker-only observers. Clients
    /// see only the brokers; `tern cluster quorum` through a broker shows the leader's own view
    /// (the broker asks the controller-only leader on its controller listener): three voters and
    /// two observers, each with its log end offset.
    func testDedicatedControllersAndBrokers() async throws {
        cluster = try ClusterProcesses(
            count: 5, directory: directory.path, settings: ClusterQuorumTests.settings,
            roles: ["controller", "controller", "controller", "broker", "broker"])
        await cluster.waitUntilAsync(60, "brokers 4 and 5 registered and unfenced") {
            await formed(askingNode: 5, brokers: [4, 5]) != nil
        }
        let info = try json(try tern(4, ["cluster", "info", "--json"]))
        XCTAssertEqual((info["brokers"] as? [[String: Any]])?.compactMap { $0["nodeId"] as? Int }, [4, 5])
        XCTAssertTrue([1, 2, 3].contains(info["controllerId"] as? Int ?? -1), "\(info)")
        await cluster.waitUntilAsync(
            30, "the leader's view through broker 4: three voters and two observers, all known"
        ) {
            guard let q = try? json(try tern(4, ["cluster", "quorum", "--json"])),
                let voters = q["voters"] as? [[String: Any]], let observers = q["observers"] as? [[String: Any]]
            else { return false }
            return q["answeredBy"] as? Int == q["leaderId"] as? Int
                && voters.compactMap { $0["nodeId"] as? Int } == [1, 2, 3]
                && voters.allSatisfy { $0["logEndOffset"] as? Int != nil }
                && observers.compactMap { $0["nodeId"] as? Int } == [4, 5]
                && observers.allSatisfy { $0["logEndOffset"] as? Int != nil && $0["lastContactMs"] as? Int != nil }
        }
    }

    /// An observer that joins after the voters have snapshotted the metadata log (a snapshot
    /// after every applied batch here) starts below the leader's log start: it fetches the
    /// snapshot — in chunks carried by the responses to its own requests — installs it, then
    /// registers and is unfenced once caught up.
    func testLateObserverInstallsTheLeadersSnapshot() async throws {
        var settings = ClusterQuorumTests.settings
        settings["metadata.log.max.record.bytes.between.snapshots"] = "1"
        cluster = try ClusterProcesses(
            count: 4, directory: directory.path, settings: settings,
            roles: ["broker,controller", "broker,controller", "broker,controller", "broker"], deferred: [4])
        await cluster.waitUntilAsync(60, "three voters registered and unfenced") {
            await formed(askingNode: 1, brokers: [1, 2, 3]) != nil
        }
        try cluster.start(4)
        await cluster.waitUntilAsync(60, "observer 4 registered and unfenced") {
            await formed(askingNode: 4, brokers: [1, 2, 3, 4]) != nil
        }
        XCTAssertTrue(cluster.log(4).contains("metadata snapshot installed from the leader"), cluster.log(4))
        await cluster.waitUntilAsync(30, "observer 4 caught up with the leader") {
            guard let leader = await leaderView(via: 1) else { return false }
            return leader.observers.first { $0.nodeId == 4 }?.logEndOffset == leader.logEndOffset
        }
    }
}
