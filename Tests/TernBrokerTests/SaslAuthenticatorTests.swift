import TernBroker
import TernWire
import XCTest

/// The connection-level SASL machine: only ApiVersions and the SASL APIs before authentication,
/// the failure delay as an output, `User:NAME` on success, and every failure alike to the client.
final class SaslAuthenticatorTests: XCTestCase {
    private static let alice256 = ScramCredential(
        mechanism: .sha256, password: "alice-pw", salt: Array("salt-256".utf8), iterations: 4096)
    private static let alice512 = ScramCredential(
        mechanism: .sha512, password: "alice-pw", salt: Array("salt-512".utf8), iterations: 4096)

    private func lookup(_ user: String, _ mechanism: ScramMechanism) -> ScramCredential? {
        guard user == "alice" else { return nil }
        return mechanism == .sha256 ? Self.alice256 : Self.alice512
    }

    private func authenticator(
        mechanisms: [String] = ["SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN"], tls: Bool = false, allowPlain: Bool = false,
        delay: Int64 = 100
    ) -> SaslAuthenticator {
        SaslAuthenticator(
            settings: .init(
                enabledMechanisms: mechanisms, failureDelayMs: delay, listenerUsesTLS: tls,
                allowPlainWithoutTLS: allowPlain),
            serverNonce: ScramMechanism.randomNonce(), fakeCredentialKey: Array("k".utf8))
    }

    /// Runs a full SCRAM exchange; returns the last action.
    private func scram(
        _ auth: inout SaslAuthenticator, _ mechanism: ScramMechanism, user: String, password: String
    ) throws -> SaslAuthenticator.Action {
        XCTAssertEqual(
            auth.handle(.handshake(.init(mechanism: mechanism.name)), lookup: lookup),
            .handshake(.init(mechanisms: ["SCRAM-SHA-256", "SCRAM-SHA-512"]), thenClose: false))
        var client = ScramClient(mechanism: mechanism, username: user, password: password, clientNonce: "cn")
        guard
            case .authenticate(let first, 0, false) = auth.handle(
                .authenticate(.init(authBytes: client.clientFirst())), lookup: lookup)
        else { throw SaslFailure("no server-first") }
        let final = try client.receiveServerFirst(first.authBytes)
        let action = auth.handle(.authenticate(.init(authBytes: final)), lookup: lookup)
        if case .authenticate(let reply, _, false) = action { try client.receiveServerFinal(reply.authBytes) }
        return action
    }

    func testScramSuccessGivesThePrincipalAndForwardsEverything() throws {
        for mechanism in ScramMechanism.all {
            var auth = authenticator()
            XCTAssertEqual(auth.handle(.apiVersions, lookup: lookup), .forward)
            let last = try scram(&auth, mechanism, user: "alice", password: "alice-pw")
            guard case .authenticate(let reply, 0, false) = last else { return XCTFail("\(last)") }
            XCTAssertEqual(reply.errorCode, .none)
            XCTAssertEqual(auth.principal, "User:alice")
            // The credential the session rests on: deleting or replacing it ends the session.
            XCTAssertEqual(auth.session?.user, "alice")
            XCTAssertEqual(auth.session?.credential, lookup("alice", mechanism))
            XCTAssertEqual(auth.handle(.other(.produce), lookup: lookup), .forward)
            XCTAssertEqual(auth.handle(.apiVersions, lookup: lookup), .forward)
        }
    }

    func testWrongPasswordAndUnknownUserAreAnsweredAliveAfterTheDelay() throws {
        var answers: [SaslAuthenticateResponse] = []
        for (user, password) in [("alice", "wrong"), ("mallory", "alice-pw")] {
            var auth = authenticator(delay: 250)
            let last = try scram(&auth, .sha256, user: user, password: password)
            guard case .authenticate(let reply, 250, true) = last else { return XCTFail("\(last)") }
            XCTAssertEqual(reply.errorCode, .saslAuthenticationFailed)
            XCTAssertNil(auth.principal)
            XCTAssertNotNil(auth.lastFailure)
            answers.append(reply)
            // The connection is done: nothing else goes through.
            guard case .close = auth.handle(.other(.metadata), lookup: lookup) else { return XCTFail() }
        }
        // Identical answers: nothing says whether the user exists.
        XCTAssertEqual(answers[0], answers[1])
    }

    func testRequestsBeforeAuthenticationCloseTheConnection() {
        var auth = authenticator()
        guard case .close(let log) = auth.handle(.other(.produce), lookup: lookup) else { return XCTFail() }
        XCTAssertTrue(log.contains("Produce request before SASL authentication"), log)
        XCTAssertNil(auth.principal)

        var early = authenticator()
        guard case .close = early.handle(.authenticate(.init(authBytes: [])), lookup: lookup) else { return XCTFail() }

        var twice = authenticator()
        _ = twice.handle(.handshake(.init(mechanism: "SCRAM-SHA-256")), lookup: lookup)
        guard case .close = twice.handle(.handshake(.init(mechanism: "SCRAM-SHA-256")), lookup: lookup) else {
            return XCTFail()
        }
        var midway = authenticator()
        _ = midway.handle(.handshake(.init(mechanism: "SCRAM-SHA-256")), lookup: lookup)
        guard case .close = midway.handle(.other(.fetch), lookup: lookup) else { return XCTFail() }
    }

