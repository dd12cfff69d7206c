/// Why a ``SaslClientSession`` stopped short of authenticating. The session has the facts; each
/// driver (the SDK's connection, a broker's inter-broker channel) words them for its own users.
public struct SaslClientError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What kind of failure (static constants, so a new kind is not a breaking change).
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        private init(_ name: String) { self.name = name }

        /// SaslHandshake answered an error: the broker does not offer the mechanism
        /// (``SaslClientError/offeredMechanisms`` says what it offers).
        public static let mechanismNotOffered = Code("mechanism not offered")
        /// SaslAuthenticate answered an error: the broker refused the login (it never says
        /// whether the user or the password was wrong).
        public static let refused = Code("refused")
        /// The broker offers the mechanism, but this side does not speak it.
        public static let unsupportedMechanism = Code("unsupported mechanism")
        /// The broker's SCRAM server-first message is malformed or does not extend our nonce.
        public static let badServerFirst = Code("bad server-first")
        /// The broker's SCRAM server-final message does not prove it holds the credential (a wrong
        /// signature, or an `e=` refusal): it may be an impostor that merely accepted the login.
        public static let serverNotProven = Code("server not proven")
        /// An answer the session expects none of now: out of order, or after the exchange ended.
        public static let unexpectedMessage = Code("unexpected message")

        public var description: String { name }
    }

    public var code: Code
    /// The broker's error code (``Code/mechanismNotOffered`` and ``Code/refused``; `.none` otherwise).
    public var brokerError: ErrorCode
    /// The mechanisms the broker's SaslHandshake answer lists (``Code/mechanismNotOffered``).
    public var offeredMechanisms: [String]
    /// The detail: the broker's error message (or its code's name), the SCRAM check that failed,
    /// or which message came out of order. Never holds the password.
    public var reason: String

    public init(_ code: Code, _ reason: String, brokerError: ErrorCode = .none, offeredMechanisms: [String] = []) {
        self.code = code
        self.reason = reason
        self.brokerError = brokerError
        self.offeredMechanisms = offeredMechanisms
    }

    public var description: String { "SASL login failed (\(code)): \(reason)" }
}
