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
        var next: SaslAuthenticateRequest? = try session.receive(handshake)
        while let request = next {
            let response = try exchange(request, timeout: timeout)
            next = try session.receive(response)
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
