import TernWire

/// A resource a request acts on: a topic or group by name, or the cluster.
public struct AuthorizedResource: Hashable, Sendable, CustomStringConvertible {
    public var type: AclResourceType
    public var name: String

    public init(_ type: AclResourceType, _ name: String) {
        self.type = type
        self.name = name
    }

    public static func topic(_ name: String) -> AuthorizedResource { AuthorizedResource(.topic, name) }
    public static func group(_ name: String) -> AuthorizedResource { AuthorizedResource(.group, name) }
    /// The cluster (Kafka's `kafka-cluster` resource).
    public static let cluster = AuthorizedResource(.cluster, AclBinding.clusterResourceName)

    public var description: String { type == .cluster ? "cluster" : "\(type) \(name)" }
}

extension AclOperation {
    /// Whether an ALLOW binding for `self` also allows `requested`, as Kafka's authorizer has it:
    /// `ALL` allows everything; `READ`, `WRITE`, `DELETE` and `ALTER` allow `DESCRIBE`;
    /// `ALTER_CONFIGS` allows `DESCRIBE_CONFIGS`. Deny bindings do not imply: a DENY on `READ`
    /// does not deny `DESCRIBE` (a DENY on `ALL` denies everything).
    public func allows(_ requested: AclOperation) -> Bool {
        if self == requested || self == .all { return true }
        switch requested {
        case .describe: return self == .read || self == .write || self == .delete || self == .alter
        case .describeConfigs: return self == .alterConfigs
        default: return false
        }
    }

    /// Whether a DENY binding for `self` denies `requested`.
    public func denies(_ requested: AclOperation) -> Bool { self == requested || self == .all }
}
