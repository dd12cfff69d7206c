import TernWire

/// The cluster's metadata as of some offset of the `__cluster_metadata` log: an immutable value
/// built by applying committed ``MetadataRecord``s in order (DESIGN.md section 6).
///
/// Every broker keeps one and answers from it; the controller computes its decisions from it
/// (``ControllerDecisions``). Applying a record that contradicts the image throws
/// ``MetadataImageError`` and leaves the image unchanged. Lookups that list things return them
/// sorted (brokers by id, topics by name, partitions by index), so two images built from the same
/// records answer identically and a seeded simulation replays bit for bit.
///
/// Wired into request handling: Metadata and DescribeConfigs answer from it, and each broker
/// makes its partition logs match it (`Broker+Reconcile.swift`).
public struct MetadataImage: Hashable, Sendable {
    /// A registered broker.
    public struct Broker: Hashable, Sendable {
        public var nodeId: Int32
        public var incarnationId: MetadataUUID
        public var brokerEpoch: Int64
        public var listeners: [BrokerRegistrationRecord.Listener]
        public var roles: BrokerRegistrationRecord.Roles
        public var fenced: Bool
    }

    /// A partition's assignment and leadership.
    public struct Partition: Hashable, Sendable {
        public var partition: Int32
        public var replicas: [Int32]
        public var isr: [Int32]
        public var leader: Int32
        public var leaderEpoch: Int32
        public var partitionEpoch: Int32
        /// Replicas a reassignment in progress adds; empty when none is (Kafka's `addingReplicas`).
        public var addingReplicas: [Int32] = []
        /// Replicas a reassignment in progress will drop; empty when none is.
        public var removingReplicas: [Int32] = []

        /// The replica that should lead when it can: the first assigned one.
        public var preferredLeader: Int32 { replicas.first ?? -1 }
        /// True while a reassignment is in progress.
        public var isReassigning: Bool { !addingReplicas.isEmpty || !removingReplicas.isEmpty }
        /// The replica set a reassignment in progress ends with (the replicas otherwise).
        public var targetReplicas: [Int32] { replicas.filter { !removingReplicas.contains($0) } }
        /// The replica set before the reassignment in progress (the replicas otherwise).
        public var originalReplicas: [Int32] { replicas.filter { !addingReplicas.contains($0) } }
    }

    /// A topic and its partitions.
    public struct Topic: Hashable, Sendable {
        public var id: MetadataUUID
        public var name: String
        public var configs: [String: String]
        /// By partition index.
        public var partitions: [Int32: Partition]

        /// Partitions sorted by index.
        public var sortedPartitions: [Partition] { partitions.values.sorted { $0.partition < $1.partition } }
    }

    /// The cluster id, once the first controller has written it.
    public private(set) var clusterId: String?
    /// By node id; use ``sortedBrokers`` to iterate.
    public private(set) var brokers: [Int32: Broker] = [:]
    /// By topic id; use ``sortedTopics`` to iterate.
    public private(set) var topicsById: [MetadataUUID: Topic] = [:]
    private var topicIdsByName: [String: MetadataUUID] = [:]
    /// Broker-level config overrides by resource name (a node id, or "" for the cluster default).
    public private(set) var brokerConfigs: [String: [String: String]] = [:]
    /// SCRAM credentials by user name, then mechanism (Kafka's `UserScramCredentialRecord`s);
    /// see `MetadataImage+Credentials.swift`.
    public internal(set) var scramCredentials: [String: [ScramMechanism: ScramCredential]] = [:]
    /// The highest broker epoch ever registered, so a new registration's epoch is always newer.
    public private(set) var highestBrokerEpoch: Int64 = 0
    /// The first producer id no broker has been given (every id below it was allocated once, in
    /// a block, by ``ProducerIdsRecord``s); 0 before the first allocation.
    public private(set) var nextProducerId: Int64 = 0
    /// Every ACL binding in force (DESIGN.md section 9); see `MetadataImage+Acls.swift`.
    public internal(set) var acls: Set<AclBinding> = []

    /// An empty image: the state before the first record.
    public init() {}

