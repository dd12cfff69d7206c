/// A listener's security protocol, named as Kafka names it (the scheme of `listeners`).
public enum SecurityProtocol: String, Sendable, CaseIterable {
    /// Plain TCP.
    case plaintext = "PLAINTEXT"
    /// TLS (`ssl.*` keys).
    case ssl = "SSL"
    /// SASL authentication (`sasl.*` keys) over plain TCP.
    case saslPlaintext = "SASL_PLAINTEXT"
    /// SASL authentication over TLS.
    case saslSSL = "SASL_SSL"

    /// Whether connections of this protocol use TLS.
    public var usesTLS: Bool { self == .ssl || self == .saslSSL }

    /// Whether a connection must authenticate with SASL before any request but ApiVersions.
    public var usesSASL: Bool { self == .saslPlaintext || self == .saslSSL }

    /// Parses a listener scheme (`PLAINTEXT`, `SSL`, `SASL_PLAINTEXT`, `SASL_SSL`; case-insensitive).
    /// - Throws: ``ConfigError`` for an unknown scheme.
    init(scheme: Substring, listener: String) throws(ConfigError) {
        guard let parsed = SecurityProtocol(rawValue: scheme.uppercased()) else {
            throw ConfigError(
                origin: listener,
                reason:
                    "unknown listener scheme '\(scheme)' (expected PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL://HOST:PORT)")
        }
        self = parsed
    }
}
