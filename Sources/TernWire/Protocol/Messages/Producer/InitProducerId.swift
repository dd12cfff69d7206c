/// InitProducerId (key 22, Kafka's number): a producer asks for a producer id and epoch to stamp
/// its record batches with, so that the partition leader can drop a retried batch it already has
/// (the idempotent producer, DESIGN.md section 6).
///
/// Tern has no transactions: `transactionalId` must be null, and every request gets a new
/// producer id at epoch 0, unique across the cluster (ids come in blocks the active controller
/// allocates through the metadata log). `producerId`/`producerEpoch` name the id the producer
/// held before (−1 for none); Kafka uses them to bump a transactional producer's epoch, Tern
/// accepts and ignores them (an idempotent producer bumps its epoch itself, as Kafka 3's does).
public struct InitProducerIdRequest: WireRequest, Hashable {
    public typealias Response = InitProducerIdResponse
    public static let apiKey = ApiKey.initProducerId

    /// Must be null: Tern has no transactions (INVALID_REQUEST otherwise).
    public var transactionalId: String?
    /// Kafka's transaction timeout; carried, unused.
    public var transactionTimeoutMs: Int32
    /// The id held before a re-initialisation, −1 for none.
    public var producerId: Int64
    /// The epoch held before a re-initialisation, −1 for none.
    public var producerEpoch: Int16

    public init(
        transactionalId: String? = nil, transactionTimeoutMs: Int32 = 60_000, producerId: Int64 = -1,
        producerEpoch: Int16 = -1
    ) {
        self.transactionalId = transactionalId
        self.transactionTimeoutMs = transactionTimeoutMs
        self.producerId = producerId
        self.producerEpoch = producerEpoch
    }

    public init(from reader: inout ByteReader) throws {
        transactionalId = try reader.readNullableString("transactionalId")
        transactionTimeoutMs = try reader.readInt32("transactionTimeoutMs")
        producerId = try reader.readInt64("producerId")
        producerEpoch = try reader.readInt16("producerEpoch")
    }

    public func encode(into writer: inout ByteWriter) {
        writer.writeNullableString(transactionalId)
        writer.write(transactionTimeoutMs)
        writer.write(producerId)
        writer.write(producerEpoch)
    }
}

/// The answer to ``InitProducerIdRequest``: the producer id and epoch to use, or an error.
public struct InitProducerIdResponse: WireResponse, Hashable {
    public var errorCode: ErrorCode
    public var errorMessage: String?
    /// −1 with an error.
    public var producerId: Int64
    /// −1 with an error.
    public var producerEpoch: Int16

    public init(errorCode: ErrorCode = .none, errorMessage: String? = nil, producerId: Int64, producerEpoch: Int16) {
        self.errorCode = errorCode
        self.errorMessage = errorMessage
        self.producerId = producerId
        self.producerEpoch = producerEpoch
    }

    public init(from reader: inout ByteReader) throws {
        errorCode = ErrorCode(rawValue: try reader.readInt16("errorCode"))
        errorMessage = try reader.readNullableString("errorMessage")
        producerId = try reader.readInt64("producerId")
        producerEpoch = try reader.readInt16("producerEpoch")
    }

    public func encode(into writer: inout ByteWriter) {
        writer.write(errorCode.rawValue)
        writer.writeNullableString(errorMessage)
        writer.write(producerId)
        writer.write(producerEpoch)
    }
}