    /// Brokers sorted by node id.
    public var sortedBrokers: [Broker] { brokers.values.sorted { $0.nodeId < $1.nodeId } }
    /// Node ids of registered, unfenced brokers, ascending.
    public var unfencedBrokerIds: [Int32] { sortedBrokers.filter { !$0.fenced }.map(\.nodeId) }
    /// Topics sorted by name.
    public var sortedTopics: [Topic] { topicsById.values.sorted { $0.name < $1.name } }

    /// The broker with `nodeId`, if registered.
    public func broker(_ nodeId: Int32) -> Broker? { brokers[nodeId] }
    /// True when `nodeId` is registered and not fenced.
    public func isUnfenced(_ nodeId: Int32) -> Bool { brokers[nodeId].map { !$0.fenced } ?? false }
    /// The topic named `name`.
    public func topic(named name: String) -> Topic? { topicIdsByName[name].flatMap { topicsById[$0] } }
    /// The topic with id `id`.
    public func topic(id: MetadataUUID) -> Topic? { topicsById[id] }
    /// One partition of a topic.
    public func partition(_ topicId: MetadataUUID, _ partition: Int32) -> Partition? {
        topicsById[topicId]?.partitions[partition]
    }

    /// The image with `record` applied.
    /// - Throws: ``MetadataImageError`` when the record contradicts this image; `self` is unchanged.
    public func applying(_ record: MetadataRecord) throws -> MetadataImage {
        var next = self
        try next.apply(record)
        return next
    }

    /// The image with every record applied in order; throws at the first one that contradicts it.
    public func applying(_ records: some Sequence<MetadataRecord>) throws -> MetadataImage {
        var next = self
        for record in records { try next.apply(record) }
        return next
    }

    /// Applies `record`, or throws and leaves `self` unchanged (every check runs before any write).
    public mutating func apply(_ record: MetadataRecord) throws {
        switch record {
        case .clusterId(let id):
            if let clusterId, clusterId != id {
                throw MetadataImageError(.clusterIdMismatch, "cluster id \(id) after \(clusterId)")
            }
            clusterId = id
        case .registerBroker(let record): try applyRegistration(record)
        case .brokerFencing(let record): try applyFencing(record)
        case .topic(let record): try applyTopic(record)
        case .partition(let record): try applyPartition(record)
        case .partitionChange(let record): try applyPartitionChange(record)
        case .config(let record): try applyConfig(record)
        case .removeTopic(let record):
            guard let topic = topicsById.removeValue(forKey: record.topicId) else {
                throw MetadataImageError(.unknownEntity, "remove of unknown topic id \(record.topicId)")
            }
            topicIdsByName[topic.name] = nil
        case .userScramCredential(let record): try applyScramCredential(record)
        case .removeUserScramCredential(let record): try applyRemoveScramCredential(record)
        case .addAcl(let binding): try applyAddAcl(binding)
        case .removeAcl(let binding): try applyRemoveAcl(binding)
        case .producerIds(let record):
            // Ids only move forward: a block handed out is never handed out again.
            guard record.nextProducerId > nextProducerId else {
                throw MetadataImageError(
                    .invalid, "next producer id \(record.nextProducerId) does not pass \(nextProducerId)")
            }
            nextProducerId = record.nextProducerId
        }
    }

    private mutating func applyRegistration(_ record: BrokerRegistrationRecord) throws {
        guard record.nodeId >= 0 else {
            throw MetadataImageError(.invalid, "broker registration with negative node id \(record.nodeId)")
        }
        if let existing = brokers[record.nodeId], existing.brokerEpoch >= record.brokerEpoch {
            throw MetadataImageError(
                .staleEpoch,
                "registration of broker \(record.nodeId) with epoch \(record.brokerEpoch), not newer than \(existing.brokerEpoch)"
            )
        }
        brokers[record.nodeId] = Broker(
            nodeId: record.nodeId, incarnationId: record.incarnationId, brokerEpoch: record.brokerEpoch,
            listeners: record.listeners, roles: record.roles, fenced: record.fenced)
        highestBrokerEpoch = max(highestBrokerEpoch, record.brokerEpoch)
    }

