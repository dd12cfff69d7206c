import Foundation
import TernClient
import TernTestSupport
import TernWire
import XCTest

/// ACLs enforced by a real `ternd` (`authorizer.enable = true`): clients are told apart by their
/// TLS client certificates (made by `openssl`; `ssl.client.auth = required`, so the principal is
/// `User:CN=<name>`), `User:CN=admin` is the super user. Every denial is checked twice: the
/// error code the client gets, and that nothing was written, created, deleted or changed.
final class AclTests: XCTestCase {
    var directory: TemporaryDirectory!
    var certificates: TestCertificates!
    var admin: TestCertificates.Identity!
    var alice: TestCertificates.Identity!
    static let alicePrincipal = "User:CN=alice"

    override func setUpWithError() throws {
        directory = TemporaryDirectory("tern-acl-it")
        certificates = try TestCertificates()
        admin = try certificates.issueClient(commonName: "admin")
        alice = try certificates.issueClient(commonName: "alice")
    }

    override func tearDown() {
        certificates?.directory.remove()
        directory.remove()
    }

    // MARK: Helpers

    /// A broker with an mTLS listener (and a plaintext one at `plaintextPort`).
    private func startBroker(
        authorizer: Bool = true, plaintextPort: Int? = nil, settings extra: [String: String] = [:]
    ) throws -> BrokerProcess {
        let port = freeLoopbackPort()
        var listeners = "SSL://127.0.0.1:\(port)"
        if let plaintextPort { listeners += ",PLAINTEXT://127.0.0.1:\(plaintextPort)" }
        var settings = [
            "listeners": listeners, "ssl.certificate.location": certificates.server.certificate,
            "ssl.key.location": certificates.server.key, "ssl.ca.location": certificates.ca,
            "ssl.client.auth": "required",
        ]
        if authorizer {
            settings["authorizer.enable"] = "true"
            settings["super.users"] = "User:CN=admin"
        }
        settings.merge(extra) { _, new in new }
        return try BrokerProcess(dataDirectory: directory.path + "/data-\(port)", port: port, settings: settings)
    }

    private func connect(_ identity: TestCertificates.Identity, _ broker: BrokerProcess) async throws -> TernClient {
        var configuration = ClientConfiguration(bootstrap: ["localhost:\(broker.port)"], requestTimeout: .seconds(20))
        configuration.tls = ClientTLS(
            caLocation: certificates.ca, certificateLocation: identity.certificate, keyLocation: identity.key)
        return try await TernClient(configuration: configuration)
    }

    /// The top-level error a request is refused with (nil when it is answered).
    private func refusal<R: WireRequest>(_ client: TernClient, _ request: R) async -> ErrorCode? {
        do {
            _ = try await client.sendToAnyBroker(request)
            return nil
        } catch let error as TernError {
            return error.brokerError
        } catch {
            return .unknownServerError
        }
    }

    private func allow(
        _ client: TernClient, _ operation: AclOperation, _ type: AclResourceType, _ name: String,
        pattern: AclPatternType = .literal, permission: AclPermission = .allow, principal: String = alicePrincipal
    ) async throws {
        try await client.admin.createAcls([
            AclBinding(
                resourceType: type, resourceName: name, patternType: pattern, principal: principal,
                operation: operation, permission: permission)
        ])
    }

    private func produce(_ client: TernClient, _ topics: [String]) async throws -> [String: ErrorCode] {
        let response = try await client.sendToAnyBroker(
            ProduceRequest(
                acks: 1, timeoutMs: 5000,
                topics: topics.map { .init(name: $0, partitions: [.init(partition: 0, records: makeBatch(count: 2))]) })
        )
        var codes: [String: ErrorCode] = [:]
        for topic in response.topics { codes[topic.name] = topic.partitions.first?.errorCode }
        return codes
    }

