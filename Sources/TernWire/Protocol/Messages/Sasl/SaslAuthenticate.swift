/// SaslAuthenticate (key 36): one step of the SASL exchange chosen by ``SaslHandshakeRequest``.
/// The bytes are the mechanism's own messages (SCRAM's client-first and client-final, PLAIN's one
/// message), opaque to the framing.
public struct SaslAuthenticateRequest: WireRequest, Hashable {
    public typealias Response = SaslAuthenticateResponse
    public static let apiKey = ApiKey.saslAuthenticate
    public var authBytes: [UInt8]

    public init(authBytes: [UInt8]) { self.authBytes = authBytes }

    public init(from reader: inout ByteReader) throws {
        guard let bytes = try reader.readNullableBytes("authBytes") else {
            throw WireError(.malformed, "authBytes: null")
        }
        authBytes = bytes
    }

    public func encode(into writer: inout ByteWriter) { writer.writeNullableBytes(authBytes) }
}

/// The answer to one ``SaslAuthenticateRequest``: the mechanism's next message (SCRAM's
/// server-first or server-final), or an error. As Kafka's, a failure says only
/// `SASL_AUTHENTICATION_FAILED` and a message that does not tell which part was wrong.
public struct SaslAuthenticateResponse: WireResponse, Hashable {
    public var errorCode: ErrorCode
    public var errorMessage: String?
    public var authBytes: [UInt8]
    /// How long the session may last before the client must re-authenticate; 0 = no limit.
    public var sessionLifetimeMs: Int64

    public init(
        errorCode: ErrorCode = .none, errorMessage: String? = nil, authBytes: [UInt8], sessionLifetimeMs: Int64 = 0
    ) {
        self.errorCode = errorCode
        self.errorMessage = errorMessage
        self.authBytes = authBytes
        self.sessionLifetimeMs = sessionLifetimeMs
    }

    public init(from reader: inout ByteReader) throws {
        errorCode = ErrorCode(rawValue: try reader.readInt16("errorCode"))
        errorMessage = try reader.readNullableString("errorMessage")
        guard let bytes = try reader.readNullableBytes("authBytes") else {
            throw WireError(.malformed, "authBytes: null")
        }
        authBytes = bytes
        sessionLifetimeMs = try reader.readInt64("sessionLifetimeMs")
        guard sessionLifetimeMs >= 0 else {
            throw WireError(.malformed, "sessionLifetimeMs: negative \(sessionLifetimeMs)")
        }
    }

    public func encode(into writer: inout ByteWriter) {
        writer.write(errorCode.rawValue)
        writer.writeNullableString(errorMessage)
        writer.writeNullableBytes(authBytes)
        writer.write(sessionLifetimeMs)
    }
}
