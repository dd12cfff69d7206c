import Foundation
import TernClient
import TernTestSupport
import TernWire
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// Replication between brokers whose only listeners are secured: three real `ternd` nodes with an
/// `SSL://` (mutual TLS) or `SASL_SSL://` (SCRAM, authorizer on) listener and nothing else, so
/// followers must speak that listener's protocol to copy the leader's log. An `acks=all` produce
/// is answered and every follower holds the records; a wrong inter-broker password never gets an
/// `acks=all` record acknowledged (the followers leave the in-sync set and the leader answers
/// NOT_ENOUGH_REPLICAS); a principal that is not a broker is refused a replica fetch.
final class ClusterReplicationSecurityTests: SecureClusterTestCase {
    override var directoryLabel: String { "tern-cluster-repl-security" }
    let topic = "secured"

    // MARK: Helpers

    private func process(_ id: Int32) -> BrokerProcess { processes[Int(id) - 1] }

    private func start(scheme: String, _ settings: [String: String]) throws {
        var all = settings
        all["ssl.certificate.location"] = certificates.server.certificate
        all["ssl.key.location"] = certificates.server.key
        all["ssl.ca.location"] = certificates.ca
        (nodes, processes) = try startSecureClusterNodes(directory: directory.path, scheme: scheme, settings: all)
    }

    /// A client of `node` over TLS (with the test client certificate for mutual TLS) and, with
    /// `user`, a SCRAM-SHA-512 login.
    private func client(_ node: SecureClusterNode, user: (String, String)? = nil) async throws -> TernClient {
        var configuration = ClientConfiguration(
            bootstrap: ["127.0.0.1:\(node.client)"], requestTimeout: .seconds(20), connectTimeout: .seconds(5))
        configuration.tls = ClientTLS(
            caLocation: certificates.ca, certificateLocation: certificates.client.certificate,
            keyLocation: certificates.client.key)
        if let (name, password) = user {
            configuration.sasl = ClientSASL(mechanism: .scramSHA512, username: name, password: password)
        }
        return try await TernClient(configuration: configuration)
    }

    /// The partition's leader and ISR as one of the brokers reports them.
    private func partitionState(_ client: TernClient) async -> (leader: Int32, isr: [Int32])? {
        guard let answer = try? await client.sendToAnyBroker(MetadataRequest(topics: [topic])),
            let t = answer.topics.first(where: { $0.name == topic }), t.errorCode == .none,
            let p = t.partitions.first(where: { $0.partition == 0 })
        else { return nil }
        return (p.leader, p.isr)
    }

    /// Waits until all three brokers are registered, then returns a client that knows them all
    /// (a client learns broker addresses from its metadata).
    private func clusterClient(user: (String, String)? = nil) async throws -> TernClient {
        let probe = try await client(nodes[0], user: user)
        await waitUntil(60, "three unfenced brokers") {
            ((try? await probe.sendToAnyBroker(MetadataRequest(topics: nil)))?.brokers.count ?? 0) == 3
        }
        await probe.close()
        return try await client(nodes[0], user: user)
    }

    /// Creates the RF=3, min.insync.replicas=2 topic; returns its leader once every replica is in
    /// sync (the initial in-sync set is all three).
    private func createTopic(_ client: TernClient) async -> Int32 {
        var created = false
        await waitUntil(30, "the replicated topic is created") {
            if !created,
                let answer = try? await client.sendToAnyBroker(
                    CreateTopicsRequest(topics: [
                        .init(
                            name: topic, numPartitions: 1, replicationFactor: 3,
                            configs: [.init(name: "min.insync.replicas", value: "2")])
                    ]))
            {
                created = [ErrorCode.none, .topicAlreadyExists].contains(answer.topics.first?.errorCode)
            }
            return created
        }
        var leader: Int32 = -1
        await waitUntil(30, "the partition has a leader and three replicas in sync") {
            guard let state = await partitionState(client), state.leader > 0, state.isr.count == 3 else {
                return false
            }
            leader = state.leader
            return true
        }
        // The leader answers a consumer's fetch once it hosts the partition's replica.
        let probe = FetchRequest(
            maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20,
            topics: [.init(name: topic, partitions: [.init(partition: 0, fetchOffset: 0, maxBytes: 1 << 20)])])
        await waitUntil(30, "the leader serves the partition") {
            (try? await client.send(probe, to: leader))?.topics.first?.partitions.first?.errorCode == ErrorCode.none
        }
        return leader
    }

