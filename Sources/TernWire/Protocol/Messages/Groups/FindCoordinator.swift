/// FindCoordinator (key 10): which broker coordinates a consumer group.
public struct FindCoordinatorRequest: WireRequest, Hashable {
    public typealias Response = FindCoordinatorResponse
    public static let apiKey = ApiKey.findCoordinator
    /// `keyType` of a consumer group (the only kind in version 0).
    public static let groupKeyType: Int8 = 0

    /// The group id.
    public var key: String
    /// 0 = consumer group.
    public var keyType: Int8

    public init(key: String, keyType: Int8 = FindCoordinatorRequest.groupKeyType) {
        self.key = key
        self.keyType = keyType
    }

    public init(from reader: inout ByteReader) throws {
        key = try reader.readString("key")
        keyType = try reader.readInt8("keyType")
    }

    public func encode(into writer: inout ByteWriter) {
        writer.writeString(key)
        writer.write(keyType)
    }
}

public struct FindCoordinatorResponse: WireResponse, Hashable {
    public var errorCode: ErrorCode
    public var errorMessage: String?
    /// The coordinator's node id; -1 on error.
    public var nodeId: Int32
    public var host: String
    public var port: Int32

    public init(errorCode: ErrorCode = .none, errorMessage: String? = nil, nodeId: Int32, host: String, port: Int32) {
        self.errorCode = errorCode
        self.errorMessage = errorMessage
        self.nodeId = nodeId
        self.host = host
        self.port = port
    }

    public init(from reader: inout ByteReader) throws {
        errorCode = ErrorCode(rawValue: try reader.readInt16("errorCode"))
        errorMessage = try reader.readNullableString("errorMessage")
        nodeId = try reader.readInt32("nodeId")
        host = try reader.readString("host")
        port = try reader.readInt32("port")
    }

    public func encode(into writer: inout ByteWriter) {
        writer.write(errorCode.rawValue)
        writer.writeNullableString(errorMessage)
        writer.write(nodeId)
        writer.writeString(host)
        writer.write(port)
    }
}
