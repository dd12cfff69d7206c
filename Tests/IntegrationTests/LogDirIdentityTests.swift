import Foundation
import TernTestSupport
import XCTest

/// A real `ternd` claims its log directory with `meta.properties` and refuses one that belongs to
/// another node id (exit 78, naming the file) without touching it.
final class LogDirIdentityTests: XCTestCase {
    func testRestartWithAnotherNodeIdExitsWithConfigErrorNamingTheFile() throws {
        let directory = TemporaryDirectory("tern-identity")
        defer { directory.remove() }
        let data = directory.path + "/data"
        let file = data + "/meta.properties"
        let configFile = directory.path + "/ternd.conf"
        let port = freeLoopbackPort()
        func writeConfig(nodeId: Int) throws {
            try """
            node.id = \(nodeId)
            listeners = PLAINTEXT://127.0.0.1:\(port)
            log.dirs = \(data)
            admin.listeners =

            """.write(toFile: configFile, atomically: true, encoding: .utf8)
        }

        // First start: the directory is claimed for node 3, and the quorum of one writes a new
        // cluster id, which is recorded too.
        try writeConfig(nodeId: 3)
        let broker = try BrokerProcess(
            dataDirectory: data, port: port, settings: ["node.id": "3", "admin.listeners": ""])
        let tern = Binaries.path("tern")
        XCTAssertEqual(
            try runCommand(tern, ["--bootstrap", broker.bootstrap, "topic", "create", "kept", "--partitions", "1"])
                .status, 0)
        XCTAssertEqual(broker.stop(), 0, broker.log)
        let claimed = try String(contentsOfFile: file, encoding: .utf8)
        XCTAssertTrue(claimed.contains("node.id=3\n") && claimed.contains("version=1\n"), claimed)
        XCTAssertTrue(claimed.contains("cluster.id="), claimed)

        // The same directory under node.id 4: refused before any log is opened, the file unchanged.
        try writeConfig(nodeId: 4)
        let refused = try runCommand(Binaries.path("ternd"), ["--config", configFile], timeout: 60)
        XCTAssertEqual(refused.status, 78, refused.stderr)
        XCTAssertTrue(refused.stderr.contains(file), refused.stderr)
        XCTAssertTrue(refused.stderr.contains("belongs to node 3, but node.id is 4"), refused.stderr)
        XCTAssertFalse(refused.stderr.contains("ternd ready"), refused.stderr)
        XCTAssertEqual(try String(contentsOfFile: file, encoding: .utf8), claimed)

        // A corrupt file is a data-directory error (73), also naming the file.
        try "version=1\nnode.id=3\nnode.id=3\n".write(toFile: file, atomically: true, encoding: .utf8)
        let corrupt = try runCommand(Binaries.path("ternd"), ["--config", configFile], timeout: 60)
        XCTAssertEqual(corrupt.status, 73, corrupt.stderr)
        XCTAssertTrue(corrupt.stderr.contains(file) && corrupt.stderr.contains("set twice"), corrupt.stderr)

        // Back to node 3 with its file restored: it starts and still has its topic.
        try claimed.write(toFile: file, atomically: true, encoding: .utf8)
        let again = try BrokerProcess(
            dataDirectory: data, port: port, settings: ["node.id": "3", "admin.listeners": ""])
        defer { again.stop() }
        let listed = try runCommand(tern, ["--bootstrap", again.bootstrap, "topic", "list"])
        XCTAssertEqual(listed.status, 0, listed.stderr)
        XCTAssertTrue(listed.stdout.contains("kept"), listed.stdout)
    }

    func testADataDirectoryFromBeforeMetaPropertiesIsClaimedOnStart() throws {
        let directory = TemporaryDirectory("tern-identity")
        defer { directory.remove() }
        let data = directory.path + "/data"
        let broker = try BrokerProcess(dataDirectory: data, settings: ["admin.listeners": ""])
        XCTAssertEqual(broker.stop(), 0, broker.log)
        let first = try String(contentsOfFile: data + "/meta.properties", encoding: .utf8)
        let clusterLine = try XCTUnwrap(first.split(separator: "\n").first { $0.hasPrefix("cluster.id=") })
        // As an older ternd left it: no meta.properties.
        try FileManager.default.removeItem(atPath: data + "/meta.properties")
        let restarted = try BrokerProcess(dataDirectory: data, port: broker.port, settings: ["admin.listeners": ""])
        XCTAssertEqual(restarted.stop(), 0, restarted.log)
        // Claimed again, with the cluster id the metadata log still names.
        XCTAssertEqual(
            try String(contentsOfFile: data + "/meta.properties", encoding: .utf8),
            "#Written by ternd: the node and cluster this log directory belongs to.\n\(clusterLine)\nnode.id=0\nversion=1\n")
    }

    /// A log directory whose meta.properties records another cluster than the metadata log names
    /// stops the node once the log is replayed: exit 78 naming the file, the file unchanged.
    func testALogDirectoryOfAnotherClusterStopsTheNode() throws {
        let directory = TemporaryDirectory("tern-identity")
        defer { directory.remove() }
        let data = directory.path + "/data"
        let file = data + "/meta.properties"
        let port = freeLoopbackPort()
        let broker = try BrokerProcess(dataDirectory: data, port: port, settings: ["admin.listeners": ""])
        XCTAssertEqual(broker.stop(), 0, broker.log)
        let written = try String(contentsOfFile: file, encoding: .utf8)
        XCTAssertTrue(written.contains("cluster.id="), written)
        let other = "#Written by ternd\ncluster.id=AAAAAAAAAAAAAAAAAAAAAA\nnode.id=0\nversion=1\n"
        try other.write(toFile: file, atomically: true, encoding: .utf8)
        let refused = try runCommand(
            Binaries.path("ternd"),
            ["--set", "listeners=PLAINTEXT://127.0.0.1:\(port)", "--set", "log.dirs=\(data)", "--set", "admin.listeners="],
            timeout: 60)
        XCTAssertEqual(refused.status, 78, refused.stderr)
        XCTAssertTrue(refused.stderr.contains(file), refused.stderr)
        XCTAssertTrue(refused.stderr.contains("belongs to cluster AAAAAAAAAAAAAAAAAAAAAA"), refused.stderr)
        XCTAssertEqual(try String(contentsOfFile: file, encoding: .utf8), other)
    }
}
