import TernWire

/// SASL settings of a ``TernClient`` (`security.protocol=SASL_SSL` or `SASL_PLAINTEXT`): the
/// mechanism and the user's name and password. With SCRAM the password never crosses the
/// network; with PLAIN it does, so use PLAIN over TLS only.
public struct ClientSASL: Sendable, Hashable {
    /// A SASL mechanism the SDK speaks.
    public struct Mechanism: Hashable, Sendable, CustomStringConvertible {
        /// The IANA name (`sasl.mechanism`).
        public let name: String
        private init(known: String) { name = known }

        public static let scramSHA256 = Mechanism(known: "SCRAM-SHA-256")
        public static let scramSHA512 = Mechanism(known: "SCRAM-SHA-512")
        /// The password crosses to the broker as it is: use it over TLS (SASL_SSL) only.
        public static let plain = Mechanism(known: "PLAIN")
        public static let all: [Mechanism] = [.scramSHA256, .scramSHA512, .plain]

        /// The mechanism named `name` (case-insensitive), if the SDK speaks it.
        public init?(name: String) {
            guard let known = Self.all.first(where: { $0.name == name.uppercased() }) else { return nil }
            self = known
        }

        public var description: String { name }
    }

    public var mechanism: Mechanism
    public var username: String
    public var password: String

    /// Creates SASL settings.
    public init(mechanism: Mechanism, username: String, password: String) {
        self.mechanism = mechanism
        self.username = username
        self.password = password
    }

    /// Checks what a broker would refuse anyway, so the mistake is reported before connecting.
    /// - Throws: ``TernError`` `.invalidArgument` naming the setting (never the password).
    public func validate() throws(TernError) {
        guard !username.isEmpty, username.utf8.count <= 255, !username.utf8.contains(0) else {
            throw TernError(.invalidArgument, "sasl.username must be 1 to 255 bytes without NUL")
        }
        guard !password.isEmpty, password.utf8.count <= 255, !password.utf8.contains(0) else {
            throw TernError(.invalidArgument, "sasl.password must be 1 to 255 bytes without NUL")
        }
    }
}
