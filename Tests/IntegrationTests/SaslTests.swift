import Foundation
import TernClient
import TernTestSupport
import TernWire
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// `SASL_PLAINTEXT://` and `SASL_SSL://` listeners of real `ternd` processes: SCRAM round trips
/// through the SDK and the CLI, the bootstrap users file, `tern user`, and refusals (wrong
/// password and unknown user alike and after the delay, tampered and replayed client-final
/// messages, requests before authentication, PLAIN without TLS).
final class SaslTests: XCTestCase {
    var directory: TemporaryDirectory!
    var certificates: TestCertificates!
    var usersFile: String!

    override func setUpWithError() throws {
        directory = TemporaryDirectory("tern-sasl-it")
        certificates = try TestCertificates()
        usersFile = directory.path + "/users"
        try writeUsers("admin:admin-secret\n# a comment\nops:ops:with:colons\n", mode: 0o600)
    }

    override func tearDown() {
        certificates?.directory.remove()
        directory.remove()
    }

    private func writeUsers(_ text: String, mode: mode_t) throws {
        try text.write(toFile: usersFile, atomically: false, encoding: .utf8)
        guard chmod(usersFile, mode) == 0 else { throw BrokerProcessError("chmod \(usersFile!) failed") }
    }

    /// A broker with a SASL_PLAINTEXT listener on `port` and a SASL_SSL one on `sslPort`.
    private func startBroker(settings extra: [String: String] = [:]) throws -> (BrokerProcess, sslPort: Int) {
        let port = freeLoopbackPort()
        var sslPort = freeLoopbackPort()
        while sslPort == port { sslPort = freeLoopbackPort() }
        var settings = [
            "listeners": "SASL_PLAINTEXT://127.0.0.1:\(port),SASL_SSL://127.0.0.1:\(sslPort)",
            "ssl.certificate.location": certificates.server.certificate, "ssl.key.location": certificates.server.key,
            "sasl.bootstrap.users.file": usersFile!, "sasl.enabled.mechanisms": "SCRAM-SHA-256,SCRAM-SHA-512,PLAIN",
        ]
        settings.merge(extra) { _, new in new }
        let broker = try BrokerProcess(dataDirectory: directory.path + "/data-\(port)", port: port, settings: settings)
        return (broker, sslPort)
    }

    private func sasl(
        _ mechanism: String, _ user: String, tls: Bool = false
    ) -> [String] {
        var options = [
            "-X", "security.protocol=\(tls ? "SASL_SSL" : "SASL_PLAINTEXT")", "-X", "sasl.mechanism=\(mechanism)", "-X",
            "sasl.username=\(user)",
        ]
        if tls { options += ["-X", "ssl.ca.location=\(certificates.ca)"] }
        return options
    }

    private func tern(
        _ bootstrap: String, _ options: [String], _ arguments: [String], password: String, stdin: String? = nil
    ) throws -> CommandResult {
        try runCommand(
            Binaries.path("tern"), ["--bootstrap", bootstrap] + options + arguments, stdin: stdin,
            environment: ["TERN_SASL_PASSWORD": password], timeout: 120)
    }

    private func client(
        _ bootstrap: String, _ mechanism: ClientSASL.Mechanism, _ user: String, _ password: String, tls: Bool = false
    ) async throws -> TernClient {
        var configuration = ClientConfiguration(bootstrap: [bootstrap], requestTimeout: .seconds(20))
        configuration.sasl = ClientSASL(mechanism: mechanism, username: user, password: password)
        if tls { configuration.tls = ClientTLS(caLocation: certificates.ca) }
        return try await TernClient(configuration: configuration)
    }

