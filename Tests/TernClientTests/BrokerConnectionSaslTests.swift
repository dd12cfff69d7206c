import TernTestSupport
import TernWire
import XCTest

@testable import TernClient

/// What the SDK's users are told when a login fails: TernWire's ``SaslClientSession`` against its
/// SCRAM server machine (what the broker runs), its failures worded as ``TernError``
/// `.authenticationFailed` with the broker's code and never the password.
final class BrokerConnectionSaslTests: XCTestCase {
    /// Logs in with `settings` at a broker holding `stored` for alice.
    private func login(_ settings: ClientSASL, stored: ScramCredential) throws(TernError) {
        var session = SaslClientSession(settings: settings)
        XCTAssertEqual(session.start().mechanism, settings.mechanism.name)
        var broker = ScramBrokerPart(mechanism: stored.mechanism, credentials: ["alice": stored])
        do {
            let first = try session.receive(SaslHandshakeResponse(mechanisms: ["SCRAM-SHA-256", "SCRAM-SHA-512"]))
            try broker.run(&session, from: first)
        } catch {
            throw TernError(error, settings)
        }
        XCTAssertTrue(session.isAuthenticated)
    }

    func testScramLogsIn() throws {
        for (mechanism, scram) in [(ClientSASL.Mechanism.scramSHA256, ScramMechanism.sha256), (.scramSHA512, .sha512)] {
            let stored = ScramCredential.generate(mechanism: scram, password: "pw")
            try login(ClientSASL(mechanism: mechanism, username: "alice", password: "pw"), stored: stored)
        }
    }

    func testWrongPasswordIsAuthenticationFailedWithTheBrokersCode() {
        let stored = ScramCredential.generate(mechanism: .sha256, password: "pw")
        let settings = ClientSASL(mechanism: .scramSHA256, username: "alice", password: "secret-wrong")
        XCTAssertThrowsError(try login(settings, stored: stored)) {
            let error = $0 as? TernError
            XCTAssertEqual(error?.code, .authenticationFailed)
            XCTAssertEqual(error?.brokerError, .saslAuthenticationFailed)
            XCTAssertEqual(
                error?.message,
                "the broker refused user alice (SCRAM-SHA-256): \(SaslFailure.clientMessage)")
            XCTAssertFalse("\($0)".contains("secret-wrong"))
        }
    }

    func testUnofferedMechanismNamesWhatTheBrokerOffers() {
        let settings = ClientSASL(mechanism: .plain, username: "u", password: "p")
        var session = SaslClientSession(settings: settings)
        _ = session.start()
        do {
            _ = try session.receive(
                SaslHandshakeResponse(errorCode: .unsupportedSaslMechanism, mechanisms: ["SCRAM-SHA-512"]))
            XCTFail("accepted")
        } catch {
            let mapped = TernError(error, settings)
            XCTAssertEqual(mapped.code, .authenticationFailed)
            XCTAssertEqual(mapped.brokerError, .unsupportedSaslMechanism)
            XCTAssertEqual(mapped.message, "the broker does not offer PLAIN (it offers: SCRAM-SHA-512)")
        }
    }

    /// A broker that cannot prove it holds the credential fails the login, without a broker code
    /// (the broker said yes; the SDK says no).
    func testABrokerWithoutTheCredentialCannotFakeSuccess() throws {
        let settings = ClientSASL(mechanism: .scramSHA256, username: "u", password: "p")
        var session = SaslClientSession(settings: settings, clientNonce: "abc")
        _ = session.start()
        _ = try session.receive(SaslHandshakeResponse(mechanisms: ["SCRAM-SHA-256"]))
        _ = try session.receive(SaslAuthenticateResponse(authBytes: Array("r=abcdef,s=c2FsdA==,i=4096".utf8)))
        do {
            _ = try session.receive(SaslAuthenticateResponse(authBytes: Array("v=AAAA".utf8)))
            XCTFail("accepted")
        } catch {
            let mapped = TernError(error, settings)
            XCTAssertEqual(mapped.code, .authenticationFailed)
            XCTAssertNil(mapped.brokerError)
            XCTAssertTrue(mapped.message.hasPrefix("SCRAM exchange with the broker failed: "), mapped.message)
        }
        XCTAssertFalse(session.isAuthenticated)
    }
}