    private func endOffset(_ client: TernClient, _ topic: String) async throws -> Int64 {
        let response = try await client.sendToAnyBroker(
            ListOffsetsRequest(
                topics: [.init(name: topic, partitions: [.init(partition: 0, timestamp: ListOffsetsRequest.latest)])]))
        return try XCTUnwrap(response.topics.first?.partitions.first?.offset)
    }

    // MARK: Tests

    func testProduceNeedsWriteAndFetchNeedsReadPerTopic() async throws {
        let broker = try startBroker()
        defer { broker.stop() }
        let root = try await connect(admin, broker)
        let user = try await connect(alice, broker)
        for topic in ["orders", "payments"] { try await root.admin.createTopic(name: topic, partitions: 1) }

        // No ACL: both topics refused, nothing written.
        var codes = try await produce(user, ["orders", "payments"])
        XCTAssertEqual(codes, ["orders": .topicAuthorizationFailed, "payments": .topicAuthorizationFailed])
        let ordersEnd = try await endOffset(root, "orders")
        XCTAssertEqual(ordersEnd, 0)

        // WRITE on orders: orders served, payments still refused in the same request.
        try await allow(root, .write, .topic, "orders")
        codes = try await produce(user, ["payments", "orders"])
        XCTAssertEqual(codes, ["orders": ErrorCode.none, "payments": .topicAuthorizationFailed])
        let ends = (try await endOffset(root, "orders"), try await endOffset(root, "payments"))
        XCTAssertEqual(ends.0, 2)
        XCTAssertEqual(ends.1, 0, "a denied topic must get no records")

        // Fetch: READ on orders only.
        let fetch = FetchRequest(
            maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20,
            topics: ["orders", "payments"].map {
                .init(name: $0, partitions: [.init(partition: 0, fetchOffset: 0, maxBytes: 1 << 20)])
            })
        var fetched = try await user.sendToAnyBroker(fetch)
        XCTAssertEqual(fetched.topics.map(\.name), ["orders", "payments"])
        XCTAssertEqual(
            fetched.topics.map { $0.partitions[0].errorCode }, [.topicAuthorizationFailed, .topicAuthorizationFailed])
        XCTAssertTrue(
            fetched.topics.allSatisfy { $0.partitions[0].records.isEmpty }, "a denied fetch must carry no records")
        try await allow(root, .read, .topic, "orders")
        fetched = try await user.sendToAnyBroker(fetch)
        XCTAssertEqual(fetched.topics.map { $0.partitions[0].errorCode }, [ErrorCode.none, .topicAuthorizationFailed])
        var records: [Record] = []
        try RecordBatchDecoder.decode(fetched.topics[0].partitions[0].records, into: &records)
        XCTAssertEqual(records.count, 2)

        // The denials are logged with principal, operation and resource, and counted.
        XCTAssertTrue(broker.log.contains("authorization denied: User:CN=alice"), broker.log)
        XCTAssertTrue(broker.log.contains("may not WRITE topic payments"), broker.log)
        let metrics = try httpGet(port: try XCTUnwrap(broker.adminPort), "/metrics")
        XCTAssertTrue(metrics.text.contains("tern_authorization_denied_total{resource_type=\"topic\"}"), metrics.text)
        await user.close()
        await root.close()
    }

