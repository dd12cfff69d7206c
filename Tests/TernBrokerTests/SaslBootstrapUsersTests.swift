import Foundation
import TernBroker
import TernWire
import XCTest

/// `sasl.bootstrap.users.file`: parsing, the permission check on real files, and the records a
/// broker proposes (only for users that do not exist yet).
final class SaslBootstrapUsersTests: XCTestCase {
    private var directory: URL!

    override func setUpWithError() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("sasl-bootstrap-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: directory) }

    private func write(_ text: String, mode: Int) throws -> String {
        let path = directory.appendingPathComponent("users").path
        try? FileManager.default.removeItem(atPath: path)
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data(text.utf8)))
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: path)
        return path
    }

    func testParsesNamesAndPasswordsWithColonsAndSpaces() throws {
        XCTAssertEqual(
            try SaslBootstrapUsers.parse("ops:pass word ", origin: "f"), [.init(name: "ops", password: "pass word ")])
        let entries = try SaslBootstrapUsers.parse("# admins\nadmin:s3cr:et\r\n\n  \n", origin: "f")
        XCTAssertEqual(entries, [.init(name: "admin", password: "s3cr:et")])
    }

    func testRefusesBadLinesWithoutPrintingPasswords() {
        let cases = ["admin", ":pw", "admin:", "a b:pw", " ops:pw", "admin:pw\nadmin:other"]
        for text in cases {
            XCTAssertThrowsError(try SaslBootstrapUsers.parse(text, origin: "f"), text) {
                let message = "\($0)"
                XCTAssertTrue(message.contains("f line "), message)
                XCTAssertFalse(message.contains("pw") || message.contains("other"), message)
            }
        }
    }

    func testOwnerOnlyFileLoads() throws {
        for mode in [0o600, 0o400] {
            let path = try write("admin:secret\n", mode: mode)
            XCTAssertEqual(try SaslBootstrapUsers.load(path: path), [.init(name: "admin", password: "secret")])
        }
    }

    func testFileReadableOrWritableByGroupOrOthersIsRefused() throws {
        for mode in [0o640, 0o604, 0o644, 0o620, 0o602] {
            let path = try write("admin:secret\n", mode: mode)
            XCTAssertThrowsError(try SaslBootstrapUsers.load(path: path), "mode \(String(mode, radix: 8))") {
                XCTAssertTrue("\($0)".contains("chmod 600"), "\($0)")
                XCTAssertFalse("\($0)".contains("secret"), "\($0)")
            }
        }
        XCTAssertThrowsError(try SaslBootstrapUsers.load(path: directory.appendingPathComponent("missing").path))
        XCTAssertThrowsError(try SaslBootstrapUsers.load(path: directory.path)) {  // a directory
            XCTAssertTrue("\($0)".contains("sasl.bootstrap.users.file"), "\($0)")
        }
    }

    func testRecordsForNewUsersOnlyAndEveryEnabledMechanism() throws {
        let existing = ScramCredential.generate(mechanism: .sha256, password: "changed-later")
        let image = try MetadataImage().applying(.userScramCredential(.init(name: "admin", credential: existing)))
        let entries: [SaslBootstrapUsers.Entry] = [
            .init(name: "admin", password: "from-file"), .init(name: "ops", password: "pw"),
        ]
        let records = SaslBootstrapUsers.records(for: entries, mechanisms: [.sha256, .sha512], image: image)
        XCTAssertEqual(records.count, 2)
        var next = try image.applying(records)
        XCTAssertEqual(next.scramCredential(user: "admin", mechanism: .sha256), existing)
        XCTAssertNil(next.scramCredential(user: "admin", mechanism: .sha512))
        for mechanism in ScramMechanism.all {
            let credential = try XCTUnwrap(next.scramCredential(user: "ops", mechanism: mechanism))
            XCTAssertTrue(credential.verifies(password: "pw"))
        }
        // At the next start nothing is proposed again.
        XCTAssertEqual(SaslBootstrapUsers.records(for: entries, mechanisms: [.sha256, .sha512], image: next), [])
        next = try next.applying(SaslBootstrapUsers.records(for: entries, mechanisms: [], image: next))
        XCTAssertEqual(next.scramUsers, ["admin", "ops"])
    }
}
