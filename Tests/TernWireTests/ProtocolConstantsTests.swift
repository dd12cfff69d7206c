import TernWire
import XCTest

/// API keys, versions and error codes: the tables of `docs/protocol.md` §4 and §8.
final class ProtocolConstantsTests: XCTestCase {
    func testApiKeysAndSupportedVersions() {
        let keys: [(ApiKey, UInt16, String)] = [
            (.produce, 0, "Produce"), (.fetch, 1, "Fetch"), (.listOffsets, 2, "ListOffsets"),
            (.metadata, 3, "Metadata"),
            (.apiVersions, 18, "ApiVersions"), (.createTopics, 19, "CreateTopics"), (.deleteTopics, 20, "DeleteTopics"),
            (.describeConfigs, 32, "DescribeConfigs"), (.alterConfigs, 33, "AlterConfigs"),
            (.offsetCommit, 8, "OffsetCommit"), (.offsetFetch, 9, "OffsetFetch"),
            (.findCoordinator, 10, "FindCoordinator"),
            (.describeGroups, 15, "DescribeGroups"), (.listGroups, 16, "ListGroups"),
            (.deleteGroups, 42, "DeleteGroups"),
            (.consumerGroupHeartbeat, 68, "ConsumerGroupHeartbeat"), (.resetGroupOffsets, 1000, "ResetGroupOffsets"),
            (.describeLogDirs, 35, "DescribeLogDirs"), (.fetchKey, 1002, "FetchKey"),
            (.describeCluster, 60, "DescribeCluster"), (.describeQuorum, 55, "DescribeQuorum"),
            (.saslHandshake, 17, "SaslHandshake"), (.saslAuthenticate, 36, "SaslAuthenticate"),
            (.describeUserScramCredentials, 50, "DescribeUserScramCredentials"),
            (.alterUserScramCredentials, 51, "AlterUserScramCredentials"),
            (.describeAcls, 29, "DescribeAcls"), (.createAcls, 30, "CreateAcls"), (.deleteAcls, 31, "DeleteAcls"),
            (.initProducerId, 22, "InitProducerId"),
            (.offsetForLeaderEpoch, 23, "OffsetForLeaderEpoch"),
            (.electLeaders, 43, "ElectLeaders"),
            (.alterPartitionReassignments, 45, "AlterPartitionReassignments"),
            (.listPartitionReassignments, 46, "ListPartitionReassignments"),
            (.describeReplicaLag, 1003, "DescribeReplicaLag"),
        ]
        for (key, raw, name) in keys {
            XCTAssertEqual(key.rawValue, raw)
            XCTAssertEqual(key.name, name)
            let supported = ApiKey.supported.first { $0.key == key }
            // SaslHandshake is spoken at version 1 only (version 0 sent raw tokens).
            XCTAssertEqual(supported?.minVersion, key == .saslHandshake ? 1 : 0, name)
            // Fetch v1 adds fetch sessions and v2 leader epochs, v3 the follower's durable offset, Produce v1 conditions, ListOffsets
            // v1 the current leader epoch; every other API has one version.
            let twoVersions: Set<ApiKey> = [.produce, .saslHandshake, .listOffsets]
            XCTAssertEqual(supported?.maxVersion, key == .fetch ? 3 : twoVersions.contains(key) ? 1 : 0, name)
        }
        XCTAssertEqual(ApiKey.supported.count, keys.count)
        XCTAssertEqual(ApiKey(rawValue: 999).name, "Api999")
        // The quorum's APIs: controller listener only, so not in `supported`.
        let quorum: [(ApiKey, UInt16, String)] = [
            (.vote, 52, "Vote"), (.beginQuorumEpoch, 53, "BeginQuorumEpoch"), (.endQuorumEpoch, 54, "EndQuorumEpoch"),
            (.fetchSnapshot, 59, "FetchSnapshot"), (.quorumFetch, 1001, "QuorumFetch"),
            (.allocateProducerIds, 67, "AllocateProducerIds"), (.alterPartition, 56, "AlterPartition"),
        ]
        for (key, raw, name) in quorum {
            XCTAssertEqual(key.rawValue, raw)
            XCTAssertEqual(key.name, name)
            XCTAssertFalse(ApiKey.supported.contains { $0.key == key }, name)
        }
        XCTAssertEqual(ApiVersionsRequest.apiKey, .apiVersions)
        XCTAssertEqual(ProduceRequest.apiKey, .produce)
        XCTAssertEqual(FetchRequest.apiKey, .fetch)
        XCTAssertEqual(ListOffsetsRequest.apiKey, .listOffsets)
        XCTAssertEqual(MetadataRequest.apiKey, .metadata)
        XCTAssertEqual(CreateTopicsRequest.apiKey, .createTopics)
        XCTAssertEqual(DeleteTopicsRequest.apiKey, .deleteTopics)
        XCTAssertEqual(DescribeConfigsRequest.apiKey, .describeConfigs)
        XCTAssertEqual(AlterConfigsRequest.apiKey, .alterConfigs)
        XCTAssertEqual(OffsetCommitRequest.apiKey, .offsetCommit)
        XCTAssertEqual(OffsetFetchRequest.apiKey, .offsetFetch)
        XCTAssertEqual(FindCoordinatorRequest.apiKey, .findCoordinator)
        XCTAssertEqual(DescribeGroupsRequest.apiKey, .describeGroups)
        XCTAssertEqual(ListGroupsRequest.apiKey, .listGroups)
        XCTAssertEqual(DeleteGroupsRequest.apiKey, .deleteGroups)
        XCTAssertEqual(ConsumerGroupHeartbeatRequest.apiKey, .consumerGroupHeartbeat)
        XCTAssertEqual(ResetGroupOffsetsRequest.apiKey, .resetGroupOffsets)
        XCTAssertEqual(DescribeLogDirsRequest.apiKey, .describeLogDirs)
        XCTAssertEqual(FetchKeyRequest.apiKey, .fetchKey)
        XCTAssertEqual(DescribeReplicaLagRequest.apiKey, .describeReplicaLag)
    }