    private func produce(_ client: TernClient, _ leader: Int32, _ values: [String], acks: Int16, timeoutMs: Int32)
        async -> ErrorCode?
    {
        let batch = makeBatch(records: values.map { TestRecord(key: nil, value: $0) })
        let request = ProduceRequest(
            acks: acks, timeoutMs: timeoutMs,
            topics: [.init(name: topic, partitions: [.init(partition: 0, records: batch)])])
        return (try? await client.send(request, to: leader))?.topics.first?.partitions.first?.errorCode
    }

    /// The partition's log end on `node` (DescribeLogDirs), or nil.
    private func logEnd(_ client: TernClient, _ node: Int32) async -> Int64? {
        (try? await client.send(DescribeLogDirsRequest(topics: [topic]), to: node))?.logDirs.flatMap(\.topics)
            .first { $0.name == topic }?.partitions.first { $0.partition == 0 }?.logEndOffset
    }

    /// The record values in a stopped node's log directory for the partition, in offset order.
    private func valuesOnDisk(_ node: SecureClusterNode) throws -> [String] {
        try recordsOnDisk(partitionDirectory: node.dataDirectory + "/\(topic)-0").map { $0.value }
    }

    /// acks=all batches to the leader, each answered without error; the values produced.
    private func produceAcksAll(_ client: TernClient, _ leader: Int32, batches: Int) async -> [String] {
        var produced: [String] = []
        for batch in 0..<batches {
            let values = (0..<50).map { "r-\(batch)-\($0)" }
            let code = await produce(client, leader, values, acks: -1, timeoutMs: 15_000)
            XCTAssertEqual(code, ErrorCode.none, "acks=all batch \(batch)\n\(logs)")
            if code != ErrorCode.none { break }
            produced += values
        }
        return produced
    }

    /// Each follower's log directory holds exactly `produced` (checked once it stopped).
    private func assertFollowersHold(_ produced: [String], leader: Int32, _ client: TernClient) async throws {
        for follower in nodes where follower.id != leader {
            await waitUntil(20, "follower \(follower.id) copies the whole log") {
                await logEnd(client, follower.id) == Int64(produced.count)
            }
        }
        for follower in nodes where follower.id != leader {
            process(follower.id).stop(timeout: 20)
            XCTAssertEqual(try valuesOnDisk(follower), produced, "follower \(follower.id) holds the leader's log")
        }
    }

    // MARK: Tests

    /// Brokers with only an SSL listener that requires client certificates: followers connect
    /// with TLS, trusting ssl.ca.location and presenting the broker's own certificate, and copy
    /// the log; acks=all is answered.
    func testReplicationOverMutualTLSOnlyListeners() async throws {
        try start(scheme: "SSL", ["ssl.client.auth": "required"])
        let client = try await clusterClient()
        let leader = await createTopic(client)
        let produced = await produceAcksAll(client, leader, batches: 20)
        XCTAssertEqual(produced.count, 1000)
        try await assertFollowersHold(produced, leader: leader, client)
        await client.close()
    }

