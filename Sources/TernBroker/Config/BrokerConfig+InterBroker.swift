import TernNet

extension BrokerConfig {
    /// The security protocol of `inter.broker.listener.name` (empty: the first listener's name):
    /// what a follower speaks to the leader's listener of that name.
    public var interBrokerSecurityProtocol: SecurityProtocol {
        let name = (self["inter.broker.listener.name"] ?? "").trimmingWhitespace().uppercased()
        let chosen = name.isEmpty ? (listeners.first?.name ?? Listener.plaintextName) : name
        return SecurityProtocol(rawValue: chosen) ?? .plaintext
    }

    /// The TLS settings of this broker as a client of other brokers (its replica fetchers): it
    /// trusts `ssl.ca.location` (the system's CAs when empty), checks the leader's certificate
    /// names the host it registered unless `ssl.endpoint.identification.algorithm = none`, and
    /// presents its own certificate when `ssl.client.auth` asks clients for one (the leaders it
    /// fetches from are configured alike).
    public func interBrokerTLSConfiguration() -> TLSConfiguration {
        func path(_ key: String) -> String? {
            let value = (self[key] ?? "").trimmingWhitespace()
            return value.isEmpty ? nil : value
        }
        var configuration = TLSConfiguration(caPath: path("ssl.ca.location"))
        if (self["ssl.client.auth"] ?? "none") != "none" {
            configuration.certificateChainPath = path("ssl.certificate.location")
            configuration.privateKeyPath = path("ssl.key.location")
            configuration.privateKeyPassword = path("ssl.key.password")
        }
        configuration.verifyHostname = (self["ssl.endpoint.identification.algorithm"] ?? "https") != "none"
        configuration.protocols = (self["ssl.protocols"] ?? "").split(separator: ",").compactMap {
            TLSConfiguration.ProtocolVersion(rawValue: String($0).trimmingWhitespace())
        }
        if configuration.protocols.isEmpty { configuration.protocols = [.tls12, .tls13] }
        configuration.cipherSuites = (self["ssl.cipher.suites"] ?? "").split(separator: ",").map {
            String($0).trimmingWhitespace()
        }.filter { !$0.isEmpty }
        return configuration
    }

    /// The credentials a follower logs in with on a SASL inter-broker listener: nil when
    /// `inter.broker.sasl.username` is empty.
    /// - Throws: ``ConfigError`` when the user is set without a password (or the reverse).
    public func interBrokerSaslCredentials() throws(ConfigError) -> InterBrokerSaslCredentials? {
        let username = self["inter.broker.sasl.username"] ?? ""
        let password = self["inter.broker.sasl.password"] ?? ""
        if username.isEmpty && password.isEmpty { return nil }
        guard !username.isEmpty, username.utf8.count <= 255, !username.utf8.contains(0) else {
            throw ConfigError(
                origin: "inter.broker.sasl.username",
                reason: "must be 1 to 255 bytes without NUL when inter.broker.sasl.password is set")
        }
        guard !password.isEmpty, password.utf8.count <= 255, !password.utf8.contains(0) else {
            throw ConfigError(
                origin: "inter.broker.sasl.password",
                reason: "must be 1 to 255 bytes without NUL when inter.broker.sasl.username is set")
        }
        let mechanism = (self["sasl.mechanism.inter.broker.protocol"] ?? "SCRAM-SHA-256").uppercased()
        return InterBrokerSaslCredentials(mechanism: mechanism, username: username, password: password)
    }
}

/// The SASL login of a broker's replica fetchers (`sasl.mechanism.inter.broker.protocol`,
/// `inter.broker.sasl.username`, `inter.broker.sasl.password`).
public struct InterBrokerSaslCredentials: Sendable, Hashable, CustomStringConvertible {
    /// `SCRAM-SHA-256`, `SCRAM-SHA-512` or `PLAIN`.
    public var mechanism: String
    public var username: String
    public var password: String

    /// The mechanism and user, never the password (this value may end up in a log line).
    public var description: String { "\(mechanism) as \(username)" }
}
