import Foundation
import TernTestSupport
import XCTest

/// SASL settings on real processes: ternd validates the `sasl.*` keys and is not disturbed by the
/// CLI's TERN_SASL_PASSWORD; `tern` parses `-X sasl.*`, takes the password from the environment
/// and never prints it. (Authentication itself: SaslTests.)
final class SaslSettingsTests: XCTestCase {
    func testBrokerStartsWithSaslKeysAndTheCLIPasswordVariableSet() throws {
        let directory = TemporaryDirectory("tern-sasl-settings")
        defer { directory.remove() }
        let broker = try BrokerProcess(
            dataDirectory: directory.path + "/data",
            settings: [
                "sasl.enabled.mechanisms": "SCRAM-SHA-512,PLAIN", "connection.failed.authentication.delay.ms": "250",
                "sasl.plain.allow.plaintext": "false",
            ],
            environment: ["TERN_SASL_PASSWORD": "not-a-broker-key"])
        defer { broker.stop() }
        let list = try runCommand(
            Binaries.path("tern"), ["--bootstrap", broker.bootstrap, "topic", "list"], timeout: 60)
        XCTAssertEqual(list.status, 0, list.stderr)
    }

    func testBrokerRefusesBadSaslKeys() throws {
        let directory = TemporaryDirectory("tern-sasl-bad")
        defer { directory.remove() }
        for (setting, expected) in [
            ("sasl.enabled.mechanisms=GSSAPI", "sasl.enabled.mechanisms"),
            ("connection.failed.authentication.delay.ms=-5", "connection.failed.authentication.delay.ms"),
        ] {
            let result = try runCommand(
                Binaries.path("ternd"),
                [
                    "--set", "listeners=PLAINTEXT://127.0.0.1:\(freeLoopbackPort())", "--set",
                    "log.dirs=\(directory.path)/bad", "--set", "admin.listeners=", "--set", setting,
                ], timeout: 30)
            XCTAssertEqual(result.status, 78, result.stderr)
            XCTAssertTrue(result.stderr.contains(expected), "expected '\(expected)' in: \(result.stderr)")
        }
    }

    func testCLIParsesSaslOptionsAndNeverPrintsThePassword() throws {
        let sasl = [
            "--bootstrap", "127.0.0.1:\(freeLoopbackPort())", "-X", "security.protocol=SASL_PLAINTEXT", "-X",
            "sasl.mechanism=SCRAM-SHA-256", "-X", "sasl.username=admin", "topic", "list",
        ]
        let refused = try runCommand(
            Binaries.path("tern"), sasl, environment: ["TERN_SASL_PASSWORD": "hunter2-secret"], timeout: 60)
        // Nothing listens there: the connection fails, naming the address, not the password.
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.stderr.contains("127.0.0.1"), refused.stderr)
        XCTAssertFalse(refused.stderr.contains("hunter2-secret"), refused.stderr)

        let noPassword = try runCommand(
            Binaries.path("tern"), sasl, environment: ["TERN_SASL_PASSWORD": ""], timeout: 60)
        XCTAssertNotEqual(noPassword.status, 0)
        XCTAssertTrue(noPassword.stderr.contains("TERN_SASL_PASSWORD"), noPassword.stderr)
    }
}
