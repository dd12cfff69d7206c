/// CreateAcls (key 30): add ACL bindings. Defined, not served yet (docs/security.md).
public struct CreateAclsRequest: WireRequest, Hashable {
    public typealias Response = CreateAclsResponse
    public static let apiKey = ApiKey.createAcls
    public var creations: [AclBinding]

    public init(creations: [AclBinding]) { self.creations = creations }

    public init(from reader: inout ByteReader) throws {
        creations = try reader.readArray("creations", minElementSize: AclBinding.minimumEncodedSize) {
            try AclBinding.decode(from: &$0)
        }
    }

    public func encode(into writer: inout ByteWriter) {
        writer.writeArray(creations) { $1.encode(into: &$0) }
    }
}

/// One result per creation, in request order.
public struct CreateAclsResponse: WireResponse, Hashable {
    public var results: [AclResult]

    public init(results: [AclResult]) { self.results = results }

    public init(from reader: inout ByteReader) throws {
        results = try reader.readArray("results", minElementSize: 4) { try AclResult.read(&$0) }
    }

    public func encode(into writer: inout ByteWriter) { writer.writeArray(results) { $1.write(&$0) } }
}