    private mutating func applyFencing(_ record: BrokerFencingRecord) throws {
        let verb = record.fenced ? "fence" : "unfence"
        guard let broker = brokers[record.nodeId] else {
            throw MetadataImageError(.unknownEntity, "\(verb) of unregistered broker \(record.nodeId)")
        }
        guard broker.brokerEpoch == record.brokerEpoch else {
            throw MetadataImageError(
                .staleEpoch,
                "\(verb) of broker \(record.nodeId) epoch \(record.brokerEpoch); registered epoch is \(broker.brokerEpoch)"
            )
        }
        brokers[record.nodeId]?.fenced = record.fenced
    }

    private mutating func applyTopic(_ record: TopicRecord) throws {
        if let id = topicIdsByName[record.name] {
            throw MetadataImageError(.duplicate, "topic \(record.name) already exists with id \(id)")
        }
        if let existing = topicsById[record.topicId] {
            throw MetadataImageError(.duplicate, "topic id \(record.topicId) already belongs to \(existing.name)")
        }
        guard record.topicId != .zero else {
            throw MetadataImageError(.invalid, "topic \(record.name) has the zero id")
        }
        topicsById[record.topicId] = Topic(
            id: record.topicId, name: record.name, configs: record.configs, partitions: [:])
        topicIdsByName[record.name] = record.topicId
    }

    private mutating func applyPartition(_ record: PartitionRecord) throws {
        guard let topic = topicsById[record.topicId] else {
            throw MetadataImageError(
                .unknownEntity, "partition \(record.partition) of unknown topic id \(record.topicId)")
        }
        let what = "\(topic.name)-\(record.partition)"
        guard record.partition >= 0 else { throw MetadataImageError(.invalid, "\(what): negative partition index") }
        guard topic.partitions[record.partition] == nil else {
            throw MetadataImageError(.duplicate, "\(what) already exists")
        }
        guard !record.replicas.isEmpty, Set(record.replicas).count == record.replicas.count else {
            throw MetadataImageError(.invalid, "\(what): replicas \(record.replicas) are empty or repeat a broker")
        }
        for replica in record.replicas where brokers[replica] == nil {
            throw MetadataImageError(.unknownEntity, "\(what): replica \(replica) is not a registered broker")
        }
        try Self.checkLeadership(what, replicas: record.replicas, isr: record.isr, leader: record.leader)
        try Self.checkReassignment(
            what, replicas: record.replicas, adding: record.addingReplicas, removing: record.removingReplicas)
        guard record.leaderEpoch >= 0, record.partitionEpoch >= 0 else {
            throw MetadataImageError(.invalid, "\(what): negative epoch")
        }
        try Self.checkEpochsHaveSuccessors(what, leaderEpoch: record.leaderEpoch, partitionEpoch: record.partitionEpoch)
        topicsById[record.topicId]?.partitions[record.partition] = Partition(
            partition: record.partition, replicas: record.replicas, isr: record.isr, leader: record.leader,
            leaderEpoch: record.leaderEpoch, partitionEpoch: record.partitionEpoch,
            addingReplicas: record.addingReplicas, removingReplicas: record.removingReplicas)
    }

