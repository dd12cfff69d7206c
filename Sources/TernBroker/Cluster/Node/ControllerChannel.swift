import Dispatch
import Logging
import Synchronization
import TernNet
import TernWire

/// A broker's connection to one controller's controller listener, for BrokerRegistration and
/// BrokerHeartbeat (and to a partition leader's inter-broker listener, for replica fetches):
/// connects on first use, matches responses by correlation id, fails a request
/// that gets no answer within its timeout (and drops the connection, which may be stuck) and fails
/// everything pending when the connection closes. The next request connects again.
final class ControllerChannel: Sendable {
    typealias Completion = @Sendable (Result<[UInt8], ControllerChannelError>) -> Void

    private struct State {
        var connection: ClientConnection?
        var pending: [UInt32: Completion] = [:]
        var nextCorrelationId: UInt32 = 1
    }

    let host: String
    let port: Int
    private let clientId: String
    /// The largest response frame accepted (replica fetch responses carry record batches).
    private let maxFrameBytes: Int
    private let state = Mutex(State())
    private let timerQueue = DispatchQueue(label: "tern.controller-channel")

    /// TLS and SASL of each connection (a replica fetcher's, to a secured inter-broker listener).
    let security: ChannelSecurity

    init(
        host: String, port: Int, clientId: String, maxFrameBytes: Int = 1 << 20, security: ChannelSecurity = .plaintext
    ) {
        self.maxFrameBytes = maxFrameBytes
        self.host = host
        self.port = port
        self.clientId = clientId
        self.security = security
    }

    /// Sends `request` and completes with the response body (after the response head) or an
    /// error; any thread. Connecting blocks the calling thread up to `timeout`.
    func send<R: WireRequest>(_ request: R, timeout: Duration, completion: @escaping Completion) {
        let connection: ClientConnection
        do {
            connection = try connected(timeout: timeout)
        } catch let error as ControllerChannelError {
            return completion(.failure(error))
        } catch let error as NetError {
            return completion(
                .failure(
                    ControllerChannelError(
                        "cannot connect to \(host):\(port): \(error)", securityFailure: Self.isSecurityFailure(error))))
        } catch {
            return completion(.failure(ControllerChannelError("cannot connect to \(host):\(port): \(error)")))
        }
        issue(request, on: connection, timeout: timeout, completion: completion)
    }

    /// Sends `request` on `connection` (already connected, and authenticated when it must be).
    func issue<R: WireRequest>(
        _ request: R, on connection: ClientConnection, timeout: Duration, completion: @escaping Completion
    ) {
        let correlationId = state.withLock { state -> UInt32 in
            let id = state.nextCorrelationId
            state.nextCorrelationId &+= 1
            state.pending[id] = completion
            return id
        }
        connection.send(Frame.request(request, correlationId: correlationId, clientId: clientId))
        timerQueue.asyncAfter(deadline: .now() + .milliseconds(Int(timeout.milliseconds))) { [self] in
            guard let late = state.withLock({ $0.pending.removeValue(forKey: correlationId) }) else { return }
            late(.failure(ControllerChannelError("no answer from \(host):\(port) within \(timeout)")))
            drop(connection)
        }
    }

    private func connected(timeout: Duration) throws -> ClientConnection {
        if let open = state.withLock({ $0.connection }), !open.isClosed { return open }
        if security.loginRequired && security.sasl == nil {
            throw ControllerChannelError(
                "\(host):\(port) is a SASL listener and inter.broker.sasl.username is not set", securityFailure: true)
        }
        let tls = try security.tls?()
        let connection = try ClientConnection.connect(
            host: host, port: port, timeout: timeout, maxFrameBytes: maxFrameBytes, tls: tls,
            onFrame: { [weak self] frame in self?.received(Array(frame)) },
            onClose: { [weak self] error in
                self?.failAll("connection to the controller closed: \(error.map { "\($0)" } ?? "closed")")
            })
        if let sasl = security.sasl {
            do {
                try authenticate(connection, sasl, timeout: timeout)
            } catch {
                connection.close()
                throw error
            }
        }
        state.withLock { $0.connection = connection }
        return connection
    }

    private func received(_ payload: [UInt8]) {
        var reader = ByteReader(payload)
        guard let head = try? Frame.readResponseHead(&reader) else { return failAll("unreadable response") }
        guard let completion = state.withLock({ $0.pending.removeValue(forKey: head.correlationId) }) else { return }
        if head.status.errorCode != .none {
            return completion(.failure(ControllerChannelError("\(head.status)", code: head.status.errorCode)))
        }
        completion(.success((try? reader.readBytes(count: reader.remaining)) ?? []))
    }

    private func failAll(_ reason: String) {
        let pending = state.withLock { state in
            defer {
                state.pending = [:]
                state.connection = nil
            }
            return state.pending
        }
        for (_, completion) in pending { completion(.failure(ControllerChannelError(reason))) }
    }

    private func drop(_ connection: ClientConnection) {
        connection.close()
        state.withLock { if $0.connection === connection { $0.connection = nil } }
    }

    /// Closes the connection; pending requests fail.
    func close() {
        if let connection = state.withLock({ $0.connection }) { drop(connection) }
        failAll("closed")
    }
}

/// A request to a controller that got no usable answer.
struct ControllerChannelError: Error, CustomStringConvertible {
    var description: String
    /// The error code when the controller answered with one in the response head.
    var code: ErrorCode?
    /// The TLS handshake or the SASL login failed: a configuration problem (untrusted
    /// certificate, wrong password) that retrying soon will not fix.
    var securityFailure: Bool
    init(_ description: String, code: ErrorCode? = nil, securityFailure: Bool = false) {
        self.description = description
        self.code = code
        self.securityFailure = securityFailure
    }
}

extension ControllerChannel {
    /// Whether `error` is a TLS failure rather than a network one.
    static func isSecurityFailure(_ error: NetError) -> Bool {
        [.tlsConfiguration, .tlsHandshakeFailed, .tlsNotSpoken, .tlsRequired, .tlsError].contains(error.code)
    }
}
