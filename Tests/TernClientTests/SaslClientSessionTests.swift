import TernWire
import XCTest

@testable import TernClient

/// The SDK's SASL exchange against TernWire's SCRAM server machine (what the broker will run):
/// success proves both sides, and refusals carry the broker's code without the password.
final class SaslClientSessionTests: XCTestCase {
    private let key = Array("fake-key".utf8)

    /// Plays the broker's part with ScramServer; returns the session after the exchange.
    private func exchange(
        _ mechanism: ClientSASL.Mechanism, user: String, password: String, stored: ScramCredential
    ) throws -> SaslClientSession {
        var session = SaslClientSession(settings: ClientSASL(mechanism: mechanism, username: user, password: password))
        let handshake = session.start()
        XCTAssertEqual(handshake.mechanism, mechanism.name)
        var request = try session.receive(SaslHandshakeResponse(mechanisms: ["SCRAM-SHA-256", "SCRAM-SHA-512"]))
        var server = ScramServer(
            mechanism: stored.mechanism, serverNonce: ScramMechanism.randomNonce(), fakeCredentialKey: key)
        var step = 0
        while true {
            let response: SaslAuthenticateResponse
            do {
                let reply =
                    step == 0
                    ? try server.receiveClientFirst(request.authBytes) { $0 == "alice" ? stored : nil }
                    : try server.receiveClientFinal(request.authBytes)
                response = SaslAuthenticateResponse(authBytes: reply)
            } catch {
                response = SaslAuthenticateResponse(
                    errorCode: .saslAuthenticationFailed, errorMessage: SaslFailure.clientMessage, authBytes: [])
            }
            step += 1
            guard let next = try session.receive(response) else { break }
            request = next
            XCTAssertLessThan(step, 3)
        }
        return session
    }

    func testScramAuthenticatesBothWays() throws {
        for (mechanism, scram) in [(ClientSASL.Mechanism.scramSHA256, ScramMechanism.sha256), (.scramSHA512, .sha512)] {
            let stored = ScramCredential.generate(mechanism: scram, password: "pw")
            XCTAssertTrue(try exchange(mechanism, user: "alice", password: "pw", stored: stored).isAuthenticated)
        }
    }

    func testWrongPasswordIsAuthenticationFailedWithTheBrokersCode() {
        let stored = ScramCredential.generate(mechanism: .sha256, password: "pw")
        XCTAssertThrowsError(try exchange(.scramSHA256, user: "alice", password: "secret-wrong", stored: stored)) {
            let error = $0 as? TernError
            XCTAssertEqual(error?.code, .authenticationFailed)
            XCTAssertEqual(error?.brokerError, .saslAuthenticationFailed)
            XCTAssertFalse("\($0)".contains("secret-wrong"))
        }
    }

    func testUnofferedMechanismAndPlain() throws {
        var session = SaslClientSession(settings: ClientSASL(mechanism: .plain, username: "u", password: "p"))
        _ = session.start()
        XCTAssertThrowsError(
            try session.receive(
                SaslHandshakeResponse(errorCode: .unsupportedSaslMechanism, mechanisms: ["SCRAM-SHA-512"]))
        ) {
            XCTAssertTrue("\($0)".contains("SCRAM-SHA-512"), "\($0)")
        }
        var plain = SaslClientSession(settings: ClientSASL(mechanism: .plain, username: "u", password: "p"))
        _ = plain.start()
        let request = try plain.receive(SaslHandshakeResponse(mechanisms: ["PLAIN"]))
        XCTAssertEqual(try PlainMessage.parse(request.authBytes), PlainMessage(username: "u", password: "p"))
        XCTAssertNil(try plain.receive(SaslAuthenticateResponse(authBytes: [])))
        XCTAssertTrue(plain.isAuthenticated)
    }

    func testABrokerWithoutTheCredentialCannotFakeSuccess() throws {
        var session = SaslClientSession(
            settings: ClientSASL(mechanism: .scramSHA256, username: "u", password: "p"), clientNonce: "abc")
        _ = session.start()
        _ = try session.receive(SaslHandshakeResponse(mechanisms: ["SCRAM-SHA-256"]))
        _ = try session.receive(SaslAuthenticateResponse(authBytes: Array("r=abcdef,s=c2FsdA==,i=4096".utf8)))
        XCTAssertThrowsError(try session.receive(SaslAuthenticateResponse(authBytes: Array("v=AAAA".utf8))))
        XCTAssertFalse(session.isAuthenticated)
    }
}
