import Dispatch
import Synchronization
import TernWire

extension BrokerConnection {
    /// Runs the SASL exchange (SaslHandshake, then SaslAuthenticate until the broker accepts and,
    /// for SCRAM, proves it holds the credential) before the connection is handed to anyone.
    /// Blocks the calling thread, as connecting does (a Dispatch thread, never a Swift
    /// concurrency one).
    /// - Throws: ``TernError`` `.authenticationFailed` with the broker's answer (which never says
    ///   whether the user or the password was wrong), or the connection's failure.
    func authenticate(_ settings: ClientSASL, timeout: Duration) throws(TernError) {
        var session = SaslClientSession(settings: settings)
        let handshake = try exchange(session.start(), timeout: timeout)
        var next: SaslAuthenticateRequest?
        do { next = try session.receive(handshake) } catch { throw TernError(error, settings) }
        while let request = next {
            let response = try exchange(request, timeout: timeout)
            do { next = try session.receive(response) } catch { throw TernError(error, settings) }
        }
    }

    /// Sends one request and waits for its response.
    private func exchange<R: WireRequest>(_ request: R, timeout: Duration) throws(TernError) -> R.Response {
        let outcome = ExchangeOutcome<R.Response>()
        send(request) { outcome.finish($0) }
        // The request timeout fails the request itself; this bound only guards the wait.
        guard let result = outcome.wait(for: timeout + .seconds(1)) else {
            throw TernError(.timedOut, "\(R.apiKey.name) to \(self) got no answer within \(timeout)")
        }
        return try result.get()
    }
}

extension SaslClientSession {
    /// A session logging in with the SDK's settings.
    init(settings: ClientSASL, clientNonce: String = ScramMechanism.randomNonce()) {
        self.init(
            mechanism: settings.mechanism.name, username: settings.username, password: settings.password,
            clientNonce: clientNonce)
    }
}

extension TernError {
    /// What the SDK's users are told of a failed login: `.authenticationFailed`, with the broker's
    /// code when it answered one (never the password: the session's reasons hold none).
    init(_ failure: SaslClientError, _ settings: ClientSASL) {
        let message =
            switch failure.code {
            case .mechanismNotOffered:
                "the broker does not offer \(settings.mechanism) (it offers: \(failure.offeredMechanisms.joined(separator: ", ")))"
            case .refused: "the broker refused user \(settings.username) (\(settings.mechanism)): \(failure.reason)"
            case .unsupportedMechanism: "mechanism \(settings.mechanism) is not implemented"
            case .badServerFirst, .serverNotProven: "SCRAM exchange with the broker failed: \(failure.reason)"
            default: failure.reason
            }
        self.init(
            .authenticationFailed, message, brokerError: failure.brokerError == .none ? nil : failure.brokerError)
    }
}

/// One response handed from the connection's queue to the thread that waits for it.
private final class ExchangeOutcome<Response: Sendable>: Sendable {
    private let result = Mutex<Result<Response, TernError>?>(nil)
    private let done = DispatchSemaphore(value: 0)

    func finish(_ value: Result<Response, TernError>) {
        result.withLock { $0 = value }
        done.signal()
    }

    func wait(for timeout: Duration) -> Result<Response, TernError>? {
        let nanoseconds = timeout.components.seconds * 1_000_000_000 + timeout.components.attoseconds / 1_000_000_000
        guard done.wait(timeout: .now() + .nanoseconds(Int(nanoseconds))) == .success else { return nil }
        return result.withLock { $0 }
    }
}
