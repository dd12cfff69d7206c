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
        StandardError.write(line(level: event.level, message: "\(event.message)", metadata: event.metadata))
    }

    /// The line written for one event, newline included. Nothing a client sends (a client id, a
    /// topic name, an error text quoting its bytes) can end the line early or forge another: in
    /// text, control characters and backslashes in the message and in keys and values are
    /// escaped (`\n`, `\u{1B}`), and a value holding a space, a quote or `=` is quoted.
    func line(level: Logger.Level, message: String, metadata extra: Logger.Metadata?) -> String {
        var merged = metadata
        if let extra { merged.merge(extra) { _, new in new } }
        let fields = merged.sorted(by: { $0.key < $1.key })
        var line: String
        if json {
            line =
                "{\"ts\":" + Self.quoted(Self.timestamp()) + ",\"level\":" + Self.quoted("\(level)")
                + ",\"label\":" + Self.quoted(label) + ",\"msg\":" + Self.quoted(message)
            for (key, value) in fields where !["ts", "level", "label", "msg"].contains(key) {
                line += ",\(Self.quoted(key)):\(Self.quoted("\(value)"))"
            }
            line += "}\n"
        } else {
            line = Self.timestamp() + " \(level) \(Self.escaped(label)): \(Self.escaped(message))"
            for (key, value) in fields {
                line += " \(Self.escaped(key))=\(Self.textValue("\(value)"))"
            }
            line += "\n"
        }
        return line
    }

    /// A metadata value in a text line: escaped, and quoted when it is empty or holds a space, a
    /// quote or `=` (so `a="x y"` cannot be read as two fields, nor `x" b="y` forge one).
    static func textValue(_ text: String) -> String {
        let escaped = escaped(text)
        guard escaped.isEmpty || escaped.contains(where: { $0 == " " || $0 == "\"" || $0 == "=" }) else {
            return escaped
        }
        return "\"" + escaped.replacingQuotes() + "\""
    }

    /// `text` with every control character (C0, DEL, C1, and the Unicode line and paragraph
    /// separators) and the backslash escaped, so that it stays on one line and reads back
    /// unambiguously.
    static func escaped(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: needsEscape) else { return text }
        var out = ""
        out.reserveCapacity(text.utf8.count + 8)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where needsEscape(scalar): out += "\\u{" + String(scalar.value, radix: 16, uppercase: true) + "}"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    private static func needsEscape(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0..<0x20, 0x7F...0x9F, 0x2028, 0x2029, 0x5C: return true
        default: return false
        }
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

extension String {
    /// Double quotes escaped with a backslash (for a quoted text-log value, already escaped).
    fileprivate func replacingQuotes() -> String {
        guard contains("\"") else { return self }
        var out = ""
        for character in self {
            if character == "\"" { out += "\\\"" } else { out.append(character) }
        }
        return out
    }
}
