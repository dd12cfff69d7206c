/// The outcome of one ACL creation: `i16 error code, nullable str16 message`.
public struct AclResult: Sendable, Hashable {
    public var errorCode: ErrorCode
    public var errorMessage: String?

    public init(errorCode: ErrorCode = .none, errorMessage: String? = nil) {
        self.errorCode = errorCode
        self.errorMessage = errorMessage
    }

    static func read(_ reader: inout ByteReader) throws -> AclResult {
        AclResult(
            errorCode: ErrorCode(rawValue: try reader.readInt16("acl errorCode")),
            errorMessage: try reader.readNullableString("acl errorMessage"))
    }

    func write(_ writer: inout ByteWriter) {
        writer.write(errorCode.rawValue)
        writer.writeNullableString(errorMessage)
    }
}

extension AclBinding {
    /// Encoded size of the smallest binding (empty strings), for array count checks.
    static let minimumEncodedSize = 10
}

extension AclBindingFilter {
    /// Encoded size of the smallest filter (null strings), for array count checks.
    static let minimumEncodedSize = 10
}
