import Dispatch
import Logging
import Synchronization
import TernWire
import XCTest

@testable import TernBroker

/// Which operations on which resources each API needs and what a denial answers (Kafka's
/// `KafkaApis` choices), and the rate-limited denial log.
final class RequestAuthorizationTests: XCTestCase {
    typealias Check = AuthorizationCheck

    static func topicChecks(_ names: [String], _ operation: AclOperation) -> [Check] {
        names.map { Check(operation, .topic($0), .topicAuthorizationFailed, .resource) }
    }

    static let clusterDescribe = [Check(.describe, .cluster, .clusterAuthorizationFailed, .request)]

    /// One sample per API the broker or the controller serves, with its expected requirements.
    static let table: [(AuthorizableRequest, RequiredAuthorization)] =
        [
            (
                .produce(
                    ProduceRequest(
                        acks: 1, timeoutMs: 1000,
                        topics: [
                            .init(name: "a", partitions: [.init(partition: 0, records: [])]),
                            .init(name: "b", partitions: []), .init(name: "a", partitions: []),
                        ])),
                RequiredAuthorization(checks: topicChecks(["a", "b"], .write))
            ),
            (
                .fetch(
                    FetchRequest(
                        maxWaitMs: 0, minBytes: 0, maxBytes: 1,
                        topics: [.init(name: "a", partitions: []), .init(name: "b", partitions: [])])),
                RequiredAuthorization(checks: topicChecks(["a", "b"], .read))
            ),
            (
                .fetch(FetchRequest(replicaId: 2, maxWaitMs: 0, minBytes: 0, maxBytes: 1, topics: [])),
                RequiredAuthorization(checks: [Check(.clusterAction, .cluster, .topicAuthorizationFailed, .request)])
            ),
            (
                .listOffsets(ListOffsetsRequest(topics: [.init(name: "a", partitions: [])])),
                RequiredAuthorization(checks: topicChecks(["a"], .describe))
            ),
            (
                .offsetForLeaderEpoch(OffsetForLeaderEpochRequest(topics: [.init(name: "a", partitions: [])])),
                RequiredAuthorization(checks: topicChecks(["a"], .describe))
            ),
            (
                .offsetForLeaderEpoch(OffsetForLeaderEpochRequest(replicaId: 2, topics: [])),
                RequiredAuthorization(checks: [Check(.clusterAction, .cluster, .topicAuthorizationFailed, .request)])
            ),
            (.metadata(MetadataRequest(topics: nil)), RequiredAuthorization(listing: ListingFilter(.describe, .topic))),
            (
                .metadata(MetadataRequest(topics: ["a", "b"], allowAutoTopicCreation: true)),
                RequiredAuthorization(checks: topicChecks(["a", "b"], .describe))
            ),
            (.apiVersions, .none),
            (
                .createTopics(CreateTopicsRequest(topics: [.init(name: "n", numPartitions: 1)])),
                RequiredAuthorization(checks: [
                    Check(
                        anyOf: [.init(.create, .topic("n")), .init(.create, .cluster)], .topicAuthorizationFailed,
                        .resource)
                ])
            ),
            (
                .deleteTopics(DeleteTopicsRequest(names: ["a"])),
                RequiredAuthorization(checks: topicChecks(["a"], .delete))
            ),
            (
                .describeConfigs(
                    DescribeConfigsRequest(resources: [.init(type: .topic, name: "a"), .init(type: .broker, name: "0")])
                ),
                RequiredAuthorization(checks: [
                    Check(.describeConfigs, .topic("a"), .topicAuthorizationFailed, .resource),
                    Check(.describeConfigs, .cluster, .clusterAuthorizationFailed, .resource),
                ])
            ),
            (
                .alterConfigs(
                    AlterConfigsRequest(resources: [
                        .init(type: .broker, name: "", entries: []), .init(type: .topic, name: "a", entries: []),
                    ])),
                RequiredAuthorization(checks: [
                    Check(.alterConfigs, .cluster, .clusterAuthorizationFailed, .resource),
                    Check(.alterConfigs, .topic("a"), .topicAuthorizationFailed, .resource),
                ])
            ),
            (
                .findCoordinator(FindCoordinatorRequest(key: "g")),
                RequiredAuthorization(checks: [Check(.describe, .group("g"), .groupAuthorizationFailed, .request)])
            ),
            (
                .consumerGroupHeartbeat(
                    ConsumerGroupHeartbeatRequest(
                        groupId: "g", memberId: "", memberEpoch: 0, subscribedTopics: ["a", "b"], ownedPartitions: [])),
                RequiredAuthorization(checks: [
                    Check(.read, .group("g"), .groupAuthorizationFailed, .request),
                    Check(.describe, .topic("a"), .topicAuthorizationFailed, .request),
                    Check(.describe, .topic("b"), .topicAuthorizationFailed, .request),
                ])
            ),
            (
                .offsetCommit(
                    OffsetCommitRequest(
                        groupId: "g", memberId: "m", memberEpoch: 1, topics: [.init(name: "a", partitions: [])])),
                RequiredAuthorization(
                    checks: [Check(.read, .group("g"), .groupAuthorizationFailed, .request)] + topicChecks(["a"], .read)
                )
            ),
            (
                .offsetFetch(OffsetFetchRequest(groupId: "g", topics: [.init(name: "a", partitions: [0])])),
                RequiredAuthorization(
                    checks: [Check(.describe, .group("g"), .groupAuthorizationFailed, .request)]
                        + topicChecks(["a"], .describe))
            ),
            (
                .offsetFetch(OffsetFetchRequest(groupId: "g", topics: [])),
                RequiredAuthorization(
                    checks: [Check(.describe, .group("g"), .groupAuthorizationFailed, .request)],
                    listing: ListingFilter(.describe, .topic))
            ),
            (
                .listGroups,
                RequiredAuthorization(
                    listing: ListingFilter(.describe, .group, unlessAllowed: .init(.describe, .cluster)))
            ),
            (
                .describeGroups(DescribeGroupsRequest(groupIds: ["g", "h"])),
                RequiredAuthorization(checks: [
                    Check(.describe, .group("g"), .groupAuthorizationFailed, .resource),
                    Check(.describe, .group("h"), .groupAuthorizationFailed, .resource),
                ])
            ),
            (
                .deleteGroups(DeleteGroupsRequest(groupIds: ["g"])),
                RequiredAuthorization(checks: [Check(.delete, .group("g"), .groupAuthorizationFailed, .resource)])
            ),
            (
                .resetGroupOffsets(ResetGroupOffsetsRequest(groupId: "g", topic: "a", strategy: .earliest)),
                RequiredAuthorization(checks: [
                    Check(.read, .group("g"), .groupAuthorizationFailed, .request),
                    Check(.read, .topic("a"), .topicAuthorizationFailed, .request),
                ])
            ),
            (.describeLogDirs(DescribeLogDirsRequest()), RequiredAuthorization(checks: clusterDescribe)),
            (
                .fetchKey(FetchKeyRequest(topic: "a", partition: 0, key: [1], fetchOffset: 0, maxBytes: 1)),
                RequiredAuthorization(checks: [Check(.read, .topic("a"), .topicAuthorizationFailed, .request)])
            ),
            (.describeCluster, RequiredAuthorization(checks: clusterDescribe)),
            (.describeQuorum, RequiredAuthorization(checks: clusterDescribe)),
            (.initProducerId(InitProducerIdRequest()), RequiredAuthorization.none),
            (.describeAcls(DescribeAclsRequest()), RequiredAuthorization(checks: clusterDescribe)),
            (
                .createAcls(CreateAclsRequest(creations: [])),
                RequiredAuthorization(checks: [Check(.alter, .cluster, .clusterAuthorizationFailed, .request)])
            ),
            (
                .deleteAcls(DeleteAclsRequest(filters: [])),
                RequiredAuthorization(checks: [Check(.alter, .cluster, .clusterAuthorizationFailed, .request)])
            ),
            (.sasl(.saslHandshake), RequiredAuthorization()),
            (.sasl(.saslAuthenticate), RequiredAuthorization()),
            (
                .describeUserScramCredentials,
                RequiredAuthorization(checks: [Check(.describe, .cluster, .clusterAuthorizationFailed, .request)])
            ),
            (
                .alterUserScramCredentials,
                RequiredAuthorization(checks: [Check(.alter, .cluster, .clusterAuthorizationFailed, .request)])
            ),
            (
                .electLeaders,
                RequiredAuthorization(checks: [Check(.alter, .cluster, .clusterAuthorizationFailed, .request)])
            ),
            (
                .alterPartitionReassignments,
                RequiredAuthorization(checks: [Check(.alter, .cluster, .clusterAuthorizationFailed, .request)])
            ),
            (.listPartitionReassignments, RequiredAuthorization(checks: clusterDescribe)),
            (
                .describeReplicaLag(
                    DescribeReplicaLagRequest(topics: [
                        .init(name: "a", partitions: [0]), .init(name: "b", partitions: []),
                        .init(name: "a", partitions: [1]),
                    ])),
                RequiredAuthorization(checks: [
                    Check(.describe, .topic("a"), .topicAuthorizationFailed, .request),
                    Check(.describe, .topic("b"), .topicAuthorizationFailed, .request),
                ])
            ),
        ]
        + [
            ApiKey.brokerRegistration, .brokerHeartbeat, .allocateProducerIds, .envelope, .vote, .beginQuorumEpoch,
            .quorumFetch, .alterPartition,
        ].map {
            (
                AuthorizableRequest.interBroker($0),
                RequiredAuthorization(checks: [Check(.clusterAction, .cluster, .clusterAuthorizationFailed, .request)])
            )
        }

