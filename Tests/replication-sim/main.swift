import TernRaftSimulator
import TernReplicationSimulator

// Runs many seeds of the replication simulation (scripts/simulate.sh --replication, release
// build). Usage: replication-sim [--seeds N] [--start S]; prints each failing seed with its
// replay command.
SeedRunner.main(
    "replication-sim", arguments: CommandLine.arguments,
    summary: { (range: SeedRange, failures: Int, total: ReplicationSimulation.Outcome) in
        "ran \(range.count) seeds from \(range.start): \(failures) failing, \(total.acked) records acknowledged "
            + "(acks=all), \(total.visible) read by consumers, \(total.leaderChanges) leader changes, "
            + "\(total.crashes) crashes, \(total.truncations) truncations, \(total.isrProposals) ISR proposals"
    }
) { seed in
    var sim = ReplicationSimulation(seed: seed)
    return sim.run()
}
