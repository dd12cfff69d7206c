import Foundation
import Logging
import TernNet
import TernTestSupport
import XCTest

@testable import TernBroker

/// `listener.security.protocol.map`: what it parses to, its defaults (today's plaintext
/// controller listener), every refusal naming the key, and the TLS settings an SSL controller
/// listener gets (mutual TLS: the node's certificate, a client certificate required).
final class ListenerSecurityProtocolMapTests: XCTestCase {
    /// A voter of a three-node quorum, with `extra` keys.
    private func load(_ extra: [String: String]) throws(ConfigError) -> BrokerConfig {
        var keys = [
            "node.id": "1", "controller.quorum.voters": "1@127.0.0.1:9093,2@127.0.0.1:9095,3@127.0.0.1:9097",
            "listeners": "PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9093",
        ]
        keys.merge(extra) { $1 }
        return try BrokerConfig.load(
            file: nil, overrides: keys.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" })
    }

    private func assertRefused(
        _ extra: [String: String], _ fragments: String..., file: StaticString = #filePath, line: UInt = #line
    ) {
        do {
            _ = try load(extra)
            XCTFail("\(extra) was accepted", file: file, line: line)
        } catch {
            for fragment in fragments {
                XCTAssertTrue(
                    "\(error)".contains(fragment), "\(extra): '\(error)' lacks '\(fragment)'", file: file, line: line)
            }
        }
    }

    func testWithoutTheKeyTheControllerListenerStaysPlaintext() throws {
        let config = try load([:])
        XCTAssertEqual(config.cluster.securityProtocolMap, ListenerSecurityProtocolMap())
        XCTAssertEqual(config.cluster.controllerSecurityProtocol, .plaintext)
        XCTAssertEqual(config.cluster.controllerListener?.securityProtocol, .plaintext)
        XCTAssertFalse(config.controllerUsesTLS)
        XCTAssertNil(try config.controllerListenerTLSConfiguration())
        XCTAssertNil(try config.controllerClientTLSConfiguration())
        XCTAssertNil(try ListenerTLS.load(config: config, logger: Logger(label: "test")))
        // The single-node default too.
        XCTAssertEqual(try BrokerConfig.load(file: nil).cluster.controllerSecurityProtocol, .plaintext)
    }

    func testParsesPairsCaseInsensitivelyAndDefaultsTheRest() throws {
        let map = try ListenerSecurityProtocolMap(parsing: " controller:ssl , PLAINTEXT:PLAINTEXT,SSL:SSL ")
        XCTAssertEqual(map.entries, ["CONTROLLER": .ssl, "PLAINTEXT": .plaintext, "SSL": .ssl])
        XCTAssertEqual(map.securityProtocol(of: "Controller"), .ssl)
        XCTAssertEqual(map.securityProtocol(of: "SASL_SSL"), .saslSSL)
        XCTAssertEqual(map.securityProtocol(of: "QUORUM"), .plaintext)
        XCTAssertEqual(try ListenerSecurityProtocolMap(parsing: "").entries, [:])

        let config = try load(["listener.security.protocol.map": "CONTROLLER:SSL,PLAINTEXT:PLAINTEXT"])
        XCTAssertEqual(config.cluster.controllerSecurityProtocol, .ssl)
        XCTAssertEqual(config.cluster.controllerListener?.securityProtocol, .ssl)
        XCTAssertEqual(config.listeners.map(\.securityProtocol), [.plaintext])
    }

    func testRefusalsNameTheKeyAndTheReason() {
        let key = "listener.security.protocol.map"
        assertRefused([key: "CONTROLLER"], key, "has no ':'")
        assertRefused([key: "CONTROLLER:TLS"], key, "unknown security protocol 'TLS'")
        assertRefused([key: "CONTROLLER:SSL,,PLAINTEXT:PLAINTEXT"], key, "has no ':'")
        assertRefused([key: "CONT ROLLER:SSL"], key, "is not a listener name")
        assertRefused([key: "CONTROLLER:SSL,controller:PLAINTEXT"], key, "CONTROLLER is mapped twice")
        // A client listener's name is its protocol; mapping it to another would lie to the
        // clients, fetchers and registrations that read the protocol from the name.
        assertRefused([key: "PLAINTEXT:SSL"], key, "PLAINTEXT is a client listener")
        assertRefused([key: "SASL_SSL:SSL"], key, "SASL_SSL is a client listener")
        // Names neither a protocol nor a controller listener's.
        assertRefused([key: "INTERNAL:SSL"], key, "unknown listener name INTERNAL", "controller.listener.names")
        // SASL is not offered on the controller listener.
        assertRefused([key: "CONTROLLER:SASL_SSL"], key, "PLAINTEXT or SSL")
        // Controllers dial the first name's protocol; a second name secured otherwise would refuse them.
        assertRefused(
            [
                "controller.listener.names": "CONTROLLER,QUORUM", key: "CONTROLLER:SSL",
                "listeners": "PLAINTEXT://127.0.0.1:9092,QUORUM://127.0.0.1:9093",
            ], key, "QUORUM://127.0.0.1:9093 is PLAINTEXT", "map them alike")
        // Through the config file's own validation too (file, line, key).
        XCTAssertNotNil(BrokerConfigKeys.definition(key)?.validate("CONTROLLER:NOPE"))
        XCTAssertNil(BrokerConfigKeys.definition(key)?.validate("CONTROLLER:SSL"))
    }

    func testSslControllerListenerNeedsCertificateKeyAndCA() throws {
        let key = "listener.security.protocol.map"
        for missing in ["ssl.certificate.location", "ssl.key.location", "ssl.ca.location"] {
            var settings = [
                key: "CONTROLLER:SSL", "ssl.certificate.location": "/c.pem", "ssl.key.location": "/k.pem",
                "ssl.ca.location": "/ca.pem",
            ]
            settings[missing] = nil
            let config = try load(settings)
            XCTAssertThrowsError(try config.controllerListenerTLSConfiguration()) { error in
                XCTAssertTrue("\(error)".contains(missing), "\(error)")
                XCTAssertTrue("\(error)".contains("mutual TLS"), "\(error)")
            }
            XCTAssertThrowsError(try config.controllerClientTLSConfiguration())
        }
    }

    func testSslControllerListenerIsMutualTLSWithTheNodesFiles() throws {
        let certificates = try TestCertificates()
        defer { certificates.directory.remove() }
        let config = try load([
            "listener.security.protocol.map": "CONTROLLER:SSL",
            "ssl.certificate.location": certificates.server.certificate,
            "ssl.key.location": certificates.server.key, "ssl.ca.location": certificates.ca,
            "ssl.endpoint.identification.algorithm": "none",
        ])
        let server = try XCTUnwrap(try config.controllerListenerTLSConfiguration())
        // Required whatever ssl.client.auth says (its default is none).
        XCTAssertEqual(server.clientAuthentication, .required)
        XCTAssertEqual(server.caPath, certificates.ca)
        let client = try XCTUnwrap(try config.controllerClientTLSConfiguration())
        XCTAssertEqual(client.certificateChainPath, certificates.server.certificate)
        XCTAssertEqual(client.caPath, certificates.ca)
        XCTAssertFalse(client.verifyHostname)
        // The client listener stays plaintext; the controller listener gets its own context.
        let tls = try XCTUnwrap(try ListenerTLS.load(config: config, logger: Logger(label: "test")))
        XCTAssertNotNil(tls.controllerHolder)
        XCTAssertTrue(tls.reload(reason: "test"))

        // A quorum of one has no controller listener to secure.
        let single = try BrokerConfig.load(file: nil, overrides: ["listener.security.protocol.map=CONTROLLER:SSL"])
        XCTAssertFalse(single.controllerUsesTLS)
        XCTAssertNil(try single.controllerClientTLSConfiguration())
    }
}
