import Dispatch
import Foundation
import Synchronization
import TernClient
import TernTestSupport
import TernWire
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// A SCRAM login by hand on a new raw connection to `port`: the connection when the broker
/// accepted it, nil when it refused (SASL_AUTHENTICATION_FAILED).
private func scramLogin(
    port: Int, user: String, password: String, mechanism: ScramMechanism, timeout: TimeInterval = 20
) throws -> RawConnection? {
    let connection = try RawConnection(port: port, timeout: timeout)
    let handshake = try connection.roundTrip(SaslHandshakeRequest(mechanism: mechanism.name))
    guard handshake.response?.errorCode == ErrorCode.none else { throw BrokerProcessError("handshake: \(handshake)") }
    var client = ScramClient(
        mechanism: mechanism, username: user, password: password, clientNonce: ScramMechanism.randomNonce())
    let first = try connection.roundTrip(SaslAuthenticateRequest(authBytes: client.clientFirst()), correlationId: 2)
    guard let serverFirst = first.response, serverFirst.errorCode == .none else { return nil }
    let final = try client.receiveServerFirst(serverFirst.authBytes)
    let answer = try connection.roundTrip(SaslAuthenticateRequest(authBytes: final), correlationId: 3)
    guard let response = answer.response, response.errorCode == .none else { return nil }
    try client.receiveServerFinal(response.authBytes)
    return connection
}

/// Metadata on an authenticated raw connection: true when answered.
private func serves(_ connection: RawConnection, _ correlationId: UInt32) -> Bool {
    (try? connection.roundTrip(MetadataRequest(topics: nil), correlationId: correlationId).status.errorCode)
        == ErrorCode.none
}

/// A deleted or changed SCRAM credential ends the sessions that authenticated with it, on every
/// broker: the user's open connections are closed (requests already in flight are answered
/// first), new logins are refused, other users' connections go on. Real `ternd` processes.
final class SaslRevocationTests: XCTestCase {
    private var directory: TemporaryDirectory!

    override func setUp() { directory = TemporaryDirectory("tern-sasl-revoke") }
    override func tearDown() { directory?.remove() }

    private func writeUsers() throws -> String {
        let usersFile = directory.path + "/users"
        try "admin:admin-secret\n\(saslClusterBrokerUser.name):\(saslClusterBrokerUser.password)\n".write(
            toFile: usersFile, atomically: false, encoding: .utf8)
        XCTAssertEqual(chmod(usersFile, 0o600), 0)
        return usersFile
    }

