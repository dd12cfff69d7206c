import TernWire

/// Decides whether a principal may perform an operation on a resource, from the ACL bindings of a
/// metadata image, with Kafka's `StandardAuthorizer` semantics (DESIGN.md section 9):
///
/// 1. a super user (`super.users`) is always allowed;
/// 2. when no binding of any principal matches the resource, the answer is
///    `allow.everyone.if.no.acl.found` (default: denied);
/// 3. a matching DENY binding (same operation, or `ALL`) denies — deny wins;
/// 4. a matching ALLOW binding (the operation, one that implies it, or `ALL`) allows;
/// 5. otherwise denied.
///
/// A binding matches the request when its pattern matches the resource name (literal name,
/// literal `*`, or a prefix of the name), its principal is the request's or `User:*`, and its
/// host is the client's address or `*`. Hosts compare as strings: the caller passes the
/// address as the server formats it (`127.0.0.1`, `::1`).
///
/// I/O-free and immutable: build one per image (``init(acls:configuration:)``) and share it;
/// ``authorize(principal:host:operation:resource:)`` allocates nothing.
public struct Authorizer: Sendable {
    public let configuration: AuthorizerConfiguration
    private let index: AclIndex

    /// An authorizer over `acls` (typically `image.acls`).
    public init(acls: some Sequence<AclBinding>, configuration: AuthorizerConfiguration) {
        self.configuration = configuration
        index = AclIndex(acls)
    }

    /// An authorizer over the ACLs of `image`.
    public init(image: MetadataImage, configuration: AuthorizerConfiguration) {
        self.init(acls: image.acls, configuration: configuration)
    }

    /// The number of ACL bindings this authorizer decides from.
    public var aclCount: Int { index.count }

    /// The decision for one operation on one resource.
    /// - Parameters:
    ///   - principal: `User:NAME` (`User:ANONYMOUS` for an unauthenticated client, as Kafka).
    ///   - host: the client's address.
    public func authorize(
        principal: String, host: String, operation: AclOperation, resource: AuthorizedResource
    ) -> AuthorizationDecision {
        if configuration.superUsers.contains(principal) { return .allowed(.superUser) }
        var anyBinding = false
        var denied = false
        var allowed = false
        index.forEachMatch(resource.type, resource.name) { entry in
            anyBinding = true
            guard entry.principal == principal || entry.principal == AclBinding.wildcardPrincipal,
                entry.host == host || entry.host == AclBinding.wildcardHost
            else { return true }
            switch entry.permission {
            case .deny:
                if entry.operation.denies(operation) {
                    denied = true
                    return false
                }
            case .allow:
                if entry.operation.allows(operation) { allowed = true }
            }
            return true
        }
        if !anyBinding {
            return configuration.allowEveryoneIfNoAclFound ? .allowed(.noAclFound) : .denied(.noAclFound)
        }
        if denied { return .denied(.denyAcl) }
        return allowed ? .allowed(.allowAcl) : .denied(.noAllowAcl)
    }

    /// Shorthand for `authorize(...).isAllowed`.
    public func isAllowed(
        principal: String, host: String, operation: AclOperation, resource: AuthorizedResource
    ) -> Bool {
        authorize(principal: principal, host: host, operation: operation, resource: resource).isAllowed
    }
}

/// An ``Authorizer``'s answer, with why.
public enum AuthorizationDecision: Hashable, Sendable, CustomStringConvertible {
    case allowed(AllowReason)
    case denied(DenialReason)

    public enum AllowReason: Hashable, Sendable {
        /// The principal is in `super.users`.
        case superUser
        /// An ALLOW binding matched and no DENY did.
        case allowAcl
        /// No binding names the resource and `allow.everyone.if.no.acl.found` is true.
        case noAclFound
    }

    public enum DenialReason: Hashable, Sendable {
        /// A DENY binding matched.
        case denyAcl
        /// Bindings name the resource, but none allows this principal, host and operation.
        case noAllowAcl
        /// No binding names the resource and `allow.everyone.if.no.acl.found` is false.
        case noAclFound
    }

    public var isAllowed: Bool {
        if case .allowed = self { return true }
        return false
    }

    public var description: String {
        switch self {
        case .allowed(.superUser): "allowed (super user)"
        case .allowed(.allowAcl): "allowed (ACL)"
        case .allowed(.noAclFound): "allowed (no ACL on the resource, allow.everyone.if.no.acl.found=true)"
        case .denied(.denyAcl): "denied (DENY ACL)"
        case .denied(.noAllowAcl): "denied (no ACL allows it)"
        case .denied(.noAclFound): "denied (no ACL on the resource)"
        }
    }
}
