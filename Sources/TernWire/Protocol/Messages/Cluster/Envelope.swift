/// Envelope (key 58, Kafka's): a broker forwards a client's request that only the active
/// controller can decide (CreateTopics, DeleteTopics, AlterConfigs, ...) over the controller
/// listener. Served on the controller listener only; never listed by ApiVersions.
///
/// The inner request travels as its body bytes with the API key and version it was sent at, so
/// one message forwards any API; the controller answers with the inner response body (encoded at
/// that version) and the offset of the metadata-log entry it committed for it, which the
/// forwarding broker waits to have applied before it answers its client.
public struct EnvelopeRequest: WireRequest, Hashable {
    public typealias Response = EnvelopeResponse
    public static let apiKey = ApiKey.envelope

    /// The API of the inner request.
    public var requestApiKey: ApiKey
    /// The version the inner request is encoded at.
    public var requestApiVersion: UInt16
    /// The client's id (its request header's), for the controller's logs.
    public var clientId: String
    /// The client's principal as the forwarding broker authenticated it (`User:NAME`).
    public var principal: String
    /// True for the forwarding broker's own request (for example creating `__consumer_offsets`),
    /// not a client's: it may create the broker's internal topics.
    public var brokerInternal: Bool
    /// The inner request's body, without frame prefix or header.
    public var requestData: [UInt8]

    public init(
        requestApiKey: ApiKey, requestApiVersion: UInt16, clientId: String, principal: String,
        brokerInternal: Bool = false, requestData: [UInt8]
    ) {
        self.requestApiKey = requestApiKey
        self.requestApiVersion = requestApiVersion
        self.clientId = clientId
        self.principal = principal
        self.brokerInternal = brokerInternal
        self.requestData = requestData
    }

    public init(from reader: inout ByteReader) throws {
        requestApiKey = ApiKey(rawValue: try reader.readUInt16("requestApiKey"))
        requestApiVersion = try reader.readUInt16("requestApiVersion")
        clientId = try reader.readString("clientId")
        principal = try reader.readString("principal")
        brokerInternal = try reader.readBool("brokerInternal")
        guard let data = try reader.readNullableBytes("requestData") else {
            throw WireError(.malformed, "requestData: null")
        }
        requestData = data
    }

    public func encode(into writer: inout ByteWriter) {
        writer.write(requestApiKey.rawValue)
        writer.write(requestApiVersion)
        writer.writeString(clientId)
        writer.writeString(principal)
        writer.write(brokerInternal)
        writer.writeNullableBytes(requestData)
    }
}

/// The controller's answer to an ``EnvelopeRequest``. A non-NONE `errorCode` means the envelope
/// itself failed (NOT_CONTROLLER: this node does not lead the metadata quorum; UNSUPPORTED_VERSION:
/// the API is not forwardable) and `responseData` is empty; otherwise `responseData` is the inner
/// response body, whose own error codes say what happened to each item.
public struct EnvelopeResponse: WireResponse, Hashable {
    public var errorCode: ErrorCode
    public var errorMessage: String?
    /// The offset of the last metadata-log entry committed for the request; -1 when nothing was
    /// written (validation only, refused, nothing to change).
    public var metadataOffset: Int64
    public var responseData: [UInt8]

    public init(errorCode: ErrorCode = .none, errorMessage: String? = nil, metadataOffset: Int64, responseData: [UInt8])
    {
        self.errorCode = errorCode
        self.errorMessage = errorMessage
        self.metadataOffset = metadataOffset
        self.responseData = responseData
    }

    public init(from reader: inout ByteReader) throws {
        errorCode = ErrorCode(rawValue: try reader.readInt16("errorCode"))
        errorMessage = try reader.readNullableString("errorMessage")
        metadataOffset = try reader.readInt64("metadataOffset")
        guard let data = try reader.readNullableBytes("responseData") else {
            throw WireError(.malformed, "responseData: null")
        }
        responseData = data
    }

    public func encode(into writer: inout ByteWriter) {
        writer.write(errorCode.rawValue)
        writer.writeNullableString(errorMessage)
        writer.write(metadataOffset)
        writer.writeNullableBytes(responseData)
    }
}
