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
        let peer = "\(host):\(port)"
        func refused(_ reason: String) -> ControllerChannelError {
            ControllerChannelError(
                "SASL login at \(peer) as \(credentials.username) (\(credentials.mechanism)) failed: \(reason)",
                securityFailure: true)
        }
        let handshake = try exchange(SaslHandshakeRequest(mechanism: credentials.mechanism), on: connection, timeout)
        guard handshake.errorCode == .none else {
            throw refused(
                "the broker does not offer it (it offers: \(handshake.mechanisms.joined(separator: ", ")); \(handshake.errorCode))"
            )
        }
        func check(_ response: SaslAuthenticateResponse) throws(ControllerChannelError) {
            guard response.errorCode == .none else {
                throw refused(response.errorMessage ?? response.errorCode.name)
            }
        }
        if credentials.mechanism == "PLAIN" {
            let message = PlainMessage(username: credentials.username, password: credentials.password)
            try check(try exchange(SaslAuthenticateRequest(authBytes: message.encoded), on: connection, timeout))
            return
        }
        guard let mechanism = ScramMechanism(name: credentials.mechanism) else {
            throw refused("mechanism \(credentials.mechanism) is not spoken")
        }
        var client = ScramClient(
            mechanism: mechanism, username: credentials.username, password: credentials.password,
            clientNonce: ScramMechanism.randomNonce())
        let first = try exchange(SaslAuthenticateRequest(authBytes: client.clientFirst()), on: connection, timeout)
        try check(first)
        let final: [UInt8]
        do {
            final = try client.receiveServerFirst(first.authBytes)
        } catch {
            throw refused("SCRAM server-first message: \(error.reason)")
        }
        let last = try exchange(SaslAuthenticateRequest(authBytes: final), on: connection, timeout)
        try check(last)
        do {
            try client.receiveServerFinal(last.authBytes)
        } catch {
            throw refused("the broker did not prove it holds the credential: \(error.reason)")
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
