import TernWire
import XCTest

@testable import TernBroker

/// The controller's SCRAM credential decisions (AlterUserScramCredentials as Kafka decides it) and
/// DescribeUserScramCredentials' answers.
final class ControllerScramDecisionsTests: XCTestCase {
    static let salt = [UInt8](repeating: 3, count: 32)

    static func upsert(
        _ user: String, _ mechanism: ScramMechanism = .sha256, password: String = "pw", iterations: Int32 = 4096
    ) -> AlterUserScramCredentialsRequest.Upsertion {
        .init(
            user: user, mechanism: mechanism, iterations: iterations, salt: salt,
            saltedPassword: mechanism.saltedPassword(Array(password.utf8), salt: salt, iterations: Int(iterations)))
    }

    func testUpsertionStoresKeysDerivedFromTheSaltedPasswordNeverThePassword() throws {
        let change = ControllerDecisions.alterScramCredentials(
            MetadataImage(), AlterUserScramCredentialsRequest(upsertions: [Self.upsert("alice", password: "secret")]))
        XCTAssertEqual(change.response.results, [.init(user: "alice")])
        XCTAssertEqual(change.changedUsers, ["alice"])
        let image = try MetadataImage().applying(change.records)
        let stored = try XCTUnwrap(image.scramCredential(user: "alice", mechanism: .sha256))
        // The same credential a broker derives from the password itself (RFC 5802).
        XCTAssertEqual(
            stored, ScramCredential(mechanism: .sha256, password: "secret", salt: Self.salt, iterations: 4096))
        XCTAssertTrue(stored.verifies(password: "secret"))
        XCTAssertFalse(stored.verifies(password: "Secret"))
    }

    func testEachUsersChangesApplyTogetherOrNotAtAll() throws {
        let image = try MetadataImage().applying(
            ControllerDecisions.alterScramCredentials(
                MetadataImage(), .init(upsertions: [Self.upsert("bob", .sha512)])
            ).records)
        let request = AlterUserScramCredentialsRequest(
            deletions: [.init(user: "bob", mechanism: .sha512), .init(user: "carol", mechanism: .sha256)],
            upsertions: [
                Self.upsert("alice"), Self.upsert("dave", iterations: 1000), Self.upsert("erin"),
                Self.upsert("erin", .sha256), Self.upsert("", .sha256), Self.upsert("carol", .sha512),
            ])
        let change = ControllerDecisions.alterScramCredentials(image, request)
        XCTAssertEqual(change.response.results.map(\.user), ["bob", "carol", "alice", "dave", "erin", ""])
        XCTAssertEqual(
            change.response.results.map(\.errorCode),
            [.none, .resourceNotFound, .none, .unacceptableCredential, .duplicateResource, .unacceptableCredential])
        XCTAssertEqual(change.changedUsers, ["bob", "alice"])
        // carol's upsertion is not applied although it alone would be valid: her deletion failed.
        let next = try image.applying(change.records)
        XCTAssertEqual(next.scramUsers, ["alice"])
    }

    func testSaltedPasswordOfTheWrongSizeIsUnacceptable() {
        var upsertion = Self.upsert("alice", .sha512)
        upsertion.saltedPassword = Array(upsertion.saltedPassword.prefix(32))
        let change = ControllerDecisions.alterScramCredentials(MetadataImage(), .init(upsertions: [upsertion]))
        XCTAssertEqual(change.response.results.first?.errorCode, .unacceptableCredential)
        XCTAssertEqual(change.records, [])
    }

    func testDescribeListsMechanismsAndIterationsOnly() throws {
        let image = try MetadataImage().applying(
            ControllerDecisions.alterScramCredentials(
                MetadataImage(),
                .init(upsertions: [
                    Self.upsert("bob", .sha512, iterations: 8192), Self.upsert("bob"), Self.upsert("alice"),
                ])
            ).records)
        let all = ControllerDecisions.describeScramCredentials(image, .init())
        XCTAssertEqual(all.results.map(\.user), ["alice", "bob"])
        XCTAssertEqual(
            all.results[1].credentials,
            [.init(mechanism: .sha256, iterations: 4096), .init(mechanism: .sha512, iterations: 8192)])
        let named = ControllerDecisions.describeScramCredentials(image, .init(users: ["zed", "alice", "zed"]))
        XCTAssertEqual(named.results.map(\.user), ["zed", "alice"])
        XCTAssertEqual(named.results.map(\.errorCode), [.duplicateResource, .none])
        XCTAssertEqual(
            ControllerDecisions.describeScramCredentials(image, .init(users: ["zed"])).results.first?.errorCode,
            .resourceNotFound)
    }
}
