/// The client side of one SCRAM exchange as an I/O-free state machine: ``clientFirst()``, then
/// ``receiveServerFirst(_:)`` returns client-final, then ``receiveServerFinal(_:)`` checks the
/// server's signature — so a client knows it talked to a broker that holds the credential, not
/// one that merely accepted it.
public struct ScramClient: Sendable {
    enum State: Sendable {
        case initial
        case sentClientFirst(bare: String, gs2Header: String)
        case sentClientFinal(serverSignature: [UInt8])
        case succeeded
        case failed
    }

    public let mechanism: ScramMechanism
    private let username: String
    private let password: String
    private let clientNonce: String
    private var state = State.initial

    /// - Parameter clientNonce: random, printable ASCII except ','.
    public init(mechanism: ScramMechanism, username: String, password: String, clientNonce: String) {
        precondition(ScramMessages.isValidNonce(Substring(clientNonce)), "client nonce must be printable, without ','")
        self.mechanism = mechanism
        self.username = username
        self.password = password
        self.clientNonce = clientNonce
    }

    /// Whether the server proved itself.
    public var isSucceeded: Bool {
        if case .succeeded = state { return true }
        return false
    }

    /// The first message.
    public mutating func clientFirst() -> [UInt8] {
        precondition({ if case .initial = state { return true } else { return false } }(), "clientFirst called twice")
        let first = ScramMessages.clientFirst(username: username, nonce: clientNonce)
        state = .sentClientFirst(bare: first.bare, gs2Header: first.gs2Header)
        return first.message
    }

    /// Handles server-first; returns client-final.
    public mutating func receiveServerFirst(_ bytes: [UInt8]) throws(SaslFailure) -> [UInt8] {
        guard case .sentClientFirst(let bare, let gs2Header) = state else {
            state = .failed
            throw SaslFailure("server-first out of order")
        }
        state = .failed
        let first = try ScramMessages.parseServerFirst(bytes)
        guard first.nonce.hasPrefix(clientNonce), first.nonce.count > clientNonce.count else {
            throw SaslFailure("the server's nonce does not extend ours")
        }
        let salted = mechanism.saltedPassword(Array(password.utf8), salt: first.salt, iterations: first.iterations)
        let clientKey = mechanism.hmac(key: salted, Array("Client Key".utf8))
        let storedKey = mechanism.hash(clientKey)
        let withoutProof = ScramMessages.clientFinalWithoutProof(gs2Header: gs2Header, nonce: first.nonce)
        let authMessage = Array("\(bare),\(first.text),\(withoutProof)".utf8)
        let proof = zip(clientKey, mechanism.hmac(key: storedKey, authMessage)).map { $0 ^ $1 }
        let serverKey = mechanism.hmac(key: salted, Array("Server Key".utf8))
        state = .sentClientFinal(serverSignature: mechanism.hmac(key: serverKey, authMessage))
        return Array("\(withoutProof),p=\(Base64.encode(proof))".utf8)
    }

    /// Checks server-final's signature.
    public mutating func receiveServerFinal(_ bytes: [UInt8]) throws(SaslFailure) {
        guard case .sentClientFinal(let expected) = state else {
            state = .failed
            throw SaslFailure("server-final out of order")
        }
        state = .failed
        let text = try ScramMessages.text(bytes)
        if text.hasPrefix("e=") { throw SaslFailure("the server refused: \(text.dropFirst(2))") }
        guard text.hasPrefix("v="), let signature = Base64.decode(text.dropFirst(2)),
            ScramMechanism.constantTimeEqual(signature, expected)
        else { throw SaslFailure("the server's signature is wrong: it does not hold this user's credential") }
        state = .succeeded
    }
}
