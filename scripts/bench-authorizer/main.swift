// Cost of one ACL check: the real authorizer sources (TernWire/Acl/AclBinding.swift and
// TernBroker/Security/{AclIndex,AuthorizedResource,Authorizer,AuthorizerConfiguration}.swift)
// compiled with -O next to this driver, which stands in for the few broker types they mention.
// Run: scripts/bench-authorizer.sh [CHECKS] (docs/benchmarks.md).
import Dispatch

public struct ConfigError: Error {
    public var origin: String
    public var reason: String
}
public struct BrokerConfig { subscript(key: String) -> String? { nil } }
public struct MetadataImage { var acls: Set<AclBinding> = [] }
extension String {
    func trimmingWhitespace() -> String {
        var s = Substring(self)
        while s.first == " " { s.removeFirst() }
        while s.last == " " { s.removeLast() }
        return String(s)
    }
}

// 1000 topics with literal ACLs for 3 users, 50 team prefixes, a wildcard DENY for one host.
var acls: [AclBinding] = []
for i in 0..<1000 {
    for user in ["alice", "bob", "carol"] {
        acls.append(
            AclBinding(
                resourceType: .topic, resourceName: "orders-\(i)", principal: "User:\(user)",
                operation: i % 2 == 0 ? .read : .write))
    }
}
for i in 0..<50 {
    acls.append(
        AclBinding(
            resourceType: .topic, resourceName: "team\(i)-", patternType: .prefixed, principal: "User:team\(i)",
            operation: .all))
}
acls.append(
    AclBinding(
        resourceType: .topic, resourceName: "*", principal: "User:*", host: "10.9.9.9", operation: .all,
        permission: .deny))
let authorizer = Authorizer(acls: acls, configuration: AuthorizerConfiguration(enabled: true, superUsers: ["User:admin"]))
let resources = ((0..<1000).map { "orders-\($0)" } + (0..<50).map { "team\($0)-events" }).map {
    AuthorizedResource(.topic, $0)
}
let principals = ["User:alice", "User:bob", "User:team7", "User:mallory"]
let checks = CommandLine.arguments.count > 1 ? Int(CommandLine.arguments[1]) ?? 2_000_000 : 2_000_000
var allowed = 0
let start = DispatchTime.now().uptimeNanoseconds
for i in 0..<checks {
    let decision = authorizer.authorize(
        principal: principals[i & 3], host: "10.0.0.1", operation: .describe, resource: resources[i % resources.count])
    if decision.isAllowed { allowed += 1 }
}
let elapsed = DispatchTime.now().uptimeNanoseconds - start
print("acls=\(acls.count) checks=\(checks) allowed=\(allowed) ns/check=\(Double(elapsed) / Double(checks))")
