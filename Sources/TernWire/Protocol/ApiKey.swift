/// Identifies a request type of the native protocol. Numbers follow Kafka's API keys where Kafka
/// has the same API, so that packet captures read familiarly.
public struct ApiKey: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    public static let produce = ApiKey(rawValue: 0)
    public static let fetch = ApiKey(rawValue: 1)
    public static let listOffsets = ApiKey(rawValue: 2)
    public static let metadata = ApiKey(rawValue: 3)
    /// The end offset of a leader epoch in a partition's log (KIP-101/279), for followers and
    /// for consumers checking their position after a leader change.
    public static let offsetForLeaderEpoch = ApiKey(rawValue: 23)
    public static let apiVersions = ApiKey(rawValue: 18)
    /// SASL authentication (served before any other request on SASL listeners).
    public static let saslHandshake = ApiKey(rawValue: 17)
    public static let saslAuthenticate = ApiKey(rawValue: 36)
    /// SCRAM user management (Kafka's keys): listing users' mechanisms, setting and deleting
    /// credentials through the active controller.
    public static let describeUserScramCredentials = ApiKey(rawValue: 50)
    public static let alterUserScramCredentials = ApiKey(rawValue: 51)
    public static let createTopics = ApiKey(rawValue: 19)
    public static let deleteTopics = ApiKey(rawValue: 20)
    public static let describeConfigs = ApiKey(rawValue: 32)
    public static let alterConfigs = ApiKey(rawValue: 33)
    public static let offsetCommit = ApiKey(rawValue: 8)
    public static let offsetFetch = ApiKey(rawValue: 9)
    public static let findCoordinator = ApiKey(rawValue: 10)
    public static let describeGroups = ApiKey(rawValue: 15)
    public static let listGroups = ApiKey(rawValue: 16)
    public static let deleteGroups = ApiKey(rawValue: 42)
    public static let consumerGroupHeartbeat = ApiKey(rawValue: 68)
    /// Tern's own (no Kafka equivalent): keys from 1000 up are Tern-specific.
    public static let resetGroupOffsets = ApiKey(rawValue: 1000)
    /// Tern's own: one key's records through the partition's key index.
    public static let fetchKey = ApiKey(rawValue: 1002)
    /// Tern's own: each replica's lag behind a partition's leader, as the leader sees it.
    public static let describeReplicaLag = ApiKey(rawValue: 1003)
    public static let describeLogDirs = ApiKey(rawValue: 35)
    /// The idempotent producer's producer id and epoch.
    public static let initProducerId = ApiKey(rawValue: 22)
    /// A broker's request for a block of producer ids, to the active controller (controller
    /// listener only, never listed by ApiVersions).
    public static let allocateProducerIds = ApiKey(rawValue: 67)
    /// A partition leader's change of its in-sync replica set, to the active controller
    /// (controller listener only, never listed by ApiVersions).
    public static let alterPartition = ApiKey(rawValue: 56)
    /// Cluster APIs. DescribeCluster is served on client listeners; BrokerRegistration and
    /// BrokerHeartbeat only on the controller listener (never listed by ApiVersions).
    public static let describeCluster = ApiKey(rawValue: 60)
    public static let brokerRegistration = ApiKey(rawValue: 62)
    public static let brokerHeartbeat = ApiKey(rawValue: 63)
    /// A broker's forwarding of a client request to the active controller (controller listener
    /// only, never listed by ApiVersions).
    public static let envelope = ApiKey(rawValue: 58)
    /// ACL administration (Kafka's keys): DescribeAcls from any broker's image, Create/DeleteAcls
    /// by the active controller.
    public static let describeAcls = ApiKey(rawValue: 29)
    public static let createAcls = ApiKey(rawValue: 30)
    public static let deleteAcls = ApiKey(rawValue: 31)
    /// Preferred (or unclean) leader elections, decided by the active controller.
    public static let electLeaders = ApiKey(rawValue: 43)
    /// Partition reassignment (Kafka's keys, KIP-455): starting or cancelling one through the
    /// active controller, and listing those in progress from the image.
    public static let alterPartitionReassignments = ApiKey(rawValue: 45)
    public static let listPartitionReassignments = ApiKey(rawValue: 46)

    // The metadata quorum's APIs, served on the controller listener only (never listed by
    // ApiVersions on a broker listener). Kafka's numbers where Kafka has the API (KIP-595).
    /// Raft Vote and pre-vote requests and their answers.
    public static let vote = ApiKey(rawValue: 52)
    /// A new Raft leader's announcement and the answer naming a newer epoch.
    public static let beginQuorumEpoch = ApiKey(rawValue: 53)
    /// A Raft leader's graceful resignation naming its preferred successors.
    public static let endQuorumEpoch = ApiKey(rawValue: 54)
    /// A Raft follower's download of the leader's snapshot in chunks, and its answer (KIP-630).
    public static let fetchSnapshot = ApiKey(rawValue: 59)
    /// The quorum's state as the answering node sees it (`tern cluster quorum`); served on client
    /// listeners.
    public static let describeQuorum = ApiKey(rawValue: 55)
    /// Tern's own: a Raft follower's fetch of the metadata log and its answer (Kafka reuses
    /// Fetch for it; Tern's Fetch is for partitions).
    public static let quorumFetch = ApiKey(rawValue: 1001)

    /// Every API this build knows, with the versions it speaks.
    public static let supported: [(key: ApiKey, minVersion: UInt16, maxVersion: UInt16)] = [
        (.produce, 0, 1), (.fetch, 0, 3), (.listOffsets, 0, 1), (.metadata, 0, 0),
        (.apiVersions, 0, 0), (.createTopics, 0, 0), (.deleteTopics, 0, 0), (.describeConfigs, 0, 0),
        (.alterConfigs, 0, 0), (.offsetCommit, 0, 0), (.offsetFetch, 0, 0), (.findCoordinator, 0, 0),
        (.describeGroups, 0, 0), (.listGroups, 0, 0), (.deleteGroups, 0, 0), (.consumerGroupHeartbeat, 0, 0),
        (.resetGroupOffsets, 0, 0), (.describeLogDirs, 0, 0), (.fetchKey, 0, 0), (.describeCluster, 0, 0),
        (.describeQuorum, 0, 0), (.saslHandshake, 1, 1), (.saslAuthenticate, 0, 0),
        (.describeUserScramCredentials, 0, 0), (.alterUserScramCredentials, 0, 0),
        (.describeAcls, 0, 0), (.createAcls, 0, 0), (.deleteAcls, 0, 0),
        (.initProducerId, 0, 0),
        (.offsetForLeaderEpoch, 0, 0),
        (.electLeaders, 0, 0),
        (.alterPartitionReassignments, 0, 0), (.listPartitionReassignments, 0, 0),
        (.describeReplicaLag, 0, 0),
    ]

    public var name: String {
        switch self {
        case .produce: "Produce"
        case .fetch: "Fetch"
        case .listOffsets: "ListOffsets"
        case .metadata: "Metadata"
        case .offsetForLeaderEpoch: "OffsetForLeaderEpoch"
        case .apiVersions: "ApiVersions"
        case .saslHandshake: "SaslHandshake"
        case .saslAuthenticate: "SaslAuthenticate"
        case .describeUserScramCredentials: "DescribeUserScramCredentials"
        case .alterUserScramCredentials: "AlterUserScramCredentials"
        case .createTopics: "CreateTopics"
        case .deleteTopics: "DeleteTopics"
        case .describeConfigs: "DescribeConfigs"
        case .alterConfigs: "AlterConfigs"
        case .offsetCommit: "OffsetCommit"
        case .offsetFetch: "OffsetFetch"
        case .findCoordinator: "FindCoordinator"
        case .describeGroups: "DescribeGroups"
        case .listGroups: "ListGroups"
        case .deleteGroups: "DeleteGroups"
        case .consumerGroupHeartbeat: "ConsumerGroupHeartbeat"
        case .resetGroupOffsets: "ResetGroupOffsets"
        case .describeLogDirs: "DescribeLogDirs"
        case .describeCluster: "DescribeCluster"
        case .brokerRegistration: "BrokerRegistration"
        case .brokerHeartbeat: "BrokerHeartbeat"
        case .envelope: "Envelope"
        case .vote: "Vote"
        case .beginQuorumEpoch: "BeginQuorumEpoch"
        case .endQuorumEpoch: "EndQuorumEpoch"
        case .fetchSnapshot: "FetchSnapshot"
        case .describeQuorum: "DescribeQuorum"
        case .quorumFetch: "QuorumFetch"
        case .fetchKey: "FetchKey"
        case .describeReplicaLag: "DescribeReplicaLag"
        case .describeAcls: "DescribeAcls"
        case .createAcls: "CreateAcls"
        case .deleteAcls: "DeleteAcls"
        case .initProducerId: "InitProducerId"
        case .allocateProducerIds: "AllocateProducerIds"
        case .alterPartitionReassignments: "AlterPartitionReassignments"
        case .listPartitionReassignments: "ListPartitionReassignments"
        case .alterPartition: "AlterPartition"
        case .electLeaders: "ElectLeaders"
        default: "Api\(rawValue)"
        }
    }

    public var description: String { name }
}
