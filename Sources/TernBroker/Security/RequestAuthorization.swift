import TernWire

/// One authorization a request needs: an operation on a resource (or, for CreateTopics, any of a
/// few: CREATE on the cluster or on the topic), and what a denial answers.
public struct AuthorizationCheck: Hashable, Sendable, CustomStringConvertible {
    /// One operation on one resource.
    public struct Requirement: Hashable, Sendable {
        public var operation: AclOperation
        public var resource: AuthorizedResource

        public init(_ operation: AclOperation, _ resource: AuthorizedResource) {
            self.operation = operation
            self.resource = resource
        }
    }

    /// How much of the response a denial fails.
    public enum Scope: Hashable, Sendable {
        /// The whole request answers ``AuthorizationCheck/errorCode`` (every entry, or the
        /// top-level status).
        case request
        /// Only the entries for ``AuthorizationCheck/resource`` answer the error; the rest of the
        /// request is served (Produce, Fetch, DeleteTopics… per topic, as Kafka).
        case resource
    }

    /// The check passes when the first requirement, or any other, is allowed.
    public var anyOf: [Requirement]
    public var errorCode: ErrorCode
    public var scope: Scope

    public init(_ operation: AclOperation, _ resource: AuthorizedResource, _ errorCode: ErrorCode, _ scope: Scope) {
        anyOf = [Requirement(operation, resource)]
        self.errorCode = errorCode
        self.scope = scope
    }

    public init(anyOf: [Requirement], _ errorCode: ErrorCode, _ scope: Scope) {
        precondition(!anyOf.isEmpty, "a check needs at least one requirement")
        self.anyOf = anyOf
        self.errorCode = errorCode
        self.scope = scope
    }

    /// The primary operation (what a denial logs).
    public var operation: AclOperation { anyOf[0].operation }
    /// The primary resource (what a denial logs and, with ``Scope/resource``, fails).
    public var resource: AuthorizedResource { anyOf[0].resource }

    public var description: String {
        anyOf.map { "\($0.operation) on \($0.resource)" }.joined(separator: " or ") + " else \(errorCode)"
    }
}

/// A response that lists resources the request did not name (Metadata for all topics,
/// ListGroups, OffsetFetch for all of a group's topics): each listed resource is kept only if the
/// principal may perform ``operation`` on it — unless ``unlessAllowed`` is allowed, which lists
/// everything (ListGroups with DESCRIBE on the cluster).
public struct ListingFilter: Hashable, Sendable {
    public var operation: AclOperation
    public var resourceType: AclResourceType
    public var unlessAllowed: AuthorizationCheck.Requirement?

    public init(
        _ operation: AclOperation, _ resourceType: AclResourceType, unlessAllowed: AuthorizationCheck.Requirement? = nil
    ) {
        self.operation = operation
        self.resourceType = resourceType
        self.unlessAllowed = unlessAllowed
    }
}

/// What one request needs authorized: explicit checks, and a filter on what it lists.
public struct RequiredAuthorization: Hashable, Sendable {
    public var checks: [AuthorizationCheck]
    public var listing: ListingFilter?

    public init(checks: [AuthorizationCheck] = [], listing: ListingFilter? = nil) {
        self.checks = checks
        self.listing = listing
    }

    /// Nothing to check (ApiVersions).
    public static let none = RequiredAuthorization()
}

/// A decoded request the router can ask ``RequestAuthorization/required(for:)`` about: one case
/// per API the broker or controller serves.
public enum AuthorizableRequest: Sendable {
    case produce(ProduceRequest)
    case fetch(FetchRequest)
    case listOffsets(ListOffsetsRequest)
    case offsetForLeaderEpoch(OffsetForLeaderEpochRequest)
    case metadata(MetadataRequest)
    case apiVersions
    case createTopics(CreateTopicsRequest)
    case deleteTopics(DeleteTopicsRequest)
    case describeConfigs(DescribeConfigsRequest)
    case alterConfigs(AlterConfigsRequest)
    case findCoordinator(FindCoordinatorRequest)
    case consumerGroupHeartbeat(ConsumerGroupHeartbeatRequest)
    case offsetCommit(OffsetCommitRequest)
    case offsetFetch(OffsetFetchRequest)
    case listGroups
    case describeGroups(DescribeGroupsRequest)
    case deleteGroups(DeleteGroupsRequest)
    case resetGroupOffsets(ResetGroupOffsetsRequest)
    case describeLogDirs(DescribeLogDirsRequest)
    case fetchKey(FetchKeyRequest)
    case describeCluster
    case describeQuorum
    case createAcls(CreateAclsRequest)
    case deleteAcls(DeleteAclsRequest)
    case describeAcls(DescribeAclsRequest)
    /// SaslHandshake and SaslAuthenticate: answered before there is a principal to check.
    case sasl(ApiKey)
    case describeUserScramCredentials
    case alterUserScramCredentials
    case initProducerId(InitProducerIdRequest)
    /// ElectLeaders: leadership of any partition moves (ALTER on the cluster, as Kafka).
    case electLeaders
    /// Partition reassignment: ALTER (start, cancel) and DESCRIBE (list) on the cluster.
    case alterPartitionReassignments
    case listPartitionReassignments
    /// DescribeReplicaLag: DESCRIBE on each topic, checked as a whole.
    case describeReplicaLag(DescribeReplicaLagRequest)
    /// BrokerRegistration, BrokerHeartbeat, AllocateProducerIds, AlterPartition, Envelope (a forwarded request),
    /// Vote, BeginQuorumEpoch, QuorumFetch: what nodes of the cluster send each other, served only
    /// on the controller listener (CLUSTER_ACTION).
    case interBroker(ApiKey)

    /// The request's API key.
    public var apiKey: ApiKey {
        switch self {
        case .produce: .produce
        case .fetch: .fetch
        case .listOffsets: .listOffsets
        case .offsetForLeaderEpoch: .offsetForLeaderEpoch
        case .metadata: .metadata
        case .apiVersions: .apiVersions
        case .createTopics: .createTopics
        case .deleteTopics: .deleteTopics
        case .describeConfigs: .describeConfigs
        case .alterConfigs: .alterConfigs
        case .findCoordinator: .findCoordinator
        case .consumerGroupHeartbeat: .consumerGroupHeartbeat
        case .offsetCommit: .offsetCommit
        case .offsetFetch: .offsetFetch
        case .listGroups: .listGroups
        case .describeGroups: .describeGroups
        case .deleteGroups: .deleteGroups
        case .resetGroupOffsets: .resetGroupOffsets
        case .describeLogDirs: .describeLogDirs
        case .fetchKey: .fetchKey
        case .describeCluster: .describeCluster
        case .describeQuorum: .describeQuorum
        case .createAcls: .createAcls
        case .deleteAcls: .deleteAcls
        case .describeAcls: .describeAcls
        case .sasl(let key): key
        case .describeUserScramCredentials: .describeUserScramCredentials
        case .alterUserScramCredentials: .alterUserScramCredentials
        case .initProducerId: .initProducerId
        case .electLeaders: .electLeaders
        case .alterPartitionReassignments: .alterPartitionReassignments
        case .listPartitionReassignments: .listPartitionReassignments
        case .describeReplicaLag: .describeReplicaLag
        case .interBroker(let key): key
        }
    }
}