    func testGroupJoinAndOffsetCommitNeedReadOnTheGroupAndTopics() async throws {
        let broker = try startBroker()
        defer { broker.stop() }
        let root = try await connect(admin, broker)
        let user = try await connect(alice, broker)
        for topic in ["orders", "payments"] { try await root.admin.createTopic(name: topic, partitions: 1) }
        try await allow(root, .read, .topic, "orders")
        let commit = OffsetCommitRequest(
            groupId: "app", memberId: "", memberEpoch: OffsetCommitRequest.noMemberEpoch,
            topics: ["orders", "payments"].map { .init(name: $0, partitions: [.init(partition: 0, offset: 1)]) })
        let committed = { () async throws -> [String: Int64] in
            let response = try await root.sendToAnyBroker(
                OffsetFetchRequest(
                    groupId: "app",
                    topics: [.init(name: "orders", partitions: [0]), .init(name: "payments", partitions: [0])]))
            var offsets: [String: Int64] = [:]
            for topic in response.topics { offsets[topic.name] = topic.partitions.first?.offset }
            return offsets
        }

        // No READ on the group: the whole commit is refused, nothing committed.
        let refusedCommit = await refusal(user, commit)
        XCTAssertEqual(refusedCommit, .groupAuthorizationFailed)
        let join = ConsumerGroupHeartbeatRequest(
            groupId: "app", memberId: "", memberEpoch: 0, subscribedTopics: ["orders"], ownedPartitions: [])
        let refusedJoin = await refusal(user, join)
        XCTAssertEqual(refusedJoin, .groupAuthorizationFailed)
        let refusedFind = await refusal(user, FindCoordinatorRequest(key: "app"))
        XCTAssertEqual(refusedFind, .groupAuthorizationFailed)
        var offsets = try await committed()
        XCTAssertEqual(offsets["orders"], -1, "a refused commit must not commit")

        // READ on the group: orders committed, payments (no READ) refused on its own.
        try await allow(root, .read, .group, "app")
        let response = try await user.sendToAnyBroker(commit)
        XCTAssertEqual(response.topics.map(\.name), ["orders", "payments"])
        XCTAssertEqual(response.topics.map { $0.partitions[0].errorCode }, [ErrorCode.none, .topicAuthorizationFailed])
        offsets = try await committed()
        XCTAssertEqual(offsets["orders"], 1)
        XCTAssertEqual(offsets["payments"], -1, "a denied topic's offset must not be committed")

        // And the member joins.
        _ = try await user.sendToAnyBroker(FindCoordinatorRequest(key: "app"))
        let joined = try await user.sendToAnyBroker(join)
        XCTAssertEqual(joined.errorCode, ErrorCode.none)
        XCTAssertFalse(joined.memberId.isEmpty)
        // A group the principal may not read stays closed.
        var other = join
        other.groupId = "other"
        let refusedOther = await refusal(user, other)
        XCTAssertEqual(refusedOther, .groupAuthorizationFailed)
        await user.close()
        await root.close()
    }

    func testCreateDeleteAndAlterConfigsOfTopicsWithPrefixedAcls() async throws {
        let broker = try startBroker()
        defer { broker.stop() }
        let root = try await connect(admin, broker)
        let user = try await connect(alice, broker)
        let exists = { (name: String) async throws -> Bool in
            let response = try await root.sendToAnyBroker(MetadataRequest(topics: [name]))
            return response.topics.first?.errorCode == ErrorCode.none
        }
        let create = CreateTopicsRequest(topics: [
            .init(name: "team-a.events", numPartitions: 1), .init(name: "team-b.events", numPartitions: 1),
        ])
        var created = try await user.sendToAnyBroker(create)
        XCTAssertEqual(created.topics.map(\.errorCode), [.topicAuthorizationFailed, .topicAuthorizationFailed])
        var existing = (try await exists("team-a.events"), try await exists("team-b.events"))
        XCTAssertFalse(existing.0 || existing.1, "a denied creation must create nothing")

        // CREATE on the prefix team-a. (prefixed): only that topic is created.
        try await allow(root, .create, .topic, "team-a.", pattern: .prefixed)
        created = try await user.sendToAnyBroker(create)
        XCTAssertEqual(created.topics.map(\.name), ["team-a.events", "team-b.events"])
        XCTAssertEqual(created.topics.map(\.errorCode), [ErrorCode.none, .topicAuthorizationFailed])
        existing = (try await exists("team-a.events"), try await exists("team-b.events"))
        XCTAssertTrue(existing.0)
        XCTAssertFalse(existing.1)

        // AlterConfigs needs ALTER_CONFIGS: refused, the config unchanged.
        let alter = AlterConfigsRequest(
            resources: [
                .init(type: .topic, name: "team-a.events", entries: [.init(name: "retention.ms", value: "1234")])
            ])
        var altered = try await user.sendToAnyBroker(alter)
        XCTAssertEqual(altered.resources.first?.errorCode, .topicAuthorizationFailed)
        let retention = { () async throws -> String? in
            try await root.admin.describeConfigs(topic: "team-a.events").first { $0.name == "retention.ms" }?.value
        }
        var value = try await retention()
        XCTAssertNotEqual(value, "1234")
        try await allow(root, .alterConfigs, .topic, "team-a.", pattern: .prefixed)
        altered = try await user.sendToAnyBroker(alter)
        XCTAssertEqual(altered.resources.first?.errorCode, ErrorCode.none)
        value = try await retention()
        XCTAssertEqual(value, "1234")

        // DeleteTopics needs DELETE: refused, the topic still there; then allowed.
        var deleted = try await user.sendToAnyBroker(DeleteTopicsRequest(names: ["team-a.events"]))
        XCTAssertEqual(deleted.topics.first?.errorCode, .topicAuthorizationFailed)
        var stillThere = try await exists("team-a.events")
        XCTAssertTrue(stillThere, "a denied deletion must delete nothing")
        try await allow(root, .delete, .topic, "team-a.events")
        deleted = try await user.sendToAnyBroker(DeleteTopicsRequest(names: ["team-a.events"]))
        XCTAssertEqual(deleted.topics.first?.errorCode, ErrorCode.none)
        stillThere = try await exists("team-a.events")
        XCTAssertFalse(stillThere)
        await user.close()
        await root.close()
    }

