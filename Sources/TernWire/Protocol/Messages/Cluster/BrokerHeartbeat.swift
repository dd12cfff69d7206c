/// BrokerHeartbeat (key 63): a registered broker tells the active controller it is alive and
/// how far it has applied the metadata log; the controller answers whether it is fenced.
///
/// A broker silent for `broker.session.timeout.ms` is fenced; a fenced broker is unfenced once a
/// heartbeat reports a `metadataOffset` at or past the controller's committed offset.
public struct BrokerHeartbeatRequest: WireRequest, Hashable {
    public typealias Response = BrokerHeartbeatResponse
    public static let apiKey = ApiKey.brokerHeartbeat

    public var nodeId: Int32
    /// The epoch BrokerRegistration returned.
    public var brokerEpoch: Int64
    /// Offset of the last metadata record the broker has applied; −1 for none.
    public var metadataOffset: Int64
    /// The broker asks to be fenced (it cannot serve, e.g. a log directory failed).
    public var wantFence: Bool
    /// The broker is stopping cleanly: move leadership off it first (controlled shutdown).
    public var wantShutDown: Bool

    public init(
        nodeId: Int32, brokerEpoch: Int64, metadataOffset: Int64, wantFence: Bool = false, wantShutDown: Bool = false
    ) {
        self.nodeId = nodeId
        self.brokerEpoch = brokerEpoch
        self.metadataOffset = metadataOffset
        self.wantFence = wantFence
        self.wantShutDown = wantShutDown
    }

    public init(from reader: inout ByteReader) throws {
        nodeId = try reader.readInt32("nodeId")
        brokerEpoch = try reader.readInt64("brokerEpoch")
        metadataOffset = try reader.readInt64("metadataOffset")
        wantFence = try reader.readBool("wantFence")
        wantShutDown = try reader.readBool("wantShutDown")
    }

    public func encode(into writer: inout ByteWriter) {
        writer.write(nodeId)
        writer.write(brokerEpoch)
        writer.write(metadataOffset)
        writer.write(wantFence)
        writer.write(wantShutDown)
    }
}

public struct BrokerHeartbeatResponse: WireResponse, Hashable {
    public var errorCode: ErrorCode
    public var errorMessage: String?
    /// The broker's `metadataOffset` is at or past the controller's committed offset.
    public var isCaughtUp: Bool
    /// The broker is fenced (after this heartbeat's changes are committed).
    public var isFenced: Bool
    /// A controlled shutdown may complete: no partition still needs this broker to hand over.
    public var shouldShutDown: Bool

    public init(
        errorCode: ErrorCode = .none, errorMessage: String? = nil, isCaughtUp: Bool, isFenced: Bool,
        shouldShutDown: Bool
    ) {
        self.errorCode = errorCode
        self.errorMessage = errorMessage
        self.isCaughtUp = isCaughtUp
        self.isFenced = isFenced
        self.shouldShutDown = shouldShutDown
    }

    public init(from reader: inout ByteReader) throws {
        errorCode = ErrorCode(rawValue: try reader.readInt16("errorCode"))
        errorMessage = try reader.readNullableString("errorMessage")
        isCaughtUp = try reader.readBool("isCaughtUp")
        isFenced = try reader.readBool("isFenced")
        shouldShutDown = try reader.readBool("shouldShutDown")
    }

    public func encode(into writer: inout ByteWriter) {
        writer.write(errorCode.rawValue)
        writer.writeNullableString(errorMessage)
        writer.write(isCaughtUp)
        writer.write(isFenced)
        writer.write(shouldShutDown)
    }
}
