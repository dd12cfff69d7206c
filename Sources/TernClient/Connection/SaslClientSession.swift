import TernWire

/// The client side of a connection's SASL authentication as an I/O-free machine: it yields the
/// SaslHandshake request, then one SaslAuthenticate request per broker answer, until the broker
/// accepts (and, for SCRAM, proves it holds the credential). A connection runs it right after
/// ApiVersions, before any other request, once brokers answer SASL.
struct SaslClientSession: Sendable {
    enum State: Sendable {
        case initial
        case handshakeSent
        case scram(ScramClient, sentFinal: Bool)
        case plainSent
        case authenticated
        case failed
    }

    let settings: ClientSASL
    private let clientNonce: String
    private var state = State.initial

    /// - Parameter clientNonce: random, printable ASCII without ',' (``ScramMechanism/randomNonce()``).
    init(settings: ClientSASL, clientNonce: String = ScramMechanism.randomNonce()) {
        self.settings = settings
        self.clientNonce = clientNonce
    }

    var isAuthenticated: Bool {
        if case .authenticated = state { return true }
        return false
    }

    /// The first request.
    mutating func start() -> SaslHandshakeRequest {
        precondition({ if case .initial = state { true } else { false } }(), "SASL session started twice")
        state = .handshakeSent
        return SaslHandshakeRequest(mechanism: settings.mechanism.name)
    }

    private mutating func fail(_ message: String, brokerError: ErrorCode? = nil) -> TernError {
        state = .failed
        return TernError(.authenticationFailed, message, brokerError: brokerError)
    }

    /// Handles the handshake's answer; returns the first SaslAuthenticate request.
    mutating func receive(_ response: SaslHandshakeResponse) throws(TernError) -> SaslAuthenticateRequest {
        guard case .handshakeSent = state else { throw fail("SaslHandshake answer out of order") }
        guard response.errorCode == .none else {
            throw fail(
                "the broker does not offer \(settings.mechanism) (it offers: \(response.mechanisms.joined(separator: ", ")))",
                brokerError: response.errorCode)
        }
        if settings.mechanism == .plain {
            state = .plainSent
            return SaslAuthenticateRequest(
                authBytes: PlainMessage(username: settings.username, password: settings.password).encoded)
        }
        // Proven: every non-PLAIN mechanism of ClientSASL is a SCRAM one of the same name.
        guard let mechanism = ScramMechanism(name: settings.mechanism.name) else {
            throw fail("mechanism \(settings.mechanism) is not implemented")
        }
        var client = ScramClient(
            mechanism: mechanism, username: settings.username, password: settings.password, clientNonce: clientNonce)
        let first = client.clientFirst()
        state = .scram(client, sentFinal: false)
        return SaslAuthenticateRequest(authBytes: first)
    }

    /// Handles a SaslAuthenticate answer; returns the next request, or nil once authenticated.
    mutating func receive(_ response: SaslAuthenticateResponse) throws(TernError) -> SaslAuthenticateRequest? {
        guard response.errorCode == .none else {
            throw fail(
                "the broker refused user \(settings.username) (\(settings.mechanism)): \(response.errorMessage ?? response.errorCode.name)",
                brokerError: response.errorCode)
        }
        switch state {
        case .plainSent:
            state = .authenticated
            return nil
        case .scram(var client, let sentFinal):
            do {
                if !sentFinal {
                    let final = try client.receiveServerFirst(response.authBytes)
                    state = .scram(client, sentFinal: true)
                    return SaslAuthenticateRequest(authBytes: final)
                }
                try client.receiveServerFinal(response.authBytes)
                state = .authenticated
                return nil
            } catch {
                throw fail("SCRAM exchange with the broker failed: \(error.reason)")
            }
        default:
            throw fail("SaslAuthenticate answer out of order")
        }
    }
}