    func testDenyBeatsAllowAndMetadataHidesUndescribableTopics() async throws {
        let broker = try startBroker(settings: ["auto.create.topics.enable": "true"])
        defer { broker.stop() }
        let root = try await connect(admin, broker)
        let user = try await connect(alice, broker)
        for topic in ["logs-app", "logs-secret", "payments"] {
            try await root.admin.createTopic(name: topic, partitions: 1)
        }
        // ALLOW WRITE on every logs-* topic for everyone, DENY WRITE on logs-secret for alice.
        try await allow(root, .write, .topic, "logs-", pattern: .prefixed, principal: "User:*")
        try await allow(root, .write, .topic, "logs-secret", permission: .deny)
        let codes = try await produce(user, ["logs-app", "logs-secret"])
        XCTAssertEqual(codes, ["logs-app": ErrorCode.none, "logs-secret": .topicAuthorizationFailed])
        let ends = (try await endOffset(root, "logs-app"), try await endOffset(root, "logs-secret"))
        XCTAssertEqual(ends.0, 2)
        XCTAssertEqual(ends.1, 0, "deny must beat allow: nothing written")

        // Metadata for all topics: only what alice may describe (WRITE implies DESCRIBE; the
        // DENY on WRITE does not deny DESCRIBE); payments and __consumer_offsets are hidden.
        let all = try await user.sendToAnyBroker(MetadataRequest(topics: nil))
        XCTAssertEqual(Set(all.topics.map(\.name)), ["logs-app", "logs-secret"])
        let everything = try await root.sendToAnyBroker(MetadataRequest(topics: nil))
        XCTAssertTrue(Set(everything.topics.map(\.name)).isSuperset(of: ["logs-app", "logs-secret", "payments"]))
        // Named: an undescribable topic answers TOPIC_AUTHORIZATION_FAILED, with no partitions.
        let named = try await user.sendToAnyBroker(MetadataRequest(topics: ["payments", "logs-app"]))
        XCTAssertEqual(named.topics.map(\.name), ["payments", "logs-app"])
        XCTAssertEqual(named.topics.map(\.errorCode), [.topicAuthorizationFailed, ErrorCode.none])
        XCTAssertTrue(named.topics[0].partitions.isEmpty)
        // Auto-creation needs CREATE: refused, and no topic appears; with CREATE it is created.
        let auto = MetadataRequest(topics: ["logs-new"], allowAutoTopicCreation: true)
        let refusedAuto = try await user.sendToAnyBroker(auto)
        XCTAssertEqual(refusedAuto.topics.first?.errorCode, .topicAuthorizationFailed)
        let after = try await root.sendToAnyBroker(MetadataRequest(topics: nil))
        XCTAssertFalse(after.topics.map(\.name).contains("logs-new"))
        try await allow(root, .create, .topic, "logs-", pattern: .prefixed)
        let createdAuto = try await user.sendToAnyBroker(auto)
        XCTAssertEqual(createdAuto.topics.first?.errorCode, ErrorCode.none)
        XCTAssertEqual(createdAuto.topics.first?.partitions.count, 1)
        await user.close()
        await root.close()
    }