    func testUnsupportedMechanismListsTheOfferedOnesAndCloses() {
        var auth = authenticator(mechanisms: ["SCRAM-SHA-512"])
        XCTAssertEqual(
            auth.handle(.handshake(.init(mechanism: "SCRAM-SHA-256")), lookup: lookup),
            .handshake(.init(errorCode: .unsupportedSaslMechanism, mechanisms: ["SCRAM-SHA-512"]), thenClose: true))
    }

    func testPlainOnlyOverTLSUnlessAllowed() {
        let plain = PlainMessage(username: "alice", password: "alice-pw").encoded
        var cleartext = authenticator()
        guard
            case .handshake(let refused, true) = cleartext.handle(.handshake(.init(mechanism: "PLAIN")), lookup: lookup)
        else { return XCTFail() }
        XCTAssertEqual(refused.errorCode, .unsupportedSaslMechanism)
        XCTAssertFalse(refused.mechanisms.contains("PLAIN"))

        for (tls, allow) in [(true, false), (false, true)] {
            var auth = authenticator(tls: tls, allowPlain: allow)
            guard case .handshake(let ok, false) = auth.handle(.handshake(.init(mechanism: "PLAIN")), lookup: lookup)
            else {
                return XCTFail()
            }
            XCTAssertTrue(ok.mechanisms.contains("PLAIN"))
            XCTAssertEqual(
                auth.handle(.authenticate(.init(authBytes: plain)), lookup: lookup),
                .authenticate(.init(authBytes: []), delayMs: 0, thenClose: false))
            XCTAssertEqual(auth.principal, "User:alice")
            // PLAIN rests on the SCRAM credential the password was checked against.
            XCTAssertEqual(auth.session?.credential, Self.alice256)
        }
        var wrong = authenticator(tls: true)
        _ = wrong.handle(.handshake(.init(mechanism: "PLAIN")), lookup: lookup)
        guard
            case .authenticate(let reply, 100, true) = wrong.handle(
                .authenticate(.init(authBytes: PlainMessage(username: "alice", password: "nope").encoded)),
                lookup: lookup)
        else { return XCTFail() }
        XCTAssertEqual(reply.errorMessage, SaslFailure.clientMessage)
        XCTAssertNil(wrong.session)
    }

    func testGarbageAuthBytesFailWithoutTrapping() {
        for mechanism in ["SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN"] {
            for bytes: [UInt8] in [[], [0xFF], Array("n,,".utf8), [UInt8](repeating: 0x41, count: 5000)] {
                var auth = authenticator(tls: true)
                _ = auth.handle(.handshake(.init(mechanism: mechanism)), lookup: lookup)
                guard
                    case .authenticate(let reply, 100, true) = auth.handle(
                        .authenticate(.init(authBytes: bytes)), lookup: lookup)
                else { return XCTFail("\(mechanism) \(bytes.prefix(8))") }
                XCTAssertEqual(reply.errorCode, .saslAuthenticationFailed)
            }
        }
    }

    func testConfigKeysProduceTheSettings() throws {
        let config = try BrokerConfig.load(
            file: nil,
            overrides: [
                "sasl.enabled.mechanisms=SCRAM-SHA-512, PLAIN", "connection.failed.authentication.delay.ms=0",
                "sasl.plain.allow.plaintext=true",
            ])
        let settings = config.saslSettings(listenerUsesTLS: false)
        XCTAssertEqual(settings.enabledMechanisms, ["SCRAM-SHA-512", "PLAIN"])
        XCTAssertEqual(settings.failureDelayMs, 0)
        XCTAssertEqual(settings.offeredMechanisms, ["SCRAM-SHA-512", "PLAIN"])
        XCTAssertEqual(config.enabledScramMechanisms, [.sha512])
        XCTAssertEqual(try config.saslBootstrapUsers(), [])

        let defaults = try BrokerConfig.load(file: nil)
        XCTAssertEqual(defaults.saslSettings(listenerUsesTLS: false).failureDelayMs, 100)
        XCTAssertEqual(defaults.enabledScramMechanisms, [.sha256, .sha512])
        for bad in [
            "sasl.enabled.mechanisms=GSSAPI", "sasl.enabled.mechanisms=",
            "connection.failed.authentication.delay.ms=-1",
            "sasl.plain.allow.plaintext=yes",
        ] {
            XCTAssertThrowsError(try BrokerConfig.load(file: nil, overrides: [bad]), bad)
        }
    }

    func testTheCLIPasswordVariableDoesNotBreakTheBroker() throws {
        let config = try BrokerConfig.load(
            file: nil, environment: ["TERN_SASL_PASSWORD": "secret", "TERN_BOOTSTRAP": "127.0.0.1:9092"])
        XCTAssertNil(config["sasl.password"])
    }
}