    func testDeletingAUserClosesItsOpenConnectionsAndAPasswordChangeClosesThemToo() async throws {
        let usersFile = try writeUsers()
        let port = freeLoopbackPort()
        let broker = try BrokerProcess(
            dataDirectory: directory.path + "/data", port: port,
            settings: [
                "listeners": "SASL_PLAINTEXT://127.0.0.1:\(port)",
                "sasl.bootstrap.users.file": usersFile, "sasl.enabled.mechanisms": "SCRAM-SHA-256,SCRAM-SHA-512",
            ])
        defer { broker.stop() }
        var adminConfiguration = ClientConfiguration(bootstrap: [broker.bootstrap], requestTimeout: .seconds(20))
        adminConfiguration.sasl = ClientSASL(mechanism: .scramSHA256, username: "admin", password: "admin-secret")
        let admin = try await TernClient(configuration: adminConfiguration)
        try await admin.admin.createTopic(name: "events", partitions: 1)
        try await admin.admin.createUser(name: "alice", password: "alice pw", mechanism: .sha512)
        try await admin.admin.createUser(name: "bob", password: "bob pw", mechanism: .sha256)

        // alice produces on two raw connections and through the SDK; bob and admin are connected too.
        let alice = try XCTUnwrap(
            try scramLogin(port: broker.port, user: "alice", password: "alice pw", mechanism: .sha512))
        let aliceAgain = try XCTUnwrap(
            try scramLogin(port: broker.port, user: "alice", password: "alice pw", mechanism: .sha512))
        let bob = try XCTUnwrap(try scramLogin(port: broker.port, user: "bob", password: "bob pw", mechanism: .sha256))
        let adminRaw = try XCTUnwrap(
            try scramLogin(port: broker.port, user: "admin", password: "admin-secret", mechanism: .sha512))
        func produce(_ connection: RawConnection, _ correlationId: UInt32) throws -> ErrorCode? {
            let answer = try connection.roundTrip(
                ProduceRequest(
                    acks: 1, timeoutMs: 5000,
                    topics: [.init(name: "events", partitions: [.init(partition: 0, records: makeBatch(count: 3))])]),
                correlationId: correlationId)
            return answer.response?.topics.first?.partitions.first?.errorCode
        }
        XCTAssertEqual(try produce(alice, 4), ErrorCode.none)
        XCTAssertEqual(try produce(aliceAgain, 4), ErrorCode.none)
        var aliceConfiguration = ClientConfiguration(bootstrap: [broker.bootstrap], requestTimeout: .seconds(10))
        aliceConfiguration.sasl = ClientSASL(mechanism: .scramSHA512, username: "alice", password: "alice pw")
        let aliceSDK = try await TernClient(configuration: aliceConfiguration)
        let producer = aliceSDK.producer(configuration: ProducerConfiguration(acks: .all))
        _ = try await producer.send(topic: "events", key: nil, value: Array("before".utf8))
        try await producer.flush()
        await producer.close()

        // alice's second connection waits in a long poll (30 s, for more bytes than there are).
        try aliceAgain.write(
            Frame.request(
                FetchRequest(
                    maxWaitMs: 30_000, minBytes: 10 << 20, maxBytes: 20 << 20,
                    topics: [
                        .init(name: "events", partitions: [.init(partition: 0, fetchOffset: 0, maxBytes: 20 << 20)])
                    ]
                ), correlationId: 5, clientId: "alice"))

        // Deleted through the CLI: the broker applied the commit before the command returned,
        // and closed alice's connections as it applied it (the long poll answered first).
        let deleted = try runCommand(
            Binaries.path("tern"),
            [
                "--bootstrap", broker.bootstrap, "-X", "security.protocol=SASL_PLAINTEXT", "-X",
                "sasl.mechanism=SCRAM-SHA-256", "-X", "sasl.username=admin", "user", "delete", "alice",
            ], environment: ["TERN_SASL_PASSWORD": "admin-secret"], timeout: 60)
        XCTAssertEqual(deleted.status, 0, deleted.stderr)
        let closedAt = ContinuousClock.now
        XCTAssertTrue(alice.waitForClose(), "alice's connection is still open after her deletion")
        XCTAssertTrue(aliceAgain.waitForClose(), "alice's second connection is still open after her deletion")
        XCTAssertLessThan(ContinuousClock.now - closedAt, .seconds(5))
        XCTAssertThrowsError(try produce(alice, 5), "a request on alice's closed connection was answered")
        // The SDK's connection is closed too, and it cannot log in again.
        let sdkStarted = ContinuousClock.now
        do {
            _ = try await aliceSDK.admin.listTopics()
            XCTFail("alice's SDK client is still served after her deletion")
        } catch {}
        print("SDK call after deletion failed after \(ContinuousClock.now - sdkStarted)")
        await aliceSDK.close()
        XCTAssertNil(try scramLogin(port: broker.port, user: "alice", password: "alice pw", mechanism: .sha512))
        // Others go on, on their open connections.
        XCTAssertTrue(serves(bob, 4), "bob's connection was closed with alice's")
        XCTAssertTrue(serves(adminRaw, 4), "admin's connection was closed with alice's")
        XCTAssertEqual(try produce(bob, 5), ErrorCode.none)
        let log = broker.log
        XCTAssertTrue(
            log.contains("closing connections of User:alice: the credential they authenticated with was deleted"), log)

        // A password change ends bob's session too (the secret it rests on is gone); the new
        // password logs in, admin's connection is untouched.
        try await admin.admin.createUser(name: "bob", password: "bob's new pw", mechanism: .sha256)
        XCTAssertTrue(bob.waitForClose(), "bob's connection is still open after his password changed")
        XCTAssertNil(try scramLogin(port: broker.port, user: "bob", password: "bob pw", mechanism: .sha256))
        let renewed = try XCTUnwrap(
            try scramLogin(port: broker.port, user: "bob", password: "bob's new pw", mechanism: .sha256))
        XCTAssertTrue(serves(renewed, 4))
        XCTAssertTrue(serves(adminRaw, 5))
        // Adding a credential for another mechanism leaves the sessions of the existing one alone.
        try await admin.admin.createUser(name: "bob", password: "bob's new pw", mechanism: .sha512)
        XCTAssertTrue(serves(renewed, 5), "bob's SCRAM-SHA-256 session was closed by a new SCRAM-SHA-512 credential")

        let metrics = try httpGet(port: try XCTUnwrap(broker.adminPort), "/metrics").text
        let samples = try PrometheusText(metrics).samples
        func revoked(_ reason: String) -> Double? {
            samples.first { $0.name == "tern_sasl_connections_revoked_total" && $0.labels == ["reason": reason] }?.value
        }
        // alice's two raw connections and the SDK's (at least one).
        XCTAssertGreaterThanOrEqual(revoked("credential_deleted") ?? 0, 3, metrics)
        XCTAssertEqual(revoked("credential_changed"), 1, metrics)
        await admin.close()
        XCTAssertEqual(broker.stop(), 0)
    }

