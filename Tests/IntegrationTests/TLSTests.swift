import Foundation
import TernClient
import TernTestSupport
import XCTest

#if canImport(Glibc)
import Glibc
#endif

/// `SSL://` listeners of real `ternd` processes with certificates made by the `openssl` command:
/// round trips through the CLI and the SDK, refusals with clear errors on both sides, plaintext and
/// TLS mixed up, broken handshakes, reloading.
final class TLSTests: XCTestCase {
    var directory: TemporaryDirectory!
    var certificates: TestCertificates!
    /// The files the broker reads; tests copy other certificates over them to reload.
    var brokerCertificate: String!
    var brokerKey: String!

    override func setUpWithError() throws {
        directory = TemporaryDirectory("tern-tls-it")
        certificates = try TestCertificates()
        brokerCertificate = directory.path + "/broker.pem"
        brokerKey = directory.path + "/broker.key"
        try install(certificates.server)
    }

    override func tearDown() {
        certificates?.directory.remove()
        directory.remove()
    }

    /// Copies `identity` over the broker's certificate and key files (new files, renamed in).
    private func install(_ identity: TestCertificates.Identity) throws {
        for (source, target) in [(identity.certificate, brokerCertificate!), (identity.key, brokerKey!)] {
            let temporary = target + ".new"
            try? FileManager.default.removeItem(atPath: temporary)
            try FileManager.default.copyItem(atPath: source, toPath: temporary)
            guard rename(temporary, target) == 0 else { throw BrokerProcessError("rename \(temporary) failed") }
        }
    }

    private func startBroker(
        plaintextPort: Int? = nil, settings extra: [String: String] = [:]
    ) throws -> BrokerProcess {
        let port = freeLoopbackPort()
        var listeners = "SSL://127.0.0.1:\(port)"
        if let plaintextPort { listeners += ",PLAINTEXT://127.0.0.1:\(plaintextPort)" }
        var settings = [
            "listeners": listeners, "ssl.certificate.location": brokerCertificate!, "ssl.key.location": brokerKey!,
            "ssl.ca.location": certificates.ca,
        ]
        settings.merge(extra) { _, new in new }
        return try BrokerProcess(dataDirectory: directory.path + "/data-\(port)", port: port, settings: settings)
    }

    private func tern(
        _ broker: String, _ arguments: [String], tls: [String]? = nil, stdin: String? = nil
    ) throws -> CommandResult {
        let tls = tls ?? ["-X", "security.protocol=SSL", "-X", "ssl.ca.location=\(certificates.ca)"]
        return try runCommand(
            Binaries.path("tern"), ["--bootstrap", broker] + tls + arguments, stdin: stdin, timeout: 120)
    }

