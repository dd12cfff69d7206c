/// DescribeAcls (key 29): the ACL bindings one filter selects. Defined, not served yet.
public struct DescribeAclsRequest: WireRequest, Hashable {
    public typealias Response = DescribeAclsResponse
    public static let apiKey = ApiKey.describeAcls
    public var filter: AclBindingFilter

    public init(filter: AclBindingFilter = .all) { self.filter = filter }

    public init(from reader: inout ByteReader) throws { filter = try AclBindingFilter.decode(from: &reader) }

    public func encode(into writer: inout ByteWriter) { filter.encode(into: &writer) }
}

/// The selected bindings, sorted, or an error (CLUSTER_AUTHORIZATION_FAILED).
public struct DescribeAclsResponse: WireResponse, Hashable {
    public var errorCode: ErrorCode
    public var errorMessage: String?
    public var bindings: [AclBinding]

    public init(errorCode: ErrorCode = .none, errorMessage: String? = nil, bindings: [AclBinding]) {
        self.errorCode = errorCode
        self.errorMessage = errorMessage
        self.bindings = bindings
    }

    public init(from reader: inout ByteReader) throws {
        errorCode = ErrorCode(rawValue: try reader.readInt16("errorCode"))
        errorMessage = try reader.readNullableString("errorMessage")
        bindings = try reader.readArray("bindings", minElementSize: AclBinding.minimumEncodedSize) {
            try AclBinding.decode(from: &$0)
        }
    }

    public func encode(into writer: inout ByteWriter) {
        writer.write(errorCode.rawValue)
        writer.writeNullableString(errorMessage)
        writer.writeArray(bindings) { $1.encode(into: &$0) }
    }
}
