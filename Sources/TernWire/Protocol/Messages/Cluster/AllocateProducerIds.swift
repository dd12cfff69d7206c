/// AllocateProducerIds (key 67, Kafka's number, KIP-730): a broker asks the active controller for
/// a block of producer ids to hand out in InitProducerId answers. The controller commits the
/// next free id to the metadata log (``ProducerIdsRecord``) before it answers, so no id is handed
/// out twice, by two brokers or across restarts. Served on the controller listener only.
public struct AllocateProducerIdsRequest: WireRequest, Hashable {
    public typealias Response = AllocateProducerIdsResponse
    public static let apiKey = ApiKey.allocateProducerIds

    public var brokerId: Int32
    /// The epoch BrokerRegistration returned (STALE_BROKER_EPOCH when it is not current).
    public var brokerEpoch: Int64

    public init(brokerId: Int32, brokerEpoch: Int64) {
        self.brokerId = brokerId
        self.brokerEpoch = brokerEpoch
    }

    public init(from reader: inout ByteReader) throws {
        brokerId = try reader.readInt32("brokerId")
        brokerEpoch = try reader.readInt64("brokerEpoch")
    }

    public func encode(into writer: inout ByteWriter) {
        writer.write(brokerId)
        writer.write(brokerEpoch)
    }
}

/// The block `producerIdStart ..< producerIdStart + producerIdLength`, or an error.
public struct AllocateProducerIdsResponse: WireResponse, Hashable {
    public var errorCode: ErrorCode
    public var errorMessage: String?
    public var producerIdStart: Int64
    public var producerIdLength: Int32

    public init(
        errorCode: ErrorCode = .none, errorMessage: String? = nil, producerIdStart: Int64, producerIdLength: Int32
    ) {
        self.errorCode = errorCode
        self.errorMessage = errorMessage
        self.producerIdStart = producerIdStart
        self.producerIdLength = producerIdLength
    }

    public init(from reader: inout ByteReader) throws {
        errorCode = ErrorCode(rawValue: try reader.readInt16("errorCode"))
        errorMessage = try reader.readNullableString("errorMessage")
        producerIdStart = try reader.readInt64("producerIdStart")
        producerIdLength = try reader.readInt32("producerIdLength")
    }

    public func encode(into writer: inout ByteWriter) {
        writer.write(errorCode.rawValue)
        writer.writeNullableString(errorMessage)
        writer.write(producerIdStart)
        writer.write(producerIdLength)
    }
}