    func testEveryApiMapsAsKafkaDoes() {
        for (request, expected) in Self.table {
            XCTAssertEqual(RequestAuthorization.required(for: request), expected, "\(request.apiKey)")
        }
    }

    /// Every API the broker advertises, and every cluster API, has a row above.
    func testEveryServedApiIsCovered() {
        let covered = Set(Self.table.map(\.0.apiKey))
        for (key, _, _) in ApiKey.supported { XCTAssertTrue(covered.contains(key), "\(key) has no mapping test") }
        for key in [ApiKey.describeCluster, .describeQuorum, .createAcls, .deleteAcls, .describeAcls, .envelope] {
            XCTAssertTrue(covered.contains(key), "\(key)")
        }
    }

    /// The mapping and the authorizer together: a consumer with READ on its topic and group gets
    /// through every check of its requests; a producer without WRITE gets the topic's error.
    func testChecksAgainstAnAuthorizer() {
        let authorizer = Authorizer(
            acls: [
                AclBinding(resourceType: .topic, resourceName: "orders", principal: "User:app", operation: .read),
                AclBinding(
                    resourceType: .group, resourceName: "app-", patternType: .prefixed, principal: "User:app",
                    operation: .read),
                AclBinding(
                    resourceType: .topic, resourceName: "new-", patternType: .prefixed, principal: "User:app",
                    operation: .create),
            ], configuration: .init(enabled: true))
        func failures(_ request: AuthorizableRequest) -> [ErrorCode] {
            RequestAuthorization.required(for: request).checks.filter {
                !authorizer.evaluate($0, principal: "User:app", host: "h").isAllowed
            }.map(\.errorCode)
        }
        XCTAssertEqual(
            failures(
                .fetch(
                    FetchRequest(
                        maxWaitMs: 0, minBytes: 0, maxBytes: 1, topics: [.init(name: "orders", partitions: [])]))),
            [])
        XCTAssertEqual(
            failures(
                .offsetCommit(
                    OffsetCommitRequest(
                        groupId: "app-1", memberId: "m", memberEpoch: 1, topics: [.init(name: "orders", partitions: [])]
                    ))),
            [])
        XCTAssertEqual(
            failures(
                .offsetFetch(OffsetFetchRequest(groupId: "app-1", topics: [.init(name: "orders", partitions: [0])]))),
            [])
        XCTAssertEqual(failures(.findCoordinator(FindCoordinatorRequest(key: "app-1"))), [])
        XCTAssertEqual(failures(.findCoordinator(FindCoordinatorRequest(key: "other"))), [.groupAuthorizationFailed])
        XCTAssertEqual(
            failures(.produce(ProduceRequest(acks: 1, timeoutMs: 1, topics: [.init(name: "orders", partitions: [])]))),
            [.topicAuthorizationFailed])
        // CREATE on the topic prefix is enough without CREATE on the cluster.
        XCTAssertEqual(
            failures(.createTopics(CreateTopicsRequest(topics: [.init(name: "new-1", numPartitions: 1)]))), [])
        XCTAssertEqual(
            failures(.createTopics(CreateTopicsRequest(topics: [.init(name: "old", numPartitions: 1)]))),
            [.topicAuthorizationFailed])
        XCTAssertTrue(
            authorizer.evaluate(RequestAuthorization.autoCreateCheck(topic: "new-x"), principal: "User:app", host: "h")
                .isAllowed)
        XCTAssertEqual(failures(.describeCluster), [.clusterAuthorizationFailed])
        // Listings keep only what the principal may describe; DESCRIBE on the cluster lists every group.
        let metadata = RequestAuthorization.required(for: .metadata(MetadataRequest(topics: nil))).listing!
        XCTAssertEqual(
            ["orders", "secret", "new-1"].filter {
                authorizer.keeps($0, in: metadata, principal: "User:app", host: "h")
            },
            ["orders"])
        let groups = RequestAuthorization.required(for: .listGroups).listing!
        XCTAssertEqual(
            ["app-1", "other"].filter { authorizer.keeps($0, in: groups, principal: "User:app", host: "h") }, ["app-1"])
        let admin = Authorizer(
            acls: [
                AclBinding(
                    resourceType: .cluster, resourceName: "kafka-cluster", principal: "User:ops", operation: .describe)
            ],
            configuration: .init(enabled: true))
        XCTAssertEqual(
            ["app-1", "other"].filter { admin.keeps($0, in: groups, principal: "User:ops", host: "h") },
            ["app-1", "other"])
    }

