/// A protocol error code. Values follow Kafka's error codes where Kafka has the same condition.
public struct ErrorCode: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: Int16
    public init(rawValue: Int16) { self.rawValue = rawValue }

    public static let unknownServerError = ErrorCode(rawValue: -1)
    public static let none = ErrorCode(rawValue: 0)
    public static let offsetOutOfRange = ErrorCode(rawValue: 1)
    public static let corruptMessage = ErrorCode(rawValue: 2)
    public static let unknownTopicOrPartition = ErrorCode(rawValue: 3)
    public static let leaderNotAvailable = ErrorCode(rawValue: 5)
    public static let notLeaderOrFollower = ErrorCode(rawValue: 6)
    public static let requestTimedOut = ErrorCode(rawValue: 7)
    public static let messageTooLarge = ErrorCode(rawValue: 10)
    public static let invalidTopic = ErrorCode(rawValue: 17)
    public static let recordListTooLarge = ErrorCode(rawValue: 18)
    public static let notEnoughReplicas = ErrorCode(rawValue: 19)
    public static let invalidRequiredAcks = ErrorCode(rawValue: 21)
    public static let unsupportedVersion = ErrorCode(rawValue: 35)
    public static let unsupportedSaslMechanism = ErrorCode(rawValue: 33)
    public static let illegalSaslState = ErrorCode(rawValue: 34)
    public static let saslAuthenticationFailed = ErrorCode(rawValue: 58)
    /// A user named by a SCRAM credential request has no such credential.
    public static let resourceNotFound = ErrorCode(rawValue: 91)
    /// The same user and mechanism appear twice in one AlterUserScramCredentials request.
    public static let duplicateResource = ErrorCode(rawValue: 92)
    /// A SCRAM credential the broker will not store (iterations out of range, empty salt or name).
    public static let unacceptableCredential = ErrorCode(rawValue: 93)
    public static let topicAlreadyExists = ErrorCode(rawValue: 36)
    public static let invalidPartitions = ErrorCode(rawValue: 37)
    public static let invalidReplicationFactor = ErrorCode(rawValue: 38)
    public static let invalidConfig = ErrorCode(rawValue: 40)
    public static let invalidRequest = ErrorCode(rawValue: 42)
    public static let unsupportedForMessageFormat = ErrorCode(rawValue: 43)
    public static let kafkaStorageError = ErrorCode(rawValue: 56)
    public static let fetchSessionIdNotFound = ErrorCode(rawValue: 70)
    public static let invalidFetchSessionEpoch = ErrorCode(rawValue: 71)
    public static let unsupportedCompressionType = ErrorCode(rawValue: 76)
    /// The request's current leader epoch is older than the partition's (KIP-320): the sender's
    /// metadata is stale; refresh it and retry.
    public static let fencedLeaderEpoch = ErrorCode(rawValue: 74)
    /// The request's current leader epoch is newer than the partition's here: this broker has not
    /// learnt of the new leadership yet; retry.
    public static let unknownLeaderEpoch = ErrorCode(rawValue: 75)
    public static let invalidRecord = ErrorCode(rawValue: 87)
    public static let coordinatorLoadInProgress = ErrorCode(rawValue: 14)
    public static let coordinatorNotAvailable = ErrorCode(rawValue: 15)
    public static let notCoordinator = ErrorCode(rawValue: 16)
    public static let invalidGroupId = ErrorCode(rawValue: 24)
    public static let unknownMemberId = ErrorCode(rawValue: 25)
    public static let invalidSessionTimeout = ErrorCode(rawValue: 26)
    public static let nonEmptyGroup = ErrorCode(rawValue: 68)
    public static let groupIdNotFound = ErrorCode(rawValue: 69)
    public static let fencedMemberEpoch = ErrorCode(rawValue: 110)
    public static let staleMemberEpoch = ErrorCode(rawValue: 113)
    /// BrokerHeartbeat (and other broker-to-controller requests): the broker epoch is not the
    /// node's current registration.
    public static let staleBrokerEpoch = ErrorCode(rawValue: 77)
    /// BrokerHeartbeat: the node id has no registration.
    public static let brokerIdNotRegistered = ErrorCode(rawValue: 102)
    /// A quorum message from a node that is not one of the receiver's voters.
    public static let inconsistentVoterSet = ErrorCode(rawValue: 94)
    /// BrokerRegistration, BrokerHeartbeat: the node asked does not lead the metadata quorum now
    /// (ask the leader; retriable).
    public static let notController = ErrorCode(rawValue: 41)
    /// BrokerRegistration: the broker's log directories belong to another cluster; a quorum
    /// message carrying another cluster id than the receiver's.
    public static let inconsistentClusterId = ErrorCode(rawValue: 104)
    /// The principal may not perform the operation on the topic (ACLs, docs/security.md).
    public static let topicAuthorizationFailed = ErrorCode(rawValue: 29)
    /// The principal may not perform the operation on the group.
    public static let groupAuthorizationFailed = ErrorCode(rawValue: 30)
    /// The principal may not perform the operation on the cluster.
    public static let clusterAuthorizationFailed = ErrorCode(rawValue: 31)
    /// Produce: a batch's sequence number is not the next one the partition expects from its
    /// producer (a gap; or a new epoch not starting at 0). Nothing of the partition was appended.
    public static let outOfOrderSequenceNumber = ErrorCode(rawValue: 45)
    /// Produce: the batch's producer epoch is older than one the partition has seen for the id
    /// (another producer instance took the id over: this one is fenced).
    public static let invalidProducerEpoch = ErrorCode(rawValue: 47)
    /// Produce: the partition has no state for the producer id (expired after
    /// `producer.id.expiration.ms`) and the batch does not start a sequence at 0.
    public static let unknownProducerId = ErrorCode(rawValue: 59)
    /// A newer producer instance holds the producer id (Kafka's transactional fencing; reserved:
    /// Tern's broker answers a stale epoch on Produce with INVALID_PRODUCER_EPOCH).
    public static let producerFenced = ErrorCode(rawValue: 90)
    /// AlterPartition: the request's partition epoch is not the partition's current one (the
    /// leader changed the ISR from a stale state); wait for newer metadata, then decide again.
    public static let invalidUpdateVersion = ErrorCode(rawValue: 95)
    /// AlterPartition: the new ISR adds a replica that may not join it (fenced, not registered).
    public static let ineligibleReplica = ErrorCode(rawValue: 107)
    /// Tern's own (codes from 1000 up): a Produce v1 condition did not hold; nothing was appended.
    public static let conditionFailed = ErrorCode(rawValue: 1000)
    /// Tern's own: the topic keeps no key index (`key.index.enable=false`), so a request that
    /// needs one (FetchKey) cannot be served.
    public static let keyIndexDisabled = ErrorCode(rawValue: 1010)

    /// Whether a client may retry the same request and expect it to succeed later.
    public var isRetriable: Bool {
        switch self {
        case .corruptMessage, .unknownTopicOrPartition, .leaderNotAvailable, .notLeaderOrFollower,
            .requestTimedOut, .notEnoughReplicas, .kafkaStorageError, .coordinatorLoadInProgress,
            .fencedLeaderEpoch, .unknownLeaderEpoch,
            .coordinatorNotAvailable, .notCoordinator, .staleMemberEpoch, .notController:
            true
        default: false
        }
    }

    /// The constant's name in Kafka style (`OFFSET_OUT_OF_RANGE`).
    public var name: String {
        switch self {
        case .keyIndexDisabled: "KEY_INDEX_DISABLED"
        case .unknownServerError: "UNKNOWN_SERVER_ERROR"
        case .none: "NONE"
        case .offsetOutOfRange: "OFFSET_OUT_OF_RANGE"
        case .corruptMessage: "CORRUPT_MESSAGE"
        case .unknownTopicOrPartition: "UNKNOWN_TOPIC_OR_PARTITION"
        case .leaderNotAvailable: "LEADER_NOT_AVAILABLE"
        case .notLeaderOrFollower: "NOT_LEADER_OR_FOLLOWER"
        case .requestTimedOut: "REQUEST_TIMED_OUT"
        case .messageTooLarge: "MESSAGE_TOO_LARGE"
        case .invalidTopic: "INVALID_TOPIC_EXCEPTION"
        case .recordListTooLarge: "RECORD_LIST_TOO_LARGE"
        case .notEnoughReplicas: "NOT_ENOUGH_REPLICAS"
        case .invalidRequiredAcks: "INVALID_REQUIRED_ACKS"
        case .unsupportedVersion: "UNSUPPORTED_VERSION"
        case .topicAlreadyExists: "TOPIC_ALREADY_EXISTS"
        case .invalidPartitions: "INVALID_PARTITIONS"
        case .invalidReplicationFactor: "INVALID_REPLICATION_FACTOR"
        case .invalidConfig: "INVALID_CONFIG"
        case .invalidRequest: "INVALID_REQUEST"
        case .unsupportedForMessageFormat: "UNSUPPORTED_FOR_MESSAGE_FORMAT"
        case .kafkaStorageError: "KAFKA_STORAGE_ERROR"
        case .fetchSessionIdNotFound: "FETCH_SESSION_ID_NOT_FOUND"
        case .invalidFetchSessionEpoch: "INVALID_FETCH_SESSION_EPOCH"
        case .unsupportedCompressionType: "UNSUPPORTED_COMPRESSION_TYPE"
        case .fencedLeaderEpoch: "FENCED_LEADER_EPOCH"
        case .unknownLeaderEpoch: "UNKNOWN_LEADER_EPOCH"
        case .invalidRecord: "INVALID_RECORD"
        case .coordinatorLoadInProgress: "COORDINATOR_LOAD_IN_PROGRESS"
        case .coordinatorNotAvailable: "COORDINATOR_NOT_AVAILABLE"
        case .notCoordinator: "NOT_COORDINATOR"
        case .invalidGroupId: "INVALID_GROUP_ID"
        case .unknownMemberId: "UNKNOWN_MEMBER_ID"
        case .invalidSessionTimeout: "INVALID_SESSION_TIMEOUT"
        case .nonEmptyGroup: "NON_EMPTY_GROUP"
        case .groupIdNotFound: "GROUP_ID_NOT_FOUND"
        case .fencedMemberEpoch: "FENCED_MEMBER_EPOCH"
        case .staleMemberEpoch: "STALE_MEMBER_EPOCH"
        case .staleBrokerEpoch: "STALE_BROKER_EPOCH"
        case .invalidUpdateVersion: "INVALID_UPDATE_VERSION"
        case .ineligibleReplica: "INELIGIBLE_REPLICA"
        case .brokerIdNotRegistered: "BROKER_ID_NOT_REGISTERED"
        case .inconsistentVoterSet: "INCONSISTENT_VOTER_SET"
        case .notController: "NOT_CONTROLLER"
        case .inconsistentClusterId: "INCONSISTENT_CLUSTER_ID"
        case .conditionFailed: "CONDITION_FAILED"
        case .unsupportedSaslMechanism: "UNSUPPORTED_SASL_MECHANISM"
        case .illegalSaslState: "ILLEGAL_SASL_STATE"
        case .saslAuthenticationFailed: "SASL_AUTHENTICATION_FAILED"
        case .resourceNotFound: "RESOURCE_NOT_FOUND"
        case .duplicateResource: "DUPLICATE_RESOURCE"
        case .unacceptableCredential: "UNACCEPTABLE_CREDENTIAL"
        case .topicAuthorizationFailed: "TOPIC_AUTHORIZATION_FAILED"
        case .groupAuthorizationFailed: "GROUP_AUTHORIZATION_FAILED"
        case .clusterAuthorizationFailed: "CLUSTER_AUTHORIZATION_FAILED"
        case .outOfOrderSequenceNumber: "OUT_OF_ORDER_SEQUENCE_NUMBER"
        case .invalidProducerEpoch: "INVALID_PRODUCER_EPOCH"
        case .unknownProducerId: "UNKNOWN_PRODUCER_ID"
        case .producerFenced: "PRODUCER_FENCED"
        default: "ERROR_\(rawValue)"
        }
    }

    public var description: String { name }

    /// The error code a produce validation failure maps to.
    public init(validationFailure error: WireError) {
        switch error.code {
        case .checksumMismatch: self = .corruptMessage
        case .unsupportedVersion: self = .unsupportedForMessageFormat
        case .unsupportedCompression: self = .unsupportedCompressionType
        default: self = .invalidRecord
        }
    }
}
