import Logging
import TernNet
import TernTestSupport
import TernWire
import XCTest

@testable import TernBroker

/// `listeners` schemes and the `ssl.*` keys.
final class ListenerSecurityTests: XCTestCase {
    func testPlaintextAndSSLListenersTogether() throws {
        let config = try BrokerConfig.load(
            file: nil,
            overrides: [
                "listeners=PLAINTEXT://127.0.0.1:9092, SSL://0.0.0.0:9093", "ssl.certificate.location=/c.pem",
                "ssl.key.location=/k.pem", "ssl.client.auth=required", "ssl.ca.location=/ca.pem",
                "ssl.protocols=TLSv1.3", "ssl.cipher.suites=TLS_AES_256_GCM_SHA384",
            ])
        XCTAssertEqual(config.listeners.map(\.securityProtocol), [.plaintext, .ssl])
        XCTAssertEqual(config.listeners.map(\.description), ["PLAINTEXT://127.0.0.1:9092", "SSL://0.0.0.0:9093"])
        let tls = try XCTUnwrap(try config.listenerTLSConfiguration())
        XCTAssertEqual(tls.certificateChainPath, "/c.pem")
        XCTAssertEqual(tls.privateKeyPath, "/k.pem")
        XCTAssertNil(tls.privateKeyPassword)
        XCTAssertEqual(tls.caPath, "/ca.pem")
        XCTAssertEqual(tls.clientAuthentication, .required)
        XCTAssertEqual(tls.protocols, [.tls13])
        XCTAssertEqual(tls.cipherSuites, ["TLS_AES_256_GCM_SHA384"])
        XCTAssertNil(try BrokerConfig.load(file: nil).listenerTLSConfiguration(), "no SSL listener, no TLS")
    }

    func testSASLSchemesAreAcceptedAndUnknownOnesRefusedAsUnknown() throws {
        let plain = try BrokerConfig.load(file: nil, overrides: ["listeners=SASL_PLAINTEXT://127.0.0.1:9094"])
        XCTAssertEqual(plain.listeners.map(\.securityProtocol), [.saslPlaintext])
        XCTAssertTrue(plain.listeners[0].securityProtocol.usesSASL)
        XCTAssertFalse(plain.listeners[0].securityProtocol.usesTLS)
        // SASL_SSL is a TLS listener: it needs the certificate and key as SSL does.
        let tls = try BrokerConfig.load(file: nil, overrides: ["listeners=SASL_SSL://127.0.0.1:9094"])
        XCTAssertTrue(tls.listeners[0].securityProtocol.usesTLS && tls.listeners[0].securityProtocol.usesSASL)
        XCTAssertThrowsError(try tls.listenerTLSConfiguration()) {
            XCTAssertTrue("\($0)".hasPrefix("ssl.certificate.location:"), "\($0)")
        }
        XCTAssertThrowsError(try BrokerConfig.load(file: nil, overrides: ["listeners=TLS://127.0.0.1:9094"])) {
            XCTAssertTrue("\($0)".contains("unknown listener name TLS"), "\($0)")
        }
    }

    func testSSLListenerWithoutCertificateOrKeyIsAConfigurationError() throws {
        let config = try BrokerConfig.load(file: nil, overrides: ["listeners=SSL://127.0.0.1:9093"])
        XCTAssertThrowsError(try config.listenerTLSConfiguration()) {
            XCTAssertTrue("\($0)".hasPrefix("ssl.certificate.location:"), "\($0)")
        }
        let noKey = try BrokerConfig.load(
            file: nil, overrides: ["listeners=SSL://127.0.0.1:9093", "ssl.certificate.location=/c.pem"])
        XCTAssertThrowsError(try noKey.listenerTLSConfiguration()) {
            XCTAssertTrue("\($0)".hasPrefix("ssl.key.location:"), "\($0)")
        }
        XCTAssertThrowsError(try BrokerConfig.load(file: nil, overrides: ["ssl.client.auth=maybe"]))
        XCTAssertThrowsError(try BrokerConfig.load(file: nil, overrides: ["ssl.protocols=TLSv1.1"]))
    }
}

/// What Metadata and FindCoordinator tell the clients of each listener.
final class AdvertisedListenerTests: XCTestCase {
    func testEachListenerAdvertisesItsOwnSchemesAddress() throws {
        let both = try BrokerConfig.load(
            file: nil,
            overrides: [
                "listeners=PLAINTEXT://127.0.0.1:9092,SSL://0.0.0.0:9093",
                "advertised.listeners=SSL://broker.example.com:9093",
            ])
        XCTAssertEqual(
            both.advertisedListeners.map(\.description),
            ["PLAINTEXT://127.0.0.1:9092", "SSL://broker.example.com:9093"])
        XCTAssertEqual(both.advertisedListener.description, "PLAINTEXT://127.0.0.1:9092")
        // One listener and one advertised address: the address, whatever its scheme (as before).
        let one = try BrokerConfig.load(
            file: nil, overrides: ["listeners=PLAINTEXT://0.0.0.0:9092", "advertised.listeners=PLAINTEXT://h:1"])
        XCTAssertEqual(one.advertisedListeners.map(\.description), ["PLAINTEXT://h:1"])
        XCTAssertThrowsError(
            try BrokerConfig.load(file: nil, overrides: ["advertised.listeners=PLAINTEXT://h:1,SSL://x"]))
    }
}

/// The key password never leaves the broker.
final class SensitiveConfigTests: XCTestCase {
    func testDescribeConfigsReportsTheKeyPasswordAsSensitiveWithoutItsValue() throws {
        let directory = TemporaryDirectory("tern-sensitive")
        defer { directory.remove() }
        let config = try BrokerConfig.load(
            file: nil, overrides: ["log.dirs=\(directory.path)/data", "ssl.key.password=hunter2"])
        let broker = try Broker(config: config, logger: Logger(label: "test"))
        let response = broker.handleDescribeConfigs(
            DescribeConfigsRequest(resources: [.init(type: .broker, name: "0")]))
        let entries = try XCTUnwrap(response.resources.first?.entries)
        let password = try XCTUnwrap(entries.first { $0.name == "ssl.key.password" })
        XCTAssertNil(password.value)
        XCTAssertTrue(password.sensitive)
        XCTAssertFalse(entries.contains { $0.value?.contains("hunter2") == true })
        XCTAssertEqual(entries.first { $0.name == "ssl.client.auth" }?.value, "none")
        try broker.shutdown()
    }
}
