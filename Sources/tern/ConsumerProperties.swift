import ArgumentParser
import Foundation
import TernClient

/// `--property KEY=VALUE` of `tern consume`: Kafka consumer setting names applied to a
/// ``ConsumerConfiguration``.
enum ConsumerProperties {
    /// Every key `--property` accepts.
    static let keys = [
        "auto.commit.interval.ms", "auto.offset.reset", "enable.auto.commit", "fetch.max.bytes", "fetch.max.wait.ms",
        "fetch.min.bytes", "group.instance.id", "max.partition.fetch.bytes", "max.poll.interval.ms", "max.poll.records",
        "session.timeout.ms",
    ]

    /// The keys that mean something only to a group member (the rest, fetch tuning and
    /// max.poll.records, apply to a plain `tern consume` too).
    static let groupOnlyKeys: Set<String> = [
        "auto.commit.interval.ms", "auto.offset.reset", "enable.auto.commit", "group.instance.id",
        "max.poll.interval.ms", "session.timeout.ms",
    ]

    /// The key of a `KEY=VALUE` entry (nil when there is no `=`).
    static func key(of entry: String) -> String? {
        entry.firstIndex(of: "=").map { String(entry[..<$0]).trimmingCharacters(in: .whitespaces) }
    }

    /// Applies `KEY=VALUE` entries in order.
    /// - Throws: `ValidationError` naming an unknown key or a bad value.
    static func apply(_ entries: [String], to configuration: inout ConsumerConfiguration) throws {
        for entry in entries {
            guard let eq = entry.firstIndex(of: "=") else {
                throw ValidationError("--property expects KEY=VALUE, got '\(entry)'")
            }
            let key = String(entry[..<eq]).trimmingCharacters(in: .whitespaces)
            let value = String(entry[entry.index(after: eq)...]).trimmingCharacters(in: .whitespaces)
            func int(min: Int = 0) throws -> Int {
                guard let n = Int(value), n >= min else {
                    throw ValidationError("--property \(key) needs an integer >= \(min), got '\(value)'")
                }
                return n
            }
            switch key {
            case "session.timeout.ms": configuration.sessionTimeout = .milliseconds(try int(min: 1))
            case "max.poll.interval.ms": configuration.rebalanceTimeout = .milliseconds(try int(min: 1))
            case "auto.commit.interval.ms": configuration.autoCommitInterval = .milliseconds(try int(min: 1))
            case "fetch.max.wait.ms": configuration.fetchMaxWait = .milliseconds(try int())
            case "fetch.min.bytes": configuration.fetchMinBytes = try int()
            case "fetch.max.bytes": configuration.fetchMaxBytes = try int(min: 1)
            case "max.partition.fetch.bytes": configuration.maxPartitionFetchBytes = try int(min: 1)
            case "max.poll.records": configuration.maxPollRecords = try int(min: 1)
            case "group.instance.id": configuration.groupInstanceId = value.isEmpty ? nil : value
            case "enable.auto.commit":
                guard value == "true" || value == "false" else {
                    throw ValidationError("--property enable.auto.commit must be true or false, got '\(value)'")
                }
                configuration.enableAutoCommit = value == "true"
            case "auto.offset.reset":
                switch value {
                case "earliest": configuration.autoOffsetReset = .earliest
                case "latest": configuration.autoOffsetReset = .latest
                case "none": configuration.autoOffsetReset = .none
                default: throw ValidationError("--property auto.offset.reset must be earliest, latest or none")
                }
            default:
                throw ValidationError(
                    "unknown consumer property '\(key)'; known: \(keys.joined(separator: ", "))")
            }
        }
    }
}
