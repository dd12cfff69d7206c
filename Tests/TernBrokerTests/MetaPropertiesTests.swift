import Foundation
import TernTestSupport
import TernWire
import XCTest

@testable import TernBroker

/// `meta.properties`: Kafka's format read strictly, written crash-safely, and checked against
/// the node id and the cluster id.
final class MetaPropertiesTests: XCTestCase {
    func testRendersKafkasFormatAndReadsItBack() throws {
        let properties = MetaProperties(
            nodeId: 3, clusterId: "3Hh2Tq6sSU2b1DwnEJmQ9w", otherProperties: ["directory.id": "x"])
        let text = properties.rendered()
        XCTAssertEqual(
            text,
            "#Written by ternd: the node and cluster this log directory belongs to.\n"
                + "cluster.id=3Hh2Tq6sSU2b1DwnEJmQ9w\ndirectory.id=x\nnode.id=3\nversion=1\n")
        XCTAssertEqual(try MetaProperties(parsing: text, path: "p"), properties)
        // Kafka writes a date comment and may pad around '='; CRLF line ends are tolerated too.
        let kafka = "#\n#Thu Nov 27 09:00:00 UTC 2026\r\nnode.id = 1\r\nversion=1\ncluster.id=abc-_Z9\n"
        XCTAssertEqual(try MetaProperties(parsing: kafka, path: "p"), MetaProperties(nodeId: 1, clusterId: "abc-_Z9"))
        XCTAssertEqual(try MetaProperties(parsing: "version=1\nnode.id=0\n", path: "p"), MetaProperties(nodeId: 0))
    }

    func testHostileFilesAreRefusedNamingTheFileAndTheProblem() {
        let cases: [(String, String)] = [
            ("", "no version"),
            ("node.id=1\n", "no version"),
            ("version=1\n", "no node.id"),
            ("version=0\nbroker.id=1\n", "version 0"),
            ("version=2\nnode.id=1\n", "version 2"),
            ("version=1\nnode.id=\n", "node.id ''"),
            ("version=1\nnode.id=-1\n", "node.id '-1'"),
            ("version=1\nnode.id=+1\n", "node.id '+1'"),
            ("version=1\nnode.id=2147483648\n", "node.id '2147483648'"),
            ("version=1\nnode.id=99999999999999999999\n", "not a whole number"),
            ("version=1\nnode.id=1\nnode.id=2\n", "node.id is set twice (lines 2 and 3)"),
            ("version=1\nversion=1\nnode.id=1\n", "version is set twice"),
            ("version=1\nnode.id=1\ngarbage\n", "line 3 is not key=value"),
            ("version=1\nnode.id=1\n=5\n", "line 3 has no key"),
            ("version=1\nnode.id=1\ncluster.id=a\\\n b\n", "escape"),
            ("version=1\nnode.id=1\ncluster.id=\n", "cluster.id ''"),
            ("version=1\nnode.id=1\ncluster.id=a b\n", "cluster.id 'a b'"),
            ("version=1\nnode.id=1\ncluster.id=\(String(repeating: "a", count: 256))\n", "cluster.id"),
        ]
        for (text, reason) in cases {
            XCTAssertThrowsError(try MetaProperties(parsing: text, path: "/d/meta.properties"), text) { error in
                guard let error = error as? MetaPropertiesError else { return XCTFail("\(error)") }
                XCTAssertEqual(error.code, .corrupt, text)
                XCTAssertTrue("\(error)".hasPrefix("/d/meta.properties: "), "\(error)")
                XCTAssertTrue(error.reason.contains(reason), "\(text): '\(error.reason)' lacks '\(reason)'")
            }
        }
    }