    private func waitFor(_ timeout: TimeInterval = 20, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if condition() { return true }
            usleep(20_000)
        }
        return condition()
    }

    func testProduceAndConsumeOverTLSThroughTheCLIAndTheSDK() async throws {
        let broker = try startBroker()
        defer { broker.stop() }
        let bootstrap = "localhost:\(broker.port)"
        XCTAssertEqual(try tern(bootstrap, ["topic", "create", "secure", "--partitions", "2"]).status, 0)
        let lines = (0..<2000).map { "line-\($0)" }
        let produced = try tern(
            bootstrap, ["produce", "secure", "--acks", "all"], stdin: lines.joined(separator: "\n") + "\n")
        XCTAssertEqual(produced.status, 0, produced.stderr)

        var configuration = ClientConfiguration(bootstrap: [bootstrap], requestTimeout: .seconds(20))
        configuration.tls = ClientTLS(caLocation: certificates.ca)
        let client = try await TernClient(configuration: configuration)
        let producer = client.producer(configuration: ProducerConfiguration(acks: .leader))
        for i in 0..<500 {
            _ = try await producer.send(topic: "secure", key: nil, value: Array("sdk-\(i)".utf8))
        }
        try await producer.flush()
        await producer.close()
        let consumer = client.consumer()
        try await consumer.assign(topic: "secure")
        try await consumer.seekToBeginning()
        var values: [String] = []
        let deadline = ContinuousClock.now + .seconds(60)
        while values.count < 2500 && ContinuousClock.now < deadline {
            values += try await consumer.poll(timeout: .seconds(1)).map {
                String(decoding: $0.value ?? [], as: UTF8.self)
            }
        }
        await consumer.close()
        XCTAssertEqual(Set(values), Set(lines + (0..<500).map { "sdk-\($0)" }))

        let consumed = try tern(
            bootstrap, ["consume", "secure", "--from-beginning", "--max-messages", "2500", "--timeout-ms", "20000"])
        XCTAssertEqual(consumed.status, 0, consumed.stderr)
        XCTAssertEqual(Set(consumed.stdout.split(separator: "\n").map(String.init)), Set(values))
        // The start-up check's connect-and-close (a port probe) is not a failed handshake.
        XCTAssertFalse(broker.log.contains("TLS handshake failed"), broker.log)
    }

    func testUnknownCAExpiredAndWrongHostCertificatesAreRefusedAndReloadsReachNewConnectionsOnly() async throws {
        let broker = try startBroker(settings: ["ssl.reload.check.interval.ms": "300"])
        defer { broker.stop() }
        let bootstrap = "localhost:\(broker.port)"
        // A client opened before the reloads, which must keep working through them.
        var configuration = ClientConfiguration(bootstrap: [bootstrap], requestTimeout: .seconds(20))
        configuration.tls = ClientTLS(caLocation: certificates.ca)
        let early = try await TernClient(configuration: configuration)
        try await early.admin.createTopic(name: "kept", partitions: 1)

        // A client that trusts another CA: the broker's certificate is from an unknown CA.
        let unknownCA = try tern(
            bootstrap, ["topic", "list"],
            tls: ["-X", "security.protocol=SSL", "-X", "ssl.ca.location=\(certificates.otherCA)"])
        XCTAssertNotEqual(unknownCA.status, 0)
        XCTAssertTrue(
            unknownCA.stderr.contains("TLS handshake with the broker at localhost:\(broker.port) failed"),
            unknownCA.stderr)
        // OpenSSL names the untrusted root ("self-signed certificate in certificate chain") or the
        // missing issuer, depending on whether the broker sends its CA along.
        XCTAssertTrue(unknownCA.stderr.contains("certificate verify failed"), unknownCA.stderr)
        XCTAssertTrue(waitFor { broker.log.contains("closing connection: TLS handshake failed") }, broker.log)

        // SIGHUP after an expired certificate replaced the files: new connections get it.
        try install(certificates.expiredServer)
        kill(broker.pid, SIGHUP)
        XCTAssertTrue(waitFor { broker.log.contains("reloaded TLS certificates") }, broker.log)
        let expired = try tern(bootstrap, ["topic", "list"])
        XCTAssertNotEqual(expired.status, 0)
        XCTAssertTrue(expired.stderr.contains("certificate has expired"), expired.stderr)

        // A certificate for another host name, picked up by the file check alone.
        try install(certificates.wrongHostServer)
        XCTAssertTrue(waitFor { broker.log.components(separatedBy: "reloaded TLS certificates").count > 2 }, broker.log)
        let wrongHost = try tern(bootstrap, ["topic", "list"])
        XCTAssertNotEqual(wrongHost.status, 0)
        XCTAssertTrue(wrongHost.stderr.contains("hostname mismatch"), wrongHost.stderr)
        let unchecked = try tern(
            bootstrap, ["topic", "list"],
            tls: [
                "-X", "security.protocol=SSL", "-X", "ssl.ca.location=\(certificates.ca)", "-X",
                "ssl.endpoint.identification.algorithm=none",
            ])
        XCTAssertEqual(unchecked.status, 0, unchecked.stderr)
        XCTAssertTrue(unchecked.stdout.contains("kept"))

        // The connection opened before every reload still works.
        let producer = early.producer(configuration: ProducerConfiguration(acks: .leader))
        _ = try await producer.send(topic: "kept", key: nil, value: Array("still".utf8))
        await producer.close()
        XCTAssertTrue(broker.isRunning)
    }

    func testRequiredClientCertificateRecordsThePrincipalAndRefusesClientsWithout() throws {
        let broker = try startBroker(settings: ["ssl.client.auth": "required", "log.level": "debug"])
        defer { broker.stop() }
        let bootstrap = "127.0.0.1:\(broker.port)"
        let anonymous = try tern(bootstrap, ["topic", "list"])
        XCTAssertNotEqual(anonymous.status, 0)
        XCTAssertTrue(anonymous.stderr.contains("certificate required"), anonymous.stderr)
        XCTAssertTrue(waitFor { broker.log.contains("did not return a certificate") }, broker.log)

        let commandConfig = directory.path + "/client.properties"
        try """
        # librdkafka names
        security.protocol=SSL
        ssl.ca.location=\(certificates.ca)
        ssl.certificate.location=\(certificates.client.certificate)
        ssl.key.location=\(certificates.client.key)
        """.write(toFile: commandConfig, atomically: true, encoding: .utf8)
        let authenticated = try tern(
            bootstrap, ["topic", "create", "mtls", "--partitions", "1"], tls: ["--command-config", commandConfig])
        XCTAssertEqual(authenticated.status, 0, authenticated.stderr)
        XCTAssertTrue(waitFor { broker.log.contains("User:CN=tern-client,O=Tern Tests") }, broker.log)
    }

    func testPlaintextAndTLSMixedUpFailClearlyAndBrokenHandshakesLeaveTheBrokerServing() throws {
        let plaintextPort = freeLoopbackPort()
        let broker = try startBroker(plaintextPort: plaintextPort)
        defer { broker.stop() }

        let plaintextToTLS = try tern("127.0.0.1:\(broker.port)", ["topic", "list"], tls: [])
        XCTAssertNotEqual(plaintextToTLS.status, 0)
        XCTAssertTrue(
            plaintextToTLS.stderr.contains("the broker at 127.0.0.1:\(broker.port) expects TLS"), plaintextToTLS.stderr)
        XCTAssertTrue(
            waitFor { broker.log.contains("closing connection: plaintext (not TLS) on a TLS listener") }, broker.log)

        let tlsToPlaintext = try tern("127.0.0.1:\(plaintextPort)", ["topic", "list"])
        XCTAssertNotEqual(tlsToPlaintext.status, 0)
        XCTAssertTrue(
            tlsToPlaintext.stderr.contains("the broker at 127.0.0.1:\(plaintextPort) does not speak TLS"),
            tlsToPlaintext.stderr)
        XCTAssertTrue(waitFor { broker.log.contains("a TLS ClientHello arrived on a plaintext listener") }, broker.log)

        // Garbage after a plausible record header, and a handshake cut short.
        for bytes: [UInt8] in [
            [0x16, 0x03, 0x01, 0x00, 0x10] + [UInt8](repeating: 0x41, count: 16), [0x16, 0x03, 0x01, 0x01],
        ] {
            let raw = try RawConnection(port: broker.port)
            try raw.write(bytes)
            raw.shutdownWrite()
            XCTAssertTrue(raw.waitForClose(), "the broker left a broken handshake open")
        }
        XCTAssertTrue(broker.isRunning)
        let created = try tern("localhost:\(broker.port)", ["topic", "create", "after", "--partitions", "1"])
        XCTAssertEqual(created.status, 0, created.stderr)
        let plaintext = try tern("127.0.0.1:\(plaintextPort)", ["topic", "list"], tls: [])
        XCTAssertEqual(plaintext.status, 0, plaintext.stderr)
        XCTAssertTrue(plaintext.stdout.contains("after"))
        // Both listeners serve producers: each advertises its own address to its clients.
        let viaPlaintext = try tern(
            "127.0.0.1:\(plaintextPort)", ["produce", "after", "--acks", "1"], tls: [], stdin: "plain-1\nplain-2\n")
        XCTAssertEqual(viaPlaintext.status, 0, viaPlaintext.stderr)
        let viaTLS = try tern("localhost:\(broker.port)", ["produce", "after", "--acks", "1"], stdin: "tls-1\n")
        XCTAssertEqual(viaTLS.status, 0, viaTLS.stderr)
        let consumed = try tern(
            "127.0.0.1:\(plaintextPort)",
            ["consume", "after", "--from-beginning", "--max-messages", "3", "--timeout-ms", "20000"],
            tls: [])
        XCTAssertEqual(
            consumed.stdout.split(separator: "\n").sorted(), ["plain-1", "plain-2", "tls-1"], consumed.stderr)
    }

    func testUnusableCertificateFilesStopStartUpWithExitCode78NamingTheFile() throws {
        let missing = directory.path + "/missing.pem"
        let encrypted = try certificates.encryptedKey(certificates.server, password: "secret")
        let cases: [([String], String)] = [
            (
                ["ssl.certificate.location=\(missing)", "ssl.key.location=\(brokerKey!)"],
                "ssl.certificate.location \(missing)"
            ),
            (
                [
                    "ssl.certificate.location=\(brokerCertificate!)", "ssl.key.location=\(encrypted)",
                    "ssl.key.password=wrong",
                ],
                "ssl.key.location \(encrypted): cannot decrypt the key: wrong ssl.key.password"
            ),
            (["ssl.certificate.location=\(brokerCertificate!)"], "ssl.key.location"),
        ]
        for (settings, expected) in cases {
            var arguments = [
                "--set", "listeners=SSL://127.0.0.1:\(freeLoopbackPort())", "--set", "log.dirs=\(directory.path)/bad",
                "--set", "admin.listeners=",
            ]
            for setting in settings { arguments += ["--set", setting] }
            let result = try runCommand(Binaries.path("ternd"), arguments, timeout: 30)
            XCTAssertEqual(result.status, 78, result.stderr)
            XCTAssertTrue(result.stderr.contains(expected), "expected '\(expected)' in: \(result.stderr)")
        }
        let sasl = try runCommand(
            Binaries.path("ternd"),
            ["--set", "listeners=SASL_SSL://127.0.0.1:9999", "--set", "log.dirs=\(directory.path)/bad"],
            timeout: 30)
        // SASL_SSL is TLS too: without a certificate it is a configuration error, like SSL.
        XCTAssertEqual(sasl.status, 78)
        XCTAssertTrue(sasl.stderr.contains("ssl.certificate.location"), sasl.stderr)
    }
}
