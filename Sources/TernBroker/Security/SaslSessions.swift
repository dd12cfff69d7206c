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
final class SaslSessions: Sendable {
    /// The settings of each listener (by index in `listeners`); nil for a listener without SASL.
    private let settings: [SaslAuthenticator.Settings?]
    private let sessions = Mutex<[UInt64: SaslAuthenticator]>([:])
    /// Per-process secret for unknown users' fake salts (see ``ScramServer``).
    private let fakeCredentialKey = ScramMechanism.randomBytes(32)
    private let credentials: @Sendable (String, ScramMechanism) -> ScramCredential?
    private let logger: Logger
    private let timers = DispatchQueue(label: "tern.sasl.delay")

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
        let (action, failure, mechanism, principal) = sessions.withLock { sessions in
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
            return (action, authenticator.lastFailure, authenticator.mechanism, principal)
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

    /// Forgets a closed connection's exchange.
    func forget(_ connectionId: UInt64) {
        _ = sessions.withLock { $0.removeValue(forKey: connectionId) }
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
