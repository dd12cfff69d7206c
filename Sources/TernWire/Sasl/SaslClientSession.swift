/// The client side of a connection's SASL authentication (KIP-152) as an I/O-free machine: it
/// yields the SaslHandshake request, then one SaslAuthenticate request per broker answer, until
/// the broker accepts — and, for SCRAM, proves it holds the credential, so a client never takes
/// an impostor that merely said yes for its broker. The SDK's connections and a broker's
/// inter-broker channels both drive it; each does the I/O and words a ``SaslClientError`` for
/// its own users.
public struct SaslClientSession: Sendable {
    enum State: Sendable {
        case initial
        case handshakeSent
        case scram(ScramClient, sentFinal: Bool)
        case plainSent
        case authenticated
        case failed
    }

    /// The IANA name: `PLAIN`, `SCRAM-SHA-256` or `SCRAM-SHA-512` (upper case, as on the wire).
    public let mechanism: String
    public let username: String
    private let password: String
    private let clientNonce: String
    private var state = State.initial

    /// - Parameter clientNonce: random, printable ASCII without ',' (``ScramMechanism/randomNonce()``).
    public init(
        mechanism: String, username: String, password: String, clientNonce: String = ScramMechanism.randomNonce()
    ) {
        self.mechanism = mechanism
        self.username = username
        self.password = password
        self.clientNonce = clientNonce
    }

    /// Whether the broker accepted the login (and, for SCRAM, proved itself).
    public var isAuthenticated: Bool {
        if case .authenticated = state { return true }
        return false
    }

    /// The first request.
    public mutating func start() -> SaslHandshakeRequest {
        precondition({ if case .initial = state { true } else { false } }(), "SASL session started twice")
        state = .handshakeSent
        return SaslHandshakeRequest(mechanism: mechanism)
    }

    private mutating func fail(
        _ code: SaslClientError.Code, _ reason: String, brokerError: ErrorCode = .none, offered: [String] = []
    ) -> SaslClientError {
        state = .failed
        return SaslClientError(code, reason, brokerError: brokerError, offeredMechanisms: offered)
    }

    /// Handles the handshake's answer; returns the first SaslAuthenticate request.
    public mutating func receive(_ response: SaslHandshakeResponse) throws(SaslClientError) -> SaslAuthenticateRequest {
        guard case .handshakeSent = state else { throw fail(.unexpectedMessage, "SaslHandshake answer out of order") }
        guard response.errorCode == .none else {
            throw fail(
                .mechanismNotOffered, "the broker does not offer \(mechanism)", brokerError: response.errorCode,
                offered: response.mechanisms)
        }
        if mechanism == "PLAIN" {
            state = .plainSent
            return SaslAuthenticateRequest(authBytes: PlainMessage(username: username, password: password).encoded)
        }
        guard let scram = ScramMechanism(name: mechanism) else {
            throw fail(.unsupportedMechanism, "mechanism \(mechanism) is not spoken here")
        }
        var client = ScramClient(mechanism: scram, username: username, password: password, clientNonce: clientNonce)
        let first = client.clientFirst()
        state = .scram(client, sentFinal: false)
        return SaslAuthenticateRequest(authBytes: first)
    }

    /// Handles a SaslAuthenticate answer; returns the next request, or nil once authenticated.
    public mutating func receive(_ response: SaslAuthenticateResponse) throws(SaslClientError)
        -> SaslAuthenticateRequest?
    {
        guard response.errorCode == .none else {
            throw fail(.refused, response.errorMessage ?? response.errorCode.name, brokerError: response.errorCode)
        }
        switch state {
        case .plainSent:
            state = .authenticated
            return nil
        case .scram(var client, sentFinal: false):
            do {
                let final = try client.receiveServerFirst(response.authBytes)
                state = .scram(client, sentFinal: true)
                return SaslAuthenticateRequest(authBytes: final)
            } catch {
                throw fail(.badServerFirst, error.reason)
            }
        case .scram(var client, sentFinal: true):
            do {
                try client.receiveServerFinal(response.authBytes)
            } catch {
                throw fail(.serverNotProven, error.reason)
            }
            state = .authenticated
            return nil
        case .initial, .handshakeSent, .authenticated, .failed:
            throw fail(.unexpectedMessage, "SaslAuthenticate answer out of order")
        }
    }
}
