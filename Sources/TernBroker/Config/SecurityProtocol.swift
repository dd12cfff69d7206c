/// A listener's security protocol, named as Kafka names it (the scheme of `listeners`).
public enum SecurityProtocol: String, Sendable, CaseIterable {
    /// Plain TCP.
    case plaintext = "PLAINTEXT"
    /// TLS (`ssl.*` keys).
    case ssl = "SSL"
    /// SASL authentication over plain TCP (not supported yet).
    case saslPlaintext = "SASL_PLAINTEXT"
    /// SASL authentication over TLS (not supported yet).
    case saslSSL = "SASL_SSL"

    /// Whether connections of this protocol use TLS.
    public var usesTLS: Bool { self == .ssl || self == .saslSSL }

    /// The protocols a listener may use today; SASL comes with authentication.
    public static let supported: [SecurityProtocol] = [.plaintext, .ssl]

    /// Parses a listener scheme (`PLAINTEXT`, `SSL`; case-insensitive).
    /// - Throws: ``ConfigError`` for an unknown scheme, and for SASL schemes, which are known but
    ///   not supported yet.
    init(scheme: Substring, listener: String) throws(ConfigError) {
        guard let parsed = SecurityProtocol(rawValue: scheme.uppercased()) else {
            throw ConfigError(
                origin: listener,
                reason: "unknown listener scheme '\(scheme)' (expected PLAINTEXT://HOST:PORT or SSL://HOST:PORT)")
        }
        guard Self.supported.contains(parsed) else {
            throw ConfigError(
                origin: listener,
                reason:
                    "\(parsed.rawValue) listeners are not supported yet (SASL authentication is not implemented); use PLAINTEXT:// or SSL://"
            )
        }
        self = parsed
    }
}
