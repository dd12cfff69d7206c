import ArgumentParser
import TernClient
import XCTest

@testable import tern

/// `-X sasl.mechanism=… -X sasl.username=… -X sasl.password=…` (or TERN_SASL_PASSWORD): parsed,
/// validated, and applied to ``ClientConfiguration/sasl``.
final class ClientPropertiesSASLTests: XCTestCase {
    private func configuration(_ arguments: [String], environment: [String: String] = [:]) throws -> ClientConfiguration
    {
        var options = try GlobalOptions.parse(arguments)
        options.bootstrap = "127.0.0.1:9092"
        let properties = try ClientProperties(file: options.commandConfig, overrides: options.properties)
        var configuration = ClientConfiguration()
        try properties.apply(to: &configuration, environment: environment)
        return configuration
    }

    func testSaslSSLSetsTLSAndSASL() throws {
        let configuration = try configuration([
            "-X", "security.protocol=SASL_SSL", "-X", "ssl.ca.location=/ca.pem", "-X", "sasl.mechanism=scram-sha-512",
            "-X", "sasl.username=alice", "-X", "sasl.password=pw:with=signs",
        ])
        XCTAssertEqual(configuration.tls?.caLocation, "/ca.pem")
        XCTAssertEqual(
            configuration.sasl, ClientSASL(mechanism: .scramSHA512, username: "alice", password: "pw:with=signs"))
    }

    func testPasswordFromTheEnvironmentAndTheOptionWins() throws {
        let base = [
            "-X", "security.protocol=SASL_PLAINTEXT", "-X", "sasl.mechanism=SCRAM-SHA-256", "-X", "sasl.username=bob",
        ]
        let fromEnvironment = try configuration(base, environment: ["TERN_SASL_PASSWORD": "env-pw"])
        XCTAssertEqual(fromEnvironment.sasl?.password, "env-pw")
        XCTAssertNil(fromEnvironment.tls)
        let explicit = try configuration(
            base + ["-X", "sasl.password=x-pw"], environment: ["TERN_SASL_PASSWORD": "env-pw"])
        XCTAssertEqual(explicit.sasl?.password, "x-pw")
    }

    func testMissingOrBadSettingsAreRefusedWithoutThePassword() throws {
        let proto = ["-X", "security.protocol=SASL_SSL"]
        let cases: [([String], String)] = [
            (proto + ["-X", "sasl.username=a", "-X", "sasl.password=secret"], "SASL needs sasl.mechanism"),
            (
                proto + ["-X", "sasl.mechanism=GSSAPI", "-X", "sasl.username=a", "-X", "sasl.password=secret"],
                "sasl.mechanism must be"
            ),
            (proto + ["-X", "sasl.mechanism=PLAIN", "-X", "sasl.password=secret"], "SASL needs sasl.username"),
            (proto + ["-X", "sasl.mechanism=PLAIN", "-X", "sasl.username=a"], "TERN_SASL_PASSWORD"),
            (
                ["-X", "security.protocol=SASL_PLAINTEXT", "-X", "ssl.ca.location=/ca.pem"],
                "ssl.ca.location is set but security.protocol is SASL_PLAINTEXT"
            ),
            (
                ["-X", "security.protocol=SSL", "-X", "sasl.password=secret"],
                "sasl.password is set but security.protocol is SSL"
            ),
        ]
        for (arguments, expected) in cases {
            XCTAssertThrowsError(try configuration(arguments), "\(arguments)") {
                XCTAssertTrue("\($0)".contains(expected), "\(arguments): \($0)")
                XCTAssertFalse("\($0)".contains("secret"), "\(arguments): \($0)")
            }
        }
    }

    func testTheSDKChecksSASLSettingsBeforeConnecting() async throws {
        var configuration = ClientConfiguration(bootstrap: ["127.0.0.1:1"])
        configuration.sasl = ClientSASL(mechanism: .scramSHA256, username: "u", password: "p")
        do {
            _ = try await TernClient(configuration: configuration)
            XCTFail("connected")
        } catch let error as TernError {
            // Valid settings: the client tries to connect (nothing listens there).
            XCTAssertEqual(error.code, .connectionFailed)
        }
        configuration.sasl?.username = ""
        do {
            _ = try await TernClient(configuration: configuration)
            XCTFail("connected")
        } catch let error as TernError {
            XCTAssertTrue(error.message.contains("sasl.username"), error.message)
        }
    }
}
