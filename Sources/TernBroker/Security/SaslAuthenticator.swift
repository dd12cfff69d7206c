import TernWire

/// One connection's SASL authentication (Kafka's `SaslServerAuthenticator`) as an I/O-free state
/// machine: the connection loop hands it each request before authentication and does what the
/// returned ``Action`` says. Before success only ApiVersions, SaslHandshake and SaslAuthenticate
/// are allowed; anything else closes the connection. A failure is answered after
/// ``Settings/failureDelayMs`` (returned, not slept) and the connection is then closed, as Kafka does.
///
/// The broker runs one per unauthenticated connection of a SASL listener (``SaslSessions``), with
/// credentials from the committed metadata image.
public struct SaslAuthenticator: Sendable {
    /// The listener's SASL policy.
    public struct Settings: Hashable, Sendable {
        /// `sasl.enabled.mechanisms`, in the broker's order.
        public var enabledMechanisms: [String]
        /// `connection.failed.authentication.delay.ms`.
        public var failureDelayMs: Int64
        /// Whether this listener runs over TLS (SASL_SSL).
        public var listenerUsesTLS: Bool
        /// `sasl.plain.allow.plaintext`: PLAIN also on a listener without TLS.
        public var allowPlainWithoutTLS: Bool

        public init(
            enabledMechanisms: [String], failureDelayMs: Int64, listenerUsesTLS: Bool, allowPlainWithoutTLS: Bool
        ) {
            self.enabledMechanisms = enabledMechanisms
            self.failureDelayMs = failureDelayMs
            self.listenerUsesTLS = listenerUsesTLS
            self.allowPlainWithoutTLS = allowPlainWithoutTLS
        }

        /// What the handshake offers: the enabled mechanisms, without PLAIN where it would send a
        /// password in clear text.
        public var offeredMechanisms: [String] {
            enabledMechanisms.filter { $0 != "PLAIN" || listenerUsesTLS || allowPlainWithoutTLS }
        }
    }

    /// A request as the authenticator needs to see it.
    public enum Request: Sendable {
        case apiVersions
        case handshake(SaslHandshakeRequest)
        case authenticate(SaslAuthenticateRequest)
        /// Any other API.
        case other(ApiKey)
    }

    /// What the connection loop does next.
    public enum Action: Hashable, Sendable {
        /// Handle the request as usual (ApiVersions, or anything once authenticated).
        case forward
        /// Send this handshake answer now; close after it when `thenClose`.
        case handshake(SaslHandshakeResponse, thenClose: Bool)
        /// Send this answer after `delayMs` milliseconds (0 = now); close after it when `thenClose`.
        case authenticate(SaslAuthenticateResponse, delayMs: Int64, thenClose: Bool)
        /// Close without an answer; `log` is the line to write (it names the client's mistake).
        case close(log: String)

        /// Whether the connection closes after this action.
        public var closes: Bool {
            switch self {
            case .forward: false
            case .close: true
            case .handshake(_, let thenClose), .authenticate(_, _, let thenClose): thenClose
            }
        }
    }

    enum State: Sendable {
        case awaitingHandshake
        case awaitingAuthenticate(mechanism: String)
        case scram(ScramServer)
        case authenticated(user: String, credential: ScramCredential)
        case closed
    }

    public let settings: Settings
    private let serverNonce: String
    private let fakeCredentialKey: [UInt8]
    private var state = State.awaitingHandshake
    /// Why the last exchange failed, for the broker's log (never sent to the client).
    public private(set) var lastFailure: SaslFailure?
    /// The mechanism the handshake chose (`none` before it), for logs and metrics.
    public private(set) var mechanism = "none"

    /// - Parameters:
    ///   - serverNonce: random, printable ASCII without ',' (``ScramMechanism/randomNonce()``).
    ///   - fakeCredentialKey: per-process random bytes, for unknown users' fake salts.
    public init(settings: Settings, serverNonce: String, fakeCredentialKey: [UInt8]) {
        self.settings = settings
        self.serverNonce = serverNonce
        self.fakeCredentialKey = fakeCredentialKey
    }

    /// `User:NAME` once authenticated.
    public var principal: String? {
        if case .authenticated(let user, _) = state { return "User:\(user)" }
        return nil
    }

