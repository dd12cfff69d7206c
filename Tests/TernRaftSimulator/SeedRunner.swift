#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// What one seeded run of a simulation reports: the first invariant it broke, with the command
/// that replays the seed, and counts of what it exercised, which ``add(_:)`` totals over seeds.
public protocol SimulationOutcome: Sendable {
    /// No run yet: every count zero, no violation.
    init()
    /// The first broken invariant, its seed's replay command and the last events (nil: none).
    var violation: String? { get }
    /// Adds `other`'s counts to these (the violation is left as it is).
    mutating func add(_ other: Self)
}

/// The seeds a runner runs: `count` seeds from `start`.
public struct SeedRange: Sendable, Equatable {
    public var start: UInt64
    public var count: UInt64

    public init(start: UInt64 = 1, count: UInt64 = 1000) {
        self.start = start
        self.count = count
    }

    /// From `--seeds N` and `--start S` (a missing or unreadable number keeps the default); nil
    /// for any other argument.
    public init?(arguments: some Sequence<String>) {
        self.init()
        var args = Array(arguments)[...]
        while let a = args.popFirst() {
            switch a {
            case "--seeds": count = args.popFirst().flatMap { UInt64($0) } ?? count
            case "--start": start = args.popFirst().flatMap { UInt64($0) } ?? start
            default: return nil
            }
        }
    }

    /// From the environment variables `<prefix>_SEEDS` and `<prefix>_SEED_START` (a test suite's
    /// many-seeds test), the defaults where they are unset or unreadable.
    public init(environment: [String: String], prefix: String) {
        self.init()
        count = environment["\(prefix)_SEEDS"].flatMap { UInt64($0) } ?? count
        start = environment["\(prefix)_SEED_START"].flatMap { UInt64($0) } ?? start
    }

    /// The seeds in order.
    public var seeds: Range<UInt64> { start..<(start + count) }
}

/// Runs a range of seeds of one simulation: the seed loop of the command-line runners
/// (`raft-sim`, `replication-sim`, scripts/simulate.sh) and of the test suites' many-seeds tests.
public enum SeedRunner {
    /// Runs `simulate` on every seed of `range` in order; `failed` gets each seed's violation
    /// as it happens. Returns the totals and how many seeds failed.
    public static func run<Outcome: SimulationOutcome>(
        _ range: SeedRange, failed: (UInt64, String) -> Void = { _, _ in },
        progress: ((_ done: UInt64, _ failures: Int) -> Void)? = nil, _ simulate: (UInt64) -> Outcome
    ) -> (total: Outcome, failures: Int) {
        var total = Outcome()
        var failures = 0
        for seed in range.seeds {
            let out = simulate(seed)
            total.add(out)
            if let v = out.violation {
                failures += 1
                failed(seed, v)
            }
            let done = seed - range.start + 1
            if done % 1000 == 0 { progress?(done, failures) }
        }
        return (total, failures)
    }

    /// A command-line runner: reads `--seeds N --start S`, runs them printing each failure (with
    /// its replay command) and a line every 1,000 seeds, then `summary` of the totals; exits 0
    /// when no seed failed, 1 when one did, 64 on a usage error.
    public static func main<Outcome: SimulationOutcome>(
        _ name: String, arguments: [String], summary: (SeedRange, _ failures: Int, Outcome) -> String,
        _ simulate: (UInt64) -> Outcome
    ) -> Never {
        guard let range = SeedRange(arguments: arguments.dropFirst()) else {
            print("usage: \(name) [--seeds N] [--start S]")
            exit(64)
        }
        let (total, failures) = run(
            range, failed: { _, violation in print("FAIL \(violation)\n") },
            progress: { done, failures in print("\(done) seeds, \(failures) failing") }, simulate)
        print(summary(range, failures, total))
        exit(failures == 0 ? 0 : 1)
    }
}
