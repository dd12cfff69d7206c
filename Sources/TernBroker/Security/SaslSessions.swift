import CoreMetrics
import Dispatch
import Logging
import Synchronization
import TernNet
import TernWire

/// The SASL authentication of the broker's `SASL_PLAINTEXT` and `SASL_SSL` listeners: one
/// ``SaslAuthenticator`` per connection that has not authenticated yet, credentials read from the
/// committed metadata image at each exchange, and what the authenticator's actions say done —
/// answers sent, failures answered after `connection.failed.authentication.delay.ms` (scheduled on
/// a timer queue, never slept on a network queue), connections closed.
///
/// Once a connection authenticates, its principal (`User:NAME`) is kept on the
/// ``ServerConnection`` and its authenticator is dropped, so an authenticated request costs one
/// lock on the connection and nothing here.
///
/// A session lasts as long as the credential it authenticated with: when a committed metadata
/// change deletes or replaces it (``credentialsChanged(before:after:)``), the user's connections
/// that used it are closed (``SaslSessionRegistry`` finds them by user).
final class SaslSessions: Sendable {
    /// The settings of each listener (by index in `listeners`); nil for a listener without SASL.
    private let settings: [SaslAuthenticator.Settings?]
    private let sessions = Mutex<[UInt64: SaslAuthenticator]>([:])
    /// Per-process secret for unknown users' fake salts (see ``ScramServer``).
    private let fakeCredentialKey = ScramMechanism.randomBytes(32)
    private let credentials: @Sendable (String, ScramMechanism) -> ScramCredential?
    private let logger: Logger
    private let timers = DispatchQueue(label: "tern.sasl.delay")
    /// The authenticated connections, by user.
    let registry = SaslSessionRegistry()
    /// `tern_sasl_connections_revoked_total{reason}`.
    private let revokedDeleted = Counter(
        label: "tern_sasl_connections_revoked_total", dimensions: [("reason", "credential_deleted")])
    private let revokedChanged = Counter(
        label: "tern_sasl_connections_revoked_total", dimensions: [("reason", "credential_changed")])

    /// - Parameter credentials: a user's stored credential for a mechanism (the committed image).
    init(
        config: BrokerConfig, logger: Logger,
        credentials: @escaping @Sendable (String, ScramMechanism) -> ScramCredential?
    ) {
        settings = config.listeners.map { listener in
            listener.securityProtocol.usesSASL
                ? config.saslSettings(listenerUsesTLS: listener.securityProtocol.usesTLS) : nil
        }
        self.credentials = credentials
        self.logger = logger
    }

    /// Whether any listener uses SASL.
    var isEnabled: Bool { settings.contains { $0 != nil } }

    /// Whether connections of listener `index` must authenticate first.
    func requiresAuthentication(listener index: Int) -> Bool {
        settings.indices.contains(index) && settings[index] != nil
    }

    /// Connections in the middle of an exchange (tests and diagnostics).
    var pendingCount: Int { sessions.withLock { $0.count } }

    /// A request on a SASL listener's connection that has not authenticated yet.
    /// - Returns: true when the router should serve the request as usual (ApiVersions); false
    ///   when it was answered or the connection is closing.
    func handleUnauthenticated(
        _ header: RequestHeader, _ reader: inout ByteReader, _ context: RequestContext
    ) -> Bool {
        let connection = context.connection
        guard settings.indices.contains(context.listener), let listenerSettings = settings[context.listener] else {
            return true
        }
        let request: SaslAuthenticator.Request
        do {
            switch header.apiKey {
            case .apiVersions: request = .apiVersions
            case .saslHandshake: request = .handshake(try Self.decode(&reader))
            case .saslAuthenticate: request = .authenticate(try Self.decode(&reader))
            default: request = .other(header.apiKey)
            }
        } catch {
            refuse(context, log: "malformed \(header.apiKey.name) request before authentication: \(error)")
            return false
        }
        let credentials = self.credentials
        let (action, failure, mechanism, principal, session) = sessions.withLock { sessions in
            var authenticator =
                sessions[connection.id]
                ?? SaslAuthenticator(
                    settings: listenerSettings, serverNonce: ScramMechanism.randomNonce(),
                    fakeCredentialKey: fakeCredentialKey)
            let action = authenticator.handle(request, lookup: credentials)
            let principal = authenticator.principal
            // Kept only while the exchange goes on: success moves the principal to the
            // connection, and every failure closes it.
            sessions[connection.id] = principal == nil && !action.closes ? authenticator : nil
            return (action, authenticator.lastFailure, authenticator.mechanism, principal, authenticator.session)
        }
        switch action {
        case .forward:
            return true
        case .close(let log):
            refuse(context, log: log)
        case .handshake(let response, let thenClose):
            context.respond(response)
            if thenClose {
                count(mechanism: "unsupported", success: false)
                warn(
                    context, "SASL handshake refused: mechanism not offered on this listener",
                    ["tern_mechanism": "\(response.mechanisms)"])
                connection.close()
            }
        case .authenticate(let response, let delayMs, let thenClose):
            if let principal {
                connection.setAuthenticatedPrincipal(principal)
                count(mechanism: mechanism, success: true)
                var logger = logger
                logger[metadataKey: "tern_peer"] = "\(connection.peer)"
                logger.debug("SASL authentication succeeded", metadata: ["tern_principal": "\(principal)"])
                if let session {
                    registry.add(
                        user: session.user,
                        .init(connection: connection, mechanism: mechanism, credential: session.credential))
                    // A change committed since the credential was looked up was scanned before
                    // this connection was registered: check against the image now.
                    revokeStaleSessions(of: session.user)
                }
            }
            if thenClose {
                count(mechanism: mechanism, success: false)
                warn(
                    context, "SASL authentication failed",
                    ["tern_mechanism": "\(mechanism)", "tern_reason": "\(failure?.reason ?? "unknown")"])
                // Stop reading now; the connection closes once the delayed answer is written.
                connection.close()
            }
            if delayMs > 0 {
                timers.asyncAfter(deadline: .now() + .milliseconds(Int(delayMs))) { context.respond(response) }
            } else {
                context.respond(response)
            }
        }
        return false
    }