    /// The broker-to-controller APIs have Kafka's keys and are served on the controller listener
    /// only, so client listeners do not advertise them.
    func testBrokerToControllerApiKeysAreNotAdvertised() {
        let keys: [(ApiKey, UInt16, String)] = [
            (.brokerRegistration, 62, "BrokerRegistration"), (.brokerHeartbeat, 63, "BrokerHeartbeat"),
            (.envelope, 58, "Envelope"),
        ]
        for (key, raw, name) in keys {
            XCTAssertEqual(key.rawValue, raw)
            XCTAssertEqual(key.name, name)
            XCTAssertFalse(ApiKey.supported.contains { $0.key == key }, name)
        }
        XCTAssertEqual(DescribeClusterRequest.apiKey, .describeCluster)
        XCTAssertEqual(DescribeQuorumRequest.apiKey, .describeQuorum)
        XCTAssertEqual(BrokerRegistrationRequest.apiKey, .brokerRegistration)
        XCTAssertEqual(BrokerHeartbeatRequest.apiKey, .brokerHeartbeat)
        XCTAssertEqual(AlterPartitionRequest.apiKey, .alterPartition)
    }

    func testErrorCodeTable() {
        // number, name, retriable — the table in docs/protocol.md.
        let table: [(ErrorCode, Int16, String, Bool)] = [
            (.unknownServerError, -1, "UNKNOWN_SERVER_ERROR", false), (.none, 0, "NONE", false),
            (.offsetOutOfRange, 1, "OFFSET_OUT_OF_RANGE", false), (.corruptMessage, 2, "CORRUPT_MESSAGE", true),
            (.unknownTopicOrPartition, 3, "UNKNOWN_TOPIC_OR_PARTITION", true),
            (.leaderNotAvailable, 5, "LEADER_NOT_AVAILABLE", true),
            (.notLeaderOrFollower, 6, "NOT_LEADER_OR_FOLLOWER", true),
            (.requestTimedOut, 7, "REQUEST_TIMED_OUT", true), (.messageTooLarge, 10, "MESSAGE_TOO_LARGE", false),
            (.invalidTopic, 17, "INVALID_TOPIC_EXCEPTION", false),
            (.recordListTooLarge, 18, "RECORD_LIST_TOO_LARGE", false),
            (.notEnoughReplicas, 19, "NOT_ENOUGH_REPLICAS", true),
            (.invalidRequiredAcks, 21, "INVALID_REQUIRED_ACKS", false),
            (.unsupportedVersion, 35, "UNSUPPORTED_VERSION", false),
            (.topicAlreadyExists, 36, "TOPIC_ALREADY_EXISTS", false),
            (.invalidPartitions, 37, "INVALID_PARTITIONS", false),
            (.invalidReplicationFactor, 38, "INVALID_REPLICATION_FACTOR", false),
            (.invalidConfig, 40, "INVALID_CONFIG", false),
            (.invalidRequest, 42, "INVALID_REQUEST", false),
            (.unsupportedForMessageFormat, 43, "UNSUPPORTED_FOR_MESSAGE_FORMAT", false),
            (.kafkaStorageError, 56, "KAFKA_STORAGE_ERROR", true),
            (.fetchSessionIdNotFound, 70, "FETCH_SESSION_ID_NOT_FOUND", false),
            (.invalidFetchSessionEpoch, 71, "INVALID_FETCH_SESSION_EPOCH", false),
            (.unsupportedCompressionType, 76, "UNSUPPORTED_COMPRESSION_TYPE", false),
            (.fencedLeaderEpoch, 74, "FENCED_LEADER_EPOCH", true), (.unknownLeaderEpoch, 75, "UNKNOWN_LEADER_EPOCH", true),
            (.invalidRecord, 87, "INVALID_RECORD", false),
            (.coordinatorLoadInProgress, 14, "COORDINATOR_LOAD_IN_PROGRESS", true),
            (.coordinatorNotAvailable, 15, "COORDINATOR_NOT_AVAILABLE", true),
            (.notCoordinator, 16, "NOT_COORDINATOR", true), (.invalidGroupId, 24, "INVALID_GROUP_ID", false),
            (.unknownMemberId, 25, "UNKNOWN_MEMBER_ID", false),
            (.invalidSessionTimeout, 26, "INVALID_SESSION_TIMEOUT", false),
            (.nonEmptyGroup, 68, "NON_EMPTY_GROUP", false), (.groupIdNotFound, 69, "GROUP_ID_NOT_FOUND", false),
            (.fencedMemberEpoch, 110, "FENCED_MEMBER_EPOCH", false),
            (.staleMemberEpoch, 113, "STALE_MEMBER_EPOCH", true),
            (.staleBrokerEpoch, 77, "STALE_BROKER_EPOCH", false),
            (.brokerIdNotRegistered, 102, "BROKER_ID_NOT_REGISTERED", false),
            (.inconsistentVoterSet, 94, "INCONSISTENT_VOTER_SET", false), (.notController, 41, "NOT_CONTROLLER", true),
            (.inconsistentClusterId, 104, "INCONSISTENT_CLUSTER_ID", false),
            (.topicAuthorizationFailed, 29, "TOPIC_AUTHORIZATION_FAILED", false),
            (.groupAuthorizationFailed, 30, "GROUP_AUTHORIZATION_FAILED", false),
            (.clusterAuthorizationFailed, 31, "CLUSTER_AUTHORIZATION_FAILED", false),
            (.conditionFailed, 1000, "CONDITION_FAILED", false),
            (.keyIndexDisabled, 1010, "KEY_INDEX_DISABLED", false),
            (.outOfOrderSequenceNumber, 45, "OUT_OF_ORDER_SEQUENCE_NUMBER", false),
            (.invalidProducerEpoch, 47, "INVALID_PRODUCER_EPOCH", false),
            (.unknownProducerId, 59, "UNKNOWN_PRODUCER_ID", false),
            (.producerFenced, 90, "PRODUCER_FENCED", false),
            (.invalidReplicaAssignment, 39, "INVALID_REPLICA_ASSIGNMENT", false),
            (.noReassignmentInProgress, 85, "NO_REASSIGNMENT_IN_PROGRESS", false),
            (.invalidUpdateVersion, 95, "INVALID_UPDATE_VERSION", false),
            (.ineligibleReplica, 107, "INELIGIBLE_REPLICA", false),
        ]
        for (code, raw, name, retriable) in table {
            XCTAssertEqual(code.rawValue, raw, name)
            XCTAssertEqual(code.name, name)
            XCTAssertEqual(code.description, name)
            XCTAssertEqual(code.isRetriable, retriable, name)
        }
        XCTAssertEqual(ErrorCode(rawValue: 999).name, "ERROR_999")
        XCTAssertFalse(ErrorCode(rawValue: 999).isRetriable)
    }

    func testResponseStatusDescription() {
        XCTAssertEqual(ResponseStatus.ok.description, "NONE")
        XCTAssertEqual(ResponseStatus(.invalidRequest, "bad").description, "INVALID_REQUEST: bad")
    }
}
