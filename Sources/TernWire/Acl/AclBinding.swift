/// One access-control entry as Kafka spells it: a principal on a host may (or may not) perform an
/// operation on a resource pattern. Lives in the metadata log (``MetadataRecord/addAcl(_:)``) and
/// on the wire (CreateAcls, DescribeAcls, DeleteAcls). Raw values are Kafka's, so the numbers on
/// the wire and in `kafka-acls` output agree.
public struct AclBinding: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var resourceType: AclResourceType
    /// A topic or group name (or prefix); `kafka-cluster` for the cluster; `*` (literal) for every
    /// resource of the type.
    public var resourceName: String
    public var patternType: AclPatternType
    /// `User:NAME`, or `User:*` for every user.
    public var principal: String
    /// A client address, or `*` for any host.
    public var host: String
    public var operation: AclOperation
    public var permission: AclPermission

    /// The only resource name a cluster ACL has (Kafka's `kafka-cluster`).
    public static let clusterResourceName = "kafka-cluster"
    /// A literal resource name that matches every resource of its type.
    public static let wildcardResource = "*"
    /// The principal that matches every user.
    public static let wildcardPrincipal = "User:*"
    /// The host that matches every client address.
    public static let wildcardHost = "*"

    public init(
        resourceType: AclResourceType, resourceName: String, patternType: AclPatternType = .literal,
        principal: String, host: String = "*", operation: AclOperation, permission: AclPermission = .allow
    ) {
        self.resourceType = resourceType
        self.resourceName = resourceName
        self.patternType = patternType
        self.principal = principal
        self.host = host
        self.operation = operation
        self.permission = permission
    }

    /// Why this binding cannot be stored, or nil when it can: a principal that is not `User:NAME`,
    /// an empty name or host, a cluster binding not on `kafka-cluster` (literal), an operation
    /// that makes no sense on the resource type (Kafka's `AclEntry.supportedOperations`).
    public var invalidReason: String? {
        guard let name = AclBinding.userName(ofPrincipal: principal), !name.isEmpty else {
            return "principal \(principal) is not User:NAME"
        }
        guard !host.isEmpty else { return "empty host (use * for any host)" }
        guard !resourceName.isEmpty else { return "empty \(resourceType) name" }
        if resourceType == .cluster,
            resourceName != Self.clusterResourceName || patternType != .literal
        {
            return "a cluster ACL names the literal resource \(Self.clusterResourceName), not \(resourceName)"
        }
        guard resourceType.supportedOperations.contains(operation) else {
            return "operation \(operation) does not apply to a \(resourceType)"
        }
        return nil
    }

    /// The name in `User:NAME`, or nil when `principal` does not start with `User:`.
    public static func userName(ofPrincipal principal: String) -> Substring? {
        guard principal.hasPrefix("User:") else { return nil }
        return principal.dropFirst(5)
    }

    /// Sorted by resource, then principal, host, operation and permission, so a snapshot lists
    /// equal ACL sets in equal order.
    public static func < (lhs: AclBinding, rhs: AclBinding) -> Bool {
        let left = (
            lhs.resourceType.rawValue, lhs.resourceName, lhs.patternType.rawValue, lhs.principal, lhs.host,
            lhs.operation.rawValue
        )
        let right = (
            rhs.resourceType.rawValue, rhs.resourceName, rhs.patternType.rawValue, rhs.principal, rhs.host,
            rhs.operation.rawValue
        )
        guard left == right else { return left < right }
        return lhs.permission.rawValue < rhs.permission.rawValue
    }

    /// `User:alice from * may READ topic orders (literal)` — for logs and the CLI.
    public var description: String {
        "\(principal) from \(host) \(permission == .allow ? "may" : "may not") \(operation) "
            + "\(resourceType) \(resourceName) (\(patternType))"
    }
}

/// What an ACL protects; raw values are Kafka's `ResourceType` codes.
public enum AclResourceType: Int8, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    case topic = 2
    case group = 3
    case cluster = 4

    /// The operations an ACL on this type may name (Kafka's `AclEntry.supportedOperations`).
    public var supportedOperations: Set<AclOperation> {
        switch self {
        case .topic: [.read, .write, .create, .describe, .delete, .alter, .describeConfigs, .alterConfigs, .all]
        case .group: [.read, .describe, .delete, .all]
        case .cluster:
            [.create, .clusterAction, .describeConfigs, .alterConfigs, .alter, .describe, .all]
        }
    }

    public var description: String {
        switch self {
        case .topic: "topic"
        case .group: "group"
        case .cluster: "cluster"
        }
    }
}

/// How an ACL's resource name matches; raw values are Kafka's `PatternType` codes.
public enum AclPatternType: Int8, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    /// The name exactly, or every resource when the name is `*`.
    case literal = 3
    /// Every resource whose name starts with the ACL's name.
    case prefixed = 4

    public var description: String { self == .literal ? "literal" : "prefixed" }
}

/// What a principal does to a resource; raw values are Kafka's `AclOperation` codes.
public enum AclOperation: Int8, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    /// Every operation (in an ACL only; requests ask for a specific one).
    case all = 2
    case read = 3
    case write = 4
    case create = 5
    case delete = 6
    case alter = 7
    case describe = 8
    case clusterAction = 9
    case describeConfigs = 10
    case alterConfigs = 11

    /// Kafka's names as the CLI and `kafka-acls` spell them (`READ`, `DESCRIBE_CONFIGS`, …).
    public var description: String {
        switch self {
        case .all: "ALL"
        case .read: "READ"
        case .write: "WRITE"
        case .create: "CREATE"
        case .delete: "DELETE"
        case .alter: "ALTER"
        case .describe: "DESCRIBE"
        case .clusterAction: "CLUSTER_ACTION"
        case .describeConfigs: "DESCRIBE_CONFIGS"
        case .alterConfigs: "ALTER_CONFIGS"
        }
    }

    /// Parses `read`, `READ`, `describe-configs`, `DESCRIBE_CONFIGS`, `DescribeConfigs`.
    public init?(name: String) {
        let folded = name.lowercased().filter { $0 != "-" && $0 != "_" }
        guard let match = Self.allCases.first(where: { $0.description.lowercased().filter { $0 != "_" } == folded })
        else { return nil }
        self = match
    }
}

/// Allow or deny; raw values are Kafka's `AclPermissionType` codes. Deny wins over allow.
public enum AclPermission: Int8, Hashable, Sendable, CaseIterable, CustomStringConvertible {
    case deny = 2
    case allow = 3

    public var description: String { self == .allow ? "ALLOW" : "DENY" }
}
