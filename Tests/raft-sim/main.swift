import TernRaftSimulator

// Runs many seeds of the Raft simulation (used by scripts/simulate.sh with a release build).
// Usage: raft-sim [--seeds N] [--start S]; prints each failing seed with its replay command.
SeedRunner.main(
    "raft-sim", arguments: CommandLine.arguments,
    summary: { (range: SeedRange, failures: Int, total: RaftSimulation.Outcome) in
        "ran \(range.count) seeds from \(range.start): \(failures) failing, \(total.committed) entries committed, "
            + "\(total.snapshots) snapshots taken, \(total.installs) fetched and installed, "
            + "\(total.resignations) resignations"
    }
) { seed in
    var sim = RaftSimulation(seed: seed)
    return sim.run()
}
