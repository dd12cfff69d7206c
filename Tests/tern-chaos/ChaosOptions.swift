import Foundation

/// Command-line options of `tern-chaos` (scripts/chaos.sh passes them through).
struct ChaosOptions: Sendable {
    var runs = 1
    /// The first run's seed; run i uses seed + i. Default: from the clock (printed).
    var seed = UInt64(Date().timeIntervalSince1970 * 1000) % 1_000_000
    /// Seconds of faults per run (the workload runs a little longer on each side).
    var faultSeconds = 25.0
    var partitions: Int32 = 3
    /// Records per second, over all partitions.
    var rate = 300
    /// False with `--no-faults`: the workload and the check alone (a baseline that must pass).
    var faults = true
    /// Keep each run's data directories and broker logs (always kept for a failing run).
    var keep = false
    /// Extra `--set KEY=VALUE` for every broker.
    var settings: [String: String] = [:]

    static let usage = """
        usage: tern-chaos [--runs N] [--seed S] [--short] [--seconds T] [--rate R] [--partitions P] \
        [--no-faults] [--keep] [--set KEY=VALUE]...
          --runs N       runs, each on a fresh 3-node cluster (default 1)
          --seed S       seed of the first run; run i uses S+i (default: from the clock)
          --short        8 s of faults per run instead of 25 (for CI)
          --seconds T    seconds of faults per run
          --rate R       records per second over all partitions (default 300)
          --no-faults    inject nothing (a baseline: the workload and the check alone)
          --keep         keep data directories and broker logs of passing runs too
          --set K=V      a broker setting for every node (repeatable)
        """

    /// Parses `arguments` (without the program name); nil with a message on bad input.
    static func parse(_ arguments: [String]) -> Result<ChaosOptions, ChaosUsageError> {
        var options = ChaosOptions()
        var rest = arguments[...]
        func value(_ flag: String) throws(ChaosUsageError) -> String {
            guard let next = rest.popFirst() else { throw ChaosUsageError(message: "\(flag) needs a value") }
            return next
        }
        do throws(ChaosUsageError) {
            while let flag = rest.popFirst() {
                switch flag {
                case "--runs": options.runs = try number(try value(flag), flag, min: 1)
                case "--seed":
                    guard let seed = UInt64(try value(flag)) else {
                        throw ChaosUsageError(message: "--seed needs a number")
                    }
                    options.seed = seed
                case "--short": options.faultSeconds = 8
                case "--seconds": options.faultSeconds = Double(try number(try value(flag), flag, min: 1))
                case "--rate": options.rate = try number(try value(flag), flag, min: 1)
                case "--partitions": options.partitions = Int32(try number(try value(flag), flag, min: 1))
                case "--keep": options.keep = true
                case "--no-faults": options.faults = false
                case "--set":
                    let pair = try value(flag)
                    guard let equals = pair.firstIndex(of: "=") else {
                        throw ChaosUsageError(message: "--set needs KEY=VALUE")
                    }
                    options.settings[String(pair[..<equals])] = String(pair[pair.index(after: equals)...])
                case "-h", "--help": throw ChaosUsageError(message: "")
                default: throw ChaosUsageError(message: "unknown argument \(flag)")
                }
            }
        } catch {
            return .failure(error)
        }
        return .success(options)
    }

    private static func number(_ text: String, _ flag: String, min: Int) throws(ChaosUsageError) -> Int {
        guard let n = Int(text), n >= min else { throw ChaosUsageError(message: "\(flag) needs a number >= \(min)") }
        return n
    }
}

struct ChaosUsageError: Error {
    var message: String
}