    /// The user name and the stored credential the authentication succeeded with (for PLAIN, the
    /// SCRAM credential the password was checked against), once authenticated.
    public var session: (user: String, credential: ScramCredential)? {
        if case .authenticated(let user, let credential) = state { return (user, credential) }
        return nil
    }

    /// Handles one request.
    /// - Parameter lookup: the stored credential of a user for a mechanism (the metadata image).
    public mutating func handle(_ request: Request, lookup: (String, ScramMechanism) -> ScramCredential?) -> Action {
        switch (state, request) {
        case (.closed, _):
            return .close(log: "request after the connection was closed by SASL")
        case (.authenticated, .handshake), (.authenticated, .authenticate):
            // Re-authentication is not offered (session lifetime is 0).
            state = .closed
            return .close(log: "SASL request after successful authentication")
        case (.authenticated, _), (_, .apiVersions):
            return .forward
        case (_, .other(let key)):
            state = .closed
            return .close(log: "\(key.name) request before SASL authentication completed; closing the connection")
        case (.awaitingHandshake, .handshake(let request)):
            let offered = settings.offeredMechanisms
            guard offered.contains(request.mechanism) else {
                state = .closed
                return .handshake(.init(errorCode: .unsupportedSaslMechanism, mechanisms: offered), thenClose: true)
            }
            state = .awaitingAuthenticate(mechanism: request.mechanism)
            mechanism = request.mechanism
            return .handshake(.init(mechanisms: offered), thenClose: false)
        case (.awaitingHandshake, .authenticate):
            state = .closed
            return .close(log: "SaslAuthenticate before SaslHandshake; closing the connection")
        case (.awaitingAuthenticate, .handshake), (.scram, .handshake):
            state = .closed
            return .close(log: "second SaslHandshake on one connection; closing the connection")
        case (.awaitingAuthenticate(let mechanism), .authenticate(let request)):
            if mechanism == "PLAIN" { return plain(request.authBytes, lookup: lookup) }
            guard let scram = ScramMechanism(name: mechanism) else {
                return fail(SaslFailure("mechanism \(mechanism) is enabled but not implemented"))
            }
            var server = ScramServer(mechanism: scram, serverNonce: serverNonce, fakeCredentialKey: fakeCredentialKey)
            do {
                let reply = try server.receiveClientFirst(request.authBytes) { lookup($0, scram) }
                state = .scram(server)
                return .authenticate(.init(authBytes: reply), delayMs: 0, thenClose: false)
            } catch {
                return fail(error)
            }
        case (.scram(var server), .authenticate(let request)):
            do {
                let reply = try server.receiveClientFinal(request.authBytes)
                // The server machine sets the user only on success.
                guard let user = server.authenticatedUser, let credential = server.authenticatedCredential else {
                    return fail(SaslFailure("no user after success"))
                }
                state = .authenticated(user: user, credential: credential)
                return .authenticate(.init(authBytes: reply), delayMs: 0, thenClose: false)
            } catch {
                return fail(error)
            }
        }
    }

    private mutating func plain(_ bytes: [UInt8], lookup: (String, ScramMechanism) -> ScramCredential?) -> Action {
        let message: PlainMessage
        do { message = try PlainMessage.parse(bytes) } catch { return fail(error) }
        // PLAIN is checked against the user's SCRAM credential: the broker stores nothing else.
        var credential: ScramCredential?
        for mechanism in ScramMechanism.all where credential == nil { credential = lookup(message.username, mechanism) }
        guard let credential, credential.invalidReason == nil, credential.verifies(password: message.password) else {
            return fail(SaslFailure("wrong PLAIN password or unknown user \(message.username)"))
        }
        state = .authenticated(user: message.username, credential: credential)
        return .authenticate(.init(authBytes: []), delayMs: 0, thenClose: false)
    }

    private mutating func fail(_ failure: SaslFailure) -> Action {
        state = .closed
        lastFailure = failure
        return .authenticate(
            .init(errorCode: .saslAuthenticationFailed, errorMessage: SaslFailure.clientMessage, authBytes: []),
            delayMs: settings.failureDelayMs, thenClose: true)
    }
}