    /// Three nodes: alice is connected to one broker, the deletion goes through another (which
    /// forwards it to the active controller); the broker alice is connected to closes her
    /// connection once it applies the committed deletion.
    func testADeletionThroughAnotherBrokerClosesTheUsersConnectionsOnEveryBroker() async throws {
        let usersFile = try writeUsers()
        let (nodes, processes) = try startSaslClusterNodes(directory: directory.path, usersFile: usersFile)
        defer { for process in processes { process.stop() } }

        // Users created through any node's plaintext listener (forwarded to the controller).
        let setup = try RawConnection(port: try XCTUnwrap(nodes[0].plain), timeout: 30)
        let created = try setup.roundTrip(
            AlterUserScramCredentialsRequest(upsertions: [
                .init(user: "alice", mechanism: .sha512, password: "alice pw", iterations: 4096),
                .init(user: "bob", mechanism: .sha512, password: "bob pw", iterations: 4096),
            ]))
        XCTAssertEqual(created.response?.results.map(\.errorCode), [ErrorCode.none, .none], "\(created)")
        let describe = try setup.roundTrip(DescribeClusterRequest(), correlationId: 2)
        let controllerId = try XCTUnwrap(describe.response?.controllerId)
        // alice and bob on a broker that is not the controller; the deletion through the other one.
        let others = nodes.filter { $0.id != controllerId }
        XCTAssertEqual(others.count, 2)
        let (home, via) = (others[0], others[1])
        func loginAtHome(_ user: String) throws -> RawConnection? {
            let deadline = Date().addingTimeInterval(20)
            while Date() < deadline {
                if let connection = try scramLogin(
                    port: home.client, user: user, password: "\(user) pw", mechanism: .sha512)
                {
                    return connection
                }
                usleep(200_000)
            }
            return nil
        }
        let alice = try XCTUnwrap(try loginAtHome("alice"), "alice cannot log in at node \(home.id)")
        let bob = try XCTUnwrap(try loginAtHome("bob"), "bob cannot log in at node \(home.id)")
        XCTAssertTrue(serves(alice, 4))

        let deleter = try RawConnection(port: try XCTUnwrap(via.plain), timeout: 30)
        let deleted = try deleter.roundTrip(
            AlterUserScramCredentialsRequest(deletions: [.init(user: "alice", mechanism: .sha512)]))
        XCTAssertEqual(deleted.response?.results.first?.errorCode, ErrorCode.none, "\(deleted)")
        // Node `home` applies the deletion on its next fetch of the metadata log.
        XCTAssertTrue(alice.waitForClose(), "alice's connection to node \(home.id) is still open after her deletion")
        XCTAssertFalse(serves(alice, 5))
        XCTAssertNil(try scramLogin(port: home.client, user: "alice", password: "alice pw", mechanism: .sha512))
        XCTAssertTrue(serves(bob, 4), "bob's connection was closed with alice's")
        let log = processes[Int(home.id) - 1].log
        XCTAssertTrue(log.contains("closing connections of User:alice"), log)
    }
}
