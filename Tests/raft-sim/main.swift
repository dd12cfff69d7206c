import TernRaftSimulator

// Runs many seeds of the Raft simulation (used by scripts/simulate.sh with a release build).
// Usage: raft-sim [--seeds N] [--start S]; prints each failing seed with its replay command.
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
        print("usage: raft-sim [--seeds N] [--start S]")
        exit(64)
    }
}
var failures = 0
var committed = 0
var snapshots = 0
var installs = 0
var resignations = 0
for seed in start..<(start + count) {
    var sim = RaftSimulation(seed: seed)
    let out = sim.run()
    committed += out.committed
    snapshots += out.snapshots
    installs += out.installs
    resignations += out.resignations
    if let v = out.violation {
        failures += 1
        print("FAIL \(v)\n")
    }
    if (seed - start + 1) % 1000 == 0 { print("\(seed - start + 1) seeds, \(failures) failing") }
}
print(
    "ran \(count) seeds from \(start): \(failures) failing, \(committed) entries committed, \(snapshots) snapshots "
        + "taken, \(installs) fetched and installed, \(resignations) resignations")
exit(failures == 0 ? 0 : 1)
