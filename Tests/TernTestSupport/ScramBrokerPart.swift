import TernWire

/// The broker's side of a SCRAM login, for tests of a client's ``SaslClientSession``: TernWire's
/// ``ScramServer`` (what the broker runs) answers each SaslAuthenticate request, and a failure is
/// answered as the broker answers it (SASL_AUTHENTICATION_FAILED with ``SaslFailure/clientMessage``).
public struct ScramBrokerPart {
    private var server: ScramServer
    private let credentials: [String: ScramCredential]
    private var answered = 0

    /// A broker holding `credentials` (by user name), all of `mechanism`.
    public init(mechanism: ScramMechanism, credentials: [String: ScramCredential]) {
        server = ScramServer(
            mechanism: mechanism, serverNonce: ScramMechanism.randomNonce(),
            fakeCredentialKey: Array("fake-credential-key".utf8))
        self.credentials = credentials
    }

    /// The answer to the client's next SaslAuthenticate request: server-first, then server-final.
    public mutating func answer(_ request: SaslAuthenticateRequest) -> SaslAuthenticateResponse {
        defer { answered += 1 }
        do {
            let reply =
                answered == 0
                ? try server.receiveClientFirst(request.authBytes) { credentials[$0] }
                : try server.receiveClientFinal(request.authBytes)
            return SaslAuthenticateResponse(authBytes: reply)
        } catch {
            return SaslAuthenticateResponse(
                errorCode: .saslAuthenticationFailed, errorMessage: SaslFailure.clientMessage, authBytes: [])
        }
    }

    /// Runs `session` (started, its handshake answered with `first`) against this broker until it
    /// ends; returns the number of SaslAuthenticate requests it sent (4: it had not ended after 3).
    @discardableResult
    public mutating func run(
        _ session: inout SaslClientSession, from first: SaslAuthenticateRequest
    ) throws(SaslClientError) -> Int {
        var request = first
        for round in 1...3 {
            guard let next = try session.receive(answer(request)) else { return round }
            request = next
        }
        return 4
    }
}
