import Dispatch
import Logging
import Synchronization
import TernNet
import TernStorage
import TernTestSupport
import TernWire
import XCTest

@testable import TernBroker

/// The request router with `authorizer.enable = true`, in process: a broker on a loopback port,
/// clients over plaintext (so `User:ANONYMOUS`), ACLs proposed straight to the node's controller.
/// What the real-process AclTests do not reach: the order of put-back entries, per-resource
/// errors of every API that has them, listings, an incremental fetch whose topic lost READ, and
/// whole-request refusals.
final class AuthorizingRouterTests: XCTestCase {
    var directory: TemporaryDirectory!
    var broker: Broker!
    var connection: RawConnection!
    let anonymous = "User:ANONYMOUS"

    override func setUpWithError() throws {
        directory = TemporaryDirectory("tern-authz-router")
        let config = try BrokerConfig.load(
            file: nil,
            overrides: [
                "log.dirs=\(directory.path)/data", "listeners=PLAINTEXT://127.0.0.1:0", "authorizer.enable=true",
            ])
        broker = try Broker(config: config, logger: Logger(label: "test"))
        try broker.start()
        for topic in ["a", "b", "c"] { _ = try broker.createTopic(name: topic, partitions: 1, configs: [:]) }
        connection = try RawConnection(port: try XCTUnwrap(broker.boundPorts.first))
    }

    override func tearDownWithError() throws {
        try broker?.shutdown()
        directory?.remove()
    }

    // MARK: Helpers

    private func binding(
        _ operation: AclOperation, _ type: AclResourceType, _ name: String, _ permission: AclPermission = .allow
    ) -> AclBinding {
        AclBinding(
            resourceType: type, resourceName: name, principal: anonymous, operation: operation, permission: permission)
    }

    /// Proposes `bindings` through the node's active controller and waits for the commit.
    private func grant(_ bindings: [AclBinding]) throws {
        let controller = broker.cluster.controller
        let result = Mutex<CreateAclsResponse?>(nil)
        let done = DispatchSemaphore(value: 0)
        controller.queue.async {
            controller.createAcls(CreateAclsRequest(creations: bindings)) { answer, _ in
                result.withLock { $0 = answer }
                done.signal()
            }
        }
        XCTAssertEqual(done.wait(timeout: .now() + 20), .success)
        let response = try XCTUnwrap(result.withLock { $0 })
        XCTAssertEqual(response.results.map(\.errorCode), bindings.map { _ in ErrorCode.none })
    }

    private func revoke(_ bindings: [AclBinding]) throws {
        let controller = broker.cluster.controller
        let done = DispatchSemaphore(value: 0)
        controller.queue.async {
            controller.deleteAcls(DeleteAclsRequest(filters: bindings.map(AclBindingFilter.init(exactly:)))) { _, _ in
                done.signal()
            }
        }
        XCTAssertEqual(done.wait(timeout: .now() + 20), .success)
    }

    private func send<R: WireRequest>(_ request: R) throws -> R.Response {
        let (status, response) = try connection.roundTrip(request)
        XCTAssertEqual(status.errorCode, ErrorCode.none, status.errorMessage ?? "")
        return try XCTUnwrap(response)
    }

    private func status<R: WireRequest>(_ request: R) throws -> ErrorCode {
        try connection.roundTrip(request).status.errorCode
    }

    // MARK: Tests

    func testDeniedEntriesComeBackInRequestOrderWithTheirResourcesError() throws {
        try grant([
            binding(.write, .topic, "b"), binding(.describe, .topic, "b"), binding(.describeConfigs, .topic, "c"),
        ])
        let produce = try send(
            ProduceRequest(
                acks: 1, timeoutMs: 5000,
                topics: ["a", "b", "c"].map {
                    .init(name: $0, partitions: [.init(partition: 0, records: makeBatch(count: 1))])
                }))
        XCTAssertEqual(produce.topics.map(\.name), ["a", "b", "c"])
        XCTAssertEqual(
            produce.topics.map { $0.partitions[0].errorCode },
            [.topicAuthorizationFailed, .none, .topicAuthorizationFailed])
        XCTAssertEqual(
            produce.topics[0].partitions[0].errorMessage, "User:ANONYMOUS is not authorized to WRITE topic a")
        // Nothing reached the denied logs.
        XCTAssertEqual(broker.logManager.log(for: TopicPartition("a", 0))?.logEndOffset, 0)
        XCTAssertEqual(broker.logManager.log(for: TopicPartition("b", 0))?.logEndOffset, 1)

        let offsets = try send(
            ListOffsetsRequest(
                topics: ["c", "b", "a"].map {
                    .init(name: $0, partitions: [.init(partition: 0, timestamp: ListOffsetsRequest.latest)])
                }))
        XCTAssertEqual(offsets.topics.map(\.name), ["c", "b", "a"])
        XCTAssertEqual(
            offsets.topics.map { $0.partitions[0].errorCode },
            [.topicAuthorizationFailed, .none, .topicAuthorizationFailed])
        XCTAssertEqual(offsets.topics[1].partitions[0].offset, 1)

        let configs = try send(
            DescribeConfigsRequest(resources: [
                .init(type: .topic, name: "a"), .init(type: .broker, name: "0"), .init(type: .topic, name: "c"),
            ]))
        XCTAssertEqual(configs.resources.map(\.name), ["a", "0", "c"])
        XCTAssertEqual(
            configs.resources.map(\.errorCode), [.topicAuthorizationFailed, .clusterAuthorizationFailed, .none])
        XCTAssertTrue(configs.resources[0].entries.isEmpty)
        XCTAssertFalse(configs.resources[2].entries.isEmpty)
    }

