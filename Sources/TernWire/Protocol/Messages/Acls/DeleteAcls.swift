/// DeleteAcls (key 31): remove every binding each filter selects. Defined, not served yet.
public struct DeleteAclsRequest: WireRequest, Hashable {
    public typealias Response = DeleteAclsResponse
    public static let apiKey = ApiKey.deleteAcls
    public var filters: [AclBindingFilter]

    public init(filters: [AclBindingFilter]) { self.filters = filters }

    public init(from reader: inout ByteReader) throws {
        filters = try reader.readArray("filters", minElementSize: AclBindingFilter.minimumEncodedSize) {
            try AclBindingFilter.decode(from: &$0)
        }
    }

    public func encode(into writer: inout ByteWriter) {
        writer.writeArray(filters) { $1.encode(into: &$0) }
    }
}

/// One result per filter, in request order: an error, or the bindings it removed.
public struct DeleteAclsResponse: WireResponse, Hashable {
    public struct FilterResult: Sendable, Hashable {
        public var errorCode: ErrorCode
        public var errorMessage: String?
        public var deleted: [AclBinding]

        public init(errorCode: ErrorCode = .none, errorMessage: String? = nil, deleted: [AclBinding]) {
            self.errorCode = errorCode
            self.errorMessage = errorMessage
            self.deleted = deleted
        }
    }

    public var results: [FilterResult]

    public init(results: [FilterResult]) { self.results = results }

    public init(from reader: inout ByteReader) throws {
        results = try reader.readArray("results", minElementSize: 8) { reader in
            let code = ErrorCode(rawValue: try reader.readInt16("errorCode"))
            let message = try reader.readNullableString("errorMessage")
            let deleted = try reader.readArray("deleted", minElementSize: AclBinding.minimumEncodedSize) {
                try AclBinding.decode(from: &$0)
            }
            return FilterResult(errorCode: code, errorMessage: message, deleted: deleted)
        }
    }

    public func encode(into writer: inout ByteWriter) {
        writer.writeArray(results) { writer, result in
            writer.write(result.errorCode.rawValue)
            writer.writeNullableString(result.errorMessage)
            writer.writeArray(result.deleted) { $1.encode(into: &$0) }
        }
    }
}
