/// Selects ACL bindings, for DescribeAcls, DeleteAcls and `tern acl list`: each nil field (`ANY`
/// on the wire, code 1) matches everything. The pattern filter ``PatternFilter/match`` selects
/// the bindings that apply to one resource name (literal name, literal `*`, prefixes of it), as
/// Kafka's `PatternType.MATCH`.
public struct AclBindingFilter: Hashable, Sendable {
    /// How the filter's resource name selects bindings; raw values are Kafka's `PatternType`.
    public enum PatternFilter: Int8, Hashable, Sendable, CaseIterable {
        case any = 1
        /// Bindings that apply to the resource name: the literal name, literal `*`, and prefixed
        /// bindings whose prefix starts the name.
        case match = 2
        case literal = 3
        case prefixed = 4
    }

    public var resourceType: AclResourceType?
    public var resourceName: String?
    public var patternType: PatternFilter
    public var principal: String?
    public var host: String?
    public var operation: AclOperation?
    public var permission: AclPermission?

    public init(
        resourceType: AclResourceType? = nil, resourceName: String? = nil, patternType: PatternFilter = .any,
        principal: String? = nil, host: String? = nil, operation: AclOperation? = nil,
        permission: AclPermission? = nil
    ) {
        self.resourceType = resourceType
        self.resourceName = resourceName
        self.patternType = patternType
        self.principal = principal
        self.host = host
        self.operation = operation
        self.permission = permission
    }

    /// Matches every binding.
    public static let all = AclBindingFilter()

    /// The filter that selects exactly `binding`.
    public init(exactly binding: AclBinding) {
        self.init(
            resourceType: binding.resourceType, resourceName: binding.resourceName,
            patternType: binding.patternType == .literal ? .literal : .prefixed, principal: binding.principal,
            host: binding.host, operation: binding.operation, permission: binding.permission)
    }

    /// Whether `binding` is selected.
    public func matches(_ binding: AclBinding) -> Bool {
        if let resourceType, resourceType != binding.resourceType { return false }
        if let principal, principal != binding.principal { return false }
        if let host, host != binding.host { return false }
        if let operation, operation != binding.operation { return false }
        if let permission, permission != binding.permission { return false }
        switch patternType {
        case .any:
            return resourceName.map { $0 == binding.resourceName } ?? true
        case .literal, .prefixed:
            guard binding.patternType == (patternType == .literal ? .literal : .prefixed) else { return false }
            return resourceName.map { $0 == binding.resourceName } ?? true
        case .match:
            guard let resourceName else { return true }
            switch binding.patternType {
            case .literal:
                return binding.resourceName == resourceName || binding.resourceName == AclBinding.wildcardResource
            case .prefixed:
                return resourceName.utf8.starts(with: binding.resourceName.utf8)
            }
        }
    }

    /// `i8 resource type (1 = any), nullable str16 resource name, i8 pattern type, nullable
    /// str16 principal, nullable str16 host, i8 operation (1 = any), i8 permission (1 = any)`.
    public func encode(into writer: inout ByteWriter) {
        writer.write(resourceType?.rawValue ?? Self.anyCode)
        writer.writeNullableString(resourceName)
        writer.write(patternType.rawValue)
        writer.writeNullableString(principal)
        writer.writeNullableString(host)
        writer.write(operation?.rawValue ?? Self.anyCode)
        writer.write(permission?.rawValue ?? Self.anyCode)
    }

    /// Decodes a filter; unknown codes are `.malformed`.
    public static func decode(from reader: inout ByteReader) throws -> AclBindingFilter {
        let type = try optionalCode(&reader, "acl filter resource type", AclResourceType.init(rawValue:))
        let name = try reader.readNullableString("acl filter resource name")
        let pattern: PatternFilter = try reader.readAclCode("acl filter pattern type")
        let principal = try reader.readNullableString("acl filter principal")
        let host = try reader.readNullableString("acl filter host")
        let operation = try optionalCode(&reader, "acl filter operation", AclOperation.init(rawValue:))
        let permission = try optionalCode(&reader, "acl filter permission", AclPermission.init(rawValue:))
        return AclBindingFilter(
            resourceType: type, resourceName: name, patternType: pattern, principal: principal, host: host,
            operation: operation, permission: permission)
    }

    /// Kafka's `ANY` code, shared by every enum of the filter.
    static let anyCode: Int8 = 1

    private static func optionalCode<T>(
        _ reader: inout ByteReader, _ what: String, _ make: (Int8) -> T?
    ) throws -> T? {
        let raw = try reader.readInt8(what)
        if raw == anyCode { return nil }
        guard let value = make(raw) else { throw WireError(.malformed, "unknown \(what) \(raw)") }
        return value
    }
}