    /// SaslHandshake or SaslAuthenticate where no exchange is running: on a listener without SASL
    /// (ILLEGAL_SASL_STATE, as Kafka), or after authentication (re-authentication is not offered:
    /// the connection is closed).
    func handleOutsideExchange(_ header: RequestHeader, _ context: RequestContext) {
        if context.connection.authenticatedPrincipal != nil {
            refuse(
                context,
                log: "\(header.apiKey.name) after successful authentication (re-authentication is not supported)")
            return
        }
        let message = "this listener does not use SASL (connect to a SASL_PLAINTEXT or SASL_SSL listener)"
        if header.apiKey == .saslHandshake {
            context.respond(SaslHandshakeResponse(errorCode: .illegalSaslState, mechanisms: []))
        } else {
            context.respond(
                SaslAuthenticateResponse(errorCode: .illegalSaslState, errorMessage: message, authBytes: []))
        }
    }

    /// Forgets a closed connection's exchange or session.
    func forget(_ connectionId: UInt64) {
        _ = sessions.withLock { $0.removeValue(forKey: connectionId) }
        registry.remove(connectionId)
    }

    /// Called with each newly committed image: closes the connections whose user's credential
    /// was deleted or replaced since (a password change ends sessions too: they were
    /// authenticated by a secret that is no longer valid, and Tern has no re-authentication to
    /// end them later). Costs one comparison when the credentials did not change.
    func credentialsChanged(before: MetadataImage, after: MetadataImage) {
        guard before.scramCredentials != after.scramCredentials else { return }
        var users = Set<String>()
        for (user, credentials) in before.scramCredentials where after.scramCredentials[user] != credentials {
            users.insert(user)
        }
        for (user, credentials) in after.scramCredentials where before.scramCredentials[user] != credentials {
            users.insert(user)
        }
        for user in users.sorted() { revokeStaleSessions(of: user) }
    }

    /// Closes `user`'s connections whose credential is not the one the committed image holds now
    /// for its mechanism, with a log line per reason (principal, mechanism, count).
    private func revokeStaleSessions(of user: String) {
        // Looked up before the registry's lock is taken, and after the caller's change was
        // published or its session registered: one of the two always sees the other.
        let current = ScramMechanism.all.compactMap { credentials(user, $0) }
        let revoked = registry.revoke(user: user) { current.contains($0) }
        guard !revoked.isEmpty else { return }
        // One line per mechanism used and outcome: deleted (no credential left for it) or changed.
        struct Group: Hashable, Comparable {
            var deleted: Bool
            var mechanism: String
            static func < (a: Group, b: Group) -> Bool {
                (a.mechanism, a.deleted ? 0 : 1) < (b.mechanism, b.deleted ? 0 : 1)
            }
        }
        var groups: [Group: [ServerConnection]] = [:]
        for session in revoked {
            let deleted = !current.contains { $0.mechanism == session.credential.mechanism }
            groups[Group(deleted: deleted, mechanism: session.mechanism), default: []].append(session.connection)
        }
        for (group, connections) in groups.sorted(by: { $0.key < $1.key }) {
            let reason = group.deleted ? "deleted" : "changed"
            (group.deleted ? revokedDeleted : revokedChanged).increment(by: connections.count)
            logger.info(
                "closing connections of User:\(user): the credential they authenticated with was \(reason)",
                metadata: [
                    "tern_principal": "User:\(user)", "tern_mechanism": "\(group.mechanism)",
                    "tern_connections": "\(connections.count)", "tern_reason": "\(reason)",
                ])
            for connection in connections { connection.close() }
        }
    }

    private func refuse(_ context: RequestContext, log: String) {
        count(mechanism: "none", success: false)
        warn(context, "closing connection: \(log)", [:])
        context.noResponse()
        context.connection.close()
    }

    private func warn(_ context: RequestContext, _ message: String, _ metadata: Logger.Metadata) {
        var logger = logger
        logger[metadataKey: "tern_peer"] = "\(context.connection.peer)"
        // Rate-limited: a client can fail authentication as fast as it can connect.
        LogRateLimiter.peerWarnings.warning(logger, "\(message)", metadata: metadata)
    }

    private func count(mechanism: String, success: Bool) {
        Counter(
            label: "tern_sasl_authentications_total",
            dimensions: [("mechanism", mechanism), ("result", success ? "success" : "failure")]
        ).increment()
    }

    private static func decode<R: WireRequest>(_ reader: inout ByteReader) throws -> R {
        let request = try R(from: &reader)
        guard reader.isAtEnd else { throw WireError(.malformed, "\(reader.remaining) unexpected bytes after the body") }
        return request
    }
}
