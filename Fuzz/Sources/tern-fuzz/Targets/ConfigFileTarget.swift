@testable import TernBroker

/// A broker config file's text, as `ternd --config FILE` reads it (`BrokerConfig.load`).
enum ConfigFileTarget {
    static let target = FuzzTarget(
        name: "config-file", maxLength: 4096, summary: "BrokerConfig.load on a config file's text", run: run,
        seeds: seeds)

    static func run(_ input: UnsafeRawBufferPointer) {
        // ternd refuses a file that is not UTF-8 before parsing it.
        guard let text = String(validating: input, as: UTF8.self) else { return }
        let config: BrokerConfig
        do {
            config = try BrokerConfig.load(contents: ("fuzz.conf", text))
        } catch {
            return
        }
        for definition in BrokerConfigKeys.all {
            guard let value = config[definition.name] else { fuzzFail("no value for \(definition.name)") }
            fuzzCheck(definition.validate(value) == nil, "\(definition.name) = '\(value)' passed load but not validate")
        }
        fuzzCheck(!config.listeners.isEmpty && !config.logDirs.isEmpty, "no listener or no log dir")
        // Written back as a file, the values read to the same configuration; so does the same
        // file saved with CRLF line ends.
        let lines = BrokerConfigKeys.all.filter { config.sources[$0.name] == .file }.map {
            "\($0.name) = \(config[$0.name] ?? "")"
        }
        for (name, separator) in [("rewritten.conf", "\n"), ("rewritten-crlf.conf", "\r\n")] {
            do {
                let again = try BrokerConfig.load(contents: (name, lines.joined(separator: separator)))
                fuzzCheck(again.values == config.values, "\(name) reads to different values")
            } catch {
                fuzzFail("\(name) of an accepted config is refused: \(error)")
            }
        }
    }

    static func seeds() -> [(name: String, bytes: [UInt8])] {
        let files: [(String, String)] = [
            ("minimal", "node.id = 1\nlisteners = PLAINTEXT://127.0.0.1:9092\nlog.dirs = /var/lib/tern\n"),
            (
                "commented",
                "# Tern broker\n\nlisteners = PLAINTEXT://[::1]:9092, PLAINTEXT://:9093\n"
                    + "admin.listeners = http://127.0.0.1:9644\nlog.flush.mode = interval\nlog.flush.interval.ms = 1000\n"
                    + "auto.create.topics.enable = false\n"
            ),
            ("crlf", "node.id = 2\r\nlog.dirs = /a,/b\r\nnum.partitions = 3\r\n"),
            ("bad-key", "no.such.key = 1\n"),
            ("duplicate", "node.id = 1\nnode.id = 2\n"),
        ]
        return files.map { (name: $0.0, bytes: Array($0.1.utf8)) }
    }
}
