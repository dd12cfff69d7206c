import Dispatch
import Logging
import Synchronization
import TernNet
import TernWire

extension Broker {
    /// The longest a forwarded request without a timeout of its own (AlterConfigs,
    /// auto-creation, `__consumer_offsets`) waits for the metadata quorum: below clients'
    /// usual request timeouts, so they get the "no metadata quorum" answer rather than their
    /// own timeout.
    static let defaultForwardTimeoutMs: Int32 = 10_000

    /// Sends `request` to the active controller (this node's or another voter's, see
    /// ``ClusterNode/forward(_:timeout:completion:)``) inside an Envelope, then waits (bounded by
    /// the same timeout) until this broker has applied the committed change *and* made its logs
    /// match it, so a client can use what it created on this broker at once. `completion` gets
    /// the controller's response, or `request.failed(...)` with REQUEST_TIMED_OUT /
    /// NOT_CONTROLLER and a message naming the lost metadata quorum. Any thread; never blocks.
    ///
    /// - Parameters:
    ///   - clientId: the client's id, for the controller's logs.
    ///   - principal: who the client authenticated as (`User:ANONYMOUS` without authentication).
    ///   - timeoutMs: the request's own timeout; nil or <= 0 for ``defaultForwardTimeoutMs``.
    ///   - brokerInternal: the broker's own request (creating `__consumer_offsets`).
    func forward<R: ForwardableRequest>(
        _ request: R, clientId: String, principal: String, timeoutMs: Int32?, brokerInternal: Bool = false,
        completion: @escaping @Sendable (R.Response) -> Void
    ) {
        let ms = Int64(timeoutMs.flatMap { $0 > 0 ? $0 : nil } ?? Self.defaultForwardTimeoutMs)
        let deadline = DispatchTime.now() + .milliseconds(Int(ms))
        // A request that arrives while the broker is still starting (listeners bound, this
        // node not yet registered, unfenced and reconciled) waits for that first: a single node
        // would otherwise count no live broker and refuse the replication factor.
        guard isServing || isStopping || DispatchTime.now() >= deadline else {
            return cluster.forwardQueue.asyncAfter(deadline: .now() + .milliseconds(5)) { [self] in
                let left = Int64(deadline.uptimeNanoseconds &- DispatchTime.now().uptimeNanoseconds) / 1_000_000
                forward(
                    request, clientId: clientId, principal: principal, timeoutMs: Int32(clamping: max(left, 1)),
                    brokerInternal: brokerInternal, completion: completion)
            }
        }
        var writer = ByteWriter(capacity: 128)
        request.encode(into: &writer)
        let envelope = EnvelopeRequest(
            requestApiKey: R.apiKey, requestApiVersion: request.version, clientId: clientId, principal: principal,
            brokerInternal: brokerInternal, requestData: writer.take())
        cluster.forward(envelope, timeout: .milliseconds(ms)) { [self] result in
            switch result {
            case .failure(let failure):
                logger.warning(
                    "cannot reach the metadata quorum",
                    metadata: ["api": "\(R.apiKey)", "tern_reason": "\(failure.message)"])
                completion(request.failed(failure.code, failure.message))
            case .success(let answer) where answer.errorCode != .none:
                completion(request.failed(answer.errorCode, answer.errorMessage ?? "\(answer.errorCode)"))
            case .success(let answer):
                var reader = ByteReader(answer.responseData)
                let response: R.Response
                do {
                    response = try R.Response(from: &reader, version: request.version)
                } catch {
                    return completion(
                        request.failed(
                            .unknownServerError, "the controller's \(R.apiKey) answer is unreadable: \(error)"))
                }
                cluster.whenApplied(
                    through: answer.metadataOffset, deadline: deadline,
                    applied: { [self] in hasReconciled(through: $0) }
                ) { [self] applied in
                    if !applied {
                        logger.warning(
                            "answering before this broker applied the committed change",
                            metadata: ["api": "\(R.apiKey)", "tern_metadata_offset": "\(answer.metadataOffset)"])
                    }
                    completion(response)
                }
            }
        }
    }

    /// ``forward(_:clientId:principal:timeoutMs:brokerInternal:completion:)`` for a client's
    /// request, answered on its connection.
    func forward<R: ForwardableRequest>(_ request: R, _ context: RequestContext, timeoutMs: Int32?) {
        forward(
            request, clientId: context.header.clientId, principal: context.principal, timeoutMs: timeoutMs
        ) { context.respond($0) }
    }

    /// ``forward(_:clientId:principal:timeoutMs:brokerInternal:completion:)``, blocking the
    /// calling thread (never a network queue) until it completes.
    func forwardAndWait<R: ForwardableRequest>(
        _ request: R, timeoutMs: Int32?, brokerInternal: Bool = false
    ) -> R.Response {
        let box = Shared<R.Response?>(nil)
        let done = DispatchSemaphore(value: 0)
        forward(
            request, clientId: "tern-broker-\(config.nodeId)", principal: "User:ANONYMOUS", timeoutMs: timeoutMs,
            brokerInternal: brokerInternal
        ) { response in
            box.value.withLock { $0 = response }
            done.signal()
        }
        done.wait()
        // The completion ran before the signal.
        return box.value.withLock { $0 } ?? request.failed(.unknownServerError, "no answer")
    }
}
