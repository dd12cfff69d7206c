// Chaos runs against 3 real ternd processes (scripts/chaos.sh): a producer/consumer workload under
// random faults (kill -9, SIGSTOP/SIGCONT, isolation through proxies, restarts), then a check of
// the history. Prints one line per run and a total; exits 1 on any violation or failed run.
#if canImport(Glibc)
import Glibc
#endif

switch ChaosOptions.parse(Array(CommandLine.arguments.dropFirst())) {
case .failure(let error):
    if !error.message.isEmpty { say("tern-chaos: \(error.message)") }
    say(ChaosOptions.usage)
    exit(error.message.isEmpty ? 0 : 64)
case .success(let options):
    exit(await ChaosCampaign(options: options).run())
}
