import Logging

extension Broker {
    /// The first step of a stop in a cluster: the active controller moves this broker's
    /// leadership to other in-sync replicas and fences it (``ClusterNode/controlledShutdown()``)
    /// while the listeners still answer, so clients are sent to the new leaders rather than
    /// finding a closed port. Logs how it ended; never throws: a stop goes on either way.
    func controlledShutdown() {
        let started = ContinuousClock.now
        let outcome = cluster.controlledShutdown()
        let elapsed = "\((ContinuousClock.now - started).milliseconds)"
        switch outcome {
        case .completed:
            logger.info(
                "controlled shutdown: leadership moved to other replicas", metadata: ["tern_elapsed_ms": "\(elapsed)"])
        case .skipped(let reason):
            logger.info("no controlled shutdown", metadata: ["tern_reason": "\(reason)"])
        case .timedOut:
            logger.warning(
                "controlled shutdown timed out: stopping without handing leadership over",
                metadata: [
                    "tern_elapsed_ms": "\(elapsed)",
                    "tern_timeout_ms": "\(config.cluster.controlledShutdownTimeoutMs)",
                ])
        }
    }
}
