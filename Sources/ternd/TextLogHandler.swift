import Logging

#if canImport(Glibc)
import Glibc
#endif

/// Writes one line per event to stderr, either as text
/// (`2026-11-26T21:40:00.123Z info ternd: message key=value …`) or as one JSON object
/// (`{"ts":"…","level":"info","label":"ternd","msg":"…","key":"value"}`), per `log.format`.
struct TextLogHandler: LogHandler {
    let label: String
    let json: Bool
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]

    init(label: String, json: Bool = false) {
        self.label = label
        self.json = json
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var merged = metadata
        if let extra = event.metadata { merged.merge(extra) { _, new in new } }
        let fields = merged.sorted(by: { $0.key < $1.key })
        var line: String
        if json {
            let level = "\(event.level)"
            let message = "\(event.message)"
            line = "{\"ts\":" + Self.quoted(Self.timestamp()) + ",\"level\":" + Self.quoted(level)
                + ",\"label\":" + Self.quoted(label) + ",\"msg\":" + Self.quoted(message)
            for (key, value) in fields where !["ts", "level", "label", "msg"].contains(key) {
                line += ",\(Self.quoted(key)):\(Self.quoted("\(value)"))"
            }
            line += "}\n"
        } else {
            line = Self.timestamp() + " \(event.level) \(label): \(event.message)"
            for (key, value) in fields {
                let text = "\(value)"
                line += text.contains(" ") || text.isEmpty ? " \(key)=\"\(text)\"" : " \(key)=\(text)"
            }
            line += "\n"
        }
        StandardError.write(line)
    }

    /// A JSON string literal.
    static func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    private static func timestamp() -> String {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        var parts = tm()
        var seconds = spec.tv_sec
        gmtime_r(&seconds, &parts)
        func pad(_ value: Int32, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return "\(pad(parts.tm_year + 1900, 4))-\(pad(parts.tm_mon + 1, 2))-\(pad(parts.tm_mday, 2))T"
            + "\(pad(parts.tm_hour, 2)):\(pad(parts.tm_min, 2)):\(pad(parts.tm_sec, 2))."
            + "\(pad(Int32(spec.tv_nsec / 1_000_000), 3))Z"
    }
}
