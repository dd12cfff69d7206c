/// BrokerRegistration (key 62): a broker process announces itself to the active controller,
/// which answers with the broker epoch it must send with every heartbeat.
///
/// A new `incarnationId` (a new process) gets a new epoch: the offset of its registration record
/// in the metadata log. The same incarnation registering again (a retried request) gets its
/// current epoch back. The broker starts fenced until its heartbeats show it has caught up.
public struct BrokerRegistrationRequest: WireRequest, Hashable {
    public typealias Response = BrokerRegistrationResponse
    public static let apiKey = ApiKey.brokerRegistration

    public var nodeId: Int32
    /// The cluster id this broker's log directories record; empty when they record none yet.
    public var clusterId: String
    /// Random per process start.
    public var incarnationId: MetadataUUID
    public var listeners: [BrokerRegistrationRecord.Listener]
    public var roles: BrokerRegistrationRecord.Roles

    public init(
        nodeId: Int32, clusterId: String, incarnationId: MetadataUUID, listeners: [BrokerRegistrationRecord.Listener],
        roles: BrokerRegistrationRecord.Roles
    ) {
        self.nodeId = nodeId
        self.clusterId = clusterId
        self.incarnationId = incarnationId
        self.listeners = listeners
        self.roles = roles
    }

    public init(from reader: inout ByteReader) throws {
        nodeId = try reader.readInt32("nodeId")
        clusterId = try reader.readString("clusterId")
        incarnationId = try reader.readUUID("incarnationId")
        listeners = try reader.readListeners()
        roles = try reader.readRoles()
    }

    public func encode(into writer: inout ByteWriter) {
        writer.write(nodeId)
        writer.writeString(clusterId)
        writer.write(incarnationId)
        writer.writeListeners(listeners)
        writer.write(roles.rawValue)
    }
}

public struct BrokerRegistrationResponse: WireResponse, Hashable {
    public var errorCode: ErrorCode
    public var errorMessage: String?
    /// The epoch to heartbeat with; −1 on error.
    public var brokerEpoch: Int64

    public init(errorCode: ErrorCode = .none, errorMessage: String? = nil, brokerEpoch: Int64) {
        self.errorCode = errorCode
        self.errorMessage = errorMessage
        self.brokerEpoch = brokerEpoch
    }

    public init(from reader: inout ByteReader) throws {
        errorCode = ErrorCode(rawValue: try reader.readInt16("errorCode"))
        errorMessage = try reader.readNullableString("errorMessage")
        brokerEpoch = try reader.readInt64("brokerEpoch")
    }

    public func encode(into writer: inout ByteWriter) {
        writer.write(errorCode.rawValue)
        writer.writeNullableString(errorMessage)
        writer.write(brokerEpoch)
    }
}
