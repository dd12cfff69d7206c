import Foundation
import Synchronization
import TernTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// The last line of defence against a run that hangs (every wait in a run is bounded, but an SDK
/// call stuck past its timeouts would stop the campaign forever): past its limit it SIGKILLs this
/// process's `ternd` children, says which seed hung and exits 2.
final class ChaosWatchdog: Sendable {
    private let armed = Mutex<(generation: Int, seed: UInt64?)>((0, nil))

    /// Arms the watchdog for one run; ``disarm()`` when it ends.
    func arm(seed: UInt64, seconds: Double) {
        let generation = armed.withLock { state -> Int in
            state.generation += 1
            state.seed = seed
            return state.generation
        }
        Thread { [self] in
            usleep(useconds_t(seconds * 1_000_000))
            let fired = armed.withLock { $0.generation == generation && $0.seed != nil }
            guard fired else { return }
            say("run seed=\(seed) hung: no result within \(Int(seconds)) s; killing its brokers")
            let me = getpid()
            for process in LoopbackSocketOwner.processes(named: "ternd")
            where LoopbackSocketOwner.parent(of: process.pid) == me {
                kill(process.pid, SIGKILL)
            }
            exit(2)
        }.start()
    }

    func disarm() { armed.withLock { $0.seed = nil } }
}
