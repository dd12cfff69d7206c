/// SaslHandshake (key 17): the client names the SASL mechanism it wants; the broker answers with
/// the mechanisms it has enabled, and `UNSUPPORTED_SASL_MECHANISM` when the named one is not among
/// them (Kafka's semantics, version 1: the exchange itself then runs in ``SaslAuthenticateRequest``s).
public struct SaslHandshakeRequest: WireRequest, Hashable {
    public typealias Response = SaslHandshakeResponse
    public static let apiKey = ApiKey.saslHandshake
    /// Version 1: the exchange runs in SaslAuthenticate requests (version 0, raw tokens, is not spoken).
    public static let apiVersion: UInt16 = 1
    /// The mechanism's IANA name, e.g. `SCRAM-SHA-256` or `PLAIN`.
    public var mechanism: String

    public init(mechanism: String) { self.mechanism = mechanism }

    public init(from reader: inout ByteReader) throws {
        mechanism = try reader.readString("mechanism")
    }

    public func encode(into writer: inout ByteWriter) { writer.writeString(mechanism) }
}

/// The answer to ``SaslHandshakeRequest``. The error travels in the body, as Kafka's does, so the
/// enabled mechanisms reach the client together with `UNSUPPORTED_SASL_MECHANISM`.
public struct SaslHandshakeResponse: WireResponse, Hashable {
    public var errorCode: ErrorCode
    /// The mechanisms the listener accepts, in the broker's order.
    public var mechanisms: [String]

    public init(errorCode: ErrorCode = .none, mechanisms: [String]) {
        self.errorCode = errorCode
        self.mechanisms = mechanisms
    }

    public init(from reader: inout ByteReader) throws {
        errorCode = ErrorCode(rawValue: try reader.readInt16("errorCode"))
        mechanisms = try reader.readArray("mechanisms", minElementSize: 2) { try $0.readString("mechanism") }
    }

    public func encode(into writer: inout ByteWriter) {
        writer.write(errorCode.rawValue)
        writer.writeArray(mechanisms) { $0.writeString($1) }
    }
}