    func testAclChangesNeedAlterOnTheClusterAndAnonymousIsAPrincipal() async throws {
        let plaintext = freeLoopbackPort()
        let broker = try startBroker(plaintextPort: plaintext)
        defer { broker.stop() }
        let root = try await connect(admin, broker)
        let user = try await connect(alice, broker)
        try await root.admin.createTopic(name: "orders", partitions: 1)
        let binding = AclBinding(
            resourceType: .topic, resourceName: "orders", principal: Self.alicePrincipal, operation: .write)

        // A non-super-user without ALTER on the cluster cannot add ACLs, nor list them.
        do {
            try await user.admin.createAcls([binding])
            XCTFail("alice added an ACL without ALTER on the cluster")
        } catch let error as TernError {
            XCTAssertEqual(error.brokerError, .clusterAuthorizationFailed, "\(error)")
        }
        let listed = try await root.admin.describeAcls()
        XCTAssertEqual(listed, [], "a refused CreateAcls must add nothing")
        let refusedDescribe = await refusal(user, DescribeAclsRequest())
        XCTAssertEqual(refusedDescribe, .clusterAuthorizationFailed)
        let refusedCluster = await refusal(user, DescribeClusterRequest(includeFencedBrokers: true))
        XCTAssertEqual(refusedCluster, .clusterAuthorizationFailed)

        // With ALTER (and so DESCRIBE) on the cluster she can.
        try await allow(root, .alter, .cluster, AclBinding.clusterResourceName)
        try await user.admin.createAcls([binding])
        let mine = try await user.admin.describeAcls(matching: AclBindingFilter(principal: Self.alicePrincipal))
        XCTAssertTrue(mine.contains(binding))
        let removed = try await user.admin.deleteAcls(matching: [AclBindingFilter(exactly: binding)])
        XCTAssertEqual(removed, [binding])
        let left = try await root.admin.describeAcls(matching: AclBindingFilter(principal: Self.alicePrincipal))
        XCTAssertFalse(left.contains(binding))

        // The plaintext listener's clients are User:ANONYMOUS.
        let anonymous = try await TernClient(
            configuration: ClientConfiguration(bootstrap: ["127.0.0.1:\(plaintext)"], requestTimeout: .seconds(20)))
        var codes = try await produce(anonymous, ["orders"])
        XCTAssertEqual(codes["orders"], .topicAuthorizationFailed)
        var end = try await endOffset(root, "orders")
        XCTAssertEqual(end, 0)
        try await allow(root, .write, .topic, "orders", principal: "User:ANONYMOUS")
        codes = try await produce(anonymous, ["orders"])
        XCTAssertEqual(codes["orders"], ErrorCode.none)
        end = try await endOffset(root, "orders")
        XCTAssertEqual(end, 2)
        await anonymous.close()
        await user.close()
        await root.close()
    }

