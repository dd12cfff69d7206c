import Dispatch
import Logging
import Synchronization
import TernNet
import TernWire

#if canImport(Glibc)
import Glibc
#endif

extension Broker {
    /// DescribeUserScramCredentials: answered from this broker's committed image (mechanisms and
    /// iteration counts only; never salts or keys).
    func handleDescribeUserScramCredentials(
        _ request: DescribeUserScramCredentialsRequest
    ) -> DescribeUserScramCredentialsResponse {
        ControllerDecisions.describeScramCredentials(cluster.image, request)
    }

    /// AlterUserScramCredentials: forwarded to the active controller
    /// (``forward(_:_:timeoutMs:)``), which decides and commits the change; answered once this
    /// broker has applied the commit, so a created user can log in here as soon as the client
    /// has the answer. Authorization (ALTER on the cluster) is checked here, by the router,
    /// before forwarding.
    func handleAlterUserScramCredentials(_ request: AlterUserScramCredentialsRequest, _ context: RequestContext) {
        forward(request, context, timeoutMs: nil)
    }

    /// Commits the users of `sasl.bootstrap.users.file` that do not exist yet, before any client
    /// listener opens: the quorum starts first, and this returns once every user of the file is
    /// in the committed image. The active controller decides which users are missing against its
    /// working image; a node that is not the controller sends the credentials of the users its
    /// caught-up image lacks to the controller (AlterUserScramCredentials on the controller
    /// listener), salted here, so passwords never leave the node.
    /// - Throws: ``ConfigError`` when the users are not committed within `timeout` (no quorum).
    func createBootstrapUsers(_ entries: [SaslBootstrapUsers.Entry], timeout: Duration) throws {
        guard !entries.isEmpty else { return }
        // PLAIN alone checks passwords against SCRAM credentials too: SCRAM-SHA-256 then.
        let enabled = config.enabledScramMechanisms
        let mechanisms = enabled.isEmpty ? [ScramMechanism.sha256] : enabled
        try cluster.startQuorum()
        let deadline = ContinuousClock.now + timeout
        var lastError = "no controller elected yet"
        while ContinuousClock.now < deadline {
            let missing = entries.filter { cluster.image.scramCredentials[$0.name] == nil }
            if missing.isEmpty {
                logger.info(
                    "bootstrap users present in the metadata image", metadata: ["tern_users": "\(entries.map(\.name))"])
                return
            }
            if let error = submitBootstrapUsers(missing, mechanisms: mechanisms) { lastError = error }
            usleep(50_000)
        }
        throw ConfigError(
            origin: "sasl.bootstrap.users.file",
            reason: "bootstrap users not committed within \(timeout): \(lastError)")
    }

    /// One attempt; returns why it did not succeed, or nil.
    private func submitBootstrapUsers(_ missing: [SaslBootstrapUsers.Entry], mechanisms: [ScramMechanism]) -> String? {
        let controller = cluster.controller
        let done = DispatchSemaphore(value: 0)
        let outcome = Shared<String?>("no answer from the controller")
        if controller.isActive {
            controller.queue.async {
                controller.createBootstrapUsers(missing, mechanisms: mechanisms) { result in
                    switch result {
                    case .success(let users):
                        if !users.isEmpty {
                            self.logger.info("bootstrap users created", metadata: ["tern_users": "\(users)"])
                        }
                        outcome.value.withLock { $0 = nil }
                    case .failure(let error):
                        outcome.value.withLock { $0 = "\(error)" }
                    }
                    done.signal()
                }
            }
        } else {
            // Only once this node has applied everything committed: an older image could make it
            // recreate a user whose password was changed since.
            // This node leading means its own controller becomes active within a tick: wait for it,
            // so the decision is made against its working image.
            let status = cluster.quorumStatus
            guard let leader = status.leaderId, leader != config.nodeId,
                cluster.publisher.current.nextOffset >= status.highWatermark, let lifecycle = cluster.lifecycle
            else { return "waiting for the metadata quorum (leader \(status.leaderId.map { "\($0)" } ?? "none"))" }
            let request = AlterUserScramCredentialsRequest(
                upsertions: missing.flatMap { entry in
                    mechanisms.map {
                        .init(
                            user: entry.name, mechanism: $0, password: entry.password,
                            iterations: ScramMechanism.minIterations)
                    }
                })
            lifecycle.alterScramCredentials(request) { result in
                switch result {
                case .success(let response):
                    let failed = response.results.filter { $0.errorCode != .none }
                    if failed.isEmpty {
                        self.logger.info(
                            "bootstrap users created through the active controller",
                            metadata: ["tern_users": "\(missing.map(\.name))", "tern_controller": "\(leader)"])
                    }
                    outcome.value.withLock {
                        $0 =
                            failed.isEmpty
                            ? nil
                            : failed.map { "\($0.user): \($0.errorCode) \($0.errorMessage ?? "")" }.joined(
                                separator: "; ")
                    }
                case .failure(let error):
                    outcome.value.withLock { $0 = "\(error)" }
                }
                done.signal()
            }
        }
        guard done.wait(timeout: .now() + .seconds(10)) == .success else {
            return "the controller did not answer within 10 s"
        }
        return outcome.value.withLock { $0 }
    }
}
