import Dispatch
import Synchronization
import TernNet
import TernWire

extension ControllerChannel {
    /// Logs `connection` in with `credentials` before anything else is sent on it: SaslHandshake,
    /// then SaslAuthenticate until the broker accepts — and, for SCRAM, until the broker has
    /// proved it holds the credential, so a follower never replicates from an impostor. Blocks
    /// the calling thread (a fetcher's queue, never an event loop), each step up to `timeout`.
    /// - Throws: ``ControllerChannelError`` with ``ControllerChannelError/securityFailure`` set
    ///   when the broker refuses (its answer never says whether the user or the password was
    ///   wrong) or the exchange is malformed; without it when the connection failed.
    func authenticate(
        _ connection: ClientConnection, _ credentials: InterBrokerSaslCredentials, timeout: Duration
    ) throws(ControllerChannelError) {
        func refused(_ failure: SaslClientError) -> ControllerChannelError {
            let reason =
                switch failure.code {
                case .mechanismNotOffered:
                    "the broker does not offer it (it offers: \(failure.offeredMechanisms.joined(separator: ", ")); \(failure.brokerError))"
                case .unsupportedMechanism: "mechanism \(credentials.mechanism) is not spoken"
                case .badServerFirst: "SCRAM server-first message: \(failure.reason)"
                case .serverNotProven: "the broker did not prove it holds the credential: \(failure.reason)"
                default: failure.reason
                }
            return ControllerChannelError(
                "SASL login at \(host):\(port) as \(credentials.username) (\(credentials.mechanism)) failed: \(reason)",
                securityFailure: true)
        }
        var session = SaslClientSession(
            mechanism: credentials.mechanism, username: credentials.username, password: credentials.password)
        let handshake = try exchange(session.start(), on: connection, timeout)
        var next: SaslAuthenticateRequest?
        do { next = try session.receive(handshake) } catch { throw refused(error) }
        while let request = next {
            let response = try exchange(request, on: connection, timeout)
            do { next = try session.receive(response) } catch { throw refused(error) }
        }
    }

    /// Sends one request on `connection` and waits for its decoded response.
    private func exchange<R: WireRequest>(_ request: R, on connection: ClientConnection, _ timeout: Duration)
        throws(ControllerChannelError) -> R.Response
    {
        let outcome = Mutex<Result<[UInt8], ControllerChannelError>?>(nil)
        let done = DispatchSemaphore(value: 0)
        issue(request, on: connection, timeout: timeout) { result in
            outcome.withLock { $0 = result }
            done.signal()
        }
        // The request's own timeout answers it; this bound only guards the wait.
        let bound = DispatchTime.now() + .milliseconds(Int(timeout.milliseconds) + 1000)
        guard done.wait(timeout: bound) == .success, let result = outcome.withLock({ $0 }) else {
            throw ControllerChannelError("\(R.apiKey.name) to \(host):\(port) got no answer within \(timeout)")
        }
        let body = try result.get()
        var reader = ByteReader(body)
        do {
            return try R.Response(from: &reader, version: R.apiVersion)
        } catch {
            throw ControllerChannelError(
                "unreadable \(R.apiKey.name) answer from \(host):\(port): \(error)", securityFailure: true)
        }
    }
}
