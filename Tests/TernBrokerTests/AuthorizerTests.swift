import TernTestSupport
import TernWire
import XCTest

@testable import TernBroker

/// The ACL authorizer's decisions, case by case against Kafka's semantics, and against a naive
/// reference over random ACL sets.
final class AuthorizerTests: XCTestCase {
    typealias B = AclBinding

    static func allow(
        _ type: AclResourceType, _ name: String, _ principal: String, _ operation: AclOperation,
        prefixed: Bool = false, host: String = "*"
    ) -> AclBinding {
        AclBinding(
            resourceType: type, resourceName: name, patternType: prefixed ? .prefixed : .literal,
            principal: principal, host: host, operation: operation, permission: .allow)
    }

    static func deny(
        _ type: AclResourceType, _ name: String, _ principal: String, _ operation: AclOperation,
        prefixed: Bool = false, host: String = "*"
    ) -> AclBinding {
        var binding = allow(type, name, principal, operation, prefixed: prefixed, host: host)
        binding.permission = .deny
        return binding
    }

    func decide(
        _ acls: [AclBinding], _ principal: String, _ operation: AclOperation, _ resource: AuthorizedResource,
        host: String = "10.0.0.1", configuration: AuthorizerConfiguration = .init(enabled: true)
    ) -> AuthorizationDecision {
        Authorizer(acls: acls, configuration: configuration)
            .authorize(principal: principal, host: host, operation: operation, resource: resource)
    }

