import TernWire
import XCTest

@testable import TernBroker

/// The controller's ACL decisions: the records CreateAcls and DeleteAcls propose (each batch
/// applies to the image it was computed from) and the answers they give.
final class ControllerAclDecisionsTests: XCTestCase {
    static let read = AclBinding(resourceType: .topic, resourceName: "orders", principal: "User:a", operation: .read)
    static let write = AclBinding(resourceType: .topic, resourceName: "orders", principal: "User:a", operation: .write)
    static let prefix = AclBinding(
        resourceType: .topic, resourceName: "ord", patternType: .prefixed, principal: "User:b", operation: .all,
        permission: .deny)
    static let group = AclBinding(resourceType: .group, resourceName: "g", principal: "User:a", operation: .read)

    func testCreateAddsNewValidBindingsOnce() throws {
        let image = try MetadataImage().applying([.addAcl(Self.read)])
        var invalid = Self.group
        invalid.operation = .write
        let change = ControllerDecisions.createAcls(
            image, CreateAclsRequest(creations: [Self.read, Self.write, invalid, Self.write, Self.prefix]))
        XCTAssertEqual(change.records, [.addAcl(Self.write), .addAcl(Self.prefix)])
        XCTAssertEqual(change.response.results.map(\.errorCode), [.none, .none, .invalidRequest, .none, .none])
        XCTAssertTrue(
            change.response.results[2].errorMessage?.contains("does not apply to a group") ?? false,
            "\(change.response.results[2])")
        let next = try image.applying(change.records)
        XCTAssertEqual(next.acls, [Self.read, Self.write, Self.prefix])
        // Again: nothing left to add.
        XCTAssertEqual(ControllerDecisions.createAcls(next, CreateAclsRequest(creations: [Self.write])).records, [])
    }

    func testDeleteRemovesEverySelectedBindingOnce() throws {
        let image = try MetadataImage().applying([Self.read, Self.write, Self.prefix, Self.group].map { .addAcl($0) })
        let change = ControllerDecisions.deleteAcls(
            image,
            DeleteAclsRequest(filters: [
                AclBindingFilter(
                    resourceType: .topic, resourceName: "orders", patternType: .match, principal: "User:a"),
                AclBindingFilter(operation: .read),
                AclBindingFilter(principal: "User:nobody"),
            ]))
        XCTAssertEqual(
            change.response.results.map(\.deleted), [[Self.read, Self.write], [Self.read, Self.group], []])
        XCTAssertEqual(change.response.results.map(\.errorCode), [.none, .none, .none])
        XCTAssertEqual(change.records, [.removeAcl(Self.read), .removeAcl(Self.write), .removeAcl(Self.group)])
        XCTAssertEqual(try image.applying(change.records).acls, [Self.prefix])
    }

    func testDescribeFilters() throws {
        let image = try MetadataImage().applying([Self.read, Self.write, Self.prefix, Self.group].map { .addAcl($0) })
        XCTAssertEqual(ControllerDecisions.describeAcls(image, DescribeAclsRequest()).bindings, image.sortedAcls)
        XCTAssertEqual(
            ControllerDecisions.describeAcls(
                image, DescribeAclsRequest(filter: AclBindingFilter(resourceName: "orders-eu", patternType: .match))
            ).bindings, [Self.prefix])
        XCTAssertEqual(
            ControllerDecisions.describeAcls(image, DescribeAclsRequest(filter: AclBindingFilter(resourceType: .group)))
                .bindings, [Self.group])
    }
}
