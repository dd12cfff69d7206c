import TernTestSupport
import TernWire
import XCTest

/// The client side of SASL (what the SDK's connections and a broker's inter-broker channels both
/// drive) against TernWire's SCRAM server machine (what the broker runs): success proves both
/// sides; a broker that refuses, does not offer the mechanism, cannot prove it holds the
/// credential or answers out of turn ends the session with the matching code.
final class SaslClientSessionTests: XCTestCase {
    private let key = Array("fake-key".utf8)

    private func session(_ mechanism: String, nonce: String = "abc") -> SaslClientSession {
        SaslClientSession(mechanism: mechanism, username: "alice", password: "pw", clientNonce: nonce)
    }

    /// Logs alice in with `password` at a broker holding `stored` for her; returns the session.
    private func exchange(_ mechanism: String, password: String, stored: ScramCredential) throws -> SaslClientSession {
        var session = SaslClientSession(mechanism: mechanism, username: "alice", password: password)
        XCTAssertEqual(session.start().mechanism, mechanism)
        let first = try session.receive(SaslHandshakeResponse(mechanisms: ["SCRAM-SHA-256", "SCRAM-SHA-512"]))
        var broker = ScramBrokerPart(mechanism: stored.mechanism, credentials: ["alice": stored])
        let requests = try broker.run(&session, from: first)
        XCTAssertEqual(requests, 2, "client-first and client-final")
        return session
    }

    /// Runs `body`, which must throw a ``SaslClientError``, and returns it.
    private func failure(_ body: () throws -> Void, line: UInt = #line) -> SaslClientError? {
        do {
            try body()
            XCTFail("no error", line: line)
            return nil
        } catch {
            XCTAssertNotNil(error as? SaslClientError, "\(error)", line: line)
            return error as? SaslClientError
        }
    }

    func testScramAuthenticatesBothWays() throws {
        for mechanism in ScramMechanism.all {
            let stored = ScramCredential.generate(mechanism: mechanism, password: "pw")
            XCTAssertTrue(try exchange(mechanism.name, password: "pw", stored: stored).isAuthenticated)
        }
    }

    func testWrongPasswordIsRefusedWithTheBrokersCodeAndMessage() {
        let stored = ScramCredential.generate(mechanism: .sha256, password: "pw")
        XCTAssertThrowsError(try exchange("SCRAM-SHA-256", password: "secret-wrong", stored: stored)) {
            let error = $0 as? SaslClientError
            XCTAssertEqual(error?.code, .refused)
            XCTAssertEqual(error?.brokerError, .saslAuthenticationFailed)
            XCTAssertEqual(error?.reason, SaslFailure.clientMessage)
            XCTAssertFalse("\($0)".contains("secret-wrong"))
        }
    }

    func testPlainSendsTheRFC4616MessageAndEndsOnTheBrokersYes() throws {
        var plain = session("PLAIN")
        XCTAssertEqual(plain.start().mechanism, "PLAIN")
        let request = try plain.receive(SaslHandshakeResponse(mechanisms: ["PLAIN"]))
        XCTAssertEqual(try PlainMessage.parse(request.authBytes), PlainMessage(username: "alice", password: "pw"))
        XCTAssertFalse(plain.isAuthenticated)
        XCTAssertNil(try plain.receive(SaslAuthenticateResponse(authBytes: [])))
        XCTAssertTrue(plain.isAuthenticated)
    }

    func testUnofferedMechanismCarriesWhatTheBrokerOffers() {
        var session = session("PLAIN")
        _ = session.start()
        let error = failure {
            _ = try session.receive(
                SaslHandshakeResponse(errorCode: .unsupportedSaslMechanism, mechanisms: ["SCRAM-SHA-512"]))
        }
        XCTAssertEqual(error?.code, .mechanismNotOffered)
        XCTAssertEqual(error?.brokerError, .unsupportedSaslMechanism)
        XCTAssertEqual(error?.offeredMechanisms, ["SCRAM-SHA-512"])
        XCTAssertFalse(session.isAuthenticated)
    }

    func testAMechanismThisSideDoesNotSpeakIsRefusedBeforeSendingAnything() {
        // The broker offers it (its handshake answer has no error), but there is no client for it.
        var session = session("GSSAPI")
        XCTAssertEqual(session.start().mechanism, "GSSAPI")
        let error = failure { _ = try session.receive(SaslHandshakeResponse(mechanisms: ["GSSAPI"])) }
        XCTAssertEqual(error?.code, .unsupportedMechanism)
        XCTAssertEqual(error?.brokerError, ErrorCode.none)
        XCTAssertTrue(error?.reason.contains("GSSAPI") == true, "\(String(describing: error))")
    }

