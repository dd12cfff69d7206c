import TernTestSupport
import TernWire
import XCTest

/// The ACL APIs' layouts (docs/protocol.md) pinned byte for byte, the filter's matching rules,
/// and hostile inputs beyond what every message gets from WireSamples (round trip, every
/// truncation, random and mutated bytes, bad UTF-8).
final class AclMessageTests: XCTestCase {
    func testLayouts() {
        let binding = AclBinding(
            resourceType: .topic, resourceName: "t", patternType: .prefixed, principal: "User:a", host: "*",
            operation: .read, permission: .deny)
        XCTAssertEqual(
            encodedBody(CreateAclsRequest(creations: [binding])),
            [0, 0, 0, 1] + [2, 0, 1, 0x74, 4] + [0, 6] + Array("User:a".utf8) + [0, 1, 0x2A] + [3, 2])
        XCTAssertEqual(
            encodedBody(DescribeAclsRequest()), [1, 0xFF, 0xFF, 1, 0xFF, 0xFF, 0xFF, 0xFF, 1, 1])
        XCTAssertEqual(
            encodedBody(CreateAclsResponse(results: [AclResult(errorCode: .clusterAuthorizationFailed)])),
            [0, 0, 0, 1, 0, 31, 0xFF, 0xFF])
        XCTAssertEqual(ApiKey.describeAcls.rawValue, 29)
        XCTAssertEqual(ApiKey.createAcls.rawValue, 30)
        XCTAssertEqual(ApiKey.deleteAcls.rawValue, 31)
        XCTAssertEqual(ApiKey.createAcls.name, "CreateAcls")
        for key in [ApiKey.describeAcls, .createAcls, .deleteAcls] {
            XCTAssertTrue(ApiKey.supported.contains { $0.key == key && $0.maxVersion == 0 }, "\(key) is served at v0")
        }
    }

    func testUnknownCodesAreMalformed() {
        // "ANY" (1) is a filter's wildcard, never a binding's value.
        let good = encodedBody(
            CreateAclsRequest(creations: [
                AclBinding(resourceType: .group, resourceName: "g", principal: "User:a", operation: .read)
            ]))
        // count 4, type at 4, name 5..7, pattern 8, principal 9..16, host 17..19, operation 20, permission 21.
        for (index, bad) in [(4, Int8(1)), (4, 6), (8, 1), (8, 2), (20, 1), (20, 0), (21, 1), (21, 4)] {
            var bytes = good
            bytes[index] = UInt8(bitPattern: bad)
            var reader = ByteReader(bytes)
            assertWireError(.malformed) { _ = try CreateAclsRequest(from: &reader) }
        }
        let filter = encodedBody(DescribeAclsRequest())
        for (index, bad) in [(0, Int8(0)), (0, 5), (3, 0), (3, 5), (8, 12), (9, 0)] {
            var bytes = filter
            bytes[index] = UInt8(bitPattern: bad)
            var reader = ByteReader(bytes)
            assertWireError(.malformed) { _ = try DescribeAclsRequest(from: &reader) }
        }
    }

    func testFilterMatching() {
        let literal = AclBinding(resourceType: .topic, resourceName: "orders", principal: "User:a", operation: .read)
        let star = AclBinding(resourceType: .topic, resourceName: "*", principal: "User:a", operation: .read)
        let prefix = AclBinding(
            resourceType: .topic, resourceName: "ord", patternType: .prefixed, principal: "User:b", operation: .write,
            permission: .deny)
        let group = AclBinding(resourceType: .group, resourceName: "orders", principal: "User:a", operation: .read)
        let all = [literal, star, prefix, group]
        func selected(_ filter: AclBindingFilter) -> [AclBinding] { all.filter(filter.matches) }
        XCTAssertEqual(selected(.all), all)
        XCTAssertEqual(selected(AclBindingFilter(resourceType: .topic)), [literal, star, prefix])
        XCTAssertEqual(selected(AclBindingFilter(resourceName: "orders")), [literal, group])
        XCTAssertEqual(
            selected(AclBindingFilter(resourceType: .topic, resourceName: "orders", patternType: .match)),
            [literal, star, prefix])
        XCTAssertEqual(selected(AclBindingFilter(resourceType: .topic, resourceName: "x", patternType: .match)), [star])
        XCTAssertEqual(selected(AclBindingFilter(patternType: .prefixed)), [prefix])
        XCTAssertEqual(selected(AclBindingFilter(patternType: .literal, principal: "User:a")), [literal, star, group])
        XCTAssertEqual(selected(AclBindingFilter(permission: .deny)), [prefix])
        XCTAssertEqual(selected(AclBindingFilter(operation: .read, permission: .allow)), [literal, star, group])
        XCTAssertEqual(selected(AclBindingFilter(host: "10.0.0.1")), [])
        for binding in all { XCTAssertEqual(selected(AclBindingFilter(exactly: binding)), [binding]) }
    }
}