    /// SASL_SSL only, SCRAM, the authorizer on: followers log in as the broker user (a super
    /// user) and copy the log; a user that is not a broker is refused a replica fetch, which
    /// would otherwise report a follower's durable offset and read above the high watermark.
    func testReplicationOverSaslSslWithAuthorizer() async throws {
        let usersFile = directory.path + "/users"
        try "admin:admin-secret\nbroker:broker-secret\napp:app-secret\n".write(
            toFile: usersFile, atomically: false, encoding: .utf8)
        XCTAssertEqual(chmod(usersFile, 0o400), 0)
        try start(
            scheme: "SASL_SSL",
            [
                "sasl.bootstrap.users.file": usersFile, "authorizer.enable": "true",
                "super.users": "User:admin;User:broker", "sasl.mechanism.inter.broker.protocol": "SCRAM-SHA-512",
                "inter.broker.sasl.username": "broker", "inter.broker.sasl.password": "broker-secret",
            ])
        let admin = try await clusterClient(user: ("admin", "admin-secret"))
        let leader = await createTopic(admin)
        let produced = await produceAcksAll(admin, leader, batches: 10)
        XCTAssertEqual(produced.count, 500)

        // A user without CLUSTER_ACTION posing as a follower: refused as a whole
        // (TOPIC_AUTHORIZATION_FAILED, as Kafka answers), no records.
        let follower = try XCTUnwrap(nodes.first { $0.id != leader })
        let app = try await clusterClient(user: ("app", "app-secret"))
        let fake = FetchRequest(
            replicaId: follower.id, maxWaitMs: 0, minBytes: 0, maxBytes: 1 << 20,
            topics: [
                .init(
                    name: topic,
                    partitions: [.init(partition: 0, fetchOffset: 0, maxBytes: 1 << 20, durableOffset: 1_000_000)])
            ])
        do {
            let answer = try await app.send(fake, to: leader)
            XCTFail("a replica fetch from User:app was served: \(answer.topics)")
        } catch let error as TernError {
            XCTAssertEqual(error.brokerError, .topicAuthorizationFailed, "\(error)")
        }
        await app.close()
        XCTAssertTrue(
            process(leader).log.contains("User:app"), "the leader logs the denied replica fetch\n\(logs)")

        try await assertFollowersHold(produced, leader: leader, admin)
        await admin.close()
    }

    /// Every broker logs in with a wrong inter-broker password: no follower copies anything,
    /// acks=all is never acknowledged — it times out, then, once the followers have left the
    /// in-sync set, is refused with NOT_ENOUGH_REPLICAS — and each broker says why.
    func testWrongInterBrokerPasswordNeverAcknowledgesAcksAll() async throws {
        let usersFile = directory.path + "/users"
        try "admin:admin-secret\nbroker:broker-secret\n".write(toFile: usersFile, atomically: false, encoding: .utf8)
        XCTAssertEqual(chmod(usersFile, 0o400), 0)
        try start(
            scheme: "SASL_SSL",
            [
                "sasl.bootstrap.users.file": usersFile, "inter.broker.sasl.username": "broker",
                "inter.broker.sasl.password": "not-the-password", "replica.lag.time.max.ms": "1500",
            ])
        let admin = try await clusterClient(user: ("admin", "admin-secret"))
        let leader = await createTopic(admin)
        let first = await produce(admin, leader, ["early"], acks: -1, timeoutMs: 1000)
        XCTAssertTrue(
            first == .requestTimedOut || first == .notEnoughReplicas,
            "acks=all answered \(first.map { "\($0)" } ?? "nothing") though no follower can fetch\n\(logs)")
        await waitUntil(30, "the followers leave the in-sync set") {
            await partitionState(admin)?.isr == [leader]
        }
        let refused = await produce(admin, leader, ["late"], acks: -1, timeoutMs: 5000)
        XCTAssertEqual(refused, .notEnoughReplicas, "\(logs)")
        for follower in nodes where follower.id != leader {
            let end = await logEnd(admin, follower.id)
            XCTAssertEqual(end, 0, "follower \(follower.id) copied records without logging in")
            XCTAssertTrue(
                process(follower.id).log.contains("refuses this broker's replica fetches"),
                "follower \(follower.id) does not say why it cannot fetch\n\(logs)")
        }
        await admin.close()
    }
}