    /// A broker (or a man in the middle) without the credential accepts client-final: the
    /// session still fails, since server-final's signature is not the one the password implies.
    func testWrongServerSignatureIsNotAuthenticated() throws {
        var session = session("SCRAM-SHA-256")
        _ = session.start()
        _ = try session.receive(SaslHandshakeResponse(mechanisms: ["SCRAM-SHA-256"]))
        _ = try XCTUnwrap(
            try session.receive(SaslAuthenticateResponse(authBytes: Array("r=abcdef,s=c2FsdA==,i=4096".utf8))))
        let error = failure { _ = try session.receive(SaslAuthenticateResponse(authBytes: Array("v=AAAA".utf8))) }
        XCTAssertEqual(error?.code, .serverNotProven)
        XCTAssertTrue(error?.reason.contains("signature") == true, "\(String(describing: error))")
        XCTAssertFalse(session.isAuthenticated)
    }

    /// An impostor that stole the StoredKey (enough to check the client's proof) but not the
    /// ServerKey accepts the login and signs server-final with a key of its own: a real SCRAM
    /// server's answer, and still not authenticated.
    func testAServerWithoutTheServerKeyIsNotAuthenticated() throws {
        let real = ScramCredential.generate(mechanism: .sha256, password: "pw")
        var stolen = real
        stolen.serverKey = ScramMechanism.randomBytes(real.serverKey.count)
        var session = session("SCRAM-SHA-256", nonce: ScramMechanism.randomNonce())
        _ = session.start()
        let first = try session.receive(SaslHandshakeResponse(mechanisms: ["SCRAM-SHA-256"]))
        var impostor = ScramServer(mechanism: .sha256, serverNonce: "xyz", fakeCredentialKey: key)
        let serverFirst = try impostor.receiveClientFirst(first.authBytes) { _ in stolen }
        let final = try XCTUnwrap(try session.receive(SaslAuthenticateResponse(authBytes: serverFirst)))
        let serverFinal = try impostor.receiveClientFinal(final.authBytes)
        XCTAssertEqual(impostor.authenticatedUser, "alice", "the StoredKey checks the proof")
        let error = failure { _ = try session.receive(SaslAuthenticateResponse(authBytes: serverFinal)) }
        XCTAssertEqual(error?.code, .serverNotProven)
        XCTAssertFalse(session.isAuthenticated)
    }

    func testAServerFirstThatDoesNotExtendOurNonceIsRefused() throws {
        var session = session("SCRAM-SHA-512")
        _ = session.start()
        _ = try session.receive(SaslHandshakeResponse(mechanisms: ["SCRAM-SHA-512"]))
        let error = failure {
            _ = try session.receive(SaslAuthenticateResponse(authBytes: Array("r=zzzdef,s=c2FsdA==,i=4096".utf8)))
        }
        XCTAssertEqual(error?.code, .badServerFirst)
        XCTAssertTrue(error?.reason.contains("nonce") == true, "\(String(describing: error))")
    }

    func testAnswersOutOfTurnAreUnexpected() throws {
        // An authenticate answer before the handshake's.
        var early = session("SCRAM-SHA-256")
        _ = early.start()
        XCTAssertEqual(
            failure { _ = try early.receive(SaslAuthenticateResponse(authBytes: [])) }?.code, .unexpectedMessage)

        // A second handshake answer.
        var twice = session("SCRAM-SHA-256")
        _ = twice.start()
        _ = try twice.receive(SaslHandshakeResponse(mechanisms: ["SCRAM-SHA-256"]))
        XCTAssertEqual(
            failure { _ = try twice.receive(SaslHandshakeResponse(mechanisms: ["SCRAM-SHA-256"])) }?.code,
            .unexpectedMessage)

        // Anything after the exchange ended, in success or in failure.
        var done = session("PLAIN")
        _ = done.start()
        _ = try done.receive(SaslHandshakeResponse(mechanisms: ["PLAIN"]))
        XCTAssertNil(try done.receive(SaslAuthenticateResponse(authBytes: [])))
        XCTAssertEqual(
            failure { _ = try done.receive(SaslAuthenticateResponse(authBytes: [])) }?.code, .unexpectedMessage)
        XCTAssertFalse(done.isAuthenticated, "a session that got an answer out of turn is not authenticated")
        XCTAssertEqual(
            failure { _ = try early.receive(SaslHandshakeResponse(mechanisms: ["SCRAM-SHA-256"])) }?.code,
            .unexpectedMessage)
    }
}
