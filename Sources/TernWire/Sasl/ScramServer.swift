/// The server side of one SCRAM exchange (RFC 5802 section 5) as an I/O-free state machine: it
/// takes the client's messages, the credential store's answer and its own nonce as inputs and
/// returns the bytes to send. Policy (which mechanisms, the failure delay, the principal) belongs
/// to the broker's authenticator.
///
/// An unknown user gets a server-first message built from a fake credential derived from
/// `fakeCredentialKey` and the name, so the answer looks like a real user's and the exchange fails
/// only at the proof, as a wrong password does.
public struct ScramServer: Sendable {
    enum State: Sendable {
        case awaitingClientFirst
        case awaitingClientFinal(
            first: ScramMessages.ClientFirst, credential: ScramCredential, known: Bool, serverFirst: String,
            nonce: String)
        case succeeded(username: String, credential: ScramCredential)
        case failed
    }

    public let mechanism: ScramMechanism
    private let serverNonce: String
    private let fakeCredentialKey: [UInt8]
    private var state = State.awaitingClientFirst

    /// - Parameters:
    ///   - serverNonce: this exchange's random part of the nonce (printable ASCII except ',').
    ///   - fakeCredentialKey: a secret, random per broker process, for unknown users' fake salts.
    public init(mechanism: ScramMechanism, serverNonce: String, fakeCredentialKey: [UInt8]) {
        precondition(ScramMessages.isValidNonce(Substring(serverNonce)), "server nonce must be printable, without ','")
        self.mechanism = mechanism
        self.serverNonce = serverNonce
        self.fakeCredentialKey = fakeCredentialKey
    }

    /// The authenticated user, once the exchange succeeded.
    public var authenticatedUser: String? {
        if case .succeeded(let name, _) = state { return name }
        return nil
    }

    /// The stored credential the exchange succeeded with: a session lasts only while the store
    /// still holds it (the broker closes connections whose credential was deleted or replaced).
    public var authenticatedCredential: ScramCredential? {
        if case .succeeded(_, let credential) = state { return credential }
        return nil
    }

    /// Whether the exchange is over (either way).
    public var isComplete: Bool {
        switch state {
        case .succeeded, .failed: true
        default: false
        }
    }

    /// Handles client-first; returns server-first.
    /// - Parameter lookup: the stored credential of a user for this mechanism, if any.
    public mutating func receiveClientFirst(_ bytes: [UInt8], lookup: (String) -> ScramCredential?) throws(SaslFailure)
        -> [UInt8]
    {
        guard case .awaitingClientFirst = state else {
            state = .failed
            throw SaslFailure("client-first out of order")
        }
        state = .failed
        let first = try ScramMessages.parseClientFirst(bytes)
        if let authzid = first.authorizationId, authzid != first.username {
            throw SaslFailure("authorization id differs from the user name")
        }
        let stored = lookup(first.username).flatMap { $0.mechanism == mechanism && $0.invalidReason == nil ? $0 : nil }
        let credential = stored ?? fakeCredential(for: first.username)
        let nonce = first.nonce + serverNonce
        let serverFirst = ScramMessages.serverFirst(
            nonce: nonce, salt: credential.salt, iterations: credential.iterations)
        state = .awaitingClientFinal(
            first: first, credential: credential, known: stored != nil, serverFirst: serverFirst, nonce: nonce)
        return Array(serverFirst.utf8)
    }

    /// Handles client-final; returns server-final (`v=SIGNATURE`) when the proof is right.
    public mutating func receiveClientFinal(_ bytes: [UInt8]) throws(SaslFailure) -> [UInt8] {
        guard case .awaitingClientFinal(let first, let credential, let known, let serverFirst, let nonce) = state else {
            state = .failed
            throw SaslFailure("client-final out of order")
        }
        state = .failed
        let final = try ScramMessages.parseClientFinal(bytes, digestSize: mechanism.digestSize)
        // Channel binding must repeat the gs2 header ("biws" for "n,,"), and the nonce must be
        // this exchange's: a client-final replayed from another connection carries another nonce.
        guard final.channelBinding == Base64.encode(Array(first.gs2Header.utf8)) else {
            throw SaslFailure("channel binding does not match the gs2 header")
        }
        guard ScramMechanism.constantTimeEqual(Array(final.nonce.utf8), Array(nonce.utf8)) else {
            throw SaslFailure("nonce is not this exchange's")
        }
        let authMessage = Array("\(first.bare),\(serverFirst),\(final.withoutProof)".utf8)
        let clientSignature = mechanism.hmac(key: credential.storedKey, authMessage)
        let clientKey = zip(final.proof, clientSignature).map { $0 ^ $1 }
        let proofMatches = ScramMechanism.constantTimeEqual(mechanism.hash(clientKey), credential.storedKey)
        guard proofMatches, known else { throw SaslFailure("wrong proof for user \(first.username)") }
        state = .succeeded(username: first.username, credential: credential)
        let signature = mechanism.hmac(key: credential.serverKey, authMessage)
        return Array("v=\(Base64.encode(signature))".utf8)
    }

    /// Deterministic per user, so asking twice for an unknown user gives the same salt.
    private func fakeCredential(for username: String) -> ScramCredential {
        let seed = mechanism.hmac(key: fakeCredentialKey, Array("fake:\(username)".utf8))
        return ScramCredential(
            mechanism: mechanism, salt: Array(seed.prefix(32)), storedKey: mechanism.hash(seed),
            serverKey: mechanism.hmac(key: seed, Array("Server Key".utf8)), iterations: ScramMechanism.minIterations)
    }
}