    func testLoadWriteAndAdoptAcrossLogDirectories() throws {
        let root = TemporaryDirectory("tern-meta")
        defer { root.remove() }
        let dirs = [root.path + "/a", root.path + "/b"]
        for dir in dirs { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }

        var identity = try LogDirIdentity.load(logDirs: dirs, nodeId: 4)
        XCTAssertEqual(identity.directories.map(\.properties), [nil, nil])
        XCTAssertNil(identity.clusterId)
        try identity.writeMissing()
        for dir in dirs {
            XCTAssertEqual(
                try String(contentsOfFile: dir + "/meta.properties", encoding: .utf8),
                MetaProperties(nodeId: 4).rendered())
            XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/meta.properties.tmp"))
        }

        // The same node starts again; another node id is refused naming the first directory's file.
        XCTAssertEqual(try LogDirIdentity.load(logDirs: dirs, nodeId: 4).directories.map(\.properties?.nodeId), [4, 4])
        XCTAssertThrowsError(try LogDirIdentity.load(logDirs: dirs, nodeId: 5)) { error in
            let error = error as? MetaPropertiesError
            XCTAssertEqual(error?.code, .mismatch)
            XCTAssertEqual(error?.path, dirs[0] + "/meta.properties")
            XCTAssertTrue(
                error?.reason.contains("belongs to node 4, but node.id is 5") == true, "\(String(describing: error))")
        }

        // The quorum's cluster id is recorded everywhere, then checked.
        try identity.adopt(clusterId: "clusterA")
        XCTAssertEqual(identity.clusterId, "clusterA")
        var reloaded = try LogDirIdentity.load(logDirs: dirs, nodeId: 4)
        XCTAssertEqual(reloaded.directories.map(\.properties?.clusterId), ["clusterA", "clusterA"])
        try reloaded.adopt(clusterId: "clusterA")
        XCTAssertThrowsError(try reloaded.adopt(clusterId: "clusterB")) { error in
            let error = error as? MetaPropertiesError
            XCTAssertEqual(error?.code, .mismatch)
            XCTAssertTrue(error?.reason.contains("belongs to cluster clusterA") == true, "\(String(describing: error))")
        }
        XCTAssertThrowsError(try reloaded.adopt(clusterId: "not valid!")) { error in
            XCTAssertEqual((error as? MetaPropertiesError)?.code, .corrupt)
        }

        // A third directory, new, joins: it gets the known cluster id. One from another cluster is refused.
        let third = root.path + "/c"
        try FileManager.default.createDirectory(atPath: third, withIntermediateDirectories: true)
        var grown = try LogDirIdentity.load(logDirs: dirs + [third], nodeId: 4)
        try grown.writeMissing()
        XCTAssertEqual(
            try LogDirIdentity.read(third + "/meta.properties"), MetaProperties(nodeId: 4, clusterId: "clusterA"))
        try MetaProperties(nodeId: 4, clusterId: "clusterB").rendered().write(
            toFile: third + "/meta.properties", atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try LogDirIdentity.load(logDirs: dirs + [third], nodeId: 4)) { error in
            let error = error as? MetaPropertiesError
            XCTAssertEqual(error?.code, .mismatch)
            XCTAssertEqual(error?.path, third + "/meta.properties")
        }
    }

    func testUnreadableOrBinaryFilesAreDataDirectoryErrors() throws {
        let root = TemporaryDirectory("tern-meta")
        defer { root.remove() }
        try Data([0x76, 0xFF, 0xFE, 0x3D]).write(to: URL(fileURLWithPath: root.path + "/meta.properties"))
        XCTAssertThrowsError(try LogDirIdentity.load(logDirs: [root.path], nodeId: 0)) { error in
            XCTAssertEqual((error as? MetaPropertiesError)?.code, .corrupt)
            XCTAssertTrue("\(error)".contains("UTF-8"), "\(error)")
        }
        try FileManager.default.removeItem(atPath: root.path + "/meta.properties")
        try FileManager.default.createDirectory(
            atPath: root.path + "/meta.properties", withIntermediateDirectories: false)
        XCTAssertThrowsError(try LogDirIdentity.load(logDirs: [root.path], nodeId: 0)) { error in
            XCTAssertEqual((error as? MetaPropertiesError)?.code, .io)
            XCTAssertTrue("\(error)".contains(root.path + "/meta.properties"), "\(error)")
        }
    }

    func testClusterIdsAreKafkasBase64UrlUuids() {
        var generator = SeededGenerator(seed: 42)
        var seen: Set<String> = []
        for _ in 0..<2000 {
            let id = ClusterId.random(using: &generator)
            XCTAssertEqual(id.utf8.count, 22, id)
            XCTAssertFalse(id.hasPrefix("-"), id)
            XCTAssertTrue(MetaProperties.isValidClusterId(id), id)
            let uuid = ClusterId.decode(id)
            XCTAssertNotNil(uuid, id)
            XCTAssertNotEqual(uuid, .zero)
            XCTAssertEqual(uuid.map(ClusterId.encode), id)
            seen.insert(id)
        }
        XCTAssertEqual(seen.count, 2000)
        // Fixed vectors: Kafka's Uuid(0x...) prints the same base64url text.
        XCTAssertEqual(ClusterId.encode(.init(high: 0, low: 1)), "AAAAAAAAAAAAAAAAAAAAAQ")
        XCTAssertEqual(ClusterId.encode(.init(high: .max, low: .max)), "_____________________w")
        XCTAssertEqual(
            ClusterId.encode(.init(high: 0x0123_4567_89AB_CDEF, low: 0xFEDC_BA98_7654_3210)), "ASNFZ4mrze_-3LqYdlQyEA")
        XCTAssertNil(ClusterId.decode("_____________________x"), "non-canonical last character")
        XCTAssertNil(ClusterId.decode("AAAAAAAAAAAAAAAAAAAAA"), "21 characters")
        XCTAssertNil(ClusterId.decode("AAAAAAAAAAAAAAAAAAAA+Q"), "'+' is not base64url")
        if case .clusterId(let id) = ClusterId.record(using: &generator) {
            XCTAssertEqual(ClusterId.decode(id).map(ClusterId.encode), id)
        } else {
            XCTFail("not a cluster id record")
        }
    }
}
