import TernTestSupport
import TernWire
import XCTest

/// SCRAM (RFC 5802 / RFC 7677): the RFC's test vector byte for byte, client-server round trips
/// with random users, passwords and iteration counts, and hostile or replayed messages refused.
final class ScramTests: XCTestCase {
    private let fakeKey = Array("fake-credential-key".utf8)

    private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    /// RFC 7677 section 3: user "user", password "pencil".
    func testRFC7677TestVectorBothSides() throws {
        let salt = try XCTUnwrap(Base64.decode("W22ZaJ0SNY7soEsUEjb6gQ=="))
        let credential = ScramCredential(mechanism: .sha256, password: "pencil", salt: salt, iterations: 4096)
        var client = ScramClient(
            mechanism: .sha256, username: "user", password: "pencil", clientNonce: "rOprNGfwEbeRWgbNEkqO")
        var server = ScramServer(
            mechanism: .sha256, serverNonce: "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0", fakeCredentialKey: fakeKey)

        let clientFirst = client.clientFirst()
        XCTAssertEqual(clientFirst, bytes("n,,n=user,r=rOprNGfwEbeRWgbNEkqO"))
        let serverFirst = try server.receiveClientFirst(clientFirst) { $0 == "user" ? credential : nil }
        XCTAssertEqual(
            String(decoding: serverFirst, as: UTF8.self),
            "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096")
        let clientFinal = try client.receiveServerFirst(serverFirst)
        XCTAssertEqual(
            String(decoding: clientFinal, as: UTF8.self),
            "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="
        )
        let serverFinal = try server.receiveClientFinal(clientFinal)
        XCTAssertEqual(String(decoding: serverFinal, as: UTF8.self), "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")
        XCTAssertEqual(server.authenticatedUser, "user")
        try client.receiveServerFinal(serverFinal)
        XCTAssertTrue(client.isSucceeded)
    }

    /// PBKDF2 against RFC 7914 section 11's PBKDF2-HMAC-SHA-256 vector (c = 1).
    func testPBKDF2SHA256KnownAnswer() {
        let out = ScramMechanism.sha256.saltedPassword(bytes("passwd"), salt: bytes("salt"), iterations: 1)
        XCTAssertEqual(
            out.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined(),
            "55ac046e56e3089fec1691c22544b605f94185216dde0465e68b9d57c20dacbc")
    }

    private func runExchange(
        _ mechanism: ScramMechanism, user: String, password: String, stored: ScramCredential?,
        storedUser: String? = nil,
        tamper: (inout [UInt8]) -> Void = { _ in }
    ) throws -> (ScramServer, ScramClient) {
        var client = ScramClient(
            mechanism: mechanism, username: user, password: password, clientNonce: ScramMechanism.randomNonce())
        var server = ScramServer(
            mechanism: mechanism, serverNonce: ScramMechanism.randomNonce(), fakeCredentialKey: fakeKey)
        let serverFirst = try server.receiveClientFirst(client.clientFirst()) {
            $0 == (storedUser ?? user) ? stored : nil
        }
        var clientFinal = try client.receiveServerFirst(serverFirst)
        tamper(&clientFinal)
        let serverFinal = try server.receiveClientFinal(clientFinal)
        try client.receiveServerFinal(serverFinal)
        return (server, client)
    }