    func testDenialsAreLoggedAtABoundedRate() {
        let captured = CapturedLines()
        let logger = Logger(label: "acl") { _ in CapturingLogHandler(captured: captured) }
        let denials = AuthorizationDenialLogger(logger: logger, burst: 3, perSecond: 1)
        let start = DispatchTime.now().uptimeNanoseconds
        var written: [Bool] = []
        for i in 0..<10 {
            written.append(
                denials.denied(
                    principal: "User:eve", host: "10.0.0.9", operation: .write, resource: .topic("t\(i)"),
                    decision: .denied(.noAllowAcl), api: .produce, now: start))
        }
        XCTAssertEqual(written, [true, true, true] + Array(repeating: false, count: 7))
        // One second later one more line, saying seven were dropped.
        XCTAssertTrue(
            denials.denied(
                principal: "User:eve", host: "10.0.0.9", operation: .read, resource: .group("g"),
                decision: .denied(.denyAcl), api: .offsetCommit, now: start + 1_000_000_000))
        let lines = captured.lines.withLock { $0 }
        XCTAssertEqual(lines.count, 4)
        XCTAssertEqual(lines[0]["tern_principal"], "User:eve")
        XCTAssertEqual(lines[0]["tern_host"], "10.0.0.9")
        XCTAssertEqual(lines[0]["tern_operation"], "WRITE")
        XCTAssertEqual(lines[0]["tern_resource"], "topic t0")
        XCTAssertEqual(lines[0]["tern_api"], "Produce")
        XCTAssertNil(lines[0]["tern_suppressed"])
        XCTAssertEqual(lines[3]["tern_resource"], "group g")
        XCTAssertEqual(lines[3]["tern_reason"], "denied (DENY ACL)")
        XCTAssertEqual(lines[3]["tern_suppressed"], "7")
    }

