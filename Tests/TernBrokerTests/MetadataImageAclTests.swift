import TernWire
import XCTest

@testable import TernBroker

/// ACL bindings in the metadata image: added and removed by records, contradictions refused
/// without changing the image, and carried by the snapshot form.
final class MetadataImageAclTests: XCTestCase {
    static let readOrders = AclBinding(
        resourceType: .topic, resourceName: "orders", principal: "User:alice", operation: .read)
    static let denyPrefix = AclBinding(
        resourceType: .topic, resourceName: "orders-", patternType: .prefixed, principal: "User:*",
        host: "10.0.0.9", operation: .write, permission: .deny)
    static let clusterCreate = AclBinding(
        resourceType: .cluster, resourceName: "kafka-cluster", principal: "User:ops", operation: .create)
    static let groupAll = AclBinding(resourceType: .group, resourceName: "*", principal: "User:bob", operation: .all)

    func testAddAndRemove() throws {
        var image = try MetadataImage().applying([
            .addAcl(Self.readOrders), .addAcl(Self.denyPrefix), .addAcl(Self.clusterCreate), .addAcl(Self.groupAll),
        ])
        XCTAssertEqual(image.acls, [Self.readOrders, Self.denyPrefix, Self.clusterCreate, Self.groupAll])
        // Sorted by resource type (topic < group < cluster), then name.
        XCTAssertEqual(image.sortedAcls, [Self.readOrders, Self.denyPrefix, Self.groupAll, Self.clusterCreate])
        try image.apply(.removeAcl(Self.denyPrefix))
        XCTAssertEqual(image.acls, [Self.readOrders, Self.clusterCreate, Self.groupAll])
        // The same binding with another permission is a different binding.
        var deny = Self.readOrders
        deny.permission = .deny
        try image.apply(.addAcl(deny))
        XCTAssertEqual(image.acls.count, 4)
    }

    func testContradictionsAreRefusedAndLeaveTheImageUnchanged() throws {
        let image = try MetadataImage().applying([.addAcl(Self.readOrders)])
        func refused(_ record: MetadataRecord, _ code: MetadataImageError.Code, _ text: String) {
            XCTAssertThrowsError(try image.applying(record), "\(record)") {
                let error = $0 as? MetadataImageError
                XCTAssertEqual(error?.code, code, "\(record): \($0)")
                XCTAssertTrue("\($0)".contains(text), "\(record): \($0)")
            }
        }
        refused(.addAcl(Self.readOrders), .duplicate, "already exists")
        refused(.removeAcl(Self.groupAll), .unknownEntity, "unknown ACL")
        var bad = Self.readOrders
        bad.principal = "alice"
        refused(.addAcl(bad), .invalid, "not User:NAME")
        bad.principal = "User:"
        refused(.addAcl(bad), .invalid, "not User:NAME")
        bad = Self.readOrders
        bad.host = ""
        refused(.addAcl(bad), .invalid, "empty host")
        bad = Self.readOrders
        bad.resourceName = ""
        refused(.addAcl(bad), .invalid, "empty topic name")
        bad = Self.clusterCreate
        bad.resourceName = "other"
        refused(.addAcl(bad), .invalid, "kafka-cluster")
        bad = Self.clusterCreate
        bad.patternType = .prefixed
        refused(.addAcl(bad), .invalid, "kafka-cluster")
        bad = Self.groupAll
        bad.operation = .write
        refused(.addAcl(bad), .invalid, "does not apply to a group")
        bad = Self.readOrders
        bad.operation = .clusterAction
        refused(.addAcl(bad), .invalid, "does not apply to a topic")
        XCTAssertEqual(image.acls, [Self.readOrders])
    }

    /// The snapshot form rebuilds an equal image, lists ACLs in a stable order, and survives the
    /// byte codec.
    func testSnapshotCarriesAcls() throws {
        let image = try MetadataImageTests.base().applying([
            .addAcl(Self.groupAll), .addAcl(Self.clusterCreate), .addAcl(Self.denyPrefix), .addAcl(Self.readOrders),
        ])
        let records = image.records
        XCTAssertEqual(
            Array(records.suffix(4)),
            [.addAcl(Self.readOrders), .addAcl(Self.denyPrefix), .addAcl(Self.groupAll), .addAcl(Self.clusterCreate)])
        let rebuilt = try MetadataImage().applying(records.map { try MetadataRecord.decode($0.encoded()) })
        XCTAssertEqual(rebuilt, image)
        XCTAssertEqual(rebuilt.records, records)
    }
}