    func testRandomUsersPasswordsAndIterationsRoundTrip() throws {
        var rng = SeededGenerator(seed: 0x5C_4A3)
        let alphabet = Array("abcXYZ019,=é✓ !~")
        for round in 0..<12 {
            let mechanism = ScramMechanism.all[round % 2]
            let user = String(
                (0..<Int.random(in: 1...12, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! })
            let password = String(
                (0..<Int.random(in: 1...20, using: &rng)).map { _ in alphabet.randomElement(using: &rng)! })
            let iterations = Int.random(in: 4096...4200, using: &rng)
            let stored = ScramCredential(
                mechanism: mechanism, password: password, salt: rng.bytes(lengths: 8...40), iterations: iterations)
            XCTAssertNil(stored.invalidReason)
            let (server, client) = try runExchange(mechanism, user: user, password: password, stored: stored)
            XCTAssertEqual(server.authenticatedUser, user, "round \(round)")
            XCTAssertTrue(client.isSucceeded)
            XCTAssertTrue(stored.verifies(password: password))
            XCTAssertFalse(stored.verifies(password: password + "x"))
        }
    }

    func testWrongPasswordUnknownUserAndWrongMechanismFailAlike() throws {
        let stored = ScramCredential.generate(mechanism: .sha256, password: "right")
        var failures: [SaslFailure] = []
        for (user, password, mechanism) in [
            ("alice", "wrong", ScramMechanism.sha256), ("bob", "right", .sha256), ("alice", "right", .sha512),
        ] {
            XCTAssertThrowsError(
                try runExchange(mechanism, user: user, password: password, stored: stored, storedUser: "alice")
            ) {
                guard let failure = $0 as? SaslFailure else { return XCTFail("\($0)") }
                failures.append(failure)
            }
        }
        XCTAssertEqual(failures.count, 3)
        // Sanity: the right password succeeds with the same stored credential.
        XCTAssertEqual(
            try runExchange(.sha256, user: "alice", password: "right", stored: stored).0.authenticatedUser, "alice")
    }

    func testUnknownUserGetsAStableFakeSalt() throws {
        var a = ScramServer(mechanism: .sha256, serverNonce: "n1", fakeCredentialKey: fakeKey)
        var b = ScramServer(mechanism: .sha256, serverNonce: "n2", fakeCredentialKey: fakeKey)
        let first = bytes("n,,n=ghost,r=abc")
        let one = try ScramMessages.parseServerFirst(try a.receiveClientFirst(first) { _ in nil })
        let two = try ScramMessages.parseServerFirst(try b.receiveClientFirst(first) { _ in nil })
        XCTAssertEqual(one.salt, two.salt)
        XCTAssertEqual(one.iterations, 4096)
    }

    func testTamperedClientFinalIsRefused() throws {
        let stored = ScramCredential.generate(mechanism: .sha512, password: "pw")
        let tampers: [(String, (inout [UInt8]) -> Void)] = [
            ("flipped proof bit", { $0[$0.count - 5] ^= 0x01 }),
            ("channel binding", { $0.replaceSubrange(0..<6, with: Array("c=eSws".utf8)) }),
            ("nonce", { $0[10] = $0[10] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A") }),
            ("truncated", { $0.removeLast(4) }),
            ("extension", { $0 += Array(",x=1".utf8) }),
        ]
        for (name, tamper) in tampers {
            XCTAssertThrowsError(
                try runExchange(.sha512, user: "u", password: "pw", stored: stored, tamper: tamper), name)
        }
    }

    func testReplayedClientFinalOnANewExchangeIsRefused() throws {
        let stored = ScramCredential.generate(mechanism: .sha256, password: "pw")
        var client = ScramClient(mechanism: .sha256, username: "u", password: "pw", clientNonce: "fixedclientnonce")
        var server = ScramServer(mechanism: .sha256, serverNonce: "serverA", fakeCredentialKey: fakeKey)
        let clientFirst = client.clientFirst()
        let clientFinal = try client.receiveClientFirstReply(server.receiveClientFirst(clientFirst) { _ in stored })
        XCTAssertNoThrow(try server.receiveClientFinal(clientFinal))
        // An eavesdropper replays both messages to a new exchange: the server's nonce differs.
        var second = ScramServer(mechanism: .sha256, serverNonce: "serverB", fakeCredentialKey: fakeKey)
        _ = try second.receiveClientFirst(clientFirst) { _ in stored }
        XCTAssertThrowsError(try second.receiveClientFinal(clientFinal))
        XCTAssertNil(second.authenticatedUser)
        // And a finished exchange takes nothing more.
        XCTAssertThrowsError(try server.receiveClientFinal(clientFinal))
    }

    func testHostileClientFirstMessagesAreRefused() {
        let hostile = [
            "", "n,,", "p=tls-unique,,n=u,r=abc", "x,,n=u,r=abc", "n,,r=abc,n=u", "n,,n=,r=abc", "n,,n=u,r=",
            "n,,n=u=,r=abc", "n,,n=u=2X,r=abc", "n,,n=u,r=a b", "n,,m=ext,n=u,r=abc", "n,,n=u,r=abc,e=1",
            "n,a=other,n=u,r=abc", "n,b=x,n=u,r=abc", "n,,n=u,r=abc\u{7F}",
            // A combining mark fuses with a comma into one Character: still refused, never misparsed.
            "n,,n=u,\u{301}r=abc", "n,\u{301},n=u,r=abc", "n,,n=u\u{301},r=abc\u{301}",
        ]
        for text in hostile {
            var server = ScramServer(mechanism: .sha256, serverNonce: "s", fakeCredentialKey: fakeKey)
            XCTAssertThrowsError(try server.receiveClientFirst(bytes(text)) { _ in nil }, text)
            XCTAssertTrue(server.isComplete, text)
        }
        var server = ScramServer(mechanism: .sha256, serverNonce: "s", fakeCredentialKey: fakeKey)
        XCTAssertThrowsError(try server.receiveClientFirst([0xFF, 0xFE]) { _ in nil })
        var big = ScramServer(mechanism: .sha256, serverNonce: "s", fakeCredentialKey: fakeKey)
        XCTAssertThrowsError(
            try big.receiveClientFirst(bytes("n,,n=u,r=" + String(repeating: "a", count: 2000))) { _ in nil })
        var rng = SeededGenerator(seed: 77)
        for _ in 0..<2000 {
            var random = ScramServer(mechanism: .sha256, serverNonce: "s", fakeCredentialKey: fakeKey)
            _ = try? random.receiveClientFirst(rng.bytes(lengths: 0...40)) { _ in nil }
            _ = try? random.receiveClientFinal(rng.bytes(lengths: 0...80))
            XCTAssertNil(random.authenticatedUser)
        }
    }

    func testEscapedNamesRoundTrip() throws {
        let first = try ScramMessages.parseClientFirst(bytes("n,a=a=2Cb=3D,n=a=2Cb=3D,r=xyz"))
        XCTAssertEqual(first.username, "a,b=")
        XCTAssertEqual(first.authorizationId, "a,b=")
        XCTAssertEqual(ScramMessages.encodeName("a,b="), "a=2Cb=3D")
    }

    func testClientRefusesABadServerFirst() {
        for text in [
            "r=other123,s=QSXCR+Q6sek8bf92,i=4096", "r=cnonce,s=QSXCR+Q6sek8bf92,i=4096",
            "r=cnonceX,s=QSXCR+Q6sek8bf92,i=1000", "r=cnonceX,s=QSXCR+Q6sek8bf92,i=99999999999",
            "r=cnonceX,s=!!!!,i=4096", "r=cnonceX,s=,i=4096", "r=cnonceX,s=QSXCR+Q6sek8bf92,i=+4096",
        ] {
            var client = ScramClient(mechanism: .sha256, username: "u", password: "p", clientNonce: "cnonce")
            _ = client.clientFirst()
            XCTAssertThrowsError(try client.receiveServerFirst(bytes(text)), text)
        }
    }

    func testClientRefusesAWrongServerSignature() throws {
        let stored = ScramCredential.generate(mechanism: .sha256, password: "pw")
        var client = ScramClient(mechanism: .sha256, username: "u", password: "pw", clientNonce: "c")
        var server = ScramServer(mechanism: .sha256, serverNonce: "s", fakeCredentialKey: fakeKey)
        let final = try client.receiveServerFirst(try server.receiveClientFirst(client.clientFirst()) { _ in stored })
        _ = try server.receiveClientFinal(final)
        XCTAssertThrowsError(
            try client.receiveServerFinal(bytes("v=" + Base64.encode([UInt8](repeating: 7, count: 32)))))
        XCTAssertFalse(client.isSucceeded)
    }

    func testBase64IsStrict() {
        for length in 0..<40 {
            let data = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 37 &+ 11) }
            XCTAssertEqual(Base64.decode(Base64.encode(data)), data)
        }
        XCTAssertEqual(Base64.encode(Array("n,,".utf8)), "biws")
        for bad in ["a", "ab=c", "QQ=", "QR==", "QUF=", "QU F", "Q===", "====", "QUJD\n"] {
            XCTAssertNil(Base64.decode(bad), bad)
        }
    }

    func testPlainParsing() throws {
        XCTAssertEqual(
            try PlainMessage.parse([0] + bytes("alice") + [0] + bytes("secret")),
            PlainMessage(username: "alice", password: "secret"))
        XCTAssertEqual(
            try PlainMessage.parse(bytes("alice") + [0] + bytes("alice") + [0] + bytes("pw")).authorizationId, "alice")
        let message = PlainMessage(username: "u", password: "p")
        XCTAssertEqual(try PlainMessage.parse(message.encoded), message)
        let hostile: [[UInt8]] = [
            [], [0], [0, 0], bytes("u") + [0] + bytes("p"), [0] + bytes("u") + [0], [0, 0] + bytes("p"),
            bytes("bob") + [0] + bytes("alice") + [0] + bytes("p"), [0] + bytes("u") + [0] + bytes("p") + [0],
            [0, 0xFF, 0, 0x41], [0] + [UInt8](repeating: 0x61, count: 256) + [0, 0x61],
        ]
        for bytes in hostile { XCTAssertThrowsError(try PlainMessage.parse(bytes), "\(bytes)") }
    }

    func testSaslApiKeysAndErrorCodes() {
        XCTAssertEqual(SaslHandshakeRequest.apiKey.rawValue, 17)
        XCTAssertEqual(SaslAuthenticateRequest.apiKey.rawValue, 36)
        XCTAssertEqual(ApiKey.saslHandshake.name, "SaslHandshake")
        XCTAssertEqual(ApiKey.saslAuthenticate.name, "SaslAuthenticate")
        // Advertised: SASL listeners answer them; SaslHandshake at version 1 only.
        XCTAssertTrue(ApiKey.supported.contains { $0.key == .saslHandshake && $0.minVersion == 1 })
        XCTAssertTrue(ApiKey.supported.contains { $0.key == .saslAuthenticate })
        XCTAssertEqual(SaslHandshakeRequest(mechanism: "PLAIN").version, 1)
        XCTAssertEqual(ErrorCode.unsupportedSaslMechanism.rawValue, 33)
        XCTAssertEqual(ErrorCode.illegalSaslState.rawValue, 34)
        XCTAssertEqual(ErrorCode.saslAuthenticationFailed.name, "SASL_AUTHENTICATION_FAILED")
    }
}

extension ScramClient {
    fileprivate mutating func receiveClientFirstReply(_ serverFirst: [UInt8]) throws -> [UInt8] {
        try receiveServerFirst(serverFirst)
    }
}
