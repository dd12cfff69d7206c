import TernBroker
import TernTestSupport
import TernWire
import XCTest

/// SCRAM credentials in the metadata image: set, replace, remove, refuse what a broker cannot
/// use, and survive a snapshot (``MetadataImage/records``) unchanged.
final class MetadataImageCredentialsTests: XCTestCase {
    private func credential(_ mechanism: ScramMechanism, _ password: String) -> ScramCredential {
        ScramCredential.generate(mechanism: mechanism, password: password)
    }

    func testSetReplaceAndRemove() throws {
        let first = credential(.sha256, "one")
        var image = try MetadataImage().applying([
            .userScramCredential(.init(name: "alice", credential: first)),
            .userScramCredential(.init(name: "alice", credential: credential(.sha512, "one"))),
            .userScramCredential(.init(name: "bob", credential: credential(.sha256, "two"))),
        ])
        XCTAssertEqual(image.scramUsers, ["alice", "bob"])
        XCTAssertEqual(image.scramCredential(user: "alice", mechanism: .sha256), first)
        // A password change replaces the credential.
        let second = credential(.sha256, "changed")
        try image.apply(.userScramCredential(.init(name: "alice", credential: second)))
        XCTAssertEqual(image.scramCredential(user: "alice", mechanism: .sha256), second)
        try image.apply(.removeUserScramCredential(.init(name: "bob", mechanism: .sha256)))
        XCTAssertEqual(image.scramUsers, ["alice"])
        XCTAssertNil(image.scramCredential(user: "bob", mechanism: .sha256))
    }

    func testContradictionsAreRefusedAndLeaveTheImageUnchanged() throws {
        let image = try MetadataImage().applying(
            .userScramCredential(.init(name: "a", credential: credential(.sha256, "p"))))
        let weak = ScramCredential(mechanism: .sha256, password: "p", salt: [1, 2, 3], iterations: 1000)
        let wrongSize = ScramCredential(mechanism: .sha512, salt: [1], storedKey: [1], serverKey: [2], iterations: 4096)
        let bad: [(MetadataRecord, MetadataImageError.Code)] = [
            (.userScramCredential(.init(name: "b", credential: weak)), .invalid),
            (.userScramCredential(.init(name: "b", credential: wrongSize)), .invalid),
            (.userScramCredential(.init(name: "", credential: credential(.sha256, "p"))), .invalid),
            (.removeUserScramCredential(.init(name: "a", mechanism: .sha512)), .unknownEntity),
            (.removeUserScramCredential(.init(name: "nobody", mechanism: .sha256)), .unknownEntity),
        ]
        for (record, code) in bad {
            XCTAssertThrowsError(try image.applying(record), "\(record)") {
                XCTAssertEqual(($0 as? MetadataImageError)?.code, code, "\($0)")
            }
        }
    }

    /// Property: for random sequences of sets and removals, rebuilding from the snapshot records
    /// gives an equal image, and equal images give equal snapshot bytes.
    func testSnapshotRebuildsTheSameCredentials() throws {
        var rng = SeededGenerator(seed: 0xC4ED)
        let users = ["a", "b", "c", "d,e", "é"]
        // Few distinct credentials: PBKDF2 at 4096 iterations is the slow part.
        let pool = ScramMechanism.all.flatMap { m in (0..<3).map { credential(m, "p\($0)") } }
        for _ in 0..<30 {
            var image = try MetadataImage().applying(.clusterId("c"))
            for _ in 0..<Int.random(in: 0...25, using: &rng) {
                let user = users.randomElement(using: &rng)!
                let cred = pool.randomElement(using: &rng)!
                if Bool.random(using: &rng), image.scramCredential(user: user, mechanism: cred.mechanism) != nil {
                    try image.apply(.removeUserScramCredential(.init(name: user, mechanism: cred.mechanism)))
                } else {
                    try image.apply(.userScramCredential(.init(name: user, credential: cred)))
                }
            }
            let snapshot = try MetadataBatch.decode(MetadataBatch.encode(image.records))
            let rebuilt = try MetadataImage().applying(snapshot)
            XCTAssertEqual(rebuilt, image)
            XCTAssertEqual(MetadataBatch.encode(rebuilt.records), MetadataBatch.encode(image.records))
        }
    }
}
