import Foundation
import TernTestSupport

/// Runs `options.runs` chaos runs one after another and prints a line per run and a total.
struct ChaosCampaign {
    let options: ChaosOptions

    /// The process exit status: 0 when every run finished with a valid history.
    func run() async -> Int32 {
        say(
            "tern-chaos: \(options.runs) run(s) from seed \(options.seed), "
                + (options.faults
                    ? "\(options.faultSeconds) s of faults each, " : "no faults (\(options.faultSeconds) s), ")
                + "3 brokers, \(options.partitions) partitions RF=3 min.insync.replicas=2, acks=all idempotent, "
                + "\(options.rate) records/s")
        var total = ChaosVerdict()
        var failedRuns: [UInt64] = []
        var faults = 0
        let watchdog = ChaosWatchdog()
        for index in 0..<options.runs {
            let seed = options.seed + UInt64(index)
            // Setup, faults, recovery and the final read are each bounded well below this.
            watchdog.arm(seed: seed, seconds: options.faultSeconds + 600)
            let result = await ChaosRun(options: options, seed: seed).run()
            watchdog.disarm()
            faults += result.faults.count
            total.add(result.verdict)
            let ok = result.error == nil && result.verdict.isValid
            if !ok { failedRuns.append(seed) }
            say(
                "run \(index + 1)/\(options.runs) seed=\(seed) faults=\(result.faults.count) [\(result.faults.map(\.description).joined(separator: "; "))] "
                    + "\(result.verdict.summary) \(ok ? "OK" : "FAIL")")
            if let error = result.error { say("  error: \(error)") }
            for problem in result.verdict.problems { say("  \(problem)") }
            if let kept = result.keptDirectory { say("  data and logs kept in \(kept)") }
        }
        say(
            "total: \(options.runs) runs, \(faults) faults, \(total.summary), "
                + "\(failedRuns.count) failing\(failedRuns.isEmpty ? "" : " (seeds \(failedRuns.map(String.init).joined(separator: ",")))")"
        )
        return failedRuns.isEmpty ? 0 : 1
    }
}

/// Prints a line at once (unbuffered), so a campaign's progress shows in a file or a pipe too.
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
