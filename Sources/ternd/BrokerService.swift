import Dispatch
import ServiceLifecycle
import TernBroker

/// The broker as a service of ternd's `ServiceGroup`. Its listeners are bound before the group
/// runs (so that `READY=1` follows the port accepting, and a bind failure has its own exit
/// code); `run` waits for graceful shutdown and then stops the broker: stop accepting, finish
/// in-flight requests (bounded by `shutdown.timeout.ms`), flush and fsync every log, write the
/// clean-shutdown markers.
struct BrokerService: Service, CustomStringConvertible {
    let broker: Broker

    var description: String { "broker" }

    func run() async throws {
        // Cancellation (another service failed) also ends the wait: the broker is stopped either way.
        try? await gracefulShutdown()
        broker.beginShutdown()
        // `shutdown` blocks while connections drain and logs flush: keep it off the cooperative pool.
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            DispatchQueue.global().async {
                do {
                    try broker.shutdown()
                    continuation.resume()
                } catch {
                    continuation.resume(throwing: error)
                }
            }
        }
    }
}
