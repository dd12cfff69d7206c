import Dispatch
import Synchronization
import TernWire

extension ClusterNode {
    /// Why a forwarded request got no answer from a controller: the metadata quorum could not
    /// decide it in time. `code` is REQUEST_TIMED_OUT or NOT_CONTROLLER; the message names the
    /// lost quorum.
    struct ForwardFailure: Error, CustomStringConvertible {
        var code: ErrorCode
        var message: String
        var description: String { "\(code.name): \(message)" }
    }

    /// Sends `envelope` to the active controller and completes with its answer, any thread:
    /// in-process when this node is the controller, else over the leader's controller listener
    /// (found from the quorum status: leader id → voter address). While there is no leader, the
    /// leader is not yet the active controller (NOT_CONTROLLER) or its connection fails, it
    /// tries again every 50 ms until `timeout` has passed, then fails with "no metadata quorum".
    /// Never waits longer than `timeout` (plus one connect attempt's remainder).
    func forward(
        _ envelope: EnvelopeRequest, timeout: Duration,
        completion: @escaping @Sendable (Result<EnvelopeResponse, ForwardFailure>) -> Void
    ) {
        let deadline = DispatchTime.now() + .nanoseconds(Int(max(timeout.milliseconds, 1) * 1_000_000))
        attempt(envelope, deadline: deadline, lastProblem: "no metadata quorum leader known", completion: completion)
    }

    private func attempt(
        _ envelope: EnvelopeRequest, deadline: DispatchTime, lastProblem: String,
        completion: @escaping @Sendable (Result<EnvelopeResponse, ForwardFailure>) -> Void
    ) {
        let now = DispatchTime.now()
        guard now < deadline else {
            return completion(
                .failure(
                    ForwardFailure(
                        code: .requestTimedOut,
                        message:
                            "no metadata quorum: \(envelope.requestApiKey) was not decided in time (\(lastProblem))")))
        }
        let retry: @Sendable (String) -> Void = { [self] problem in
            forwardQueue.asyncAfter(deadline: min(.now() + .milliseconds(50), deadline)) {
                self.attempt(envelope, deadline: deadline, lastProblem: problem, completion: completion)
            }
        }
        let answered: @Sendable (EnvelopeResponse) -> Void = { response in
            if response.errorCode == .notController {
                retry(response.errorMessage ?? "the leader is not the active controller yet")
            } else {
                completion(.success(response))
            }
        }
        guard let leader = driver.status().leaderId else { return retry("no metadata quorum leader known") }
        if leader == config.nodeId {
            let controller = self.controller
            controller.queue.async { ForwardedApis.serve(envelope, on: controller, reply: answered) }
            return
        }
        guard let channel = forwardChannels[leader] else {
            return retry("the leader, node \(leader), is not a voter with a controller listener")
        }
        let remaining = Duration.nanoseconds(Int64(deadline.uptimeNanoseconds - now.uptimeNanoseconds))
        // Not on `forwardQueue`: connecting blocks the calling thread (up to `remaining` to an
        // unreachable host), which must not hold up other forwards' waits.
        DispatchQueue.global().async {
            channel.send(envelope, timeout: remaining) { result in
                switch result {
                case .success(let body):
                    var reader = ByteReader(body)
                    guard let response = try? EnvelopeResponse(from: &reader) else {
                        return retry("node \(leader) sent an unreadable Envelope response")
                    }
                    answered(response)
                case .failure(let error):
                    retry("node \(leader): \(error)")
                }
            }
        }
    }

    /// Waits (bounded by `deadline`) until this node has applied the metadata log through
    /// `offset` and `applied` says the broker has acted on it; then calls `done` with true, or
    /// with false at the deadline. Polls every 2 ms on the forwarding queue: writes are rare and
    /// usually applied within a few milliseconds of their commit.
    func whenApplied(
        through offset: Int64, deadline: DispatchTime, applied: @escaping @Sendable (Int64) -> Bool,
        done: @escaping @Sendable (Bool) -> Void
    ) {
        if offset < 0 || (publisher.current.nextOffset > offset && applied(offset)) { return done(true) }
        guard DispatchTime.now() < deadline else { return done(false) }
        forwardQueue.asyncAfter(deadline: .now() + .milliseconds(2)) {
            self.whenApplied(through: offset, deadline: deadline, applied: applied, done: done)
        }
    }
}
