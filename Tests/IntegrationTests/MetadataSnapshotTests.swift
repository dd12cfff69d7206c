import Foundation
import TernTestSupport
import XCTest

/// The metadata log stays bounded in a running `ternd`: the quorum snapshots the broker's image
/// (`metadata.log.max.record.bytes.between.snapshots`), drops the entries it covers, and a restart
/// rebuilds the image from the snapshot.
final class MetadataSnapshotTests: XCTestCase {
    private func clusterInfo(_ broker: BrokerProcess) throws -> [String: Any] {
        let info = try runCommand(
            Binaries.path("tern"), ["--bootstrap", "127.0.0.1:\(broker.port)", "cluster", "info", "--json"], timeout: 30)
        XCTAssertEqual(info.status, 0, info.stderr)
        return try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(info.stdout.utf8)) as? [String: Any])
    }

    private func snapshots(_ directory: String) -> [String] {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory + "/__cluster_metadata-0")) ?? []
        return files.filter { $0.hasSuffix(".snapshot") }.sorted()
    }

    func testSingleNodeSnapshotsItsImageAndRestartsFromIt() throws {
        let directory = TemporaryDirectory("tern-metadata-snapshot")
        defer { directory.remove() }
        // A snapshot after every metadata entry: the cluster id and the registration both go in one.
        let settings = ["metadata.log.max.record.bytes.between.snapshots": "1"]
        var broker = try BrokerProcess(dataDirectory: directory.path, settings: settings)
        let before = try clusterInfo(broker)
        let clusterId = try XCTUnwrap(before["clusterId"] as? String)
        let deadline = Date().addingTimeInterval(30)
        while snapshots(directory.path).isEmpty && Date() < deadline { usleep(20_000) }
        XCTAssertFalse(snapshots(directory.path).isEmpty, "no metadata snapshot was written: \(broker.log)")
        XCTAssertEqual(broker.stop(), 0, broker.log)

        // The restarted node loads the snapshot (and the entries after it) and is the same node
        // of the same cluster; its registration is a new incarnation on top of the restored image.
        broker = try BrokerProcess(dataDirectory: directory.path, port: broker.port, settings: settings)
        defer { _ = broker.stop() }
        let after = try clusterInfo(broker)
        XCTAssertEqual(after["clusterId"] as? String, clusterId)
        let brokers = try XCTUnwrap(after["brokers"] as? [[String: Any]])
        XCTAssertEqual(brokers.compactMap { $0["nodeId"] as? Int }, [0])
        XCTAssertTrue(broker.log.contains("snapshot"), "the restart did not mention the snapshot it loaded: \(broker.log)")
    }
}