    func testAnIncrementalFetchLosesATopicWhoseReadWasRevoked() throws {
        try grant([binding(.read, .topic, "a"), binding(.read, .topic, "b"), binding(.write, .topic, "b")])
        _ = try send(
            ProduceRequest(
                acks: 1, timeoutMs: 5000,
                topics: [.init(name: "b", partitions: [.init(partition: 0, records: makeBatch(count: 2))])]))
        let full = try send(
            FetchRequest(
                maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20,
                topics: ["a", "b"].map {
                    .init(name: $0, partitions: [.init(partition: 0, fetchOffset: 0, maxBytes: 1 << 20)])
                },
                sessionId: 0, sessionEpoch: FetchRequest.initialEpoch, version: 1))
        XCTAssertNotEqual(full.sessionId, 0)
        XCTAssertEqual(full.topics.flatMap { $0.partitions.map(\.errorCode) }, [.none, .none])
        try revoke([binding(.read, .topic, "b")])
        // The incremental request names nothing: the session's topics are checked all the same.
        let incremental = try send(
            FetchRequest(
                maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20, topics: [], sessionId: full.sessionId, sessionEpoch: 1,
                version: 1))
        let b = try XCTUnwrap(incremental.topics.first { $0.name == "b" })
        XCTAssertEqual(b.partitions.first?.errorCode, .topicAuthorizationFailed)
        XCTAssertEqual(b.partitions.first?.records, [])
    }

    func testGroupsAreCheckedOneByOneAndListedOnlyWhenDescribable() throws {
        try grant([
            binding(.read, .group, "g1"), binding(.read, .group, "g2"), binding(.read, .topic, "a"),
            binding(.delete, .group, "g2"),
        ])
        _ = try send(FindCoordinatorRequest(key: "g1"))
        for group in ["g1", "g2"] {
            let commit = try send(
                OffsetCommitRequest(
                    groupId: group, memberId: "", memberEpoch: OffsetCommitRequest.noMemberEpoch,
                    topics: [.init(name: "a", partitions: [.init(partition: 0, offset: 0)])]))
            XCTAssertEqual(commit.topics.first?.partitions.first?.errorCode, ErrorCode.none)
        }
        try revoke([binding(.read, .group, "g1")])
        let listed = try send(ListGroupsRequest())
        XCTAssertEqual(listed.groups.map(\.groupId), ["g2"], "g1 may no longer be described")
        let described = try send(DescribeGroupsRequest(groupIds: ["g1", "g2"]))
        XCTAssertEqual(described.groups.map(\.groupId), ["g1", "g2"])
        XCTAssertEqual(described.groups.map(\.errorCode), [.groupAuthorizationFailed, .none])
        let deleted = try send(DeleteGroupsRequest(groupIds: ["g1", "g2"]))
        XCTAssertEqual(deleted.results.map(\.groupId), ["g1", "g2"])
        XCTAssertEqual(deleted.results.first?.errorCode, .groupAuthorizationFailed)
        XCTAssertTrue(
            broker.groupCoordinator.read { $0.list() }.groups.contains { $0.groupId == "g1" }, "g1 must survive")
        // OffsetFetch of every topic lists only describable ones.
        try grant([binding(.read, .group, "g1")])
        let fetched = try send(OffsetFetchRequest(groupId: "g1", topics: []))
        XCTAssertEqual(fetched.topics.map(\.name), ["a"])
        try revoke([binding(.read, .topic, "a")])
        let hidden = try send(OffsetFetchRequest(groupId: "g1", topics: []))
        XCTAssertEqual(hidden.topics.map(\.name), [])
    }