    func testTable() {
        let alice = "User:alice"
        let orders = AuthorizedResource.topic("orders")
        struct Case {
            var acls: [AclBinding]
            var principal = "User:alice"
            var host = "10.0.0.1"
            var operation: AclOperation
            var resource = AuthorizedResource.topic("orders")
            var expected: AuthorizationDecision
            var line: UInt
        }
        let cases: [Case] = [
            // No ACL at all: denied by default.
            Case(acls: [], operation: .read, expected: .denied(.noAclFound), line: #line),
            // An ACL on another topic does not count as an ACL on this one.
            Case(
                acls: [Self.allow(.topic, "other", alice, .read)], operation: .read, expected: .denied(.noAclFound),
                line: #line),
            // Literal allow.
            Case(
                acls: [Self.allow(.topic, "orders", alice, .read)], operation: .read, expected: .allowed(.allowAcl),
                line: #line),
            // Another operation is not allowed, and the resource has ACLs, so it is not "no ACL".
            Case(
                acls: [Self.allow(.topic, "orders", alice, .read)], operation: .write, expected: .denied(.noAllowAcl),
                line: #line),
            // Another principal is not allowed.
            Case(
                acls: [Self.allow(.topic, "orders", alice, .read)], principal: "User:bob", operation: .read,
                expected: .denied(.noAllowAcl), line: #line),
            // The name is compared exactly: "User:alice" is not "User:Alice".
            Case(
                acls: [Self.allow(.topic, "orders", "User:Alice", .read)], operation: .read,
                expected: .denied(.noAllowAcl), line: #line),
            // Wildcard principal, wildcard resource.
            Case(
                acls: [Self.allow(.topic, "orders", "User:*", .read)], principal: "User:bob", operation: .read,
                expected: .allowed(.allowAcl), line: #line),
            Case(
                acls: [Self.allow(.topic, "*", alice, .write)], operation: .write, expected: .allowed(.allowAcl),
                line: #line),
            // A literal "*" matches every topic, but a *prefixed* "*" only names starting with '*'.
            Case(
                acls: [Self.allow(.topic, "*", alice, .write, prefixed: true)], operation: .write,
                expected: .denied(.noAclFound), line: #line),
            // Prefixed: "ord" covers "orders"; "orders" covers "orders" itself; "orders-" does not.
            Case(
                acls: [Self.allow(.topic, "ord", alice, .read, prefixed: true)], operation: .read,
                expected: .allowed(.allowAcl), line: #line),
            Case(
                acls: [Self.allow(.topic, "orders", alice, .read, prefixed: true)], operation: .read,
                expected: .allowed(.allowAcl), line: #line),
            Case(
                acls: [Self.allow(.topic, "orders-", alice, .read, prefixed: true)], operation: .read,
                expected: .denied(.noAclFound), line: #line),
            // A literal "ord" does not cover "orders".
            Case(
                acls: [Self.allow(.topic, "ord", alice, .read)], operation: .read, expected: .denied(.noAclFound),
                line: #line),
            // Deny wins over allow, whatever the order and pattern.
            Case(
                acls: [
                    Self.allow(.topic, "orders", alice, .read), Self.deny(.topic, "ord", alice, .read, prefixed: true),
                ], operation: .read, expected: .denied(.denyAcl), line: #line),
            Case(
                acls: [Self.deny(.topic, "*", "User:*", .read), Self.allow(.topic, "orders", alice, .all)],
                operation: .read, expected: .denied(.denyAcl), line: #line),
            // DENY ALL denies everything; DENY READ does not deny DESCRIBE (deny does not imply).
            Case(
                acls: [Self.allow(.topic, "orders", alice, .all), Self.deny(.topic, "orders", alice, .all)],
                operation: .describe, expected: .denied(.denyAcl), line: #line),
            Case(
                acls: [Self.allow(.topic, "orders", alice, .all), Self.deny(.topic, "orders", alice, .read)],
                operation: .describe, expected: .allowed(.allowAcl), line: #line),
            // A deny for another principal or host does not apply.
            Case(
                acls: [Self.allow(.topic, "orders", alice, .read), Self.deny(.topic, "orders", "User:bob", .read)],
                operation: .read, expected: .allowed(.allowAcl), line: #line),
            Case(
                acls: [
                    Self.allow(.topic, "orders", alice, .read),
                    Self.deny(.topic, "orders", alice, .read, host: "10.9.9.9"),
                ], operation: .read, expected: .allowed(.allowAcl), line: #line),
            // Hosts: exact address or "*".
            Case(
                acls: [Self.allow(.topic, "orders", alice, .read, host: "10.0.0.1")], operation: .read,
                expected: .allowed(.allowAcl), line: #line),
            Case(
                acls: [Self.allow(.topic, "orders", alice, .read, host: "10.0.0.2")], operation: .read,
                expected: .denied(.noAllowAcl), line: #line),
            Case(
                acls: [
                    Self.deny(.topic, "orders", "User:*", .write, host: "10.0.0.1"),
                    Self.allow(.topic, "orders", alice, .write),
                ], operation: .write, expected: .denied(.denyAcl), line: #line),
            // Implied operations: DESCRIBE by READ, WRITE, DELETE, ALTER; DESCRIBE_CONFIGS by ALTER_CONFIGS.
            Case(
                acls: [Self.allow(.topic, "orders", alice, .read)], operation: .describe, expected: .allowed(.allowAcl),
                line: #line),
            Case(
                acls: [Self.allow(.topic, "orders", alice, .write)], operation: .describe,
                expected: .allowed(.allowAcl), line: #line),
            Case(
                acls: [Self.allow(.topic, "orders", alice, .delete)], operation: .describe,
                expected: .allowed(.allowAcl), line: #line),
            Case(
                acls: [Self.allow(.topic, "orders", alice, .alter)], operation: .describe,
                expected: .allowed(.allowAcl), line: #line),
            Case(
                acls: [Self.allow(.topic, "orders", alice, .create)], operation: .describe,
                expected: .denied(.noAllowAcl), line: #line),
            Case(
                acls: [Self.allow(.topic, "orders", alice, .describe)], operation: .read,
                expected: .denied(.noAllowAcl), line: #line),
            Case(
                acls: [Self.allow(.topic, "orders", alice, .alterConfigs)], operation: .describeConfigs,
                expected: .allowed(.allowAcl), line: #line),
            Case(
                acls: [Self.allow(.topic, "orders", alice, .describeConfigs)], operation: .alterConfigs,
                expected: .denied(.noAllowAcl), line: #line),
            Case(
                acls: [Self.allow(.topic, "orders", alice, .alter)], operation: .alterConfigs,
                expected: .denied(.noAllowAcl), line: #line),
            Case(
                acls: [Self.allow(.topic, "orders", alice, .all)], operation: .delete, expected: .allowed(.allowAcl),
                line: #line),
            // Resource types are separate: a group ACL says nothing about a topic of the same name.
            Case(
                acls: [Self.allow(.group, "orders", alice, .read)], operation: .read, expected: .denied(.noAclFound),
                line: #line),
            Case(
                acls: [Self.allow(.group, "app-", alice, .read, prefixed: true)], operation: .read,
                resource: .group("app-1"), expected: .allowed(.allowAcl), line: #line),
            Case(
                acls: [Self.allow(.cluster, "kafka-cluster", alice, .create)], operation: .create, resource: .cluster,
                expected: .allowed(.allowAcl), line: #line),
            Case(
                acls: [Self.allow(.cluster, "kafka-cluster", alice, .create)], operation: .clusterAction,
                resource: .cluster, expected: .denied(.noAllowAcl), line: #line),
            // Names that share bytes with others, and non-ASCII names, go through the trie intact.
            Case(
                acls: [Self.allow(.topic, "order", alice, .read), Self.allow(.topic, "orders2", alice, .read)],
                operation: .read, expected: .denied(.noAclFound), line: #line),
            Case(
                acls: [Self.allow(.topic, "é", alice, .read, prefixed: true)], operation: .read,
                resource: .topic("été"), expected: .allowed(.allowAcl), line: #line),
        ]
        for test in cases {
            XCTAssertEqual(
                decide(test.acls, test.principal, test.operation, test.resource, host: test.host), test.expected,
                "case at line \(test.line)", line: test.line)
        }
        _ = orders
    }

    func testSuperUsersAndAllowEveryone() {
        let denyAll = [Self.deny(.topic, "*", "User:*", .all)]
        let supers = AuthorizerConfiguration(enabled: true, superUsers: ["User:admin", "User:ops"])
        // A super user is allowed even against DENY ALL; others are not.
        XCTAssertEqual(decide(denyAll, "User:admin", .delete, .topic("t"), configuration: supers), .allowed(.superUser))
        XCTAssertEqual(decide([], "User:ops", .clusterAction, .cluster, configuration: supers), .allowed(.superUser))
        XCTAssertEqual(decide(denyAll, "User:alice", .read, .topic("t"), configuration: supers), .denied(.denyAcl))
        // allow.everyone.if.no.acl.found: only when no ACL names the resource at all.
        let open = AuthorizerConfiguration(enabled: true, allowEveryoneIfNoAclFound: true)
        XCTAssertEqual(decide([], "User:alice", .write, .topic("t"), configuration: open), .allowed(.noAclFound))
        XCTAssertEqual(
            decide(
                [Self.allow(.topic, "other", "User:bob", .read)], "User:alice", .write, .topic("t"), configuration: open
            ),
            .allowed(.noAclFound))
        // An ACL for someone else on the resource closes it to everyone else.
        XCTAssertEqual(
            decide([Self.allow(.topic, "t", "User:bob", .read)], "User:alice", .read, .topic("t"), configuration: open),
            .denied(.noAllowAcl))
        XCTAssertEqual(
            decide(
                [Self.allow(.topic, "t", "User:bob", .read, prefixed: true)], "User:alice", .read, .topic("t1"),
                configuration: open),
            .denied(.noAllowAcl))
    }

    func testBuildsFromTheImage() throws {
        let image = try MetadataImage().applying([
            .addAcl(Self.allow(.topic, "orders", "User:alice", .write))
        ])
        let authorizer = Authorizer(image: image, configuration: .init(enabled: true))
        XCTAssertEqual(authorizer.aclCount, 1)
        XCTAssertTrue(
            authorizer.isAllowed(principal: "User:alice", host: "::1", operation: .write, resource: .topic("orders")))
        XCTAssertFalse(
            authorizer.isAllowed(principal: "User:alice", host: "::1", operation: .read, resource: .topic("orders")))
    }

    func testSuperUsersParsing() throws {
        XCTAssertEqual(try AuthorizerConfiguration.parseSuperUsers(""), [])
        XCTAssertEqual(try AuthorizerConfiguration.parseSuperUsers("User:admin"), ["User:admin"])
        XCTAssertEqual(
            try AuthorizerConfiguration.parseSuperUsers(" User:admin ; User:ops;"), ["User:admin", "User:ops"])
        for bad in ["admin", "User:", "User:*", "User:admin,User:ops;Group:x", "user:admin"] {
            XCTAssertThrowsError(try AuthorizerConfiguration.parseSuperUsers(bad), bad) {
                XCTAssertTrue("\($0)".contains("super.users"), "\($0)")
            }
        }
    }

    func testConfigKeys() throws {
        XCTAssertEqual(try BrokerConfig.load(file: nil).authorizerConfiguration(), AuthorizerConfiguration())
        let config = try BrokerConfig.load(
            file: nil,
            overrides: [
                "authorizer.enable=true", "super.users=User:admin;User:ops", "allow.everyone.if.no.acl.found=true",
            ])
        XCTAssertEqual(
            try config.authorizerConfiguration(),
            AuthorizerConfiguration(
                enabled: true, superUsers: ["User:admin", "User:ops"], allowEveryoneIfNoAclFound: true))
        for bad in ["super.users=admin", "super.users=User:a,User:b;ops", "authorizer.enable=yes"] {
            XCTAssertThrowsError(try BrokerConfig.load(file: nil, overrides: [bad]), bad) {
                XCTAssertTrue("\($0)".contains(String(bad.prefix { $0 != "=" })), "\($0)")
            }
        }
    }

    func testOperationNamesParse() {
        XCTAssertEqual(AclOperation(name: "read"), .read)
        XCTAssertEqual(AclOperation(name: "DESCRIBE_CONFIGS"), .describeConfigs)
        XCTAssertEqual(AclOperation(name: "describe-configs"), .describeConfigs)
        XCTAssertEqual(AclOperation(name: "cluster-action"), .clusterAction)
        XCTAssertEqual(AclOperation(name: "All"), .all)
        XCTAssertNil(AclOperation(name: "readd"))
        XCTAssertNil(AclOperation(name: ""))
    }

    // MARK: - Against a naive reference

    /// Kafka's rules written the obvious way, over a flat list.
    static func reference(
        _ acls: [AclBinding], _ configuration: AuthorizerConfiguration, principal: String, host: String,
        operation: AclOperation, resource: AuthorizedResource
    ) -> AuthorizationDecision {
        if configuration.superUsers.contains(principal) { return .allowed(.superUser) }
        let onResource = acls.filter { acl in
            guard acl.resourceType == resource.type else { return false }
            switch acl.patternType {
            case .literal: return acl.resourceName == resource.name || acl.resourceName == "*"
            case .prefixed: return resource.name.utf8.starts(with: acl.resourceName.utf8)
            }
        }
        if onResource.isEmpty {
            return configuration.allowEveryoneIfNoAclFound ? .allowed(.noAclFound) : .denied(.noAclFound)
        }
        let applicable = onResource.filter {
            ($0.principal == principal || $0.principal == "User:*") && ($0.host == host || $0.host == "*")
        }
        if applicable.contains(where: { $0.permission == .deny && ($0.operation == operation || $0.operation == .all) })
        {
            return .denied(.denyAcl)
        }
        let granting: [AclOperation] =
            switch operation {
            case .describe: [.describe, .read, .write, .delete, .alter, .all]
            case .describeConfigs: [.describeConfigs, .alterConfigs, .all]
            default: [operation, .all]
            }
        if applicable.contains(where: { $0.permission == .allow && granting.contains($0.operation) }) {
            return .allowed(.allowAcl)
        }
        return .denied(.noAllowAcl)
    }

    /// Random ACL sets over a small alphabet of names, principals and hosts (so that they
    /// collide often), random requests; the indexed authorizer answers as the reference. A
    /// failing seed is printed; replay it with `swift test --filter AuthorizerTests`.
    func testMatchesTheReferenceOnRandomACLs() {
        let names = ["a", "ab", "abc", "b", "ba", "*", "é", "éa"]
        let principals = ["User:alice", "User:bob", "User:*", "User:admin"]
        let hosts = ["*", "10.0.0.1", "10.0.0.2"]
        let operations = AclOperation.allCases
        var compared = 0
        for seed in UInt64(1)...200 {
            var random = SeededGenerator(seed: seed)
            var acls: [AclBinding] = []
            for _ in 0..<Int.random(in: 0...12, using: &random) {
                let type = AclResourceType.allCases.randomElement(using: &random)!
                acls.append(
                    AclBinding(
                        resourceType: type,
                        resourceName: type == .cluster ? "kafka-cluster" : names.randomElement(using: &random)!,
                        patternType: type == .cluster
                            ? .literal : AclPatternType.allCases.randomElement(using: &random)!,
                        principal: principals.randomElement(using: &random)!,
                        host: hosts.randomElement(using: &random)!,
                        operation: operations.randomElement(using: &random)!,
                        permission: AclPermission.allCases.randomElement(using: &random)!))
            }
            let configuration = AuthorizerConfiguration(
                enabled: true, superUsers: Bool.random(using: &random) ? ["User:admin"] : [],
                allowEveryoneIfNoAclFound: Bool.random(using: &random))
            let authorizer = Authorizer(acls: acls, configuration: configuration)
            for _ in 0..<50 {
                let type = AclResourceType.allCases.randomElement(using: &random)!
                let resource =
                    type == .cluster
                    ? AuthorizedResource.cluster
                    : AuthorizedResource(
                        type, (names.filter { $0 != "*" } + ["abcd", "c", ""]).randomElement(using: &random)!)
                let principal = ["User:alice", "User:bob", "User:carol", "User:admin"].randomElement(using: &random)!
                let host = ["10.0.0.1", "10.0.0.2", "::1"].randomElement(using: &random)!
                let operation = operations.filter { $0 != .all }.randomElement(using: &random)!
                let got = authorizer.authorize(
                    principal: principal, host: host, operation: operation, resource: resource)
                let want = Self.reference(
                    acls, configuration, principal: principal, host: host, operation: operation, resource: resource)
                XCTAssertEqual(got, want, "seed \(seed): \(principal)@\(host) \(operation) \(resource) over \(acls)")
                if got != want { return }
                compared += 1
            }
        }
        XCTAssertEqual(compared, 200 * 50)
    }
}
