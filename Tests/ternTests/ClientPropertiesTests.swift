import ArgumentParser
import Foundation
import TernClient
import XCTest

@testable import tern

/// `--command-config FILE` and `-X KEY=VALUE`: librdkafka's names applied to the SDK settings.
final class ClientPropertiesTests: XCTestCase {
    func testFileThenXOptionsSetTLS() throws {
        let path = NSTemporaryDirectory() + "tern-client-\(UUID().uuidString).properties"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try "# comment\nsecurity.protocol=SSL\nssl.ca.location=/file-ca.pem\nbootstrap.servers=b:9093\n"
            .write(toFile: path, atomically: true, encoding: .utf8)
        let options = try GlobalOptions.parse([
            "--command-config", path, "-X", "ssl.ca.location=/x-ca.pem", "-X",
            "ssl.endpoint.identification.algorithm=none",
            "-X", "ssl.certificate.location=/c.pem", "-X", "ssl.key.location=/k.pem",
        ])
        let configuration = try options.clientConfiguration()
        XCTAssertEqual(configuration.bootstrap, ["b:9093"])
        let tls = try XCTUnwrap(configuration.tls)
        XCTAssertEqual(tls.caLocation, "/x-ca.pem", "-X wins over the file")
        XCTAssertEqual(tls.certificateLocation, "/c.pem")
        XCTAssertEqual(tls.keyLocation, "/k.pem")
        XCTAssertFalse(tls.verifyHostname)
        XCTAssertTrue(tls.verifyCertificate)
        XCTAssertNil(try GlobalOptions.parse([]).clientConfiguration().tls, "plaintext by default")
    }

    func testBadPropertiesAreRefusedByName() throws {
        let cases: [([String], String)] = [
            (["-X", "security.protocol=TLS"], "security.protocol must be PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL"),
            (["-X", "ssl.ca.location=/ca.pem"], "ssl.ca.location is set but security.protocol is PLAINTEXT"),
            (["-X", "sasl.mechanism=PLAIN"], "sasl.mechanism is set but security.protocol is PLAINTEXT"),
            (["-X", "sasl.oauthbearer.config=x"], "unknown client property 'sasl.oauthbearer.config'"),
            (["-X", "security.protocol"], "expected KEY=VALUE"),
            (["--command-config", "/nonexistent/client.properties"], "cannot read --command-config"),
        ]
        for (arguments, expected) in cases {
            let options = try GlobalOptions.parse(arguments)
            XCTAssertThrowsError(try options.clientConfiguration()) {
                XCTAssertTrue("\($0)".contains(expected), "\(arguments): \($0)")
            }
        }
    }
}
