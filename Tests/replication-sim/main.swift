import TernReplicationSimulator

// Runs many seeds of the replication simulation (scripts/simulate.sh --replication, release
// build). Usage: replication-sim [--seeds N] [--start S]; prints each failing seed with its
// replay command.
#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

var count: UInt64 = 1000
var start: UInt64 = 1
var args = CommandLine.arguments.dropFirst()
while let a = args.popFirst() {
    switch a {
    case "--seeds": count = args.popFirst().flatMap { UInt64($0) } ?? count
    case "--start": start = args.popFirst().flatMap { UInt64($0) } ?? start
    default:
        print("usage: replication-sim [--seeds N] [--start S]")
        exit(64)
    }
}
var failures = 0
var total = ReplicationSimulation.Outcome()
for seed in start..<(start + count) {
    var sim = ReplicationSimulation(seed: seed)
    let out = sim.run()
    total.acked += out.acked
    total.visible += out.visible
    total.leaderChanges += out.leaderChanges
    total.crashes += out.crashes
    total.truncations += out.truncations
    total.isrProposals += out.isrProposals
    if let v = out.violation {
        failures += 1
        print("FAIL \(v)\n")
    }
    if (seed - start + 1) % 1000 == 0 { print("\(seed - start + 1) seeds, \(failures) failing") }
}
print(
    "ran \(count) seeds from \(start): \(failures) failing, \(total.acked) records acknowledged (acks=all), "
        + "\(total.visible) read by consumers, \(total.leaderChanges) leader changes, \(total.crashes) crashes, "
        + "\(total.truncations) truncations, \(total.isrProposals) ISR proposals")
exit(failures == 0 ? 0 : 1)
