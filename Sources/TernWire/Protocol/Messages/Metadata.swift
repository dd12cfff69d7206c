/// Metadata (key 3): brokers, and topics with their partitions and leaders.
public struct MetadataRequest: WireRequest, Hashable {
    public typealias Response = MetadataResponse
    public static let apiKey = ApiKey.metadata
    /// Topics to describe; nil means every topic.
    public var topics: [String]?
    /// Create unknown topics when the broker allows it (`auto.create.topics.enable`).
    public var allowAutoTopicCreation: Bool

    public init(topics: [String]?, allowAutoTopicCreation: Bool = false) {
        self.topics = topics
        self.allowAutoTopicCreation = allowAutoTopicCreation
    }

    public init(from reader: inout ByteReader) throws {
        let all = try reader.readBool("allTopics")
        let names = try reader.readArray("topics", minElementSize: 2) { try $0.readString("topic") }
        topics = all ? nil : names
        allowAutoTopicCreation = try reader.readBool("allowAutoTopicCreation")
    }

    public func encode(into writer: inout ByteWriter) {
        writer.write(topics == nil)
        writer.writeArray(topics ?? []) { $0.writeString($1) }
        writer.write(allowAutoTopicCreation)
    }
}

public struct MetadataResponse: WireResponse, Hashable {
    public struct Broker: Sendable, Hashable {
        public var nodeId: Int32
        public var host: String
        public var port: Int32
        public init(nodeId: Int32, host: String, port: Int32) {
            self.nodeId = nodeId
            self.host = host
            self.port = port
        }
    }
    public struct Partition: Sendable, Hashable {
        public var errorCode: ErrorCode
        public var partition: Int32
        public var leader: Int32
        public var leaderEpoch: Int32
        public var replicas: [Int32]
        public var isr: [Int32]
        public init(
            errorCode: ErrorCode = .none, partition: Int32, leader: Int32, leaderEpoch: Int32, replicas: [Int32],
            isr: [Int32]
        ) {
            self.errorCode = errorCode
            self.partition = partition
            self.leader = leader
            self.leaderEpoch = leaderEpoch
            self.replicas = replicas
            self.isr = isr
        }
    }
    public struct Topic: Sendable, Hashable {
        public var errorCode: ErrorCode
        public var name: String
        public var isInternal: Bool
        public var partitions: [Partition]
        public init(errorCode: ErrorCode = .none, name: String, isInternal: Bool = false, partitions: [Partition]) {
            self.errorCode = errorCode
            self.name = name
            self.isInternal = isInternal
            self.partitions = partitions
        }
    }
    public var brokers: [Broker]
    public var clusterId: String
    public var controllerId: Int32
    public var topics: [Topic]

    public init(brokers: [Broker], clusterId: String, controllerId: Int32, topics: [Topic]) {
        self.brokers = brokers
        self.clusterId = clusterId
        self.controllerId = controllerId
        self.topics = topics
    }

    public init(from reader: inout ByteReader) throws {
        brokers = try reader.readArray("brokers", minElementSize: 10) { r in
            Broker(nodeId: try r.readInt32(), host: try r.readString("host"), port: try r.readInt32())
        }
        clusterId = try reader.readString("clusterId")
        controllerId = try reader.readInt32("controllerId")
        topics = try reader.readArray("topics", minElementSize: 9) { r in
            let code = ErrorCode(rawValue: try r.readInt16())
            let name = try r.readString("topic")
            let isInternal = try r.readBool()
            let partitions = try r.readArray("partitions", minElementSize: 22) { p in
                Partition(
                    errorCode: ErrorCode(rawValue: try p.readInt16()), partition: try p.readInt32(),
                    leader: try p.readInt32(), leaderEpoch: try p.readInt32(),
                    replicas: try p.readArray("replicas", minElementSize: 4) { try $0.readInt32() },
                    isr: try p.readArray("isr", minElementSize: 4) { try $0.readInt32() })
            }
            return Topic(errorCode: code, name: name, isInternal: isInternal, partitions: partitions)
        }
    }

    public func encode(into writer: inout ByteWriter) {
        writer.writeArray(brokers) { w, b in
            w.write(b.nodeId)
            w.writeString(b.host)
            w.write(b.port)
        }
        writer.writeString(clusterId)
        writer.write(controllerId)
        writer.writeArray(topics) { w, t in
            w.write(t.errorCode.rawValue)
            w.writeString(t.name)
            w.write(t.isInternal)
            w.writeArray(t.partitions) { w, p in
                w.write(p.errorCode.rawValue)
                w.write(p.partition)
                w.write(p.leader)
                w.write(p.leaderEpoch)
                w.writeArray(p.replicas) { $0.write($1) }
                w.writeArray(p.isr) { $0.write($1) }
            }
        }
    }
}