    private mutating func applyPartitionChange(_ record: PartitionChangeRecord) throws {
        guard let topic = topicsById[record.topicId] else {
            throw MetadataImageError(
                .unknownEntity, "change of partition \(record.partition) of unknown topic id \(record.topicId)")
        }
        let what = "\(topic.name)-\(record.partition)"
        guard let current = topic.partitions[record.partition] else {
            throw MetadataImageError(.unknownEntity, "change of unknown partition \(what)")
        }
        guard record.partitionEpoch == current.partitionEpoch &+ 1 else {
            throw MetadataImageError(
                .staleEpoch,
                "\(what): change to partition epoch \(record.partitionEpoch) must follow \(current.partitionEpoch)")
        }
        let leaderChanged = record.leader != current.leader
        guard record.leaderEpoch == (leaderChanged ? current.leaderEpoch &+ 1 : current.leaderEpoch) else {
            throw MetadataImageError(
                .staleEpoch,
                "\(what): leader epoch \(record.leaderEpoch) after \(current.leaderEpoch) "
                    + (leaderChanged ? "(a new leader needs exactly the next epoch)" : "(same leader keeps its epoch)"))
        }
        try Self.checkEpochsHaveSuccessors(what, leaderEpoch: record.leaderEpoch, partitionEpoch: record.partitionEpoch)
        let replicas = record.replicas ?? current.replicas
        let adding = record.addingReplicas ?? current.addingReplicas
        let removing = record.removingReplicas ?? current.removingReplicas
        if let changed = record.replicas {
            guard !changed.isEmpty, Set(changed).count == changed.count else {
                throw MetadataImageError(.invalid, "\(what): replicas \(changed) are empty or repeat a broker")
            }
            for replica in changed where brokers[replica] == nil {
                throw MetadataImageError(.unknownEntity, "\(what): replica \(replica) is not a registered broker")
            }
        }
        try Self.checkLeadership(what, replicas: replicas, isr: record.isr, leader: record.leader)
        try Self.checkReassignment(what, replicas: replicas, adding: adding, removing: removing)
        topicsById[record.topicId]?.partitions[record.partition] = Partition(
            partition: record.partition, replicas: replicas, isr: record.isr, leader: record.leader,
            leaderEpoch: record.leaderEpoch, partitionEpoch: record.partitionEpoch, addingReplicas: adding,
            removingReplicas: removing)
    }

    /// The largest leader or partition epoch an image holds. Every change needs the next epoch,
    /// so an epoch of `Int32.max` would leave the partition with none: the controller's `+ 1`
    /// would trap, and a change that wrapped to a negative epoch would make a snapshot the image
    /// cannot load back. Refused instead, with a clear error (found by the `metadata-image` fuzz
    /// target's invariants).
    static let maxEpoch = Int32.max - 1

    private static func checkEpochsHaveSuccessors(_ what: String, leaderEpoch: Int32, partitionEpoch: Int32) throws {
        guard leaderEpoch <= maxEpoch, partitionEpoch <= maxEpoch else {
            throw MetadataImageError(
                .invalid,
                "\(what): leader epoch \(leaderEpoch) or partition epoch \(partitionEpoch) leaves no next epoch "
                    + "(at most \(maxEpoch))")
        }
    }

    /// A reassignment's adding and removing sets: repeat-free, disjoint, within the replicas, and
    /// leaving at least one replica once the removing ones go.
    private static func checkReassignment(_ what: String, replicas: [Int32], adding: [Int32], removing: [Int32])
        throws
    {
        guard Set(adding).count == adding.count, Set(removing).count == removing.count,
            Set(adding).isSubset(of: replicas), Set(removing).isSubset(of: replicas),
            Set(adding).isDisjoint(with: removing), removing.count < replicas.count
        else {
            throw MetadataImageError(
                .invalid,
                "\(what): adding \(adding) and removing \(removing) replicas must be disjoint, repeat-free parts of "
                    + "replicas \(replicas) that leave one replica")
        }
    }

    /// ISR a non-empty, repeat-free subset of replicas; leader in the ISR or -1.
    private static func checkLeadership(_ what: String, replicas: [Int32], isr: [Int32], leader: Int32) throws {
        guard !isr.isEmpty, Set(isr).count == isr.count, Set(isr).isSubset(of: replicas) else {
            throw MetadataImageError(
                .invalid, "\(what): ISR \(isr) is empty, repeats, or is not within replicas \(replicas)")
        }
        guard leader == -1 || isr.contains(leader) else {
            throw MetadataImageError(.invalid, "\(what): leader \(leader) is not in ISR \(isr)")
        }
    }

    private mutating func applyConfig(_ record: ConfigRecord) throws {
        switch record.resourceType {
        case .topic:
            guard let id = topicIdsByName[record.resourceName] else {
                throw MetadataImageError(.unknownEntity, "config \(record.key) of unknown topic \(record.resourceName)")
            }
            topicsById[id]?.configs[record.key] = record.value
        default:
            brokerConfigs[record.resourceName, default: [:]][record.key] = record.value
            if brokerConfigs[record.resourceName]?.isEmpty == true { brokerConfigs[record.resourceName] = nil }
        }
    }
}
