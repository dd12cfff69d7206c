import Foundation
import TernClient
import TernTestSupport
import TernWire
import XCTest

/// Producer ids on a three-node cluster: every broker gets its blocks from the active controller
/// (AllocateProducerIds, over the controller listener for the other nodes), so ids are unique
/// across the cluster, and stay unique after the controller is killed and another takes over.
final class ClusterProducerIdTests: XCTestCase {
    var directory: TemporaryDirectory!
    var cluster: ClusterProcesses!

    override func setUpWithError() throws {
        directory = TemporaryDirectory("tern-cluster-pid")
        cluster = try ClusterProcesses(count: 3, directory: directory.path, settings: ClusterQuorumTests.settings)
    }

    override func tearDown() {
        cluster?.stopAll()
        cluster = nil
        directory?.remove()
    }

    /// A producer id from node `nodeId` (retrying while the cluster forms); nil after `seconds`.
    private func producerId(from nodeId: Int32, seconds: Double = 60) async -> Int64? {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            let configuration = ClientConfiguration(
                bootstrap: [cluster.node(nodeId).bootstrap], requestTimeout: .seconds(3), connectTimeout: .seconds(1))
            if let client = try? await TernClient(configuration: configuration) {
                let response = try? await client.send(InitProducerIdRequest(), to: nodeId)
                await client.close()
                if let response, response.errorCode == .none { return response.producerId }
            }
            try? await Task.sleep(for: .milliseconds(200))
        }
        return nil
    }

    /// The active controller as node `nodeId` sees it.
    private func controller(askingNode nodeId: Int32) async -> Int32? {
        let configuration = ClientConfiguration(
            bootstrap: [cluster.node(nodeId).bootstrap], requestTimeout: .seconds(2), connectTimeout: .seconds(1))
        guard let client = try? await TernClient(configuration: configuration) else { return nil }
        let membership = try? await client.admin.describeClusterMembership()
        await client.close()
        return membership?.controllerId
    }

    func testProducerIdsAreUniqueAcrossBrokersAndControllerFailover() async throws {
        var ids: [Int64] = []
        for node: Int32 in [1, 2, 3] {
            for _ in 0..<2 {
                let id = await producerId(from: node)
                ids.append(try XCTUnwrap(id, "node \(node) hands out producer ids\n\(cluster.logs)"))
            }
        }
        XCTAssertEqual(Set(ids).count, ids.count, "unique across the cluster: \(ids)")
        // Each broker has its own block: ids of different nodes are a block apart at least.
        let blocks = Set(ids.map { $0 / 1000 })
        XCTAssertEqual(blocks.count, 3, "one block per broker: \(ids)")

        let current = await controller(askingNode: 1)
        let old = try XCTUnwrap(current)
        cluster.kill9(old)
        let survivors = [Int32(1), 2, 3].filter { $0 != old }
        var after: [Int64] = []
        for node in survivors {
            let id = await producerId(from: node)
            after.append(try XCTUnwrap(id, "node \(node) after the failover\n\(cluster.logs)"))
        }
        // The survivors still have ids left in their blocks; a new block is needed for a restarted node.
        try cluster.start(old)
        let restarted = await producerId(from: old, seconds: 90)
        after.append(try XCTUnwrap(restarted, "the restarted node\n\(cluster.logs)"))
        XCTAssertTrue(Set(after).isDisjoint(with: ids), "no id handed out twice: \(ids) then \(after)")
        XCTAssertEqual(Set(after).count, after.count)
        XCTAssertGreaterThanOrEqual(restarted ?? 0, 3000, "the restarted node's block comes after the first three")
    }
}