    func testWholeRequestRefusalsAnswerTheStatus() throws {
        XCTAssertEqual(
            try status(FetchKeyRequest(topic: "a", partition: 0, key: Array("k".utf8), fetchOffset: 0, maxBytes: 1024)),
            .topicAuthorizationFailed)
        XCTAssertEqual(try status(DescribeLogDirsRequest()), .clusterAuthorizationFailed)
        XCTAssertEqual(try status(DescribeQuorumRequest()), .clusterAuthorizationFailed)
        XCTAssertEqual(try status(DescribeAclsRequest()), .clusterAuthorizationFailed)
        XCTAssertEqual(
            try status(CreateAclsRequest(creations: [binding(.all, .topic, "*")])), .clusterAuthorizationFailed)
        XCTAssertEqual(broker.cluster.image.acls, [], "a refused CreateAcls adds nothing")
        // SCRAM users: DESCRIBE / ALTER on the cluster, checked before anything reaches the
        // controller (a principal without ACLs must not set anyone's password).
        XCTAssertEqual(try status(DescribeUserScramCredentialsRequest(users: nil)), .clusterAuthorizationFailed)
        XCTAssertEqual(
            try status(
                AlterUserScramCredentialsRequest(upsertions: [
                    .init(user: "mallory", mechanism: .sha256, password: "pw", iterations: 4096)
                ])), .clusterAuthorizationFailed)
        XCTAssertNil(broker.cluster.image.scramCredentials["mallory"], "a refused change adds no user")
        XCTAssertEqual(
            try status(
                ResetGroupOffsetsRequest(
                    groupId: "g", topic: "a", partitions: [], strategy: .earliest, value: 0, dryRun: false)),
            .groupAuthorizationFailed)
        // A follower's fetch needs CLUSTER_ACTION.
        XCTAssertEqual(
            try status(
                FetchRequest(
                    replicaId: 1, maxWaitMs: 0, minBytes: 0, maxBytes: 1024,
                    topics: [.init(name: "a", partitions: [.init(partition: 0, fetchOffset: 0, maxBytes: 1024)])])),
            .topicAuthorizationFailed)
        // ApiVersions needs nothing.
        XCTAssertFalse(try send(ApiVersionsRequest()).apis.isEmpty)
        // DESCRIBE on the cluster opens the describing APIs.
        try grant([binding(.describe, .cluster, AclBinding.clusterResourceName)])
        XCTAssertEqual(try status(DescribeLogDirsRequest()), ErrorCode.none)
        XCTAssertEqual(try send(DescribeAclsRequest()).bindings.count, 1)
    }

    /// Until the broker's image has caught up with the committed log once, only super users are
    /// allowed, even with allow.everyone.if.no.acl.found: the image may still lack a DENY.
    func testRequestsAreDecidedClosedUntilTheImageCaughtUp() {
        let authorization = BrokerAuthorization(
            configuration: AuthorizerConfiguration(
                enabled: true, superUsers: ["User:admin"], allowEveryoneIfNoAclFound: true),
            logger: Logger(label: "test"))
        var caughtUp = false
        func allowed(_ principal: String) -> Bool {
            authorization.access(principal: principal, host: "h", api: .produce, isCaughtUp: { caughtUp })?
                .allows(.write, .topic("t")) ?? false
        }
        XCTAssertFalse(allowed("User:app"))
        XCTAssertTrue(allowed("User:admin"))
        caughtUp = true
        XCTAssertTrue(allowed("User:app"), "no ACL names t and allow.everyone.if.no.acl.found = true")
        caughtUp = false
        XCTAssertTrue(allowed("User:app"), "caught up once is enough: a later fencing does not close it")
        let off = BrokerAuthorization(configuration: AuthorizerConfiguration(), logger: Logger(label: "test"))
        XCTAssertNil(off.access(principal: "User:app", host: "h", api: .produce, isCaughtUp: { true }))
    }

    /// The authorizer is rebuilt from each committed image whose ACLs changed, and only then.
    func testTheAuthorizerFollowsTheCommittedAcls() throws {
        XCTAssertEqual(broker.authorization.authorizer.aclCount, 0)
        try grant([binding(.read, .topic, "a"), binding(.read, .topic, "b")])
        XCTAssertEqual(broker.authorization.authorizer.aclCount, 2)
        try revoke([binding(.read, .topic, "a")])
        XCTAssertEqual(broker.authorization.authorizer.aclCount, 1)
    }
}