    /// One principal denied the same thing in a loop gets one line a second, and leaves the
    /// broker-wide budget to others.
    func testOnePrincipalAndResourceGetsOneLineASecond() {
        let captured = CapturedLines()
        let logger = Logger(label: "acl") { _ in CapturingLogHandler(captured: captured) }
        let denials = AuthorizationDenialLogger(logger: logger, burst: 5, perSecond: 1, maxKeys: 2)
        let start = DispatchTime.now().uptimeNanoseconds
        func deny(_ principal: String, _ topic: String, at offset: UInt64) -> Bool {
            denials.denied(
                principal: principal, host: "10.0.0.9", operation: .write, resource: .topic(topic),
                decision: .denied(.noAllowAcl), api: .produce, now: start + offset)
        }
        let looping = (0..<50).map { deny("User:eve", "t", at: UInt64($0) * 10_000_000) }
        XCTAssertEqual(looping, [true] + Array(repeating: false, count: 49), "one line in the first half second")
        XCTAssertTrue(deny("User:bob", "t", at: 600_000_000), "another principal still gets its line")
        XCTAssertTrue(deny("User:eve", "t", at: 1_000_000_000))
        let lines = captured.lines.withLock { $0 }
        XCTAssertEqual(lines.count, 3)
        XCTAssertEqual(lines[2]["tern_principal"], "User:eve")
        XCTAssertEqual(lines[2]["tern_suppressed"], "49")
        // The table holds two keys; a third, while both are recent, is not remembered: only the
        // shared bucket limits it (3.1 tokens left of 5 after 1.1 s and three lines).
        let overflow = (0..<4).map { deny("User:carol", "t", at: 1_100_000_000 + UInt64($0)) }
        XCTAssertEqual(overflow, [true, true, true, false])
    }
}

/// The metadata of every line logged through a ``CapturingLogHandler``.
private final class CapturedLines: Sendable {
    let lines = Mutex<[Logger.Metadata]>([])
}

/// Keeps each line's metadata.
private struct CapturingLogHandler: LogHandler {
    let captured: CapturedLines
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .info

    func log(event: LogEvent) {
        captured.lines.withLock { $0.append(event.metadata ?? [:]) }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
}
