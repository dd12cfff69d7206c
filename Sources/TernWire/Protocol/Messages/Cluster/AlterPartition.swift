/// AlterPartition (key 56, Kafka's number, KIP-497/KIP-704): a partition leader asks the active
/// controller to change a partition's in-sync replica set — shrink it when a follower lagged,
/// grow it when one caught up. Each change names the leader epoch and the partition epoch the
/// leader knows, so a stale leader (or a stale view of the ISR) cannot rewrite the set: the
/// controller refuses it and the leader learns the committed state. The controller answers a
/// partition once its change is committed to the metadata log, with the committed state. Served
/// on the controller listener only (docs/protocol.md §7.29).
public struct AlterPartitionRequest: WireRequest, Hashable {
    public typealias Response = AlterPartitionResponse
    public static let apiKey = ApiKey.alterPartition

    /// One partition's requested ISR.
    public struct Partition: Hashable, Sendable {
        public var topicId: MetadataUUID
        public var partition: Int32
        /// The leader epoch the sender leads at.
        public var leaderEpoch: Int32
        /// The partition epoch of the state the sender changes (INVALID_UPDATE_VERSION when stale).
        public var partitionEpoch: Int32
        /// The ISR the leader asks for: it must hold the leader and only the partition's replicas.
        public var newIsr: [Int32]

        public init(topicId: MetadataUUID, partition: Int32, leaderEpoch: Int32, partitionEpoch: Int32, newIsr: [Int32])
        {
            self.topicId = topicId
            self.partition = partition
            self.leaderEpoch = leaderEpoch
            self.partitionEpoch = partitionEpoch
            self.newIsr = newIsr
        }
    }

    /// The partitions' leader.
    public var brokerId: Int32
    /// The epoch BrokerRegistration returned (STALE_BROKER_EPOCH when it is not current).
    public var brokerEpoch: Int64
    public var partitions: [Partition]

    public init(brokerId: Int32, brokerEpoch: Int64, partitions: [Partition]) {
        self.brokerId = brokerId
        self.brokerEpoch = brokerEpoch
        self.partitions = partitions
    }

    public init(from reader: inout ByteReader) throws {
        brokerId = try reader.readInt32("brokerId")
        brokerEpoch = try reader.readInt64("brokerEpoch")
        // topic id 16 + partition 4 + epochs 8 + ISR count 4.
        partitions = try reader.readArray("partitions", minElementSize: 32) {
            Partition(
                topicId: try $0.readUUID("topicId"), partition: try $0.readInt32("partition"),
                leaderEpoch: try $0.readInt32("leaderEpoch"), partitionEpoch: try $0.readInt32("partitionEpoch"),
                newIsr: try $0.readInt32Array("newIsr"))
        }
    }

    public func encode(into writer: inout ByteWriter) {
        writer.write(brokerId)
        writer.write(brokerEpoch)
        writer.writeArray(partitions) {
            $0.write($1.topicId)
            $0.write($1.partition)
            $0.write($1.leaderEpoch)
            $0.write($1.partitionEpoch)
            $0.writeInt32Array($1.newIsr)
        }
    }
}

/// The answer: a request-level refusal (STALE_BROKER_EPOCH, BROKER_ID_NOT_REGISTERED,
/// NOT_CONTROLLER) with no partitions, or one result per requested partition, in request order.
public struct AlterPartitionResponse: WireResponse, Hashable {
    /// One partition's outcome and its state: the committed state after the change on success;
    /// when refused, the partition's state in the metadata the controller has committed (so a
    /// stale leader learns what is current), or -1 and empty when the partition is unknown or
    /// the outcome of the change is not known (a proposal that timed out).
    public struct Partition: Hashable, Sendable {
        public var topicId: MetadataUUID
        public var partition: Int32
        public var errorCode: ErrorCode
        public var errorMessage: String?
        public var leader: Int32
        public var leaderEpoch: Int32
        public var partitionEpoch: Int32
        public var isr: [Int32]

        public init(
            topicId: MetadataUUID, partition: Int32, errorCode: ErrorCode = .none, errorMessage: String? = nil,
            leader: Int32, leaderEpoch: Int32, partitionEpoch: Int32, isr: [Int32]
        ) {
            self.topicId = topicId
            self.partition = partition
            self.errorCode = errorCode
            self.errorMessage = errorMessage
            self.leader = leader
            self.leaderEpoch = leaderEpoch
            self.partitionEpoch = partitionEpoch
            self.isr = isr
        }
    }

    public var errorCode: ErrorCode
    public var errorMessage: String?
    public var partitions: [Partition]

    public init(errorCode: ErrorCode = .none, errorMessage: String? = nil, partitions: [Partition]) {
        self.errorCode = errorCode
        self.errorMessage = errorMessage
        self.partitions = partitions
    }

    public init(from reader: inout ByteReader) throws {
        errorCode = ErrorCode(rawValue: try reader.readInt16("errorCode"))
        errorMessage = try reader.readNullableString("errorMessage")
        // topic id 16 + partition 4 + code 2 + message 2 + leader and epochs 12 + ISR count 4.
        partitions = try reader.readArray("partitions", minElementSize: 40) {
            Partition(
                topicId: try $0.readUUID("topicId"), partition: try $0.readInt32("partition"),
                errorCode: ErrorCode(rawValue: try $0.readInt16("errorCode")),
                errorMessage: try $0.readNullableString("errorMessage"), leader: try $0.readInt32("leader"),
                leaderEpoch: try $0.readInt32("leaderEpoch"), partitionEpoch: try $0.readInt32("partitionEpoch"),
                isr: try $0.readInt32Array("isr"))
        }
    }

    public func encode(into writer: inout ByteWriter) {
        writer.write(errorCode.rawValue)
        writer.writeNullableString(errorMessage)
        writer.writeArray(partitions) {
            $0.write($1.topicId)
            $0.write($1.partition)
            $0.write($1.errorCode.rawValue)
            $0.writeNullableString($1.errorMessage)
            $0.write($1.leader)
            $0.write($1.leaderEpoch)
            $0.write($1.partitionEpoch)
            $0.writeInt32Array($1.isr)
        }
    }
}