    /// The CLI: `tern acl add|list|remove` by the super user, a clear error for the others.
    func testTernAclCommands() throws {
        let broker = try startBroker()
        defer { broker.stop() }
        func tern(_ identity: TestCertificates.Identity, _ arguments: [String], stdin: String? = nil) throws
            -> CommandResult
        {
            try runCommand(
                Binaries.path("tern"),
                [
                    "--bootstrap", "localhost:\(broker.port)", "-X", "security.protocol=SSL", "-X",
                    "ssl.ca.location=\(certificates.ca)", "-X", "ssl.certificate.location=\(identity.certificate)",
                    "-X", "ssl.key.location=\(identity.key)",
                ] + arguments, stdin: stdin, timeout: 120)
        }
        XCTAssertEqual(try tern(admin, ["topic", "create", "orders", "--partitions", "1"]).status, 0)
        let refused = try tern(alice, ["produce", "orders"], stdin: "one\n")
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.stderr.contains("TOPIC_AUTHORIZATION_FAILED"), refused.stderr)

        let add = try tern(
            admin, ["acl", "add", "--principal", Self.alicePrincipal, "--topic", "orders", "--operation", "write"])
        XCTAssertEqual(add.status, 0, add.stderr)
        let denyAdd = try tern(
            alice, ["acl", "add", "--principal", Self.alicePrincipal, "--cluster", "--operation", "alter"])
        XCTAssertNotEqual(denyAdd.status, 0)
        XCTAssertTrue(denyAdd.stderr.contains("CLUSTER_AUTHORIZATION_FAILED"), denyAdd.stderr)
        let list = try tern(admin, ["acl", "list", "--topic", "orders", "--json"])
        XCTAssertEqual(list.status, 0, list.stderr)
        let entries = try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [[String: String]]
        XCTAssertEqual(entries?.count, 1)
        XCTAssertEqual(entries?.first?["principal"], Self.alicePrincipal)
        XCTAssertEqual(entries?.first?["operation"], "WRITE")
        XCTAssertEqual(entries?.first?["permission"], "ALLOW")

        let produced = try tern(alice, ["produce", "orders", "--acks", "all"], stdin: "one\ntwo\n")
        XCTAssertEqual(produced.status, 0, produced.stderr)
        // WRITE implies DESCRIBE, not READ: consuming is refused with the reason, not "does not exist".
        let consumed = try tern(
            alice, ["consume", "orders", "--from-beginning", "--max-messages", "2", "--timeout-ms", "10000"])
        XCTAssertNotEqual(consumed.status, 0)
        XCTAssertTrue(consumed.stderr.contains("TOPIC_AUTHORIZATION_FAILED"), consumed.stderr)
        XCTAssertFalse(consumed.stdout.contains("one"), consumed.stdout)

        let remove = try tern(
            admin, ["acl", "remove", "--principal", Self.alicePrincipal, "--topic", "orders", "--operation", "WRITE"])
        XCTAssertEqual(remove.status, 0, remove.stderr)
        let empty = try tern(admin, ["acl", "list", "--json"])
        XCTAssertEqual(empty.status, 0, empty.stderr)
        XCTAssertEqual((try JSONSerialization.jsonObject(with: Data(empty.stdout.utf8)) as? [Any])?.count, 0)
        let again = try tern(alice, ["produce", "orders"], stdin: "three\n")
        XCTAssertNotEqual(again.status, 0, "the removed ACL must no longer allow writes")
    }

    /// `authorizer.enable = false` (the default): ACLs are stored but nothing is checked.
    func testAuthorizerOffChangesNothing() async throws {
        let broker = try startBroker(authorizer: false)
        defer { broker.stop() }
        let user = try await connect(alice, broker)
        try await user.admin.createTopic(name: "orders", partitions: 1)
        try await allow(user, .all, .topic, "*", permission: .deny)
        let codes = try await produce(user, ["orders"])
        XCTAssertEqual(codes["orders"], ErrorCode.none)
        let end = try await endOffset(user, "orders")
        XCTAssertEqual(end, 2)
        let all = try await user.sendToAnyBroker(MetadataRequest(topics: nil))
        XCTAssertTrue(all.topics.map(\.name).contains("orders"))
        let acls = try await user.admin.describeAcls()
        XCTAssertEqual(acls.count, 1)
        XCTAssertFalse(broker.log.contains("authorization denied"), broker.log)
        await user.close()
    }
}
