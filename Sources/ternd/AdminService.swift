import Dispatch
import ServiceLifecycle
import TernBroker

/// The admin HTTP listener as a service of ternd's `ServiceGroup`. It is listed before the
/// broker, so it stops after it: while the broker drains, `/health/ready` answers 503 and
/// `/health/live` and `/metrics` keep answering.
struct AdminService: Service, CustomStringConvertible {
    let admin: AdminServer

    var description: String { "admin" }

    func run() async throws {
        try? await gracefulShutdown()
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            DispatchQueue.global().async {
                admin.shutdown()
                continuation.resume()
            }
        }
    }
}
