import Logging
import Synchronization
import TernNet
import TernWire

/// How a node secures its controller-listener traffic (`listener.security.protocol.map`,
/// CONTROLLER:SSL): the listener's TLS context, which requires a client certificate signed by
/// `ssl.ca.location`; the client context every connection to a controller listener speaks (Raft
/// peers, registration and heartbeats, AlterPartition, forwarded requests), presenting this
/// node's own certificate and verifying the controller's; and, with `authorizer.enable`, the
/// CLUSTER_ACTION check of each request on the listener.
///
/// The client context is built once at start-up, so a bad file stops the node with a
/// configuration error, and again for every new connection, so renewed certificate and CA files
/// are used without a restart; a rebuild that fails keeps the last good context and says so.
final class ControllerSecurity: Sendable {
    /// Decides whether a request on the controller listener may be served: the connection's
    /// principal (`User:` and its certificate's subject), its host and the API.
    typealias Authorize = @Sendable (_ principal: String, _ host: String, _ api: ApiKey) -> Bool

    /// The controller listener's TLS (mutual); nil: plaintext.
    let listenerTLS: TLSContextHolder?
    /// CLUSTER_ACTION for each request on the listener; nil: not checked.
    let authorize: Authorize?
    private let clientConfiguration: TLSConfiguration?
    private let lastGood: Mutex<TLSContext?>
    private let logger: Logger

    /// Plaintext and unchecked: a quorum of one, or a controller listener not mapped to SSL.
    static let plaintext = ControllerSecurity()

    private init() {
        listenerTLS = nil
        authorize = nil
        clientConfiguration = nil
        lastGood = Mutex(nil)
        logger = Logger(label: "tern.controller-security")
    }

    /// - Parameters:
    ///   - listenerTLS: the controller listener's context (``ListenerTLS/controllerHolder``);
    ///     required when this node serves an SSL controller listener.
    ///   - authorize: the CLUSTER_ACTION check, used only on an SSL controller listener (a
    ///     plaintext one has no principals to check).
    /// - Throws: ``ConfigError`` when a file cannot be used or the listener's context is missing.
    init(config: BrokerConfig, listenerTLS: TLSContextHolder?, authorize: Authorize?, logger: Logger)
        throws(ConfigError)
    {
        self.logger = logger
        clientConfiguration = try config.controllerClientTLSConfiguration()
        var context: TLSContext?
        if let clientConfiguration {
            do {
                context = try TLSContext(clientConfiguration, role: .client)
            } catch {
                throw ConfigError(origin: "TLS (controller client)", reason: error.message)
            }
        }
        lastGood = Mutex(context)
        let serves = try config.controllerListenerTLSConfiguration() != nil
        if serves && listenerTLS == nil {
            throw ConfigError(
                origin: "listener.security.protocol.map",
                reason: "the SSL controller listener has no TLS context (load ListenerTLS from the configuration)")
        }
        self.listenerTLS = serves ? listenerTLS : nil
        self.authorize = serves ? authorize : nil
    }

    /// What a ``ControllerChannel`` to a controller listener speaks.
    var channelSecurity: ChannelSecurity {
        guard clientConfiguration != nil else { return .plaintext }
        return ChannelSecurity(tls: { [self] () throws(NetError) -> TLSContext in try currentContext() }, sasl: nil)
    }

    /// The client context of a Raft peer link's next connection; nil: plaintext.
    var peerTLS: (@Sendable () throws(NetError) -> TLSContext)? {
        guard clientConfiguration != nil else { return nil }
        return { [self] () throws(NetError) -> TLSContext in try currentContext() }
    }

    private func currentContext() throws(NetError) -> TLSContext {
        guard let clientConfiguration else { throw NetError(.tlsConfiguration, "the controller listener is plaintext") }
        do {
            let context = try TLSContext(clientConfiguration, role: .client)
            lastGood.withLock { $0 = context }
            return context
        } catch {
            guard let context = lastGood.withLock({ $0 }) else { throw error }
            logger.warning(
                "cannot reload the controller client TLS files; keeping the current ones",
                metadata: ["error": "\(error.message)"])
            return context
        }
    }
}

extension ControllerSecurity {
    /// The CLUSTER_ACTION check of the controller listener with the broker's authorizer (Kafka
    /// asks the same of every controller API); nil when the authorizer is off. Until the node's
    /// image has caught up, only super users pass, as on the client listeners: the quorum itself
    /// must elect a leader before any ACL can be read, so the nodes' principals belong in
    /// `super.users`.
    static func clusterAction(
        _ authorization: BrokerAuthorization, isCaughtUp: @escaping @Sendable () -> Bool
    ) -> Authorize? {
        guard authorization.enabled else { return nil }
        return { principal, host, api in
            guard let access = authorization.access(principal: principal, host: host, api: api, isCaughtUp: isCaughtUp)
            else { return true }
            return access.allows(.clusterAction, .cluster)
        }
    }
}

/// A node that closures may ask about without keeping it alive.
struct WeakClusterNode: Sendable {
    weak var node: ClusterNode?
}
