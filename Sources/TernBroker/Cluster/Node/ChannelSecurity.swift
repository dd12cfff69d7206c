import Logging
import Synchronization
import TernNet
import TernWire

/// How a ``ControllerChannel`` secures the connections it makes: TLS, SASL, both or neither —
/// the security protocol of the listener it connects to.
struct ChannelSecurity: Sendable {
    /// The client TLS context of the next connection; nil speaks plaintext.
    var tls: (@Sendable () throws(NetError) -> TLSContext)?
    /// The login run right after connecting (and after the TLS handshake); nil: none.
    var sasl: InterBrokerSaslCredentials?
    /// The listener is a SASL one: without ``sasl`` there is no point connecting (the broker
    /// would close the connection at the first request).
    var loginRequired = false

    /// Plaintext, no login.
    static let plaintext = ChannelSecurity(tls: nil, sasl: nil)
}

/// The security of this broker's connections to other brokers' listeners (its replica fetchers),
/// from the `ssl.*` and inter-broker SASL keys.
///
/// The TLS client context is built once at start-up, so a bad file stops the broker with a
/// configuration error, and again for every new connection, so renewed certificate and CA files
/// are used without a restart (as the listeners reload theirs); a rebuild that fails (a file
/// half-written) keeps the last good context and says so.
final class InterBrokerSecurity: Sendable {
    private let configuration: TLSConfiguration
    private let lastGood: Mutex<TLSContext?>
    private let sasl: InterBrokerSaslCredentials?
    private let logger: Logger

    /// - Throws: ``ConfigError`` when the inter-broker listener uses TLS and a file cannot be
    ///   used, or when the SASL credentials are half set.
    init(config: BrokerConfig, logger: Logger) throws(ConfigError) {
        self.configuration = config.interBrokerTLSConfiguration()
        self.sasl = try config.interBrokerSaslCredentials()
        self.logger = logger
        var context: TLSContext?
        if config.interBrokerSecurityProtocol.usesTLS {
            do {
                context = try TLSContext(configuration, role: .client)
            } catch {
                throw ConfigError(origin: "TLS (inter-broker client)", reason: error.message)
            }
        }
        lastGood = Mutex(context)
        if config.interBrokerSecurityProtocol.usesSASL && sasl == nil && config.cluster.roles.contains(.broker) {
            logger.warning(
                "the inter-broker listener uses SASL but inter.broker.sasl.username is not set: this broker cannot follow partition leaders",
                metadata: ["tern_security_protocol": "\(config.interBrokerSecurityProtocol.rawValue)"])
        }
    }

    /// What a connection to a listener of `securityProtocol` needs.
    func channelSecurity(for securityProtocol: SecurityProtocol) -> ChannelSecurity {
        var security = ChannelSecurity.plaintext
        if securityProtocol.usesTLS {
            let build: @Sendable () throws(NetError) -> TLSContext = { [self] () throws(NetError) -> TLSContext in
                try currentContext()
            }
            security.tls = build
        }
        if securityProtocol.usesSASL {
            security.sasl = sasl
            security.loginRequired = true
        }
        return security
    }

    private func currentContext() throws(NetError) -> TLSContext {
        do {
            let context = try TLSContext(configuration, role: .client)
            lastGood.withLock { $0 = context }
            return context
        } catch {
            guard let context = lastGood.withLock({ $0 }) else { throw error }
            logger.warning(
                "cannot reload the inter-broker TLS files; keeping the current ones",
                metadata: ["error": "\(error.message)"])
            return context
        }
    }
}
