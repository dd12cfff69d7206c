import Logging
import TernNet
import TernTestSupport
import XCTest

@testable import TernBroker

/// The replica fetchers' security settings from the configuration: which protocol the
/// inter-broker listener speaks, the TLS client settings, the SASL credentials (half set is a
/// configuration error), and that the password is reported as sensitive.
final class BrokerConfigInterBrokerTests: XCTestCase {
    func testProtocolIsTheInterBrokerListenersOrTheFirstListeners() throws {
        XCTAssertEqual(try BrokerConfig.load(file: nil).interBrokerSecurityProtocol, .plaintext)
        let secured = ["listeners=SASL_SSL://127.0.0.1:9094,PLAINTEXT://127.0.0.1:9092"]
        XCTAssertEqual(try BrokerConfig.load(file: nil, overrides: secured).interBrokerSecurityProtocol, .saslSSL)
        XCTAssertEqual(
            try BrokerConfig.load(file: nil, overrides: secured + ["inter.broker.listener.name=plaintext"])
                .interBrokerSecurityProtocol, .plaintext)
    }

    func testTLSClientTrustsTheCAAndPresentsItsCertificateOnlyUnderClientAuth() throws {
        let base = [
            "ssl.ca.location=/etc/tern/ca.pem", "ssl.certificate.location=/etc/tern/broker.pem",
            "ssl.key.location=/etc/tern/broker.key",
        ]
        let plain = try BrokerConfig.load(file: nil, overrides: base).interBrokerTLSConfiguration()
        XCTAssertEqual(plain.caPath, "/etc/tern/ca.pem")
        XCTAssertNil(plain.certificateChainPath, "no client certificate unless the leaders ask for one")
        XCTAssertTrue(plain.verifyHostname)
        let mutual = try BrokerConfig.load(
            file: nil, overrides: base + ["ssl.client.auth=required", "ssl.endpoint.identification.algorithm=none"]
        ).interBrokerTLSConfiguration()
        XCTAssertEqual(mutual.certificateChainPath, "/etc/tern/broker.pem")
        XCTAssertEqual(mutual.privateKeyPath, "/etc/tern/broker.key")
        XCTAssertFalse(mutual.verifyHostname)
    }

    func testSaslCredentialsAreBothOrNeither() throws {
        XCTAssertNil(try BrokerConfig.load(file: nil).interBrokerSaslCredentials())
        let both = try BrokerConfig.load(
            file: nil,
            overrides: [
                "inter.broker.sasl.username=broker", "inter.broker.sasl.password=s3cret",
                "sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512",
            ]
        ).interBrokerSaslCredentials()
        XCTAssertEqual(
            both, InterBrokerSaslCredentials(mechanism: "SCRAM-SHA-512", username: "broker", password: "s3cret"))
        XCTAssertFalse("\(try XCTUnwrap(both))".contains("s3cret"), "a description never shows the password")
        for half in ["inter.broker.sasl.username=broker", "inter.broker.sasl.password=s3cret"] {
            let config = try BrokerConfig.load(file: nil, overrides: [half])
            XCTAssertThrowsError(try config.interBrokerSaslCredentials(), half)
            XCTAssertThrowsError(try InterBrokerSecurity(config: config, logger: .init(label: "test")), half)
        }
        XCTAssertThrowsError(
            try BrokerConfig.load(file: nil, overrides: ["sasl.mechanism.inter.broker.protocol=GSSAPI"]))
        XCTAssertTrue(BrokerConfigKeys.sensitive.contains("inter.broker.sasl.password"))
    }

    /// A TLS inter-broker listener whose CA file is unusable stops the broker at start-up rather
    /// than at the first fetch.
    func testUnreadableCAIsAConfigurationErrorForTLSInterBrokerListeners() throws {
        let config = try BrokerConfig.load(
            file: nil,
            overrides: ["listeners=SSL://127.0.0.1:9093", "ssl.ca.location=/nonexistent/ca.pem"])
        XCTAssertThrowsError(try InterBrokerSecurity(config: config, logger: .init(label: "test"))) { error in
            XCTAssertTrue("\(error)".contains("ssl.ca.location"), "\(error)")
        }
        let plaintext = try BrokerConfig.load(file: nil, overrides: ["ssl.ca.location=/nonexistent/ca.pem"])
        XCTAssertNoThrow(try InterBrokerSecurity(config: plaintext, logger: .init(label: "test")))
    }
}