    private func waitFor(_ timeout: TimeInterval = 20, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if condition() { return true }
            usleep(20_000)
        }
        return condition()
    }

    // MARK: Round trips, users

    func testScramRoundTripsThroughTheCLIAndTheSDKOverBothSaslListenersAndUserManagement() async throws {
        let (broker, sslPort) = try startBroker()
        defer { broker.stop() }
        // The bootstrap users were committed before the listeners opened.
        let log = broker.log
        let created = try XCTUnwrap(log.range(of: "bootstrap users present in the metadata image"), log)
        XCTAssertTrue(log.contains("bootstrap users created"), log)
        let listening = try XCTUnwrap(log.range(of: "listening"), log)
        XCTAssertLessThan(created.lowerBound, listening.lowerBound, log)
        XCTAssertFalse(log.contains("admin-secret"), "a password reached the log")

        // CLI, SCRAM-SHA-256 over SASL_PLAINTEXT, the password from TERN_SASL_PASSWORD.
        let admin256 = sasl("SCRAM-SHA-256", "admin")
        let create = try tern(
            broker.bootstrap, admin256, ["topic", "create", "secured", "--partitions", "2"], password: "admin-secret")
        XCTAssertEqual(create.status, 0, create.stderr)
        let lines = (0..<300).map { "line-\($0)" }
        let produced = try tern(
            broker.bootstrap, admin256, ["produce", "secured", "--acks", "all"], password: "admin-secret",
            stdin: lines.joined(separator: "\n") + "\n")
        XCTAssertEqual(produced.status, 0, produced.stderr)

        // `tern user create` over SASL_SSL with SCRAM-SHA-512 (the user ops has a ':' in its password).
        let sslBootstrap = "localhost:\(sslPort)"
        let ops512 = sasl("SCRAM-SHA-512", "ops", tls: true)
        let alice = try tern(
            sslBootstrap, ops512, ["user", "create", "alice", "--mechanism", "SCRAM-SHA-512", "--password-stdin"],
            password: "ops:with:colons", stdin: "alice pw\n")
        XCTAssertEqual(alice.status, 0, alice.stderr)
        let list = try tern(broker.bootstrap, admin256, ["user", "list", "--json"], password: "admin-secret")
        XCTAssertEqual(list.status, 0, list.stderr)
        let users = try JSONSerialization.jsonObject(with: Data(list.stdout.utf8)) as? [[String: Any]]
        let names = users?.compactMap { $0["name"] as? String }
        XCTAssertEqual(names, ["admin", "alice", "ops"], list.stdout)
        let aliceEntry = users?.first { $0["name"] as? String == "alice" }
        let aliceMechanisms = (aliceEntry?["credentials"] as? [[String: Any]])?.compactMap {
            $0["mechanism"] as? String
        }
        XCTAssertEqual(aliceMechanisms, ["SCRAM-SHA-512"])
        let adminEntry = users?.first { $0["name"] as? String == "admin" }
        XCTAssertEqual((adminEntry?["credentials"] as? [Any])?.count, 2, "bootstrap users get every SCRAM mechanism")
        XCTAssertFalse(list.stdout.contains("salt") || list.stdout.lowercased().contains("key"), list.stdout)

        // SDK over SASL_SSL as alice (SCRAM-SHA-512): produce and consume.
        let sdk = try await client(sslBootstrap, .scramSHA512, "alice", "alice pw", tls: true)
        let producer = sdk.producer(configuration: ProducerConfiguration(acks: .all))
        for i in 0..<100 { _ = try await producer.send(topic: "secured", key: nil, value: Array("sdk-\(i)".utf8)) }
        try await producer.flush()
        await producer.close()
        let consumer = sdk.consumer()
        try await consumer.assign(topic: "secured")
        try await consumer.seekToBeginning()
        var values: [String] = []
        let deadline = ContinuousClock.now + .seconds(60)
        while values.count < 400 && ContinuousClock.now < deadline {
            values += try await consumer.poll(timeout: .seconds(1)).map {
                String(decoding: $0.value ?? [], as: UTF8.self)
            }
        }
        await consumer.close()
        XCTAssertEqual(Set(values), Set(lines + (0..<100).map { "sdk-\($0)" }))

        // CLI consume over SASL_SSL with SCRAM-SHA-256 (admin has both mechanisms).
        let consumed = try tern(
            sslBootstrap, sasl("SCRAM-SHA-256", "admin", tls: true),
            ["consume", "secured", "--from-beginning", "--max-messages", "400", "--timeout-ms", "20000"],
            password: "admin-secret")
        XCTAssertEqual(consumed.status, 0, consumed.stderr)
        XCTAssertEqual(Set(consumed.stdout.split(separator: "\n").map(String.init)), Set(values))

        // A password change through the SDK: the old one stops working, the new one works.
        let adminSDK = try await client(broker.bootstrap, .scramSHA256, "admin", "admin-secret")
        try await adminSDK.admin.createUser(name: "alice", password: "new alice pw", mechanism: .sha512)
        do {
            _ = try await client(broker.bootstrap, .scramSHA512, "alice", "alice pw")
            XCTFail("the old password still works")
        } catch let error as TernError {
            XCTAssertEqual(error.code, .authenticationFailed, "\(error)")
        }
        let renewed = try await client(broker.bootstrap, .scramSHA512, "alice", "new alice pw")
        await renewed.close()

        // Deleted: new connections as alice are refused (SaslRevocationTests: open ones close).
        let deleted = try tern(broker.bootstrap, admin256, ["user", "delete", "alice"], password: "admin-secret")
        XCTAssertEqual(deleted.status, 0, deleted.stderr)
        let refused = try tern(
            broker.bootstrap, sasl("SCRAM-SHA-512", "alice"), ["topic", "list"], password: "new alice pw")
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.stderr.contains("Authentication failed: invalid credentials"), refused.stderr)
        XCTAssertFalse(refused.stderr.contains("new alice pw"), refused.stderr)
        // The SDK connection alice opened with her first password was closed when it changed,
        // and that password no longer logs in.
        do {
            _ = try await sdk.admin.listTopics()
            XCTFail("alice's session with her old password outlived the password change")
        } catch {}
        await sdk.close()
        let again = try tern(broker.bootstrap, admin256, ["user", "delete", "alice"], password: "admin-secret")
        XCTAssertNotEqual(again.status, 0)
        XCTAssertTrue(
            again.stderr.contains("RESOURCE_NOT_FOUND") || again.stderr.contains("does not exist"), again.stderr)

        // Iterations below 4096 are refused before anything is sent.
        let weak = try tern(
            broker.bootstrap, admin256, ["user", "create", "bob", "--iterations", "1000", "--password-stdin"],
            password: "admin-secret", stdin: "pw\n")
        XCTAssertNotEqual(weak.status, 0)
        XCTAssertTrue(weak.stderr.contains("4096"), weak.stderr)
        await adminSDK.close()

        let noStdin = try tern(broker.bootstrap, admin256, ["user", "create", "bob"], password: "admin-secret")
        XCTAssertNotEqual(noStdin.status, 0)
        XCTAssertTrue(noStdin.stderr.contains("--password-stdin is required"), noStdin.stderr)

        // `tern perf connect` authenticates every client it opens.
        let perf = try tern(
            broker.bootstrap, admin256, ["perf", "connect", "--connections", "20", "--concurrency", "4", "--json"],
            password: "admin-secret")
        XCTAssertEqual(perf.status, 0, perf.stderr)
        let summary = try JSONSerialization.jsonObject(with: Data(perf.stdout.utf8)) as? [String: Any]
        XCTAssertEqual(summary?["connections"] as? Int, 20, perf.stdout)
        XCTAssertEqual(broker.stop(), 0)
    }

    // MARK: Refusals

    /// One SCRAM exchange by hand on a raw connection; returns the final answer and how long the
    /// broker took to send it.
    private func scramExchange(
        port: Int, user: String, password: String, mechanism: ScramMechanism = .sha256,
        tamper: (([UInt8]) -> [UInt8])? = nil
    ) throws -> (
        response: SaslAuthenticateResponse, serverFirst: [UInt8], clientFinal: [UInt8], elapsed: Duration,
        connection: RawConnection
    ) {
        let connection = try RawConnection(port: port)
        let handshake = try connection.roundTrip(SaslHandshakeRequest(mechanism: mechanism.name))
        XCTAssertEqual(handshake.response?.errorCode, ErrorCode.none)
        var client = ScramClient(
            mechanism: mechanism, username: user, password: password, clientNonce: ScramMechanism.randomNonce())
        let first = try connection.roundTrip(SaslAuthenticateRequest(authBytes: client.clientFirst()), correlationId: 2)
        let serverFirst = try XCTUnwrap(first.response).authBytes
        var final = try client.receiveServerFirst(serverFirst)
        if let tamper { final = tamper(final) }
        let started = ContinuousClock.now
        let answer = try connection.roundTrip(SaslAuthenticateRequest(authBytes: final), correlationId: 3)
        return (try XCTUnwrap(answer.response), serverFirst, final, ContinuousClock.now - started, connection)
    }

    func testWrongPasswordUnknownUserTamperedAndReplayedMessagesFailAlikeAfterTheDelay() throws {
        let (broker, _) = try startBroker(settings: ["connection.failed.authentication.delay.ms": "400"])
        defer { broker.stop() }
        let good = try scramExchange(port: broker.port, user: "admin", password: "admin-secret")
        XCTAssertEqual(good.response.errorCode, ErrorCode.none)
        XCTAssertLessThan(good.elapsed, .milliseconds(400), "success is not delayed")
        // Authenticated: other requests are served; a second handshake (re-authentication, not
        // offered) closes the connection.
        XCTAssertEqual(
            try good.connection.roundTrip(MetadataRequest(topics: nil), correlationId: 4).status.errorCode, .none)
        try good.connection.write(
            Frame.request(SaslHandshakeRequest(mechanism: "SCRAM-SHA-256"), correlationId: 5, clientId: "raw-test"))
        XCTAssertNil(good.connection.readFrame())
        XCTAssertTrue(good.connection.waitForClose())

        let wrong = try scramExchange(port: broker.port, user: "admin", password: "guess")
        let unknown = try scramExchange(port: broker.port, user: "mallory", password: "guess")
        let tampered = try scramExchange(port: broker.port, user: "admin", password: "admin-secret") { final in
            // Flip one bit of the proof's last base64 character's neighbour.
            var bytes = final
            let index = bytes.count - 3
            bytes[index] = bytes[index] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
            return bytes
        }
        // A client-final captured from a successful exchange, replayed on a new connection: the
        // nonce is not that exchange's.
        let replayed = try scramExchange(port: broker.port, user: "admin", password: "admin-secret") { _ in
            good.clientFinal
        }
        for (name, outcome) in [("wrong", wrong), ("unknown", unknown), ("tampered", tampered), ("replayed", replayed)]
        {
            XCTAssertEqual(outcome.response.errorCode, .saslAuthenticationFailed, name)
            XCTAssertEqual(outcome.response.errorMessage, "Authentication failed: invalid credentials", name)
            XCTAssertEqual(outcome.response.authBytes, [], name)
            XCTAssertGreaterThanOrEqual(outcome.elapsed, .milliseconds(390), "\(name) answered before the delay")
        }
        // An unknown user's server-first looks like a real user's: a 32-byte salt, 4096 iterations.
        func saltAndIterations(_ bytes: [UInt8]) -> [Substring] {
            String(decoding: bytes, as: UTF8.self).split(separator: ",").filter { !$0.hasPrefix("r=") }.map {
                $0.hasPrefix("s=") ? Substring("s=\($0.count)") : $0
            }
        }
        XCTAssertEqual(saltAndIterations(unknown.serverFirst), saltAndIterations(wrong.serverFirst))
        // The broker's log says what failed; the client was told nothing of it.
        XCTAssertTrue(waitFor { broker.log.contains("nonce is not this exchange") }, broker.log)

        // Counted per mechanism and result.
        let metrics = String(
            decoding: try httpGet(port: try XCTUnwrap(broker.adminPort), "/metrics").body, as: UTF8.self)
        XCTAssertTrue(
            metrics.contains(#"tern_sasl_authentications_total{mechanism="SCRAM-SHA-256",result="failure"} 4"#),
            metrics)
        XCTAssertTrue(
            metrics.contains(#"tern_sasl_authentications_total{mechanism="SCRAM-SHA-256",result="success"} 1"#),
            metrics)

        // The SDK reports the same refusal, without the password.
        let refused = try runCommand(
            Binaries.path("tern"),
            ["--bootstrap", broker.bootstrap] + sasl("SCRAM-SHA-256", "mallory") + ["topic", "list"],
            environment: ["TERN_SASL_PASSWORD": "guess-123"], timeout: 60)
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.stderr.contains("Authentication failed: invalid credentials"), refused.stderr)
        XCTAssertFalse(refused.stderr.contains("guess-123"), refused.stderr)
    }

    func testRequestsBeforeAuthenticationCloseTheConnectionAndPlainNeedsTLSUnlessAllowed() async throws {
        let (broker, sslPort) = try startBroker()
        defer { broker.stop() }
        // ApiVersions is allowed first, as Kafka allows it; Metadata is not.
        let raw = try RawConnection(port: broker.port)
        let versions = try raw.roundTrip(ApiVersionsRequest())
        XCTAssertEqual(versions.status.errorCode, ErrorCode.none)
        XCTAssertTrue(versions.response?.apis.contains { $0.key == .saslHandshake } == true)
        try raw.write(Frame.request(MetadataRequest(topics: nil), correlationId: 2, clientId: "raw-test"))
        XCTAssertNil(raw.readFrame(), "Metadata before authentication was answered")
        XCTAssertTrue(raw.waitForClose())
        XCTAssertTrue(
            waitFor { broker.log.contains("Metadata request before SASL authentication completed") }, broker.log)
        // A client without SASL settings is refused the same way, and the broker keeps serving.
        do {
            _ = try await TernClient(configuration: ClientConfiguration(bootstrap: [broker.bootstrap]))
            XCTFail("an unauthenticated client was served")
        } catch let error as TernError {
            XCTAssertTrue(error.message.contains("closed"), "\(error)")
        }

        // PLAIN: not offered on SASL_PLAINTEXT (the password would cross in clear) ...
        do {
            _ = try await client(broker.bootstrap, .plain, "admin", "admin-secret")
            XCTFail("PLAIN accepted without TLS")
        } catch let error as TernError {
            XCTAssertEqual(error.code, .authenticationFailed)
            XCTAssertTrue(error.message.contains("does not offer PLAIN"), "\(error)")
        }
        // ... offered on SASL_SSL, where it checks the password against the SCRAM credential.
        let plain = try await client("localhost:\(sslPort)", .plain, "admin", "admin-secret", tls: true)
        _ = try await plain.admin.listTopics()
        await plain.close()
        do {
            _ = try await client("localhost:\(sslPort)", .plain, "admin", "wrong", tls: true)
            XCTFail("PLAIN with a wrong password accepted")
        } catch let error as TernError {
            XCTAssertEqual(error.code, .authenticationFailed)
        }
        XCTAssertEqual(broker.stop(), 0)

        // sasl.plain.allow.plaintext offers it on SASL_PLAINTEXT too.
        let (allowing, _) = try startBroker(settings: ["sasl.plain.allow.plaintext": "true"])
        defer { allowing.stop() }
        let allowed = try await client(allowing.bootstrap, .plain, "ops", "ops:with:colons")
        _ = try await allowed.admin.listTopics()
        await allowed.close()
    }

    func testBootstrapUsersFileReadableByGroupIsRefusedAtStart() throws {
        try writeUsers("admin:admin-secret\n", mode: 0o640)
        let port = freeLoopbackPort()
        let result = try runCommand(
            Binaries.path("ternd"),
            [
                "--set", "listeners=SASL_PLAINTEXT://127.0.0.1:\(port)", "--set", "log.dirs=\(directory.path)/refused",
                "--set", "admin.listeners=", "--set", "sasl.bootstrap.users.file=\(usersFile!)",
            ], timeout: 30)
        XCTAssertEqual(result.status, 78, result.stderr)
        XCTAssertTrue(result.stderr.contains("chmod 600"), result.stderr)
        XCTAssertFalse(result.stderr.contains("admin-secret"), result.stderr)
        XCTAssertFalse(loopbackPortAccepts(port))
    }
}
