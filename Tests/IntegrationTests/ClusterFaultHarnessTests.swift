import Foundation
import TernClient
import TernTestSupport
import XCTest

/// The multi-broker fault harness itself (ClusterProcesses with `proxied: true`): every link
/// between nodes goes through the proxies, which know which node opened each link, so isolating a
/// node (cut or blackhole, both directions) makes the others elect a new controller or partition
/// leader, and healing lets it rejoin. scripts/chaos.sh builds on it.
final class ClusterFaultHarnessTests: XCTestCase {
    var directory: TemporaryDirectory!
    var cluster: ClusterProcesses!

    override func setUpWithError() throws {
        directory = TemporaryDirectory("tern-faults")
        cluster = try ClusterProcesses(
            count: 3, directory: directory.path, settings: ClusterQuorumTests.settings, proxied: true)
    }

    override func tearDown() {
        cluster?.stopAll()
        cluster = nil
        directory?.remove()
    }

    /// Asks one node (its own listener, not through its proxy), with short timeouts.
    private func ask<T: Sendable>(_ nodeId: Int32, _ body: @Sendable (TernClient) async throws -> T) async -> T? {
        let configuration = ClientConfiguration(
            bootstrap: [cluster.node(nodeId).bootstrap], requestTimeout: .seconds(2), connectTimeout: .seconds(1))
        guard let client = try? await TernClient(configuration: configuration) else { return nil }
        let result = try? await body(client)
        await client.close()
        return result
    }

    private func membership(_ nodeId: Int32) async -> ClusterMembership? {
        await ask(nodeId) { try await $0.admin.describeClusterMembership() }
    }

    /// Formed as `nodeId` sees it: a controller and three unfenced brokers.
    private func formed(_ nodeId: Int32) async -> ClusterMembership? {
        guard let view = await membership(nodeId), view.controllerId != nil, view.nodes.count == 3,
            view.nodes.allSatisfy({ !$0.fenced })
        else { return nil }
        return view
    }

    func testIsolatingTheControllerElectsAnotherAndHealingLetsItRejoin() async throws {
        await cluster.waitUntilAsync(60, "the cluster to form") { await formed(1) != nil }
        let view = await formed(1)
        let controller = try XCTUnwrap(view?.controllerId)
        let others = [Int32(1), 2, 3].filter { $0 != controller }

        // Brokers registered their proxies, and the proxies know who opened each link.
        let seen = await membership(others[0])
        let registered = try XCTUnwrap(seen)
        for node in cluster.nodes {
            let listener = registered.nodes.first { $0.nodeId == node.nodeId }?.listeners.first
            XCTAssertEqual(
                listener?.port, node.clientProxyPort, "node \(node.nodeId) registered \(String(describing: listener))")
        }
        let controllerLinks = try XCTUnwrap(cluster.proxies[controller]?.controller?.openLinks)
        XCTAssertEqual(
            Set(controllerLinks.keys), Set(others.map { LoopbackProxy.Source.node($0) }), "\(controllerLinks)")

        cluster.isolate(controller, fault: .cut)
        await cluster.waitUntilAsync(30, "the other two to elect another controller and fence node \(controller)") {
            guard let view = await membership(others[0]), let now = view.controllerId, now != controller else {
                return false
            }
            return view.nodes.first { $0.nodeId == controller }?.fenced == true
        }
        // No link between the isolated node and the others survives, either way.
        for node in cluster.nodes {
            for proxy in cluster.proxies[node.nodeId]?.all ?? [] {
                let sources = proxy.openLinks.keys
                if node.nodeId == controller {
                    XCTAssertTrue(sources.allSatisfy { $0 == .other }, "links into node \(controller): \(sources)")
                } else {
                    XCTAssertFalse(
                        sources.contains(.node(controller)), "links from node \(controller) to \(node.nodeId)")
                }
            }
        }

        cluster.heal()
        await cluster.waitUntilAsync(60, "node \(controller) to rejoin: unfenced, and agreeing on the controller") {
            guard let mine = await formed(controller), let theirs = await formed(others[0]) else { return false }
            return mine.controllerId == theirs.controllerId
        }
    }

    func testBlackholingAPartitionLeaderMovesLeadershipAndHealingUnfencesIt() async throws {
        await cluster.waitUntilAsync(60, "the cluster to form") { await formed(1) != nil }
        let created = await ask(1) { client -> Bool in
            try await client.admin.createTopic(name: "harness", partitions: 1, replicationFactor: 3)
            return true
        }
        XCTAssertEqual(created, true)
        var leader: Int32?
        await cluster.waitUntilAsync(30, "a leader for harness-0") {
            leader = await ask(1) { try await $0.admin.describeTopic(name: "harness").partitions.first?.leader } ?? nil
            return leader != nil
        }
        let isolated = try XCTUnwrap(leader)
        let witness = try XCTUnwrap([Int32(1), 2, 3].first { $0 != isolated })

        // Frames vanish, connections stay: the node is fenced once its heartbeats stop arriving.
        cluster.isolate(isolated, fault: .blackhole, fromClients: true)
        await cluster.waitUntilAsync(30, "harness-0 led by another node once node \(isolated) is fenced") {
            guard let view = await membership(witness),
                view.nodes.first(where: { $0.nodeId == isolated })?.fenced == true
            else { return false }
            let now = await ask(witness) { try await $0.admin.describeTopic(name: "harness").partitions.first?.leader }
            guard let now = now ?? nil else { return false }
            return now != isolated
        }

        cluster.heal()
        await cluster.waitUntilAsync(60, "node \(isolated) unfenced again") { await formed(witness) != nil }
    }
}
